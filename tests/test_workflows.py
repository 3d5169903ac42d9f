"""The GitHub Actions workflows: zizmor, the workflow schema, pinning, permissions, and CLI drift.

Everything here is offline: zizmor runs with --offline and check-jsonschema uses its vendored
copy of the workflow schema. The helper scripts in .github/scripts/ run against real git
repositories and files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import create_distribution, skip_or_fail

from cardsite.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPTS = ROOT / ".github" / "scripts"
SETUP_DOC = ROOT / "docs" / "setup.md"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))

AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?P<rest>.*)$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+(?:\.\d+){0,2}\s*$")
BUILD_PY = re.compile(r"(?:^|[\s;&|(])python3?\s+(?:\./)?build\.py(?=\s|$)")
SHELL_OPERATORS = {";", "&&", "||", "|", "&", ">", ">>", "<", "2>", "2>>", "(", ")"}


def tool(name: str) -> str:
    """Return the path of a console script installed with the project's [test] extra."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if not found:
        skip_or_fail(f"{name} is not installed (pip install -e '.[test]')")
    return str(found)


def load(path: Path) -> dict[str, Any]:
    """Read a workflow; PyYAML reads the key `on` as True, so put it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return {path.stem: load(path) for path in WORKFLOW_FILES}


def steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Yield (job id, job, step) for every step of a workflow."""
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


def step_named(workflow: dict[str, Any], job_id: str, needle: str) -> tuple[int, dict[str, Any]]:
    """Return the index and step of the job's first step whose `run` or `uses` contains `needle`."""
    for index, step in enumerate(workflow["jobs"][job_id]["steps"]):
        if needle in step.get("run", "") or needle in step.get("uses", ""):
            return index, step
    raise AssertionError(f"job {job_id} has no step with {needle!r}")


# --------------------------------------------------------------------------- the expected files


def test_the_four_workflows_exist() -> None:
    assert {path.name for path in WORKFLOW_FILES} == {"pr.yml", "deploy.yml", "infra.yml", "stats.yml", "sync.yml"}


# --------------------------------------------------------------------------- zizmor and the schema


def test_zizmor_reports_no_findings_offline() -> None:
    # The pedantic persona includes every regular finding plus code smells; any finding fails.
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--persona", "pedantic", "--format", "json", "--no-progress", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")},
        timeout=120,
        check=False,
    )
    try:
        findings = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"zizmor printed no JSON (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    summary = [f"{f['ident']}: {f['desc']} @ {f['locations'][0]['symbolic']['key']}" for f in findings]
    assert findings == [], "zizmor findings:\n" + "\n".join(summary)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_zizmor_ignore_gives_a_reason() -> None:
    for path in [*WORKFLOW_FILES, *SCRIPTS.glob("*")]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "zizmor: ignore[" in line:
                reason = line.split("]", 1)[1].strip(" :-#")
                assert len(reason) > 10, f"{path.name}:{number}: say why the finding is a false positive"


def test_workflows_match_the_github_workflow_schema() -> None:
    # The schema ships inside check-jsonschema (vendored), so this needs no network.
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOW_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- pinning and permissions


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    seen = 0
    for path in WORKFLOW_FILES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "uses:" not in line or line.lstrip().startswith("#"):
                continue
            match = PINNED_USES.match(line)
            assert match, f"{path.name}:{number}: cannot read {line.strip()!r}"
            assert re.fullmatch(r"[0-9a-f]{40}", match["ref"]), f"{path.name}:{number}: not a full commit SHA"
            assert VERSION_COMMENT.match(match["rest"]), f"{path.name}:{number}: add the version, as in '# v4.1.0'"
            seen += 1
    assert seen >= 10


def test_one_version_per_action() -> None:
    # Two SHAs for one action would mean one of them was bumped and the other forgotten.
    pins: dict[str, set[str]] = {}
    for path in WORKFLOW_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if match := PINNED_USES.match(line):
                pins.setdefault(match["action"], set()).add(match["ref"] + match["rest"].strip())
    assert {action: refs for action, refs in pins.items() if len(refs) > 1} == {}


