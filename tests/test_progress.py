"""Progress of long steps: a bar in a terminal, a bounded number of plain lines elsewhere, none with --quiet.

The terminal is a real pseudo-terminal (stdlib pty) holding the command's standard error, as a shell's
would; publishing goes to the moto server the other tests use. CARDSITE_PROGRESS_DELAY=0 shows every
step at once, so a few hundred cards are enough to see the display.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import conftest
import pytest

from cardsite import progress
from cardsite.cli import main

ROOT = Path(__file__).resolve().parent.parent
BUCKET = conftest.TEST_BUCKET
CARDS = 300
#: The first line, at most ten more (one per tenth of the total), and the one that says the step is done.
MAX_LINES = 12
CLI = "import sys; from cardsite.cli import main; sys.exit(main(sys.argv[1:]))"
ESCAPE = re.compile(r"\x1b|\r")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def loud() -> None:
    """Start every test with progress allowed: an earlier `main([..., "-q"])` in this process silenced it."""
    progress.configure(quiet=False)


@pytest.fixture
def many(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a project of CARDS generated cards (the sample's templates and site.yaml), as cwd."""
    root = tmp_path / "many"
    (root / "contacts").mkdir(parents=True)
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copy(ROOT / "site.yaml", root / "site.yaml")
    for i in range(CARDS):
        (root / "contacts" / f"person-{i:04d}.yaml").write_text(f"name:\n  given: Person\n  family: Nr {i}\n")
    monkeypatch.chdir(root)
    for name in ("NO_COLOR", "GITHUB_STEP_SUMMARY", "CARDSITE_BUCKET", "CARDSITE_DISTRIBUTION_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CARDSITE_PROGRESS_DELAY", "0")
    return root


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GITHUB_STEP_SUMMARY")}
    return env | {"TERM": "xterm-256color", "CARDSITE_PROGRESS_DELAY": "0"} | extra


class Terminal:
    """Run the command line with standard error on a pseudo-terminal and standard output on a pipe."""

    def __init__(self, cwd: Path, *args: str, **env: str):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal has a size
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CLI, *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=environment(**env),
        )
        os.close(slave)
        self.err = b""

    def read_until(self, pattern: re.Pattern[bytes], timeout: float = 60) -> re.Match[bytes] | None:
        """Read the terminal until `pattern` matches what came since the last read, or it closes."""
        deadline, start = time.monotonic() + timeout, len(self.err)
        while time.monotonic() < deadline:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                return None
            if not chunk:
                return None
            self.err += chunk
            found = pattern.search(self.err, start)
            if found:
                return found
        raise AssertionError(f"{pattern.pattern!r} never appeared: {self.err[-500:]!r}")

    def finish(self) -> tuple[int, str, str]:
        """Wait for the end; return (exit status, standard output, standard error as the terminal got it)."""
        self.read_until(re.compile(rb"(?!)"))
        out, _ = self.proc.communicate(timeout=60)
        os.close(self.master)
        return self.proc.returncode, out.decode(), self.err.decode("utf-8", "replace")


