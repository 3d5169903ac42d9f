# Used only by ../apply.tftest.hcl: hands the applied configuration's outputs
# to the test that drives publish and notify, then waits until it is done, so
# that those run between `terraform test`'s apply and its destroy.

terraform {
  required_version = ">= 1.10"
}

variable "outputs" {
  description = "The root configuration's outputs, as the workflows receive them."
  type        = map(string)
}

variable "handoff_dir" {
  description = "Folder the test watches: outputs.json is written there, and the test creates done (or failed) when it has finished."
  type        = string
}

variable "timeout_seconds" {
  description = "How long to wait for the test before giving up, so a crashed test never leaves Terraform waiting."
  type        = number
  default     = 600
}

resource "terraform_data" "handoff" {
  input = var.outputs

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    environment = {
      OUTPUTS = jsonencode(var.outputs)
      DIR     = var.handoff_dir
      TIMEOUT = var.timeout_seconds
    }
    command = <<-EOT
      printf '%s' "$OUTPUTS" >"$DIR/outputs.json.tmp" && mv "$DIR/outputs.json.tmp" "$DIR/outputs.json"
      waited=0
      while [ ! -e "$DIR/done" ] && [ ! -e "$DIR/failed" ]; do
        [ "$waited" -ge "$((TIMEOUT * 5))" ] && { echo "handoff: no answer from the test" >&2; exit 1; }
        sleep 0.2
        waited=$((waited + 1))
      done
      [ -e "$DIR/done" ]
    EOT
  }
}

output "outputs" {
  description = "What was handed over."
  value       = terraform_data.handoff.output
}
