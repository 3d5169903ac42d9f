# ---------------------------------------------------------------------------
# Optional custom domain: ACM certificate in us-east-1 (the only region
# CloudFront reads certificates from), DNS-validated in Route 53, and alias
# records pointing the name at the distribution.
# ---------------------------------------------------------------------------

resource "aws_acm_certificate" "this" {
  count    = local.custom_domain ? 1 : 0
  provider = aws.us_east_1

  domain_name       = var.custom_domain.name
  validation_method = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  # The distribution must always have a valid certificate attached.
  lifecycle {
    create_before_destroy = true
  }
}

# A single-name certificate has exactly one validation record; counting on the
# input (not on the certificate's attributes) keeps the plan known.
resource "aws_route53_record" "certificate_validation" {
  count = local.custom_domain ? 1 : 0

  zone_id         = var.custom_domain.route53_zone_id
  name            = tolist(aws_acm_certificate.this[0].domain_validation_options)[0].resource_record_name
  type            = tolist(aws_acm_certificate.this[0].domain_validation_options)[0].resource_record_type
  records         = [tolist(aws_acm_certificate.this[0].domain_validation_options)[0].resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count    = local.custom_domain ? 1 : 0
  provider = aws.us_east_1

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = aws_route53_record.certificate_validation[*].fqdn
}

resource "aws_route53_record" "alias" {
  for_each = local.custom_domain ? toset(["A", "AAAA"]) : toset([])

  zone_id = var.custom_domain.route53_zone_id
  name    = var.custom_domain.name
  type    = each.key

  alias {
    name                   = aws_cloudfront_distribution.this.domain_name
    zone_id                = aws_cloudfront_distribution.this.hosted_zone_id
    evaluate_target_health = false
  }
}
