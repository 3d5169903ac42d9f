output "bucket_id" {
  description = "Name of the site bucket (CARDSITE_BUCKET for `build.py publish`)."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the site bucket, for IAM policies."
  value       = aws_s3_bucket.this.arn
}

output "bucket_regional_domain_name" {
  description = "Regional REST endpoint of the bucket, used as the CloudFront origin (not the website endpoint)."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}
