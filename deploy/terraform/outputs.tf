# Exactly what the publish and notify commands and the workflows consume; see
# README.md for the GitHub variable each one goes into.

output "site_bucket_name" {
  description = "S3 bucket that `build.py publish` uploads public/ to (GitHub variable CARDSITE_BUCKET)."
  value       = module.site.bucket_id
}

output "cdn_distribution_id" {
  description = "CloudFront distribution that publish invalidates (GitHub variable CARDSITE_DISTRIBUTION_ID)."
  value       = module.cdn.distribution_id
}

output "cdn_domain_name" {
  description = "Public host name of the site: the custom domain if set, else the *.cloudfront.net name; the base of card URLs and QR codes."
  value       = module.cdn.domain_name
}

output "ci_deploy_role_arn" {
  description = "Role the publish and notify jobs assume through GitHub OIDC (GitHub variable AWS_DEPLOY_ROLE_ARN)."
  value       = module.ci.deploy_role_arn
}

output "ci_terraform_role_arn" {
  description = "Role the infrastructure workflow assumes for plan and apply (GitHub variable AWS_TERRAFORM_ROLE_ARN)."
  value       = module.ci.terraform_role_arn
}

output "ci_terraform_plan_role_arn" {
  description = "Read-only role the infrastructure workflow assumes to plan pull requests from this repository (GitHub variable AWS_TERRAFORM_PLAN_ROLE_ARN)."
  value       = module.ci.terraform_plan_role_arn
}

output "mail_identity" {
  description = "SES domain identity notify sends through: its sender (notify.sender in site.yaml, or GitHub variable CARDSITE_MAIL_FROM) must be an address at this domain."
  value       = module.mail.identity
}

output "mail_configuration_set" {
  description = "SES configuration set that `build.py notify` sends with (GitHub variable CARDSITE_SES_CONFIGURATION_SET)."
  value       = module.mail.configuration_set_name
}

output "ci_stats_role_arn" {
  description = "Role the stats workflow assumes through GitHub OIDC to read the access logs (GitHub variable AWS_STATS_ROLE_ARN)."
  value       = module.ci.stats_role_arn
}

output "log_bucket_name" {
  description = "S3 bucket of the CloudFront access logs that `build.py stats` reads (GitHub variable CARDSITE_LOG_BUCKET)."
  value       = module.cdn.log_bucket_id
}
