# ---------------------------------------------------------------------------
# One-time state bucket for deploy/terraform, applied by an administrator with
# local state (the bucket cannot hold its own state before it exists).
# ---------------------------------------------------------------------------

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "terraform"
      Source    = "deploy/bootstrap"
    }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access to the state is by IAM role from CI and is recorded in CloudTrail; server access logs would need a second bucket for one object.
  #checkov:skip=CKV_AWS_144:Versioning keeps every state revision; the infrastructure can be re-imported if the region is lost.
  #checkov:skip=CKV2_AWS_62:Nothing needs to react to state writes.
  bucket = "${var.name}-tfstate-${data.aws_caller_identity.current.account_id}"

  # Losing the state orphans every resource of the main configuration.
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# State may hold sensitive attributes, so it is KMS-encrypted (the AWS-managed
# key; the bucket key keeps KMS requests, and cost, near zero).
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ---------------------------------------------------------------------------
# Permissions boundary of every role deploy/terraform creates. It lives here,
# applied by an administrator, because the Terraform role must not be able to
# change it: that role may create and edit <name>-* roles and their inline
# policies (its own included), and the boundary is what keeps any such role,
# whatever its policy says, inside what cardsite needs. A role without this
# boundary, or with another, cannot be created or given one.
# ---------------------------------------------------------------------------

data "aws_partition" "current" {}

locals {
  account_id           = data.aws_caller_identity.current.account_id
  partition            = data.aws_partition.current.partition
  boundary_policy_name = "${var.name}-ci-boundary"
  boundary_policy_arn  = "arn:${local.partition}:iam::${local.account_id}:policy/${local.boundary_policy_name}"
}

data "aws_iam_policy_document" "ci_boundary" {
  #checkov:skip=CKV_AWS_109:A permissions boundary only caps; iam:* is limited to <name>-* roles and the GitHub OIDC provider, and the deny below keeps every such role under this boundary.
  #checkov:skip=CKV_AWS_111:A boundary grants nothing by itself; the roles' own policies pin writes to ARNs, and CloudFront, ACM and SES create calls take no resource ARN.
  #checkov:skip=CKV_AWS_356:"*" only for CloudFront, ACM and SES, whose IDs are generated on create; a boundary grants nothing by itself.
  statement {
    sid       = "CardsiteBuckets"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*", "arn:${local.partition}:s3:::${var.name}-*", "arn:${local.partition}:s3:::${var.name}-*/*"]
  }

  # No policy/* resource: no role under this boundary can edit the boundary.
  statement {
    sid     = "CardsiteRolesAndGitHubOidc"
    actions = ["iam:*"]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/${var.name}-*",
      "arn:${local.partition}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com",
    ]
  }

  statement {
    sid     = "CardsiteTopicsAlarmsDashboard"
    actions = ["sns:*", "cloudwatch:*"]
    resources = [
      "arn:${local.partition}:sns:*:${local.account_id}:${var.name}-*",
      "arn:${local.partition}:cloudwatch:*:${local.account_id}:alarm:${var.name}-*",
      "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${var.name}",
    ]
  }

  statement {
    sid       = "Route53Records"
    actions   = ["route53:ChangeResourceRecordSets", "route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ListTagsForResource", "route53:GetChange"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*", "arn:${local.partition}:route53:::change/*"]
  }

  statement {
    sid       = "ServicesWithGeneratedIds"
    actions   = ["cloudfront:*", "acm:*", "ses:*"]
    resources = ["*"]
  }

  # Creating a role, or setting a boundary, is refused unless it is this one.
  statement {
    sid       = "OnlyRolesUnderThisBoundary"
    effect    = "Deny"
    actions   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary"]
    resources = ["*"]

    condition {
      test     = "StringNotEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_policy_arn]
    }
  }

  statement {
    sid       = "KeepTheBoundary"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "ci_boundary" {
  name        = local.boundary_policy_name
  description = "Permissions boundary of the cardsite CI roles: the most any role deploy/terraform creates may do."
  policy      = data.aws_iam_policy_document.ci_boundary.json
}
