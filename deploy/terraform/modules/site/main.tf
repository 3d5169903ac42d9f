# ---------------------------------------------------------------------------
# Bucket
# ---------------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Reads only arrive through CloudFront, whose standard logs are kept; writes come only from the deploy role.
  #checkov:skip=CKV_AWS_144:The site is rebuilt from git by `build.py publish`; a second-region copy adds cost and nothing recoverable.
  #checkov:skip=CKV_AWS_145:CloudFront OAC can only read SSE-KMS objects with a customer-managed key; SSE-S3 avoids a $1/month key for public content.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to object changes; publish invalidates CloudFront itself.
  bucket = var.bucket_name
}

# The content is public through CloudFront only; nothing in S3 itself may ever be.
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

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# ---------------------------------------------------------------------------
# Versions: a bad deploy is rolled back by restoring the previous version of
# the objects it touched, so old versions are kept for a while.
# ---------------------------------------------------------------------------

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # Versioning must be on before noncurrent-version rules mean anything.
  depends_on = [aws_s3_bucket_versioning.this]
}

# ---------------------------------------------------------------------------
# Policy: only this distribution, signing with OAC, may read.
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "CloudFrontReadOnly"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [var.cloudfront_distribution_arn]
    }
  }

  # cardsite's own objects (the deploy manifest, the notify state) are never
  # served, at the top or under a key prefix. The CloudFront Function already
  # answers 404 for them; this holds even if it is detached or changed.
  statement {
    sid     = "DenyCardsiteInternals"
    effect  = "Deny"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.this.arn}/_cardsite/*",
      "${aws_s3_bucket.this.arn}/*/_cardsite/*",
    ]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
  }

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

  # S3 aborts concurrent changes to one bucket's policy and public access block.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
