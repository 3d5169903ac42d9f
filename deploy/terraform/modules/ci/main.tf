data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  oidc_host  = "token.actions.githubusercontent.com"
}

# ---------------------------------------------------------------------------
# GitHub Actions OIDC identity provider. AWS trusts GitHub's OIDC endpoint via
# its own certificate store, so no thumbprint is pinned.
# ---------------------------------------------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
}

# ---------------------------------------------------------------------------
# Deploy role: assumed by the publish and notify jobs. Trusted only from this
# repository's main branch, or only from one named environment.
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "deploy_trust" {
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
        var.deploy_environment == null
        ? "repo:${var.github_repository}:ref:refs/heads/main"
        : "repo:${var.github_repository}:environment:${var.deploy_environment}"
      ]
    }
  }
}

data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "ListSite"
    actions   = ["s3:ListBucket"]
    resources = [var.site_bucket_arn]
  }

  # Get covers the deploy manifest (_cardsite/manifest.json) and the notify
  # state (_cardsite/notify-state.json), which publish and notify read back.
  statement {
    sid       = "PublishSite"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.site_bucket_arn}/*"]
  }

  statement {
    sid       = "InvalidateCdn"
    actions   = ["cloudfront:CreateInvalidation"]
    resources = [var.distribution_arn]
  }

  # SES authorises a send against both the identity and the configuration set.
  # Only from the one sender, and only to the print shop and to addresses at
  # the owner domains: a card's text cannot be mailed anywhere else through
  # the company's identity. ses:Recipients holds every To, Cc and Bcc address.
  statement {
    sid       = "SendNotifications"
    actions   = ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [var.ses_identity_arn, var.ses_configuration_set_arn]

    condition {
      test     = "StringEquals"
      variable = "ses:FromAddress"
      values   = [var.mail_from_address]
    }

    condition {
      test     = "ForAllValues:StringLike"
      variable = "ses:Recipients"
      values   = concat(var.mail_print_inbox, [for domain in var.owner_domains : "*@${domain}"])
    }
  }

  # Account-level reads for pacing; these actions have no resource type, so
  # IAM only accepts "*" here.
  statement {
    sid       = "ReadSendingQuota"
    actions   = ["ses:GetAccount", "ses:GetSendQuota"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-deploy"
  description          = "Publishes the card site and sends notifications from ${var.github_repository}."
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust.json
  permissions_boundary = var.permissions_boundary_arn
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "deploy" {
  name   = "publish-and-notify"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
