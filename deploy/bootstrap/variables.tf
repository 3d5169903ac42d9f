variable "aws_region" {
  description = "Region of the state bucket; use the same region as the main configuration."
  type        = string
  default     = "eu-central-1"
}

variable "name" {
  description = "Name prefix; the bucket is called <name>-tfstate-<account ID> and the boundary <name>-ci-boundary. Use the same name as deploy/terraform."
  type        = string
  default     = "cardsite"
}

variable "noncurrent_version_retention_days" {
  description = "Days old state versions are kept, for recovering from a bad apply."
  type        = number
  default     = 90
}