def piped(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the command line with standard error on a pipe, as in CI."""
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], cwd=cwd, capture_output=True, text=True, env=environment(**env), timeout=300
    )


def progress_lines(err: str, label: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(f"{label}:")]


def publish_args(endpoint: str, *more: str) -> list[str]:
    return ["publish", "--out", "public", "--bucket", BUCKET, "--endpoint-url", endpoint, *more]


def bucket_keys(s3) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


# --------------------------------------------------------------------------- the reporter alone


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_step(total: int, seconds_each: float, monkeypatch: pytest.MonkeyPatch, delay: str = "0") -> list[str]:
    """Advance a step of `total` items, each taking `seconds_each` of a fake clock; return the lines it wrote."""
    monkeypatch.setenv("CARDSITE_PROGRESS_DELAY", delay)
    stream, clock = io.StringIO(), Clock()
    bar = progress.Step("Uploading", total, "objects", stream, clock)
    for _ in range(total):
        clock.now += seconds_each
        bar.advance()
    bar.close(finished=True)
    return stream.getvalue().splitlines()


def test_plain_lines_come_every_tenth_when_that_is_later_than_the_interval(monkeypatch) -> None:
    # 2,000 items at 1/8 s: the interval (5 s = 40 items) comes long before each tenth (200 items).
    lines = run_step(2000, 0.125, monkeypatch)
    assert len(lines) <= MAX_LINES and len(lines) >= 10, lines
    assert lines[0] == "Uploading: 1 of 2,000 objects (0 %)", "no rate before a second has passed"
    assert lines[5].startswith("Uploading: 1,001 of 2,000 objects (50 %), 8/s, ")
    assert lines[-1] == "Uploading: 2,000 objects done in 04:10"


def test_plain_lines_come_every_interval_when_that_is_later_than_a_tenth(monkeypatch) -> None:
    # 2,000 items at 1/128 s (15.6 s): a tenth passes every 1.6 s, a line comes only every 5 s.
    lines = run_step(2000, 1 / 128, monkeypatch)
    assert len(lines) == 5, lines  # at 0, 5, 10 and 15 s, then done
    assert lines[1].startswith("Uploading: 641 of 2,000 objects (32 %), 128/s, ")
    assert not any(ESCAPE.search(line) for line in lines)


def test_a_short_step_or_quiet_shows_nothing(monkeypatch) -> None:
    assert run_step(100, 0.01, monkeypatch, delay="2") == [], "done within the delay"
    assert run_step(300, 0.01, monkeypatch, delay="2")[0].startswith("Uploading: 201 of 300"), "shown after 2 s"
    progress.configure(quiet=True)
    try:
        assert run_step(2000, 0.125, monkeypatch) == []
    finally:
        progress.configure(quiet=False)


def test_ctrl_c_in_a_step_says_what_was_done() -> None:
    with (
        pytest.raises(progress.Interrupted) as caught,
        progress.step("Work", 10, interrupted="did {done} of {total}") as bar,
    ):
        bar.advance(3)
        raise KeyboardInterrupt
    assert str(caught.value) == "did 3 of 10"
    with pytest.raises(KeyboardInterrupt) as plain, progress.step("Work", 10):
        raise KeyboardInterrupt
    assert type(plain.value) is KeyboardInterrupt, "a step without a message leaves Ctrl-C as it was"


# --------------------------------------------------------------------------- build


def test_build_in_a_terminal_shows_a_bar_on_stderr_only(many: Path) -> None:
    term = Terminal(many, "build")
    status, out, err = term.finish()
    assert status == 0 and out == "", "standard output stays clean"
    bar = re.findall(r"\rRendering: +(\d+)%\|.*?\| (\d+)/(\d+) \[[\d:]+<[\d:?]+, +[\d.?]+ cards/s\]", err)
    assert bar and bar[-1] == ("100", str(CARDS), str(CARDS)), err[-400:]
    assert "\x1b[32m" in err, "the bar is green"
    assert f"Built {CARDS} cards into public: " in err


def test_no_color_leaves_the_bar_without_escape_codes(many: Path) -> None:
    status, _, err = Terminal(many, "build", NO_COLOR="1").finish()
    assert status == 0 and f"{CARDS}/{CARDS}" in err
    assert "\x1b" not in err


def test_build_without_a_terminal_writes_a_few_plain_lines(many: Path) -> None:
    done = piped(many, "build")
    assert done.returncode == 0, done.stderr
    lines = progress_lines(done.stderr, "Rendering")
    assert 2 <= len(lines) <= MAX_LINES, done.stderr
    assert lines[-1].startswith(f"Rendering: {CARDS:,} cards done in ")
    assert not ESCAPE.search(done.stderr), "no escape codes and no carriage returns in a log"


def test_quiet_shows_no_progress_but_the_summary(many: Path) -> None:
    status, _, err = Terminal(many, "build", "--quiet").finish()
    assert status == 0 and "Rendering" not in err
    assert re.fullmatch(rf"Built {CARDS} cards into public: \d+ files written, 0 removed\r\n", err), repr(err)


def test_the_build_summary_goes_to_the_job_summary(many: Path, monkeypatch, capsys) -> None:
    summary = many / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["build", "-q"]) == 0
    assert main(["build", "-q"]) == 0
    text = summary.read_text()
    assert text.count(f"### Build: {CARDS} cards") == 2 and "| written | 0 |" in text
    assert re.search(r"\| written | [1-9]\d* \|", text) and re.search(r"Took \d+\.\d s\.", text)
    assert "Built 300 cards" in capsys.readouterr().err, "--quiet keeps the summary"


def test_ctrl_c_during_the_build_says_what_was_done_and_the_next_build_finishes(many: Path) -> None:
    term = Terminal(many, "build")
    assert term.read_until(re.compile(rb"Rendering: .*?\| ([1-9]\d*)/(\d+) ")) is not None, term.err[-400:]
    term.proc.send_signal(signal.SIGINT)
    status, out, err = term.finish()
    said = [line for line in err.splitlines() if line.strip() and not line.startswith("Rendering:")]
    if status == 0:
        pytest.skip("the build finished before the signal came")  # a very fast machine
    assert status == 130 and len(said) == 1 and out == "", (said, err[-700:])
    found = re.fullmatch(
        rf"Interrupted: rendered at least ([\d,]+) of {CARDS} cards; every file written is whole; the next build"
        r" does the rest\.",
        said[0],
    )
    assert found and 0 < int(found.group(1).replace(",", "")) < CARDS, said
    done = piped(many, "build")
    assert done.returncode == 0 and f"Built {CARDS} cards" in done.stderr
    again = piped(many, "build")
    assert "nothing changed, 0 files written" in again.stderr, "the second build finished the site"


# --------------------------------------------------------------------------- publish


def test_publish_in_a_terminal_shows_uploads_and_keeps_its_json(many: Path, s3, aws: str) -> None:
    assert main(["build", "-q"]) == 0
    status, out, err = Terminal(many, *publish_args(aws, "--result", "result.json")).finish()
    assert status == 0, err
    uploads = re.findall(r"\rUploading: +(\d+)%\|.*?\| (\d+)/(\d+) ", err)
    assert uploads and uploads[-1][0] == "100" and uploads[-1][1] == uploads[-1][2], err[-400:]
    result = json.loads((many / "result.json").read_text())
    assert result["ok"] and len(result["uploaded"]) == int(uploads[-1][2])
    assert out.startswith("Published to s3://cards/") and not ESCAPE.search(out), "progress never reaches stdout"


def test_publish_without_a_terminal_writes_a_few_plain_lines(many: Path, s3, aws: str) -> None:
    assert main(["build", "-q"]) == 0
    done = piped(many, *publish_args(aws))
    assert done.returncode == 0, done.stderr
    lines = progress_lines(done.stderr, "Uploading")
    assert 2 <= len(lines) <= MAX_LINES and " objects done in " in lines[-1], done.stderr
    assert not ESCAPE.search(done.stderr + done.stdout)
    # Remove a hundred cards: their deletions are a step of their own.
    for i in range(100):
        (many / "contacts" / f"person-{i:04d}.yaml").unlink()
    assert main(["build", "-q"]) == 0
    done = piped(many, *publish_args(aws, "--allow-deletes", "1000"))
    assert done.returncode == 0, done.stderr
    deleting = progress_lines(done.stderr, "Deleting")
    assert 2 <= len(deleting) <= MAX_LINES and deleting[-1].startswith("Deleting: 400 objects done"), done.stderr


def test_ctrl_c_during_publish_says_what_was_done_and_a_rerun_completes(many: Path, s3, aws: str) -> None:
    assert main(["build", "-q"]) == 0
    term = Terminal(many, *publish_args(aws))
    started = term.read_until(re.compile(rb"\| ([1-9]\d*)/(\d+) "))
    assert started is not None, term.err[-400:]
    term.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    status, out, err = term.finish()
    assert status == 130, err
    # The bar is wiped: besides its redraws, the one line left is what was done and what was not.
    said = [line for line in err.splitlines() if line.strip() and not line.startswith("Uploading:")]
    assert len(said) == 1, said
    found = re.fullmatch(
        r"Interrupted: uploaded ([\d,]+) of ([\d,]+) objects; nothing was deleted and the bucket manifest"
        r" is unchanged; run publish again to finish\.",
        said[0],
    )
    assert found, said
    uploaded, total = (int(n.replace(",", "")) for n in found.groups())
    assert 0 < uploaded < total, "stopped in the middle"
    assert "Traceback" not in err and out == ""
    assert "_cardsite/manifest.json" not in bucket_keys(s3), "the bucket manifest is written only by a whole run"

    assert main(publish_args(aws)) == 0
    published = {p.relative_to(many / "public").as_posix() for p in (many / "public").rglob("*") if p.is_file()}
    published = {rel for rel in published if not rel.startswith(".")}
    assert published <= bucket_keys(s3) and "_cardsite/manifest.json" in bucket_keys(s3)
    done = piped(many, *publish_args(aws))
    assert done.returncode == 0 and "is up to date" in done.stdout, "the rerun finished the job"


# --------------------------------------------------------------------------- notify


def test_notify_shows_its_sends_and_writes_its_summary(many: Path, monkeypatch, capsys) -> None:
    assert main(["build", "-q"]) == 0
    summary = many / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    capsys.readouterr()
    assert main(["notify", "--state", "state.json", "--dry-run", "outbox"]) == 0
    err = capsys.readouterr().err
    lines = progress_lines(err, "Announcing")
    assert 2 <= len(lines) <= MAX_LINES and lines[-1].startswith(f"Announcing: {CARDS} cards done"), err
    assert f"### Notify: {CARDS} sent, 0 skipped, 0 failed" in summary.read_text()
    assert main(["notify", "-q", "--state", "state.json", "--dry-run", "outbox"]) == 0
    assert "Announcing" not in capsys.readouterr().err
