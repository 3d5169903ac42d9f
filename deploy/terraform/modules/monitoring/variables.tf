variable "name" {
  description = "Name prefix for the SNS topics, alarms and dashboard."
  type        = string
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topics; each must confirm the subscription e-mail AWS sends."
  type        = list(string)
  default     = []
}

variable "distribution_id" {
  description = "ID of the CloudFront distribution whose 5xx error rate is watched."
  type        = string
}

variable "ses_configuration_set_name" {
  description = "SES configuration set whose send, bounce and complaint counts the dashboard shows."
  type        = string
}

variable "thresholds" {
  description = "Alarm thresholds: CloudFront 5xx error rate in percent, SES bounce and complaint rates as fractions (AWS reviews an account at 0.05 and 0.001)."
  type = object({
    cloudfront_5xx_error_rate = optional(number, 5)
    ses_bounce_rate           = optional(number, 0.04)
    ses_complaint_rate        = optional(number, 0.0008)
  })
  default = {}
}
