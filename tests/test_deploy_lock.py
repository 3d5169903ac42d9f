"""requirements/deploy.lock: the hash-pinned dependencies the deploy workflow installs.

The deploy workflow runs `pip install --require-hashes --no-deps -r requirements/deploy.lock`, then
the project with `--no-deps --no-build-isolation`, so the lock must hold every runtime dependency
of pyproject.toml, the build backend, and everything those need, each pinned with its hashes.
Regenerate it with `bash .github/scripts/lock-deploy.sh`.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "deploy.lock"
PYPROJECT = ROOT / "pyproject.toml"
REGENERATE = "regenerate it: bash .github/scripts/lock-deploy.sh"
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
# What deploy.yml's runners are: Linux x86_64 with the Python it sets up (and the next one).
TARGETS = [
    {**default_environment(), "python_version": v, "python_full_version": f"{v}.0", "sys_platform": "linux"}
    for v in ("3.11", "3.12")
]


def read_lock(text: str) -> tuple[dict[str, Version], list[str]]:
    """Return ({name: pinned version}, problems) for a pip-compile --generate-hashes file."""
    pins: dict[str, Version] = {}
    problems = []
    for entry in re.sub(r"\\\n", " ", text).splitlines():
        entry = entry.split(" #", 1)[0].strip()
        if not entry or entry.startswith("#"):
            continue
        spec, *options = entry.split()
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        pinned = [s for s in requirement.specifier if s.operator == "=="]
        if len(pinned) != 1 or len(requirement.specifier) != 1:
            problems.append(f"{spec}: not pinned to one version with ==")
            continue
        if not options or not all(HASH.fullmatch(option) for option in options):
            problems.append(f"{spec}: every line needs --hash=sha256:... and nothing else")
        pins[name] = Version(pinned[0].version)
    return pins, problems


def declared(pyproject: dict) -> list[Requirement]:
    """The runtime dependencies and the build backend's requirements from pyproject.toml."""
    return [Requirement(r) for r in (*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"])]


def coverage_problems(pins: dict[str, Version], requirements: list[Requirement]) -> list[str]:
    problems = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement}: missing from the lock")
        elif pins[name] not in requirement.specifier:
            problems.append(f"{requirement}: the lock pins {pins[name]}")
    return problems


@pytest.fixture(scope="module")
def lock() -> dict[str, Version]:
    assert LOCK.is_file(), f"{LOCK.relative_to(ROOT)} is missing; {REGENERATE}"
    pins, problems = read_lock(LOCK.read_text(encoding="utf-8"))
    assert problems == [], f"{REGENERATE}\n" + "\n".join(problems)
    return pins


def test_every_locked_requirement_is_pinned_with_hashes(lock: dict[str, Version]) -> None:
    assert len(lock) >= 20, "too few requirements read: is the lock being parsed?"


def test_the_lock_covers_the_runtime_dependencies_and_the_build_backend(lock: dict[str, Version]) -> None:
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert coverage_problems(lock, declared(pyproject)) == [], REGENERATE
    # The test extra never reaches the deploy job.
    assert "pytest" not in lock and "moto" not in lock


def test_the_lock_holds_what_its_packages_need(lock: dict[str, Version]) -> None:
    # Read each locked package's own requirements where this environment has the same release.
    checked, problems = 0, []
    for name, version in lock.items():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(dist.version) != version:
            continue
        checked += 1
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker and not any(marker.evaluate({**env, "extra": ""}) for env in TARGETS):
                continue
            problems += [f"{name}: {p}" for p in coverage_problems(lock, [requirement])]
    assert checked >= 5, "too few locked releases installed here to check their requirements"
    assert problems == [], REGENERATE


GOOD = "jinja2==3.1.6 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via cardsite\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("jinja2==3.1.6\n", "needs --hash"),
        ("jinja2>=3.1 \\\n    --hash=sha256:" + "a" * 64 + "\n", "not pinned"),
        ("jinja2==3.1.6 \\\n    --hash=md5:" + "a" * 32 + "\n", "needs --hash"),
    ],
)
def test_the_reader_notices_a_line_without_a_pin_or_hash(text: str, problem: str) -> None:
    _, problems = read_lock(GOOD + text)
    assert len(problems) == 1 and problem in problems[0]


def test_the_coverage_check_notices_a_missing_or_outdated_dependency() -> None:
    pins, problems = read_lock(GOOD)
    assert problems == [] and pins == {"jinja2": Version("3.1.6")}
    found = coverage_problems(pins, [Requirement("jinja2>=3.2"), Requirement("PyYAML>=6")])
    assert found == ["jinja2>=3.2: the lock pins 3.1.6", "PyYAML>=6: missing from the lock"]
