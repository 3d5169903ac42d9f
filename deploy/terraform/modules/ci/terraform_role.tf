# ---------------------------------------------------------------------------
# Terraform role: assumed by the infrastructure workflow's plan/apply job on
# main (or in one named environment). Pull requests get fmt and validate,
# which need no AWS access, so no pull-request subject can reach a role that
# manages IAM.
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "terraform_trust" {
  statement {
    sid     = "GitHubActionsMainOnly"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        var.terraform_environment == null
        ? "repo:${var.github_repository}:ref:refs/heads/main"
        : "repo:${var.github_repository}:environment:${var.terraform_environment}"
      ]
    }
  }
}

data "aws_iam_policy_document" "terraform" {
  #checkov:skip=CKV_AWS_109:Applying this configuration means managing its own IAM roles; role writes are pinned to <name>-* roles and require the permissions boundary, and only main (or one environment) can assume the role.
  #checkov:skip=CKV_AWS_111:Write access is pinned to ARNs wherever the service allows; CloudFront, ACM and SES create calls take no resource ARN.
  #checkov:skip=CKV_AWS_356:"*" remains only for CloudFront, ACM and SES, whose IDs are generated on create and whose create/list actions accept no resource.
  statement {
    sid       = "StateList"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.terraform_state_bucket}"]
  }

  # The S3 backend's native lock is a <key>.tflock object next to the state.
  statement {
    sid     = "StateReadWriteLock"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [
      "arn:${local.partition}:s3:::${var.terraform_state_bucket}/${var.terraform_state_key}",
      "arn:${local.partition}:s3:::${var.terraform_state_bucket}/${var.terraform_state_key}.tflock",
    ]
  }

  statement {
    sid       = "ManagedBuckets"
    actions   = ["s3:*"]
    resources = concat(var.managed_bucket_arns, [for arn in var.managed_bucket_arns : "${arn}/*"])
  }

  # Only this configuration's roles, and only under the permissions boundary:
  # without the condition this role could create a <name>-* role with
  # AdministratorAccess and assume it. The boundary itself (deploy/bootstrap)
  # repeats the rule, since this role may rewrite its own inline policy.
  statement {
    sid = "ManagedRolesUnderTheBoundary"
    actions = [
      "iam:CreateRole",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:AttachRolePolicy",
      "iam:DetachRolePolicy",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${var.name}-*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [var.permissions_boundary_arn]
    }
  }

  statement {
    sid = "ManagedRoles"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRoleTags",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
      "iam:UpdateAssumeRolePolicy",
      "iam:DeleteRole",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${var.name}-*"]
  }

  statement {
    sid = "GitHubOidcProvider"
    actions = [
      "iam:CreateOpenIDConnectProvider",
      "iam:GetOpenIDConnectProvider",
      "iam:DeleteOpenIDConnectProvider",
      "iam:UpdateOpenIDConnectProviderThumbprint",
      "iam:AddClientIDToOpenIDConnectProvider",
      "iam:RemoveClientIDFromOpenIDConnectProvider",
      "iam:TagOpenIDConnectProvider",
      "iam:UntagOpenIDConnectProvider",
      "iam:ListOpenIDConnectProviderTags",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.oidc_host}"]
  }

  # Belt and braces next to the boundary's own deny.
  statement {
    sid       = "KeepTheBoundary"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary"]
    resources = ["*"]
  }

  statement {
    sid       = "ManagedSnsTopics"
    actions   = ["sns:*"]
    resources = ["arn:${local.partition}:sns:*:${local.account_id}:${var.name}-*"]
  }

  statement {
    sid     = "Route53Records"
    actions = ["route53:ChangeResourceRecordSets", "route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ListTagsForResource", "route53:GetChange"]
    resources = [
      "arn:${local.partition}:route53:::hostedzone/*",
      "arn:${local.partition}:route53:::change/*",
    ]
  }

  statement {
    sid     = "ManagedAlarmsAndDashboard"
    actions = ["cloudwatch:*"]
    resources = [
      "arn:${local.partition}:cloudwatch:*:${local.account_id}:alarm:${var.name}-*",
      "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${var.name}",
    ]
  }

  # CloudFront IDs, ACM certificate ARNs and SES resources are generated on
  # creation, the managed cache policy belongs to AWS, and several of these
  # create/list actions have no resource type, so these services cannot be
  # pinned to ARNs in advance.
  statement {
    sid       = "ServicesWithGeneratedIds"
    actions   = ["cloudfront:*", "acm:*", "ses:*"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "terraform" {
  name                 = "${var.name}-terraform"
  description          = "Plans and applies deploy/terraform from ${var.github_repository}."
  assume_role_policy   = data.aws_iam_policy_document.terraform_trust.json
  permissions_boundary = var.permissions_boundary_arn
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "terraform" {
  name   = "manage-cardsite"
  role   = aws_iam_role.terraform.id
  policy = data.aws_iam_policy_document.terraform.json
}
