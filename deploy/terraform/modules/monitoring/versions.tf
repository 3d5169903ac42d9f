terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.81"
      # CloudFront publishes its metrics in us-east-1 only, so its alarm (and
      # the topic the alarm notifies) must live there.
      configuration_aliases = [aws.us_east_1]
    }
  }
}
