# State lives in the bucket from deploy/bootstrap. Bucket and region are given
# at init time so this file names no account:
#
#   terraform init -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$AWS_REGION"
terraform {
  backend "s3" {
    key          = "cardsite/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
