variable "name" {
  description = "Name prefix for the CloudFront function, policies and origin access control."
  type        = string
}

variable "origin_domain_name" {
  description = "Regional REST domain name of the site bucket (bucket_regional_domain_name of the site module)."
  type        = string
}

variable "log_bucket_name" {
  description = "Name of the S3 bucket created for CloudFront standard access logs (the data for counting scans per card)."
  type        = string
}

variable "log_retention_days" {
  description = "Days access logs are kept before they expire."
  type        = number
  default     = 395

  validation {
    condition     = var.log_retention_days >= 1
    error_message = "Keep access logs for at least one day."
  }
}

variable "price_class" {
  description = "CloudFront price class: PriceClass_100 (North America, Europe), PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "custom_domain" {
  description = "Optional custom host name for the site, with the Route 53 zone that validates its us-east-1 ACM certificate and holds its alias records. Null serves on the distribution's *.cloudfront.net name."
  type = object({
    name            = string
    route53_zone_id = string
  })
  default = null
}
