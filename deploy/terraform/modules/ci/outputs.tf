output "deploy_role_arn" {
  description = "ARN of the role the publish and notify jobs assume (GitHub variable AWS_DEPLOY_ROLE_ARN)."
  value       = aws_iam_role.deploy.arn
}

output "terraform_role_arn" {
  description = "ARN of the role the infrastructure workflow assumes for plan and apply (GitHub variable AWS_TERRAFORM_ROLE_ARN)."
  value       = aws_iam_role.terraform.arn
}

output "terraform_plan_role_arn" {
  description = "ARN of the read-only role the infrastructure workflow assumes to plan pull requests (GitHub variable AWS_TERRAFORM_PLAN_ROLE_ARN)."
  value       = aws_iam_role.terraform_plan.arn
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC identity provider in this account."
  value       = aws_iam_openid_connect_provider.github.arn
}

output "owner_domains" {
  description = "Domains the deploy role may send owner notices to."
  value       = var.owner_domains
}

output "stats_role_arn" {
  description = "ARN of the role the stats workflow assumes to read the access logs (GitHub variable AWS_STATS_ROLE_ARN)."
  value       = aws_iam_role.stats.arn
}
