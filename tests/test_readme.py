"""The README is the front door: its set-up commands work as written, and its links stay inside."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_command(marker: str) -> str:
    """Return the README command line that ends with the comment `# marker` (as .ci/run reads it)."""
    found = [
        line for line in README.splitlines() if line.startswith("python3 -m venv") and line.endswith(f"# {marker}")
    ]
    assert len(found) == 1, f"README.md must have one command marked '# {marker}'"
    return found[0].split("  #", 1)[0]


def test_both_set_up_commands_make_and_use_a_virtualenv() -> None:
    for marker in ("build and preview the sample cards", "run the tests"):
        assert readme_command(marker).startswith("python3 -m venv .venv && . .venv/bin/activate && pip install -e ")


def _tracked_copy(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src, target = ROOT / name, dest / name
        if src.is_file() and not src.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())


def test_the_serve_command_works_as_written_in_a_fresh_clone(tmp_path: Path) -> None:
    """Fresh copy, no virtualenv: the README's first command installs, builds and serves."""
    clone = tmp_path / "clone"
    _tracked_copy(clone)
    # The environment of a new shell: no virtualenv of ours active, no PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    venv_bin = os.environ.get("VIRTUAL_ENV")
    if venv_bin:
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(venv_bin))
    proc = subprocess.Popen(
        ["bash", "-c", readme_command("build and preview the sample cards")],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 540
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
            match = re.search(r"http://127\.0\.0\.1:\d+/", line)
            url = match.group(0) if match else None
        assert url, "the preview never printed its URL:\n" + "".join(lines[-40:])
        assert (clone / ".venv" / "bin" / "python").exists()
        page = urllib.request.urlopen(url + "jana-mueller/", timeout=10).read().decode()
        assert "Jana" in page
        vcard = urllib.request.urlopen(url + "jana-mueller/jana-mueller.vcf", timeout=10).read().decode()
        assert vcard.startswith("BEGIN:VCARD")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the preview did not stop on Ctrl-C")


def test_no_link_leaves_the_repository() -> None:
    """The project stands alone: its docs link only files inside the repository, and they exist."""
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(ROOT.glob("deploy/**/README.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            assert not re.match(r"[a-z]+:", target), f"{doc.relative_to(ROOT)} links outside: {target}"
            if target.startswith("#"):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            assert path.is_relative_to(ROOT), f"{doc.relative_to(ROOT)} links outside the repository: {target}"
            assert path.exists(), f"{doc.relative_to(ROOT)} links to a missing file: {target}"
