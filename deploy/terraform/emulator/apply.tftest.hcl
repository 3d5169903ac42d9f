# Applies the real configuration with the real AWS provider against an AWS
# emulator (moto's server mode), then hands its outputs to
# tests/test_emulator.py, which publishes and notifies against what was
# created; `terraform test` then destroys it all. The provider reaches the
# emulator through AWS_ENDPOINT_URL and takes the emulator's credentials from
# the environment, so the configuration's own provider blocks are used as they
# are. Run it only from that test: `terraform test -test-directory=emulator`.
#
# Everything is created for real except these, which the emulator lacks:
#
# - data aws_cloudfront_cache_policy.caching_optimized: moto has no cache
#   policy API (GetCachePolicy and ListCachePolicies answer 404), so the
#   lookup gets the well-known ID of AWS's managed CachingOptimized policy.
# - aws_cloudfront_response_headers_policy.this: moto has no response headers
#   policy API (CreateResponseHeadersPolicy answers 404).
# - aws_cloudfront_function.viewer_request: moto creates functions but has no
#   PublishFunction, which `publish = true` calls; the function's code is run
#   under node by tests/test_infra.py instead.
# - aws_s3_bucket_policy.this (the site bucket's): moto enforces bucket
#   policies but treats condition keys it cannot evaluate as met, so
#   DenyInsecureTransport (Bool aws:SecureTransport = false) refuses every
#   upload, even over HTTPS. The policy's statements are checked on the HCL
#   by tests/test_infra.py and by checkov.
# - aws_sesv2_configuration_set.this: moto creates it but answers
#   GetConfigurationSet with SendingOptions.SendingEnabled nested twice (a moto
#   bug), which the provider cannot decode. moto's SendEmail does not look the
#   configuration set up, so notify still sends with its name.
# - aws_sesv2_configuration_set_event_destination.cloudwatch: moto's SES v2
#   has no CreateConfigurationSetEventDestination.
# - aws_sesv2_email_identity.this: moto creates the identity but answers
#   CreateEmailIdentity with a timestamp as a string (a moto bug), which the
#   provider cannot decode. The test creates the domain identity through
#   boto3, whose parser accepts the answer, as SES would once DNS verifies it.

override_data {
  target = module.cdn.data.aws_cloudfront_cache_policy.caching_optimized
  values = {
    id = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  }
}

override_resource {
  target = module.cdn.aws_cloudfront_response_headers_policy.this
  values = {
    id = "emulator-response-headers-policy"
  }
}

override_resource {
  target = module.cdn.aws_cloudfront_function.viewer_request
  values = {
    arn = "arn:aws:cloudfront::123456789012:function/cardsite-viewer-request"
  }
}

override_resource {
  target = module.site.aws_s3_bucket_policy.this
}

override_resource {
  target = module.mail.aws_sesv2_configuration_set.this
  values = {
    arn = "arn:aws:ses:eu-central-1:123456789012:configuration-set/cardsite"
  }
}

override_resource {
  target = module.mail.aws_sesv2_configuration_set_event_destination.cloudwatch
}

override_resource {
  target = module.mail.aws_sesv2_email_identity.this
  values = {
    arn = "arn:aws:ses:eu-central-1:123456789012:identity/example.com"
    dkim_signing_attributes = {
      tokens                  = ["token1", "token2", "token3"]
      next_signing_key_length = "RSA_2048_BIT"
    }
  }
}

variables {
  github_repository = "example-org/cardsite"
  mail_domain       = "example.com"
  mail_from_address = "cards@example.com"
  mail_print_inbox  = ["print-jobs@druckerei.example.net"]
  owner_domains     = ["example.com", "example.ch"]
  # terraform_state_bucket, ci_permissions_boundary_arn and handoff_dir come
  # from the test (-var), after it applied deploy/bootstrap to the emulator.
}

run "apply" {
  command = apply

  assert {
    condition     = startswith(output.site_bucket_name, "cardsite-site-")
    error_message = "The site bucket was not created under its name."
  }
}

run "publish_and_notify" {
  command = apply

  module {
    source = "./emulator/handoff"
  }

  variables {
    outputs = {
      site_bucket_name           = run.apply.site_bucket_name
      cdn_distribution_id        = run.apply.cdn_distribution_id
      cdn_domain_name            = run.apply.cdn_domain_name
      ci_deploy_role_arn         = run.apply.ci_deploy_role_arn
      ci_terraform_role_arn      = run.apply.ci_terraform_role_arn
      ci_terraform_plan_role_arn = run.apply.ci_terraform_plan_role_arn
      mail_identity              = run.apply.mail_identity
      mail_configuration_set     = run.apply.mail_configuration_set
    }
  }
}
