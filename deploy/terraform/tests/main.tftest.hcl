# Offline plan/apply of the whole configuration against mocked AWS providers
# (`terraform test`, Terraform 1.7+). Nothing is created: the mocks stand in
# for every API call, so this checks wiring, counts and conditionals, not AWS.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      arn                         = "arn:aws:s3:::mocked-bucket"
      bucket_regional_domain_name = "mocked-bucket.s3.eu-central-1.amazonaws.com"
      bucket_domain_name          = "mocked-bucket.s3.amazonaws.com"
    }
  }
  mock_resource "aws_cloudfront_distribution" {
    defaults = {
      id             = "E2MOCKED"
      arn            = "arn:aws:cloudfront::123456789012:distribution/E2MOCKED"
      domain_name    = "d111111abcdef8.cloudfront.net"
      hosted_zone_id = "Z2FDTNDATAQYW2"
    }
  }
  mock_resource "aws_cloudfront_function" {
    defaults = { arn = "arn:aws:cloudfront::123456789012:function/cardsite-viewer-request" }
  }
  mock_resource "aws_sesv2_email_identity" {
    defaults = {
      arn = "arn:aws:ses:eu-central-1:123456789012:identity/example.com"
      dkim_signing_attributes = {
        tokens                  = ["token1", "token2", "token3"]
        next_signing_key_length = "RSA_2048_BIT"
      }
    }
  }
  mock_resource "aws_sesv2_configuration_set" {
    defaults = { arn = "arn:aws:ses:eu-central-1:123456789012:configuration-set/cardsite" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-central-1:123456789012:cardsite-alarms" }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
  }
}

mock_provider "aws" {
  alias = "us_east_1"

  mock_resource "aws_acm_certificate" {
    defaults = {
      arn = "arn:aws:acm:us-east-1:123456789012:certificate/mocked"
      domain_validation_options = [{
        domain_name           = "cards.example.com"
        resource_record_name  = "_x.cards.example.com."
        resource_record_type  = "CNAME"
        resource_record_value = "_y.acm-validations.aws."
      }]
    }
  }
  mock_resource "aws_acm_certificate_validation" {
    defaults = { certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/mocked" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:cardsite-alarms" }
  }
}

variables {
  github_repository           = "example-org/cardsite"
  terraform_state_bucket      = "cardsite-tfstate-123456789012"
  ci_permissions_boundary_arn = "arn:aws:iam::123456789012:policy/cardsite-ci-boundary"
  mail_domain                 = "example.com"
  mail_from_address           = "cards@example.com"
  mail_print_inbox            = ["print-jobs@druckerei.example.net"]
}

run "cloudfront_domain_only" {
  command = apply

  assert {
    condition     = output.site_bucket_name == "cardsite-site-123456789012"
    error_message = "The site bucket is named <name>-site-<account>."
  }

  assert {
    condition     = output.cdn_domain_name == "d111111abcdef8.cloudfront.net"
    error_message = "Without a custom domain the site is served on *.cloudfront.net."
  }

  assert {
    condition     = length(module.cdn.log_bucket_id) > 0 && output.cdn_distribution_id == "E2MOCKED"
    error_message = "The distribution and its log bucket are created."
  }

  assert {
    condition     = output.mail_configuration_set == "cardsite" && output.mail_identity == "example.com"
    error_message = "notify needs the identity and the configuration set."
  }

  assert {
    condition     = length(module.mail.dns_records) == 3 && module.mail.dns_records[0].name == "token1._domainkey.example.com"
    error_message = "Easy DKIM yields three CNAMEs under _domainkey."
  }
}

run "custom_domain_and_route53" {
  command = apply

  variables {
    custom_domain = {
      name            = "cards.example.com"
      route53_zone_id = "Z0123456789EXAMPLE"
    }
    mail_route53_zone_id  = "Z0123456789EXAMPLE"
    terraform_environment = "production"
    alarm_emails          = ["ops@example.com", "cto@example.com"]
  }

  assert {
    condition     = output.cdn_domain_name == "cards.example.com"
    error_message = "With a custom domain the public host is that domain."
  }
}

run "rejects_a_sender_outside_the_mail_domain" {
  command = plan

  variables {
    mail_from_address = "cards@evil.example"
  }

  expect_failures = [var.mail_from_address]
}

run "rejects_a_wildcard_print_inbox" {
  command = plan

  variables {
    mail_print_inbox = ["*@druckerei.example.net"]
  }

  expect_failures = [var.mail_print_inbox]
}

run "owner_domains_default_to_the_mail_domain" {
  command = plan

  assert {
    condition     = one(module.ci.owner_domains) == "example.com"
    error_message = "Without owner_domains, owner notices may go to the mail domain only."
  }
}

run "rejects_a_repository_without_owner" {
  command = plan

  variables {
    github_repository = "cardsite"
  }

  expect_failures = [var.github_repository]
}

run "ci_module_creates_four_roles" {
  command = apply

  module {
    source = "./modules/ci"
  }

  variables {
    name                      = "cardsite"
    site_bucket_arn           = "arn:aws:s3:::cardsite-site-123456789012"
    distribution_arn          = "arn:aws:cloudfront::123456789012:distribution/E2MOCKED"
    ses_identity_arn          = "arn:aws:ses:eu-central-1:123456789012:identity/example.com"
    ses_configuration_set_arn = "arn:aws:ses:eu-central-1:123456789012:configuration-set/cardsite"
    managed_bucket_arns       = ["arn:aws:s3:::cardsite-site-123456789012", "arn:aws:s3:::cardsite-logs-123456789012"]
    log_bucket_arn            = "arn:aws:s3:::cardsite-logs-123456789012"
    permissions_boundary_arn  = "arn:aws:iam::123456789012:policy/cardsite-ci-boundary"
    owner_domains             = ["example.com", "example.ch"]
  }

  assert {
    condition = alltrue([
      for role in [aws_iam_role.deploy, aws_iam_role.terraform, aws_iam_role.terraform_plan, aws_iam_role.stats] :
      role.permissions_boundary == "arn:aws:iam::123456789012:policy/cardsite-ci-boundary"
    ])
    error_message = "Every CI role carries the permissions boundary."
  }

  assert {
    condition     = aws_iam_role.deploy.name == "cardsite-deploy" && aws_iam_role.terraform.name == "cardsite-terraform"
    error_message = "The deploy and Terraform roles are <name>-deploy and <name>-terraform."
  }

  assert {
    condition     = aws_iam_role.terraform_plan.name == "cardsite-terraform-plan" && aws_iam_role_policy.terraform_plan.role == aws_iam_role.terraform_plan.id
    error_message = "The read-only plan role is <name>-terraform-plan and carries its own read policy."
  }

  assert {
    condition     = aws_iam_role.stats.name == "cardsite-stats" && aws_iam_role_policy.stats.role == aws_iam_role.stats.id
    error_message = "The stats role is <name>-stats and carries its own policy."
  }
}
