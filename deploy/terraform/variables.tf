variable "aws_region" {
  description = "Region for the site bucket, the log bucket and SES. CloudFront certificates and metrics are in us-east-1 regardless."
  type        = string
  default     = "eu-central-1"
}

variable "name" {
  description = "Name prefix for every resource (buckets get the account ID appended to stay globally unique)."
  type        = string
  default     = "cardsite"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}$", var.name))
    error_message = "name must be 2-23 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the deploy, Terraform and plan roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "deploy_environment" {
  description = "GitHub environment of the publish/notify jobs; null trusts the main branch instead."
  type        = string
  default     = null
}

variable "terraform_environment" {
  description = "GitHub environment of the infrastructure workflow's plan/apply job; null trusts the main branch instead."
  type        = string
  default     = null
}

variable "terraform_state_bucket" {
  description = "Name of the state bucket created by deploy/bootstrap (the same value as -backend-config bucket=...)."
  type        = string
}

variable "custom_domain" {
  description = "Optional host name for the site (e.g. cards.example.com) and the Route 53 zone it lives in; null serves on *.cloudfront.net."
  type = object({
    name            = string
    route53_zone_id = string
  })
  default = null
}

variable "mail_domain" {
  description = "Domain that notification e-mails are sent from (SES domain identity)."
  type        = string
}

variable "mail_route53_zone_id" {
  description = "Route 53 zone of mail_domain for the DKIM records; null means you create them by hand."
  type        = string
  default     = null
}

variable "price_class" {
  description = "CloudFront price class (PriceClass_100, PriceClass_200 or PriceClass_All)."
  type        = string
  default     = "PriceClass_100"
}

variable "access_log_retention_days" {
  description = "Days CloudFront access logs (the scan counts) are kept."
  type        = number
  default     = 395
}

variable "noncurrent_version_retention_days" {
  description = "Days replaced site objects are kept for rolling back a deploy."
  type        = number
  default     = 30
}

variable "alarm_emails" {
  description = "E-mail addresses that receive CloudWatch alarms."
  type        = list(string)
  default     = []
}

variable "ci_permissions_boundary_arn" {
  description = "Permissions boundary of the three CI roles, created by deploy/bootstrap (its output ci_permissions_boundary_arn); the Terraform role can create or change a <name>-* role only with it."
  type        = string
}

variable "mail_from_address" {
  description = "The address notify sends from (the address in notify.sender or CARDSITE_MAIL_FROM, e.g. cards@example.com); the deploy role may send from no other (ses:FromAddress)."
  type        = string

  validation {
    condition     = endswith(lower(var.mail_from_address), "@${lower(var.mail_domain)}")
    error_message = "mail_from_address must be an address at mail_domain, the identity SES sends from."
  }
}

variable "mail_print_inbox" {
  description = "The print shop's addresses (notify.print_inbox or CARDSITE_PRINT_INBOX); the deploy role may send print jobs to these only (ses:Recipients)."
  type        = list(string)

  validation {
    condition     = length(var.mail_print_inbox) > 0 && alltrue([for a in var.mail_print_inbox : can(regex("^[^@*?\\s]+@[^@*?\\s]+$", a))])
    error_message = "mail_print_inbox must list at least one plain address, without wildcards."
  }
}

variable "owner_domains" {
  description = "Domains the card owners' addresses may be at, as owner_domains in site.yaml; empty means mail_domain only. The deploy role may send owner notices to addresses at these domains only (ses:Recipients)."
  type        = list(string)
  default     = []
}
