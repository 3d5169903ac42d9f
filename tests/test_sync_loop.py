"""The whole loop in a temporary git repository: sync, then check, then build; then the workflow's
pull request script (.github/scripts/sync-pr.sh) commits onto its fixed branch and pushes it.

GitHub has no local server, so `gh` is replaced by a small script that records its arguments and
answers `pr list` as GitHub would; git, the remote and the branch are real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import vobject

ROOT = Path(__file__).resolve().parent.parent
HR = (
    "Employee ID,First name,Last name,Email,Job title,Department\n"
    "E1,Eva,Keller,eva.keller@example.ch,Controller,Finance\n"
    "E2,Tom,Berger,tom.berger@example.ch,Engineer,Platform\n"
)
FAKE_GH = """#!/usr/bin/env bash
printf '%s\\n' "$*" >>"$GH_LOG"
if [ "$1 $2" = "pr list" ]; then cat "$GH_OPEN" 2>/dev/null || true; fi
if [ "$1 $2" = "pr create" ]; then echo 7 >"$GH_OPEN"; fi
exit 0
"""


def run(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=repo, capture_output=True, text=True, env=env, check=False, timeout=300)


def git(repo: Path, *args: str) -> str:
    proc = run(repo, "git", "-c", "user.name=t", "-c", "user.email=t@example.ch", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "cards"
    repo.mkdir()
    for name in ("contacts", "templates", ".github"):
        shutil.copytree(ROOT / name, repo / name)
    shutil.copy(ROOT / "site.yaml", repo / "site.yaml")
    shutil.copy(ROOT / "build.py", repo / "build.py")
    (repo / "hr.csv").write_text(HR, "utf-8")
    with open(repo / "site.yaml", "a", encoding="utf-8") as f:
        f.write("sync:\n  source: csv\n  url: hr.csv\n")
    (tmp_path / "origin.git").mkdir()
    git(tmp_path / "origin.git", "init", "-q", "--bare")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "cards")
    git(repo, "push", "-q", "origin", "main")
    return repo


def build_py(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return run(repo, sys.executable, "build.py", *args, env=env)


def test_sync_then_check_then_build(repo: Path) -> None:
    sync = build_py(repo, "sync", "--summary", "summary.md")
    assert sync.returncode == 0, sync.stderr
    assert "2 created" in sync.stderr
    assert build_py(repo, "check").returncode == 0
    built = build_py(repo, "build", "--out", "public")
    assert built.returncode == 0, built.stderr
    vcard = vobject.readOne((repo / "public" / "eva-keller" / "eva-keller.vcf").read_text("utf-8"))
    assert vcard.title.value == "Controller" and vcard.n.value.family == "Keller"
    status = git(repo, "status", "--porcelain", "--", "contacts")
    assert sorted(status.split()) == ["??", "??", "contacts/eva-keller.yaml", "contacts/tom-berger.yaml"]


def test_the_pull_request_script_pushes_one_branch_and_updates_its_pull_request(repo: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH)
    (bin_dir / "gh").chmod(0o755)
    log = tmp_path / "gh.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GH_LOG": str(log),
        "GH_OPEN": str(tmp_path / "open"),
    }
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_COMMITTER_NAME": "t"}
    summary = tmp_path / "summary.md"

    def sync_and_propose() -> subprocess.CompletedProcess[str]:
        assert build_py(repo, "sync", "--summary", str(summary)).returncode == 0
        return run(repo, "bash", ".github/scripts/sync-pr.sh", str(summary), env=env)

    first = sync_and_propose()
    assert first.returncode == 0, first.stderr
    pushed = git(repo, "ls-tree", "-r", "--name-only", "cardsite-sync")
    assert "contacts/eva-keller.yaml" in pushed
    assert git(tmp_path / "origin.git", "rev-parse", "cardsite-sync") == git(repo, "rev-parse", "cardsite-sync")
    calls = log.read_text().splitlines()
    assert f"pr create --head cardsite-sync --base main --title Directory sync --body-file {summary}" in calls
    assert not any(c.startswith("pr merge") for c in calls)  # auto_merge is off

    # The next day Eva's title changes; the same branch is rebuilt from main and the open pull request edited.
    git(repo, "switch", "-q", "main")
    (repo / "hr.csv").write_text(HR.replace("Controller", "Head of Controlling"), "utf-8")
    with open(repo / "site.yaml", "a", encoding="utf-8") as f:
        f.write("  auto_merge: true\n")
    second = sync_and_propose()
    assert second.returncode == 0, second.stderr
    calls = log.read_text().splitlines()
    assert f"pr edit 7 --body-file {summary}" in calls
    assert "pr merge cardsite-sync --auto --squash" not in calls  # it adds cards: a person reviews it
    branch_files = git(repo, "show", "--stat", "--format=", "cardsite-sync")
    assert "eva-keller.yaml" in branch_files

    # The pull request is merged: main is the branch. With nothing changed there is nothing to propose.
    git(repo, "switch", "-q", "main")
    git(repo, "reset", "-q", "--hard", "cardsite-sync")
    (repo / "hr.csv").write_text(HR.replace("Controller", "Head of Controlling"), "utf-8")
    with open(repo / "site.yaml", "a", encoding="utf-8") as f:
        f.write("  auto_merge: true\n")
    git(repo, "commit", "-q", "-am", "auto-merge directory changes")
    before = log.read_text().splitlines()
    third = sync_and_propose()
    assert "nothing to propose" in third.stdout and log.read_text().splitlines() == before

    # A change of directory-owned fields only, with auto_merge on: the pull request merges when its checks pass.
    (repo / "hr.csv").write_text(HR.replace("Platform", "Platform Engineering"), "utf-8")
    fourth = sync_and_propose()
    assert fourth.returncode == 0, fourth.stderr
    assert log.read_text().splitlines()[-1] == "pr merge cardsite-sync --auto --squash"
