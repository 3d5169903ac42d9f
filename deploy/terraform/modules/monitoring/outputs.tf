output "sns_topic_arn" {
  description = "ARN of the alarm topic in the main region (SES alarms)."
  value       = aws_sns_topic.this.arn
}

output "sns_topic_us_east_1_arn" {
  description = "ARN of the alarm topic in us-east-1 (CloudFront alarm)."
  value       = aws_sns_topic.us_east_1.arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
