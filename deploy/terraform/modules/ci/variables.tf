variable "name" {
  description = "Name prefix for the four roles (<name>-deploy, <name>-terraform, <name>-terraform-plan, <name>-stats); the Terraform role may manage, and the plan role read, IAM roles with this prefix only."
  type        = string
}

variable "github_repository" {
  description = "The only GitHub repository whose workflows may assume the roles, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "deploy_environment" {
  description = "GitHub environment the publish job runs in. When set, only jobs in that environment may assume the deploy role; when null, only jobs on the main branch."
  type        = string
  default     = null
}

variable "terraform_environment" {
  description = "GitHub environment the infrastructure workflow's plan/apply job runs in. When set, only jobs in that environment may assume the Terraform role; when null, only jobs on the main branch."
  type        = string
  default     = null
}

variable "site_bucket_arn" {
  description = "ARN of the site bucket that the deploy role publishes to."
  type        = string
}

variable "distribution_arn" {
  description = "ARN of the CloudFront distribution that the deploy role invalidates."
  type        = string
}

variable "ses_identity_arn" {
  description = "ARN of the SES identity that the deploy role sends notifications from."
  type        = string
}

variable "ses_configuration_set_arn" {
  description = "ARN of the SES configuration set that the deploy role sends with."
  type        = string
}

variable "terraform_state_bucket" {
  description = "Name of the Terraform state bucket (from deploy/bootstrap) that the Terraform role reads and locks and the plan role only reads."
  type        = string
}

variable "terraform_state_key" {
  description = "Key of the state object in the state bucket; the lock file sits next to it."
  type        = string
  default     = "cardsite/terraform.tfstate"
}

variable "managed_bucket_arns" {
  description = "ARNs of the S3 buckets this configuration creates (site and logs); the Terraform role may manage, and the plan role read the settings of, those buckets only."
  type        = list(string)
}

variable "permissions_boundary_arn" {
  description = "ARN of the permissions boundary (deploy/bootstrap output ci_permissions_boundary_arn) that the four roles carry and that the Terraform role must give every role it creates."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
}

variable "mail_from_address" {
  description = "The one sender address the deploy role may send from (ses:FromAddress): the address part of notify's sender."
  type        = string
}

variable "mail_print_inbox" {
  description = "The print shop's addresses, which the deploy role may send print jobs to (ses:Recipients)."
  type        = list(string)
}

variable "owner_domains" {
  description = "Domains of the card owners' addresses, which the deploy role may send owner notices to (ses:Recipients)."
  type        = list(string)

  validation {
    condition     = length(var.owner_domains) > 0 && alltrue([for d in var.owner_domains : can(regex("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", d))])
    error_message = "owner_domains must list at least one lowercase domain name, without @ or wildcards."
  }
}

variable "log_bucket_arn" {
  description = "ARN of the CloudFront access log bucket that the stats role reads."
  type        = string
}

variable "stats_totals_key" {
  description = "The one key the stats role may write in the log bucket: the running totals of `build.py stats --prefix cloudfront/`."
  type        = string
  default     = "cloudfront/_cardsite/stats.parquet"
}
