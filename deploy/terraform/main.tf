# ---------------------------------------------------------------------------
# Providers. Only the root configures them; modules declare what they need.
# ---------------------------------------------------------------------------

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "terraform"
      Source    = "${var.github_repository}/deploy/terraform"
    }
  }
}

# CloudFront reads ACM certificates and publishes metrics in us-east-1 only.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "terraform"
      Source    = "${var.github_repository}/deploy/terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

locals {
  site_bucket_name = "${var.name}-site-${data.aws_caller_identity.current.account_id}"
  log_bucket_name  = "${var.name}-logs-${data.aws_caller_identity.current.account_id}"
}

# ---------------------------------------------------------------------------
# Site and CDN. The bucket policy needs the distribution ARN and the
# distribution needs the bucket; Terraform resolves this per attribute.
# ---------------------------------------------------------------------------

module "site" {
  source = "./modules/site"

  bucket_name                       = local.site_bucket_name
  cloudfront_distribution_arn       = module.cdn.distribution_arn
  noncurrent_version_retention_days = var.noncurrent_version_retention_days
}

module "cdn" {
  source = "./modules/cdn"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name               = var.name
  origin_domain_name = module.site.bucket_regional_domain_name
  log_bucket_name    = local.log_bucket_name
  log_retention_days = var.access_log_retention_days
  price_class        = var.price_class
  custom_domain      = var.custom_domain
}

# ---------------------------------------------------------------------------
# Mail
# ---------------------------------------------------------------------------

module "mail" {
  source = "./modules/mail"

  domain                 = var.mail_domain
  configuration_set_name = var.name
  route53_zone_id        = var.mail_route53_zone_id
}

# ---------------------------------------------------------------------------
# CI access from GitHub Actions
# ---------------------------------------------------------------------------

module "ci" {
  source = "./modules/ci"

  name                      = var.name
  github_repository         = var.github_repository
  deploy_environment        = var.deploy_environment
  terraform_environment     = var.terraform_environment
  site_bucket_arn           = module.site.bucket_arn
  distribution_arn          = module.cdn.distribution_arn
  ses_identity_arn          = module.mail.identity_arn
  ses_configuration_set_arn = module.mail.configuration_set_arn
  terraform_state_bucket    = var.terraform_state_bucket
  managed_bucket_arns       = [module.site.bucket_arn, module.cdn.log_bucket_arn]
  log_bucket_arn            = module.cdn.log_bucket_arn
  permissions_boundary_arn  = var.ci_permissions_boundary_arn
  mail_from_address         = var.mail_from_address
  mail_print_inbox          = var.mail_print_inbox
  owner_domains             = length(var.owner_domains) > 0 ? [for d in var.owner_domains : lower(d)] : [lower(var.mail_domain)]
}

# ---------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------

module "monitoring" {
  source = "./modules/monitoring"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name                       = var.name
  alarm_emails               = var.alarm_emails
  distribution_id            = module.cdn.distribution_id
  ses_configuration_set_name = module.mail.configuration_set_name
}
