variable "domain" {
  description = "Domain the notification e-mails are sent from (becomes the SES domain identity), e.g. example.com."
  type        = string
}

variable "configuration_set_name" {
  description = "Name of the SES configuration set that every notification is sent with."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of the domain. When set, the DKIM records are created there; when null, add the records in the dns_records output at your DNS host."
  type        = string
  default     = null
}
