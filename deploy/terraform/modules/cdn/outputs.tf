output "distribution_id" {
  description = "ID of the CloudFront distribution, for cache invalidations after publish."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_arn" {
  description = "ARN of the CloudFront distribution, for the site bucket policy and the deploy role."
  value       = aws_cloudfront_distribution.this.arn
}

output "distribution_domain_name" {
  description = "The distribution's own *.cloudfront.net host name."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "domain_name" {
  description = "Public host name of the site: the custom domain if set, otherwise the *.cloudfront.net name."
  value       = var.custom_domain == null ? aws_cloudfront_distribution.this.domain_name : var.custom_domain.name
}

output "log_bucket_id" {
  description = "Name of the bucket holding CloudFront standard access logs under cloudfront/."
  value       = aws_s3_bucket.logs.id
}

output "log_bucket_arn" {
  description = "ARN of the access-log bucket, for IAM policies."
  value       = aws_s3_bucket.logs.arn
}