def test_every_checkout_drops_its_credentials(workflows: dict[str, dict[str, Any]]) -> None:
    checkouts = [
        step
        for wf in workflows.values()
        for _, _, step in steps(wf)
        if step.get("uses", "").startswith("actions/checkout@")
    ]
    assert len(checkouts) >= 5
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False


def test_permissions_are_the_least_each_job_needs(workflows: dict[str, dict[str, Any]]) -> None:
    for name, wf in workflows.items():
        assert wf.get("permissions") == {}, f"{name}: start from no permissions at the top"
        for job_id, job in wf["jobs"].items():
            perms = job.get("permissions")
            assert isinstance(perms, dict), f"{name}.{job_id}: set job permissions"
            uses_aws = any(s.get("uses", "").startswith(AWS_CREDENTIALS_ACTION) for s in job.get("steps", []))
            expected = {"contents": "read", "id-token": "write"} if uses_aws else {"contents": "read"}
            if name == "sync":  # it pushes its branch and opens the pull request; it never touches AWS
                expected = {"contents": "write", "pull-requests": "write"}
            assert perms == expected, f"{name}.{job_id}"


def test_no_secrets_and_no_access_keys(workflows: dict[str, dict[str, Any]]) -> None:
    for path in WORKFLOW_FILES:
        text = path.read_text(encoding="utf-8")
        if path.name == "sync.yml":  # the directory's credentials, from its protected environment alone
            assert set(re.findall(r"secrets\.(\w+)", text)) == {"CARDSITE_SYNC_PASSWORD", "CARDSITE_SYNC_GH_TOKEN"}
            assert load(path)["jobs"]["sync"]["environment"] == "directory"
            text = re.sub(r"secrets\.CARDSITE_SYNC_\w+", "", text)
        assert "secrets." not in text, f"{path.name}: AWS access is through OIDC; no secrets are needed"
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, path.name
    for wf in workflows.values():
        for _, _, step in steps(wf):
            if step.get("uses", "").startswith(AWS_CREDENTIALS_ACTION):
                assert re.fullmatch(r"\$\{\{ vars\.AWS_[A-Z_]+_ROLE_ARN \}\}", step["with"]["role-to-assume"])
                assert step["with"]["aws-region"] == "${{ vars.AWS_REGION }}"


def test_no_expression_is_expanded_inside_a_script(workflows: dict[str, dict[str, Any]]) -> None:
    # Stricter than zizmor's template-injection: values reach scripts only through `env:`.
    for name, wf in workflows.items():
        for job_id, _, step in steps(wf):
            assert "${{" not in step.get("run", ""), f"{name}.{job_id}: {step.get('name')}: pass it through env:"


# --------------------------------------------------------------------------- what each workflow does


def test_pr_workflow_checks_tests_builds_and_uploads(workflows: dict[str, dict[str, Any]]) -> None:
    pr = workflows["pr"]
    assert set(pr["on"]) == {"pull_request"}
    (job_id,) = pr["jobs"]
    order = [
        step_named(pr, job_id, needle)[0]
        for needle in (
            "card-changes.sh",
            "pip install",
            "build.py check",
            "pytest",
            "build.py build",
            "upload-artifact",
        )
    ]
    assert order == sorted(order)
    _, setup = step_named(pr, job_id, "actions/setup-python@")
    assert setup["with"]["cache"] == "pip"
    _, check = step_named(pr, job_id, "build.py check")
    assert "--format github" in check["run"]
    assert "--base HEAD^1" in check["run"], "a card on the base branch must not disappear"
    _, upload = step_named(pr, job_id, "upload-artifact")
    assert upload["with"]["path"].rstrip("/") == "public"
    assert upload["with"].get("include-hidden-files", False) is False, "public/.cardsite/ is internal"
    _, checkout = step_named(pr, job_id, "actions/checkout@")
    assert checkout["with"]["fetch-depth"] >= 2, "card-changes.sh compares the merge commit with its first parent"


