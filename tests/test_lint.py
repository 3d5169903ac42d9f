"""The code stays clean: ruff's lint and format checks, as configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check() -> None:
    run = ruff("check", ".")
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format() -> None:
    run = ruff("format", "--check", ".")
    assert run.returncode == 0, run.stdout + run.stderr
