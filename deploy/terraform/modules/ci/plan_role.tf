# ---------------------------------------------------------------------------
# Plan role: assumed by the infrastructure workflow's plan job on pull
# requests. Any branch pushed to this repository can run code with this role
# (a pull request may change the workflow itself), so it may only read: the
# state object, and the configuration of exactly the resources this
# configuration manages, which is what `terraform plan -lock=false` refreshes.
# Forks get no OIDC token at all.
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "terraform_plan_trust" {
  statement {
    sid     = "GitHubActionsPullRequestsOnly"
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
      values   = ["repo:${var.github_repository}:pull_request"]
    }
  }
}

# Explicit read actions only, each the call the AWS provider makes when it
# refreshes that resource type; no wildcards, so a new read needs a review.
data "aws_iam_policy_document" "terraform_plan" {
  # The backend lists the bucket for workspaces; -lock=false means no lock file.
  statement {
    sid       = "StateList"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.terraform_state_bucket}"]
  }

  statement {
    sid       = "StateRead"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${var.terraform_state_bucket}/${var.terraform_state_key}"]
  }

  # Bucket ARNs only, not "<bucket>/*": bucket settings, never the objects.
  statement {
    sid = "ManagedBucketSettings"
    actions = [
      "s3:ListBucket",
      "s3:GetBucketAcl",
      "s3:GetBucketCORS",
      "s3:GetBucketLocation",
      "s3:GetBucketLogging",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketOwnershipControls",
      "s3:GetBucketPolicy",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetBucketRequestPayment",
      "s3:GetBucketTagging",
      "s3:GetBucketVersioning",
      "s3:GetBucketWebsite",
      "s3:GetAccelerateConfiguration",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
    ]
    resources = var.managed_bucket_arns
  }

  statement {
    sid = "ManagedIamRead"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies",
      "iam:GetOpenIDConnectProvider",
    ]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/${var.name}-*",
      "arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.oidc_host}",
    ]
  }

  statement {
    sid = "CdnRead"
    actions = [
      "cloudfront:GetDistribution",
      "cloudfront:ListTagsForResource",
      "cloudfront:DescribeFunction",
      "cloudfront:GetFunction",
      "cloudfront:GetOriginAccessControl",
      "cloudfront:GetResponseHeadersPolicy",
    ]
    resources = [
      var.distribution_arn,
      "arn:${local.partition}:cloudfront::${local.account_id}:function/${var.name}-*",
      "arn:${local.partition}:cloudfront::${local.account_id}:origin-access-control/*",
      "arn:${local.partition}:cloudfront::${local.account_id}:response-headers-policy/*",
    ]
  }

  # The CDN looks up the AWS-managed CachingOptimized policy by name; listing
  # cache policies has no resource type, so IAM only accepts "*" for it.
  statement {
    sid       = "ManagedCachePolicyLookup"
    actions   = ["cloudfront:ListCachePolicies"]
    resources = ["*"]
  }

  statement {
    sid       = "ManagedCachePolicyRead"
    actions   = ["cloudfront:GetCachePolicy"]
    resources = ["arn:${local.partition}:cloudfront::*:cache-policy/*"]
  }

  # CloudFront certificates live in us-east-1; their IDs are generated.
  statement {
    sid       = "CertificateRead"
    actions   = ["acm:DescribeCertificate", "acm:ListTagsForCertificate"]
    resources = ["arn:${local.partition}:acm:us-east-1:${local.account_id}:certificate/*"]
  }

  # Certificate validation and DKIM records; zones are given as inputs, not created.
  statement {
    sid       = "DnsRead"
    actions   = ["route53:GetHostedZone", "route53:ListResourceRecordSets"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*"]
  }

  statement {
    sid = "MailRead"
    actions = [
      "ses:GetEmailIdentity",
      "ses:GetConfigurationSet",
      "ses:GetConfigurationSetEventDestinations",
      "ses:ListTagsForResource",
    ]
    resources = [var.ses_identity_arn, var.ses_configuration_set_arn]
  }

  # Subscription ARNs are <topic ARN>:<id>, so the topic pattern covers them.
  statement {
    sid       = "AlarmTopicsRead"
    actions   = ["sns:GetTopicAttributes", "sns:GetSubscriptionAttributes", "sns:ListTagsForResource"]
    resources = ["arn:${local.partition}:sns:*:${local.account_id}:${var.name}-*"]
  }

  statement {
    sid     = "AlarmsAndDashboardRead"
    actions = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:GetDashboard"]
    resources = [
      "arn:${local.partition}:cloudwatch:*:${local.account_id}:alarm:${var.name}-*",
      "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${var.name}",
    ]
  }
}

resource "aws_iam_role" "terraform_plan" {
  name                 = "${var.name}-terraform-plan"
  description          = "Plans deploy/terraform read-only for pull requests in ${var.github_repository}."
  assume_role_policy   = data.aws_iam_policy_document.terraform_plan_trust.json
  permissions_boundary = var.permissions_boundary_arn
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "terraform_plan" {
  name   = "plan-cardsite"
  role   = aws_iam_role.terraform_plan.id
  policy = data.aws_iam_policy_document.terraform_plan.json
}