def test_deploy_runs_one_at_a_time_and_is_never_cancelled(workflows: dict[str, dict[str, Any]]) -> None:
    deploy = workflows["deploy"]
    assert deploy["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    assert "workflow_dispatch" in deploy["on"]
    push = deploy["on"]["push"]
    assert push["branches"] == ["main"]
    assert {"contacts/**", "templates/**", "site.yaml", "cardsite/**", "build.py"} <= set(push["paths"])


def test_deploy_builds_then_publishes_then_notifies(workflows: dict[str, dict[str, Any]]) -> None:
    deploy = workflows["deploy"]
    assert set(deploy["jobs"]) == {"build", "publish"}
    build, _ = step_named(deploy, "build", "build.py build")
    upload, upload_step = step_named(deploy, "build", "actions/upload-artifact@")
    assert build < upload
    assert deploy["jobs"]["publish"]["needs"] == "build"
    download, download_step = step_named(deploy, "publish", "actions/download-artifact@")
    creds, _ = step_named(deploy, "publish", AWS_CREDENTIALS_ACTION)
    publish, publish_step = step_named(deploy, "publish", "build.py publish")
    notify, notify_step = step_named(deploy, "publish", "build.py notify")
    assert download < creds < publish < notify
    assert download_step["with"]["name"] == upload_step["with"]["name"]
    # A step without `if:` runs only when every step before it succeeded.
    assert "if" not in publish_step and "if" not in notify_step
    assert "--result" in publish_step["run"]


def test_only_the_publish_job_can_ask_for_the_oidc_token(workflows: dict[str, dict[str, Any]]) -> None:
    # The build runs the cards and templates of the merged commit; it needs no AWS and gets no token.
    jobs = workflows["deploy"]["jobs"]
    tokens = {job_id for job_id, job in jobs.items() if job["permissions"].get("id-token") == "write"}
    assert tokens == {"publish"}
    publish_runs = "\n".join(step.get("run", "") for step in jobs["publish"]["steps"])
    assert "build.py build" not in publish_runs and "build.py publish" in publish_runs


PIP_INSTALL = re.compile(r"\bpip3?\s+install\b(?P<args>[^\n]*)")
LOCKED_INSTALL = re.compile(
    r"^ --require-hashes --only-binary :all: --no-deps -r requirements/deploy\.lock$"
    r"|^ --no-deps --no-build-isolation \.$"
)


def test_deploy_installs_only_what_the_lock_file_pins(workflows: dict[str, dict[str, Any]]) -> None:
    # Either every file pip fetches is checked against a hash in the lock, or pip fetches nothing.
    installs = [
        (job_id, match["args"])
        for job_id, _, step in steps(workflows["deploy"])
        for match in PIP_INSTALL.finditer(step.get("run", ""))
    ]
    assert {job_id for job_id, _ in installs} == {"build", "publish"}
    assert [args for _, args in installs if not LOCKED_INSTALL.match(args)] == []


def test_stats_installs_only_what_the_lock_files_pin(workflows: dict[str, dict[str, Any]]) -> None:
    locked = re.compile(
        LOCKED_INSTALL.pattern.replace(r"deploy\.lock$", r"deploy\.lock(?: -r requirements/stats\.lock)?$")
    )
    installs = [
        match["args"] for _, _, step in steps(workflows["stats"]) for match in PIP_INSTALL.finditer(step.get("run", ""))
    ]
    assert len(installs) == 4 and [args for args in installs if not locked.match(args)] == []
    jobs = workflows["stats"]["jobs"]
    assert {job_id for job_id, job in jobs.items() if job["permissions"].get("id-token") == "write"} == {"report"}
    report_runs = "\n".join(step.get("run", "") for step in jobs["report"]["steps"])
    assert "build.py build" not in report_runs and '--format markdown >>"$GITHUB_STEP_SUMMARY"' in report_runs


def test_the_install_rule_refuses_an_unpinned_install() -> None:
    for args in (" .", " -e '.[test]'", " --no-deps -r requirements/deploy.lock", " boto3 --no-deps ."):
        assert not LOCKED_INSTALL.match(args), args


def test_infra_plans_pull_requests_and_applies_main_behind_an_environment(
    workflows: dict[str, dict[str, Any]],
) -> None:
    infra = workflows["infra"]
    for event in ("pull_request", "push"):
        assert "deploy/**" in infra["on"][event]["paths"]
    assert infra["on"]["push"]["branches"] == ["main"]
    jobs = infra["jobs"]
    validate = "\n".join(step.get("run", "") for step in jobs["validate"]["steps"])
    for command in ("terraform fmt -check", "init -backend=false", "validate"):
        assert command in validate
    # The mocked-provider tests need no AWS, so they run next to validate, after it.
    assert validate.index("deploy/terraform validate -no-color") < validate.index(
        "terraform -chdir=deploy/terraform test -no-color"
    )
    plan = "\n".join(step.get("run", "") for step in jobs["plan"]["steps"])
    assert "plan -lock=false" in plan and "text-summary.sh" in plan and "GITHUB_STEP_SUMMARY" in plan
    assert "github.event_name == 'pull_request'" in jobs["plan"]["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in jobs["plan"]["if"], "no fork"
    # Pull requests plan with the read-only plan role; only the apply job gets the role that can change IAM.
    roles = {
        job_id: step_named(infra, job_id, AWS_CREDENTIALS_ACTION)[1]["with"]["role-to-assume"]
        for job_id in ("plan", "apply")
    }
    assert roles == {
        "plan": "${{ vars.AWS_TERRAFORM_PLAN_ROLE_ARN }}",
        "apply": "${{ vars.AWS_TERRAFORM_ROLE_ARN }}",
    }
    assert "AWS_TERRAFORM_PLAN_ROLE_ARN" in step_named(infra, "plan", "require-vars.sh")[1]["run"]
    apply = jobs["apply"]
    assert apply["environment"] == "production"
    assert infra["env"]["TF_VAR_terraform_environment"] == apply["environment"], "the Terraform role trusts it"
    assert "github.ref == 'refs/heads/main'" in apply["if"]
    assert apply["concurrency"]["cancel-in-progress"] is False
    apply_runs = "\n".join(step.get("run", "") for step in apply["steps"])
    assert "apply -no-color tfplan" in apply_runs, "apply exactly the plan shown in the summary"
    assert '-backend-config="bucket=$TF_STATE_BUCKET"' in apply_runs


def test_setup_guide_names_every_repository_variable() -> None:
    used = {match for path in WORKFLOW_FILES for match in re.findall(r"vars\.([A-Z_]+)", path.read_text())}
    assert used >= {"AWS_REGION", "AWS_DEPLOY_ROLE_ARN", "AWS_TERRAFORM_ROLE_ARN", "TF_STATE_BUCKET"}
    guide = SETUP_DOC.read_text(encoding="utf-8")
    assert {name for name in used if f"`{name}`" not in guide} == set()


# --------------------------------------------------------------------------- the CLI the workflows call


def logical_lines(script: str) -> list[str]:
    """Return the lines of a shell script with backslash continuations joined."""
    return re.sub(r"\\\n", " ", script).splitlines()


def build_py_calls(script: str) -> list[list[str]]:
    """Return the arguments of every `python build.py ...` in a shell script."""
    calls = []
    for line in logical_lines(script):
        for match in BUILD_PY.finditer(line):
            lexer = shlex.shlex(line[match.end() :], posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            words: list[str] = []
            for word in lexer:
                if word in SHELL_OPERATORS or word.startswith((">", "<", "|", "&", ";")):
                    break
                words.append(word)
            calls.append(words)
    return calls


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Return build.py's command parsers by name."""
    (action,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def unknown_options(args: list[str]) -> list[str]:
    """Return the options in a build.py call that its command does not have (exact names only)."""
    commands = subcommands()
    if not args or args[0].startswith("-"):
        args = ["build", *args]  # build.py with options only means build
    command, *rest = args
    if command not in commands:
        return [command]
    known = commands[command]._option_string_actions
    return [word for word in rest if word.startswith("-") and word.split("=", 1)[0] not in known]


def workflow_calls() -> list[tuple[str, list[str]]]:
    calls = []
    for path in WORKFLOW_FILES:
        for _, _, step in steps(load(path)):
            calls += [(path.stem, call) for call in build_py_calls(step.get("run", ""))]
    return calls


def test_every_build_py_command_and_option_in_the_workflows_exists() -> None:
    calls = workflow_calls()
    found = {(name, call[0]) for name, call in calls}
    expected = {("pr", "check"), ("pr", "build"), ("deploy", "build"), ("deploy", "publish"), ("deploy", "notify")}
    assert found >= expected, "the parser found fewer build.py calls than the workflows make"
    problems = [
        f"{name}: build.py {' '.join(call)}: {unknown_options(call)}" for name, call in calls if unknown_options(call)
    ]
    assert problems == []


def test_the_call_reader_follows_continuations_and_stops_at_the_shell() -> None:
    script = (
        "if true; then\n"
        '  python build.py publish --out public --bucket "$B" \\\n'
        "    --distribution-id x --result r.json >>log 2>&1\n"
        "fi\n"
        "python3 ./build.py check --format github | tee out # not --an-option\n"
        "echo python build.py.bak --nope\n"
    )
    assert build_py_calls(script) == [
        ["publish", "--out", "public", "--bucket", "$B", "--distribution-id", "x", "--result", "r.json"],
        ["check", "--format", "github"],
    ]


def test_a_renamed_option_or_command_is_caught() -> None:
    assert unknown_options(["publish", "--out", "public", "--distribution", "D"]) == ["--distribution"]
    assert unknown_options(["publish", "--result=r.json", "--allow-deletes", "3"]) == []
    assert unknown_options(["deploy", "--out", "x"]) == ["deploy"]
    assert unknown_options(["--out", "public"]) == []
    assert unknown_options(["--format", "github"]) == ["--format"]  # that is check's, not build's


# --------------------------------------------------------------------------- the helper scripts


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return proc.stdout


def write(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def card_changes(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "card-changes.sh"), *args], cwd=repo, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def pr_repo(tmp_path: Path) -> Path:
    """Return a repository whose HEAD merges a pull request into a base branch that moved on meanwhile."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for card in ("anna", "ben", "carla", "dora"):
        write(repo, f"contacts/{card}.yaml", f"name: {card}\n")
    write(repo, "README.md", "hello\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")
    write(repo, "contacts/ben.yaml", "name: Ben B.\n")
    (repo / "contacts/carla.yaml").unlink()
    write(repo, "contacts/eve.yml", "name: eve\n")
    write(repo, "contacts/notes/x.yaml", "not a card\n")
    write(repo, "contacts/README.txt", "not a card\n")
    write(repo, "README.md", "changed\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature")
    git(repo, "checkout", "-q", "main")
    write(repo, "contacts/dora.yaml", "name: Dora D.\n")  # changed on the base branch, not by the PR
    git(repo, "commit", "-qam", "base moves on")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "feature")  # what pull/N/merge checks out
    return repo


def test_card_changes_lists_what_the_pull_request_adds_changes_and_removes(pr_repo: Path) -> None:
    out = card_changes(pr_repo, "HEAD^1", "HEAD")
    assert "1 added, 1 changed, 1 removed" in out
    assert "**Added (1):**\n\n- `eve`\n" in out
    assert "**Changed (1):**\n\n- `ben`\n" in out
    assert "**Removed (1):**\n\n- `carla`\n" in out
    assert "[!WARNING]" in out
    for other in ("dora", "anna", "notes", "x", "README"):
        assert f"`{other}`" not in out


def test_card_changes_ids_are_the_added_and_changed_cards_for_their_proofs(pr_repo: Path) -> None:
    assert card_changes(pr_repo, "--ids", "HEAD^1", "HEAD") == "eve\nben\n"
    write(pr_repo, "contacts/a`b c*.yaml", "x\n")
    git(pr_repo, "add", "-A")
    git(pr_repo, "commit", "-qm", "odd")
    assert card_changes(pr_repo, "--ids", "HEAD^1", "HEAD") == "", "no odd name reaches the command line"


def test_pr_workflow_attaches_print_proofs_of_the_changed_cards(workflows: dict[str, dict[str, Any]]) -> None:
    pr = workflows["pr"]
    (job_id,) = pr["jobs"]
    built, _ = step_named(pr, job_id, "build.py build")
    drawn, draw = step_named(pr, job_id, "build.py print")
    uploaded, upload = next(
        (i, s) for i, s in enumerate(pr["jobs"][job_id]["steps"]) if "proofs" in str(s.get("with", {}))
    )
    assert built < drawn < uploaded
    assert "card-changes.sh --ids HEAD^1 HEAD" in draw["run"] and "--proofs proofs" in draw["run"]
    assert upload["with"]["path"].rstrip("/") == "proofs" and upload["with"]["if-no-files-found"] == "ignore"


def test_card_changes_says_so_when_no_card_changed(pr_repo: Path) -> None:
    write(pr_repo, "docs.md", "text\n")
    git(pr_repo, "add", "docs.md")
    git(pr_repo, "commit", "-qm", "docs only")
    out = card_changes(pr_repo, "HEAD^1", "HEAD")
    assert "adds, changes and removes no cards" in out
    assert "WARNING" not in out


def test_card_changes_keeps_odd_file_names_out_of_the_markdown(pr_repo: Path) -> None:
    write(pr_repo, "contacts/a`b c*.yaml", "x\n")
    git(pr_repo, "add", "-A")
    git(pr_repo, "commit", "-qm", "odd")
    out = card_changes(pr_repo, "HEAD^1", "HEAD")
    assert "- `a?b?c?`\n" in out


def test_card_changes_fails_on_an_unknown_base(pr_repo: Path) -> None:
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "card-changes.sh"), "no-such-ref"], cwd=pr_repo, capture_output=True, text=True
    )
    assert proc.returncode != 0


PLAN_TOTALS = load(WORKFLOWS / "infra.yml")["env"]["PLAN_TOTALS"] if (WORKFLOWS / "infra.yml").exists() else ""


def text_summary(*args: str, limit: int | None = None) -> str:
    env = {**os.environ, **({"SUMMARY_TEXT_LIMIT": str(limit)} if limit else {})}
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "text-summary.sh"), *args], capture_output=True, text=True, env=env, check=True
    )
    return proc.stdout


def test_text_summary_escapes_the_plan_and_shows_the_totals(tmp_path: Path) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text(
        'Terraform will perform the following actions:\n  + tags = { "a" = "<b>&" }\n\n'
        "Plan: 1 to add, 0 to change, 0 to destroy.\n",
        encoding="utf-8",
    )
    out = text_summary("Terraform plan", str(plan), PLAN_TOTALS)
    assert out.startswith("### Terraform plan\n\nPlan: 1 to add, 0 to change, 0 to destroy.\n")
    assert "&lt;b&gt;&amp;" in out and "<b>" not in out
    assert out.rstrip().endswith("</pre>\n</details>")


def test_text_summary_cuts_a_huge_text(tmp_path: Path) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text("No changes. Your infrastructure matches the configuration.\n" + "x" * 5000, encoding="utf-8")
    out = text_summary("Plan", str(plan), PLAN_TOTALS, limit=1000)
    assert out.splitlines()[2].startswith("No changes.")
    assert "cut at 1000 bytes" in out
    assert len(out) < 1500


def test_text_summary_without_a_headline_or_a_match(tmp_path: Path) -> None:
    log = tmp_path / "notify.log"
    log.write_text("Delivered print job max\n", encoding="utf-8")
    assert text_summary("Announcements", str(log)).startswith("### Announcements\n\n<details>")
    assert "(no summary line; see the details)" in text_summary("Announcements", str(log), "^Nothing")


def test_require_vars_names_each_missing_variable() -> None:
    env = {**os.environ, "SET_ONE": "x", "EMPTY_ONE": ""}
    env.pop("MISSING_ONE", None)
    script = str(SCRIPTS / "require-vars.sh")
    proc = subprocess.run(
        ["bash", script, "SET_ONE", "EMPTY_ONE", "MISSING_ONE"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stdout.count("::error title=Repository variable") == 2
    assert "EMPTY_ONE" in proc.stdout and "MISSING_ONE" in proc.stdout and "SET_ONE" not in proc.stdout
    ok = subprocess.run(["bash", script, "SET_ONE"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == ""


# --------------------------------------------------------------------------- the deploy job, run for real

EXPRESSION = re.compile(r"\$\{\{\s*(?P<expr>[^}]*?)\s*\}\}")


def resolve(value: str, context: dict[str, str]) -> str:
    """Replace `${{ vars.X }}` and `${{ inputs.x }}` with their values, as the runner does."""
    return EXPRESSION.sub(lambda m: context.get(m["expr"], ""), str(value))


def run_job_scripts(job: dict[str, Any], context: dict[str, str], env: dict[str, str], cwd: Path) -> list[str]:
    """Run a job's `run:` steps in order, as GitHub's bash would; return the names of the steps run."""
    ran = []
    job_env = {name: resolve(value, context) for name, value in job.get("env", {}).items()}
    for step in job["steps"]:
        if "run" not in step or "pip install" in step["run"]:
            continue  # actions need GitHub; the project is installed in this environment already
        step_env = {name: resolve(value, context) for name, value in step.get("env", {}).items()}
        # GitHub runs `bash -e {0}` by default, and adds -o pipefail for an explicit `shell: bash`.
        flags = ["-eo", "pipefail"] if step.get("shell") == "bash" else ["-e"]
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", *flags, "-c", step["run"]],
            cwd=cwd,
            env={**env, **job_env, **step_env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"step {step['name']!r} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        ran.append(step["name"])
    return ran


def python_shim(folder: Path) -> Path:
    """Put a `python` that runs this interpreter into `folder`, as setup-python puts one on PATH.

    A symlink to sys.executable would lose a virtualenv: Python finds pyvenv.cfg next to the
    path it was started by, so the shim execs the interpreter by its own path instead.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "python"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return folder


def test_the_python_shim_keeps_this_environment(tmp_path: Path) -> None:
    shims = python_shim(tmp_path / "bin")
    proc = subprocess.run(
        ["python", "-c", "import sys, cardsite; print(sys.prefix)"],
        env={**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == sys.prefix


def checkout(project: Path, workspace: Path) -> Path:
    """Copy what a checkout of the repository gives a job: the project, build.py and the scripts."""
    shutil.copytree(project, workspace, ignore=shutil.ignore_patterns("public", "publish-result.json"))
    shutil.copy(ROOT / "build.py", workspace / "build.py")
    shutil.copytree(SCRIPTS, workspace / ".github" / "scripts")
    return workspace


def hand_over_artifact(workflow: dict[str, Any], source: Path, target: Path) -> None:
    """Carry the build job's artifact into the publish job's workspace, as upload/download-artifact do.

    upload-artifact leaves out dot-files and dot-folders unless include-hidden-files is true.
    """
    (upload,) = [s for s in workflow["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/upload-")]
    (download,) = [s for s in workflow["jobs"]["publish"]["steps"] if s.get("uses", "").startswith("actions/download-")]
    assert upload["with"]["name"] == download["with"]["name"]
    hidden = upload["with"].get("include-hidden-files", False) is True
    into = target / download["with"]["path"]
    shutil.rmtree(into, ignore_errors=True)  # every run downloads onto a fresh runner
    shutil.copytree(
        source / upload["with"]["path"].rstrip("/"),
        into,
        ignore=None if hidden else lambda _, names: [n for n in names if n.startswith(".")],
    )


def test_the_deploy_job_publishes_and_announces_against_moto(
    project: Path, aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    bucket, sender, inbox = "cards-site", "cards@example.ch", "print-jobs@druckerei.example.ch"
    boto3.client("s3", endpoint_url=aws).create_bucket(Bucket=bucket)
    boto3.client("ses", endpoint_url=aws).verify_email_identity(EmailAddress=sender)
    distribution = create_distribution(aws, bucket)

    # Each job checks out the repository on its own runner; only the artifact joins them.
    build_ws = checkout(project, tmp_path / "build-job")
    publish_ws = checkout(project, tmp_path / "publish-job")
    shims = python_shim(tmp_path / "bin")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    summary = tmp_path / "summary.md"
    for name in ("GITHUB_SHA", "CARDSITE_BUCKET", "CARDSITE_DISTRIBUTION_ID", "CARDSITE_MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "AWS_ENDPOINT_URL": aws,  # boto3 sends every service to moto
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    context = {
        "vars.AWS_REGION": "us-east-1",
        "vars.AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/cardsite-deploy",
        "vars.CARDSITE_BUCKET": bucket,
        "vars.CARDSITE_DISTRIBUTION_ID": distribution,
        "vars.CARDSITE_MAIL_FROM": f"Example Cards <{sender}>",
        "vars.CARDSITE_PRINT_INBOX": inbox,
    }
    workflow = load(WORKFLOWS / "deploy.yml")

    def deploy() -> list[str]:
        ran = run_job_scripts(workflow["jobs"]["build"], context, env, build_ws)
        hand_over_artifact(workflow, build_ws, publish_ws)
        return ran + run_job_scripts(workflow["jobs"]["publish"], context, env, publish_ws)

    ran = deploy()
    assert len(ran) == 5, ran  # build; variables, publish, notify, summary

    s3 = boto3.client("s3", endpoint_url=aws)
    keys = {obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"max/index.html", "_cardsite/manifest.json", "_cardsite/notify-state.json"} <= keys
    assert not any(key.startswith(".cardsite") for key in keys)
    result = json.loads((publish_ws / "publish-result.json").read_text())
    assert result, "publish --result wrote an empty result"
    raw = json.load(urllib_open(f"{aws}/moto-api/data.json"))["ses"].get("RawMessage", [])
    assert len(raw) >= len(list((project / "contacts").glob("*.yaml")))  # a print job per new card
    first = summary.read_text()
    assert "### Announcements" in first and "message(s) delivered through SES" in first

    # Run again, nothing changed: nothing to upload and nothing to announce.
    summary.write_text("")
    deploy()
    assert "Nothing to announce" in summary.read_text()
    assert len(json.load(urllib_open(f"{aws}/moto-api/data.json"))["ses"].get("RawMessage", [])) == len(raw)


def test_the_deploy_job_stops_before_aws_when_a_variable_is_missing(project: Path, tmp_path: Path) -> None:
    shutil.copytree(SCRIPTS, project / ".github" / "scripts")
    job = load(WORKFLOWS / "deploy.yml")["jobs"]["publish"]
    with pytest.raises(AssertionError, match="CARDSITE_DISTRIBUTION_ID is not set"):
        run_job_scripts(
            job,
            {"vars.AWS_REGION": "x", "vars.AWS_DEPLOY_ROLE_ARN": "y", "vars.CARDSITE_BUCKET": "z"},
            dict(os.environ),
            project,
        )


def urllib_open(url: str) -> Any:
    import urllib.request

    return urllib.request.urlopen(url)
