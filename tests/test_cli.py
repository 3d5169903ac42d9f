"""The command line describes itself: every command and option has a one-line description."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cardsite.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # the test may look inside argparse; the code does not
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_every_command_and_option_has_a_description() -> None:
    commands = _subparsers(build_parser())
    assert tuple(commands) == COMMANDS
    for name, parser in commands.items():
        assert parser.description, f"{name} has no description"
        for action in parser._actions:
            assert action.help and action.help != argparse.SUPPRESS, f"{name} {action.option_strings} has no help"


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_shows_its_description(command: str) -> None:
    out = subprocess.run(
        [sys.executable, "build.py", command, "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith(f"usage: build.py {command} ")
    description = _subparsers(build_parser())[command].description
    assert description in " ".join(out.split())


def test_usage_names_the_program_as_it_was_called(tmp_path: Path) -> None:
    # The console script's name, not build.py: argparse takes it from argv[0].
    script = tmp_path / "cardsite"
    script.write_text(f"#!{sys.executable}\nfrom cardsite.cli import run\nrun()\n")  # as pyproject's entry point
    script.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True, env=env).stdout
    assert out.startswith("usage: cardsite ")
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", ["publish", "notify"])
def test_publish_and_notify_share_one_bucket_option_group(command: str) -> None:
    parser = _subparsers(build_parser())[command]
    groups = {group.title: [a.dest for a in group._group_actions] for group in parser._action_groups}
    assert groups["bucket"] == ["bucket", "prefix", "endpoint_url"]


def test_the_program_exits_with_the_commands_status_and_all_its_output(project: Path) -> None:
    # build.py exits through cli.finish(), which skips the collector's last pass: output must still be flushed.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, str(ROOT / "build.py")], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and f"Built {len(list((project / 'contacts').glob('*.yaml')))} cards" in ok.stderr
    (project / "contacts" / "max.yaml").write_text("name: {given: Max}\nphones:\n  - value: '12'\n")
    bad = subprocess.run([sys.executable, str(ROOT / "build.py"), "check"], capture_output=True, text=True, env=env)
    assert bad.returncode == 1
    assert "contacts/max.yaml:3: phones[0]" in bad.stderr and bad.stderr.endswith("nothing was written.\n")
