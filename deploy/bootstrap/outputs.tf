output "state_bucket_name" {
  description = "Name of the Terraform state bucket: -backend-config bucket=... for deploy/terraform, its terraform_state_bucket variable, and GitHub variable TF_STATE_BUCKET."
  value       = aws_s3_bucket.this.id
}

output "state_bucket_region" {
  description = "Region of the state bucket: -backend-config region=... and GitHub variable AWS_REGION."
  value       = aws_s3_bucket.this.region
}

output "ci_permissions_boundary_arn" {
  description = "Permissions boundary every role of deploy/terraform must carry: its ci_permissions_boundary_arn variable."
  value       = aws_iam_policy.ci_boundary.arn
}
