output "identity" {
  description = "The SES domain identity (the domain); `build.py notify` sends from an address at it."
  value       = aws_sesv2_email_identity.this.email_identity
}

output "identity_arn" {
  description = "ARN of the SES domain identity, for the deploy role's ses:SendEmail permission."
  value       = aws_sesv2_email_identity.this.arn
}

output "configuration_set_name" {
  description = "Name of the SES configuration set that `build.py notify` must send with."
  value       = aws_sesv2_configuration_set.this.configuration_set_name
}

output "configuration_set_arn" {
  description = "ARN of the SES configuration set, for the deploy role's ses:SendEmail permission."
  value       = aws_sesv2_configuration_set.this.arn
}

output "dns_records" {
  description = "DNS records that verify the identity and enable DKIM signing (Easy DKIM CNAMEs); create them when route53_zone_id is null."
  value       = local.dns_records
}
