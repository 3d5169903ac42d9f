variable "bucket_name" {
  description = "Name of the S3 bucket that holds the built site (public/ as published by `build.py publish`)."
  type        = string
}

variable "cloudfront_distribution_arn" {
  description = "ARN of the CloudFront distribution that alone may read the bucket (matched against aws:SourceArn)."
  type        = string
}

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted object version is kept, i.e. how far back a bad deploy can be rolled back."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "Keep noncurrent versions for at least one day."
  }
}
