# ---------------------------------------------------------------------------
# Stats role: assumed by the stats workflow's report job (.github/workflows/
# stats.yml, docs/stats.md). Trusted from this repository's main branch only.
# It reads the CloudFront access logs and writes one object: the running
# totals under the reserved prefix. It cannot delete, and it reaches neither
# the site bucket nor any other service.
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "stats_trust" {
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
      values   = ["repo:${var.github_repository}:ref:refs/heads/main"]
    }
  }
}

data "aws_iam_policy_document" "stats" {
  statement {
    sid       = "ListLogs"
    actions   = ["s3:ListBucket"]
    resources = [var.log_bucket_arn]
  }

  # Get covers the log files and the running totals the next run reads back.
  statement {
    sid       = "ReadLogs"
    actions   = ["s3:GetObject"]
    resources = ["${var.log_bucket_arn}/*"]
  }

  statement {
    sid       = "WriteRunningTotals"
    actions   = ["s3:PutObject"]
    resources = ["${var.log_bucket_arn}/${var.stats_totals_key}"]
  }
}

resource "aws_iam_role" "stats" {
  name                 = "${var.name}-stats"
  description          = "Counts scans from the CloudFront access logs for ${var.github_repository}."
  assume_role_policy   = data.aws_iam_policy_document.stats_trust.json
  permissions_boundary = var.permissions_boundary_arn
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "stats" {
  name   = "read-logs-write-totals"
  role   = aws_iam_role.stats.id
  policy = data.aws_iam_policy_document.stats.json
}
