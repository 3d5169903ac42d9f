locals {
  custom_domain = var.custom_domain != null
  origin_id     = "site"

  # Matches what the landing pages load: inline <style>, one same-origin
  # deferred script under /assets/, same-origin or data: images, no forms and
  # no third-party hosts.
  content_security_policy = join("; ", [
    "default-src 'none'",
    "img-src 'self' data:",
    "style-src 'unsafe-inline'",
    "script-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ])
}

# Honours the origin's Cache-Control: publish sets a short max-age on HTML and
# .vcf and `immutable` on the content-hashed assets.
data "aws_cloudfront_cache_policy" "caching_optimized" {
  name = "Managed-CachingOptimized"
}

# ---------------------------------------------------------------------------
# Origin access: CloudFront signs its S3 requests (OAC); the bucket policy in
# the site module admits only this distribution.
# ---------------------------------------------------------------------------

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = var.name
  description                       = "Signed requests from the ${var.name} distribution to its site bucket."
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# ---------------------------------------------------------------------------
# Edge logic and response headers
# ---------------------------------------------------------------------------

resource "aws_cloudfront_function" "viewer_request" {
  name    = "${var.name}-viewer-request"
  runtime = "cloudfront-js-2.0"
  comment = "Card URLs to index.html (/id redirects to /id/); 404 for the reserved _cardsite/ prefix."
  publish = true
  code    = file("${path.module}/functions/viewer-request.js")
}

resource "aws_cloudfront_response_headers_policy" "this" {
  #checkov:skip=CKV_AWS_259:HSTS is sent for two years with includeSubDomains and override; "preload" is left out because it commits the whole registrable domain, which the card site may not own alone.
  name    = "${var.name}-security-headers"
  comment = "Security headers for the card pages."

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      override                   = true
    }

    content_security_policy {
      content_security_policy = local.content_security_policy
      override                = true
    }

    content_type_options {
      override = true
    }

    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }

    # Older browsers ignore CSP frame-ancestors; X-Frame-Options covers them.
    frame_options {
      frame_option = "DENY"
      override     = true
    }
  }
}

# ---------------------------------------------------------------------------
# Distribution
# ---------------------------------------------------------------------------

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_68:Static files only (no forms, no origin compute); WAF's $5/month plus per-rule fees buy nothing a private S3 origin needs.
  #checkov:skip=CKV2_AWS_47:Same as CKV_AWS_68: no WAF, and the origin runs no Java, so Log4j rules do not apply.
  #checkov:skip=CKV_AWS_310:A single S3 origin in one region; S3 availability is the failover, and a second bucket would double every publish.
  #checkov:skip=CKV_AWS_374:Cards are handed out and scanned worldwide; a geo restriction would break them.
  #checkov:skip=CKV_AWS_174:With a custom domain the floor is TLSv1.2_2021; the default *.cloudfront.net certificate only accepts TLSv1.
  enabled             = true
  comment             = "${var.name} digital business cards"
  aliases             = local.custom_domain ? [var.custom_domain.name] : []
  default_root_object = "index.html"
  http_version        = "http2and3"
  is_ipv6_enabled     = true
  price_class         = var.price_class

  origin {
    origin_id                = local.origin_id
    domain_name              = var.origin_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.caching_optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id

    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.viewer_request.arn
    }
  }

  # Without s3:ListBucket a missing key comes back from S3 as 403, so both
  # codes show the site's own 404 page.
  custom_error_response {
    error_code            = 403
    response_code         = 404
    response_page_path    = "/404.html"
    error_caching_min_ttl = 60
  }

  custom_error_response {
    error_code            = 404
    response_code         = 404
    response_page_path    = "/404.html"
    error_caching_min_ttl = 60
  }

  logging_config {
    bucket          = aws_s3_bucket.logs.bucket_domain_name
    prefix          = "cloudfront/"
    include_cookies = false
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = !local.custom_domain
    acm_certificate_arn            = local.custom_domain ? aws_acm_certificate_validation.this[0].certificate_arn : null
    ssl_support_method             = local.custom_domain ? "sni-only" : null
    minimum_protocol_version       = local.custom_domain ? "TLSv1.2_2021" : "TLSv1"
  }

  # CloudFront grants its log-delivery account access through the bucket ACL.
  depends_on = [aws_s3_bucket_ownership_controls.logs]
}
