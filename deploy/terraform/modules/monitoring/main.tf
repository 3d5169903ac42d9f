locals {
  # The main region, read from a resource it owns rather than aws_region,
  # whose attribute name differs between provider majors.
  region = provider::aws::arn_parse(aws_sns_topic.this.arn).region
}

# ---------------------------------------------------------------------------
# Alarm topics. An alarm can only notify a topic in its own region: SES
# metrics live in the main region, CloudFront's in us-east-1.
# ---------------------------------------------------------------------------

resource "aws_sns_topic" "this" {
  #checkov:skip=CKV_AWS_26:CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, and alarm texts hold no secrets worth a $1/month customer key.
  name = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "this" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic" "us_east_1" {
  #checkov:skip=CKV_AWS_26:CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, and alarm texts hold no secrets worth a $1/month customer key.
  provider = aws.us_east_1
  name     = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "us_east_1" {
  for_each = toset(var.alarm_emails)
  provider = aws.us_east_1

  topic_arn = aws_sns_topic.us_east_1.arn
  protocol  = "email"
  endpoint  = each.value
}

# ---------------------------------------------------------------------------
# Alarms. Missing data means no traffic or no mail, which is not a fault.
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "cloudfront_5xx" {
  provider = aws.us_east_1

  alarm_name          = "${var.name}-cloudfront-5xx-error-rate"
  alarm_description   = "Share of card requests answered with a 5xx by CloudFront; usually the origin bucket or its policy."
  namespace           = "AWS/CloudFront"
  metric_name         = "5xxErrorRate"
  dimensions          = { DistributionId = var.distribution_id, Region = "Global" }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.thresholds.cloudfront_5xx_error_rate
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.us_east_1.arn]
  ok_actions          = [aws_sns_topic.us_east_1.arn]
}

# Reputation.* are the account-wide rates AWS itself judges the sender by.
resource "aws_cloudwatch_metric_alarm" "ses_bounce_rate" {
  alarm_name          = "${var.name}-ses-bounce-rate"
  alarm_description   = "SES bounce rate nearing the 5 % at which AWS reviews the account; check the contacts' e-mail addresses."
  namespace           = "AWS/SES"
  metric_name         = "Reputation.BounceRate"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.thresholds.ses_bounce_rate
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
}

resource "aws_cloudwatch_metric_alarm" "ses_complaint_rate" {
  alarm_name          = "${var.name}-ses-complaint-rate"
  alarm_description   = "SES complaint rate nearing the 0.1 % at which AWS reviews the account; recipients are marking notifications as spam."
  namespace           = "AWS/SES"
  metric_name         = "Reputation.ComplaintRate"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.thresholds.ses_complaint_rate
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
}

# ---------------------------------------------------------------------------
# Dashboard: scans (requests) and errors at the edge, mail outcomes.
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "CloudFront requests"
          region = "us-east-1"
          stat   = "Sum"
          period = 3600
          metrics = [
            ["AWS/CloudFront", "Requests", "DistributionId", var.distribution_id, "Region", "Global"],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "CloudFront error rates (%)"
          region = "us-east-1"
          stat   = "Average"
          period = 300
          metrics = [
            ["AWS/CloudFront", "4xxErrorRate", "DistributionId", var.distribution_id, "Region", "Global"],
            ["AWS/CloudFront", "5xxErrorRate", "DistributionId", var.distribution_id, "Region", "Global"],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "SES events (${var.ses_configuration_set_name})"
          region = local.region
          stat   = "Sum"
          period = 3600
          metrics = [
            for event in ["Send", "Delivery", "Bounce", "Complaint", "Reject"] :
            ["AWS/SES", event, "ses:configuration-set", var.ses_configuration_set_name]
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "SES reputation (account)"
          region = local.region
          stat   = "Maximum"
          period = 3600
          metrics = [
            ["AWS/SES", "Reputation.BounceRate"],
            ["AWS/SES", "Reputation.ComplaintRate"],
          ]
        }
      },
    ]
  })
}
