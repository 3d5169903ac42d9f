"""Hostile inputs and hostile moments for the build: symbolic links, builds stopped or killed partway, a full
disk, hand edits of the output, and what a killed build leaves behind."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cardsite.build.engine import build
from cardsite.build.output import STATE_DIR
from cardsite.cards.settings import load_settings
from cardsite.cli import main
from cardsite.publish.plan import scan_site

ROOT = Path(__file__).resolve().parent.parent
MARK = "<p>edited template</p>"


def site_bytes(out: Path) -> dict[str, bytes]:
    """Return every file of a built site except the build's own folder, which differs by inode and time."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.relative_to(out).as_posix().startswith(STATE_DIR)
    }


def everything(out: Path) -> set[str]:
    """Return every path under `out`, hidden ones included."""
    return {p.relative_to(out).as_posix() for p in out.rglob("*")}


def files_of(out: Path) -> dict[str, tuple[int, bytes]]:
    """Return the mtime and bytes of every file under `out`, the build's own included."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()
    }


def clean_build(project: Path, tmp_path: Path) -> dict[str, bytes]:
    """Return the bytes of a fresh build of `project` in a new folder."""
    out = tmp_path / "clean"
    shutil.rmtree(out, ignore_errors=True)
    build(load_settings(project / "contacts"), out)
    return site_bytes(out)


def edit_template(project: Path, extra: str = "") -> str:
    """Add MARK (and `extra`) to every card page; return the template's old text, for revert_template()."""
    card = project / "templates" / "card.html"
    old = card.read_text()
    card.write_text(old.replace("{% block main %}", "{% block main %}" + MARK + extra))
    return old


def revert_template(project: Path, old: str) -> None:
    (project / "templates" / "card.html").write_text(old)


# --------------------------------------------------------------------------- symbolic links


def _secret(tmp_path: Path) -> Path:
    """A file outside the project that a link may point at, holding what must never be published."""
    secret = tmp_path / "outside" / "secret.yaml"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text("name:\n  given: AWS_SECRET_ACCESS_KEY\n  family: hunter2\n")
    return secret


LINKS = {
    "contact to a YAML file outside": ("contacts/leak.yaml", "secret"),
    "contact to the environment": ("contacts/env.yaml", "/proc/self/environ"),
    "contact replacing a card": ("contacts/max.yaml", "secret"),
    "dangling contact": ("contacts/gone.yaml", "/nonexistent/gone.yaml"),
    "photo": ("contacts/photos/jana-mueller.jpg", "photo"),
    "photos folder": ("contacts/photos", "photos"),
    "asset to the environment": ("templates/assets/env.txt", "/proc/self/environ"),
    "asset replacing an asset": ("templates/assets/card.js", "secret"),
    "template": ("templates/card.html", "secret"),
    "string catalog": ("templates/locale/de.yaml", "secret"),
    "site.yaml": ("site.yaml", "site"),
    "templates folder": ("templates", "templates"),
}


def _plant(project: Path, tmp_path: Path, where: str, target: str) -> Path:
    """Replace (or add) `where` with a link to `target`; the photo, site and folder links keep the real file."""
    link = project / where
    if target == "secret":
        target = str(_secret(tmp_path))
    elif target in ("photo", "photos", "site", "templates"):
        moved = tmp_path / "outside" / link.name
        moved.parent.mkdir(exist_ok=True)
        shutil.move(link, moved)
        target = str(moved)
    elif link.exists():
        link.unlink()
    if link.is_file():
        link.unlink()
    link.symlink_to(target)
    return link


@pytest.mark.parametrize("kind", sorted(LINKS))
def test_every_kind_of_input_link_is_refused(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    assert main(["build"]) == 0
    out = project / "public"
    before = files_of(out)
    where, target = LINKS[kind]
    _plant(project, tmp_path, where, target)
    capsys.readouterr()

    for command in (["build"], ["check"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert f"{where}:1: is a symbolic link" in err, err
        assert "Traceback" not in err and "hunter2" not in err and "AWS_SECRET" not in err
    assert files_of(out) == before, "a refused build writes nothing"
    published = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert b"hunter2" not in published and b"PATH=" not in published


def test_a_link_is_reported_with_every_other_problem(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _plant(project, tmp_path, "templates/assets/env.txt", "/proc/self/environ")
    (project / "contacts" / "bad.yaml").write_text("name: {given: Bad}\nphones: [{value: '12'}]\n")
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert "templates/assets/env.txt:1: is a symbolic link" in err
    assert "contacts/bad.yaml:2: phones[0]" in err
    assert "2 problem(s) found; nothing was written" in err
    assert not (project / "public").exists()


def test_a_card_turned_into_a_link_after_a_good_build_is_refused(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The one-card rebuild (only contact files moved) must not read it either.
    assert main(["build"]) == 0
    _plant(project, tmp_path, "contacts/max.yaml", "secret")
    capsys.readouterr()
    assert main(["build"]) == 1
    assert "contacts/max.yaml:1: is a symbolic link" in capsys.readouterr().err
    assert "hunter2" not in (project / "public" / "max" / "index.html").read_text()


def test_a_link_loop_is_refused_not_followed(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A scan that follows links would run round this one until the path grew too long.
    (project / "contacts" / "photos" / "loop").symlink_to(project / "contacts")
    assert main(["build"]) == 1
    assert "contacts/photos/loop:1: is a symbolic link" in capsys.readouterr().err


# --------------------------------------------------------------------------- builds stopped partway


def _stop_after(monkeypatch: pytest.MonkeyPatch, writes: int, error: BaseException) -> None:
    """Make the build's atomic write raise `error` once it has replaced `writes` files."""
    import cardsite.build.output

    real = os.replace
    done = [0]

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if done[0] >= writes:
            raise error
        done[0] += 1
        real(src, dst)

    monkeypatch.setattr(cardsite.build.output.os, "replace", replace)


@pytest.mark.parametrize("writes", [0, 2, 4, 6, 8])
@pytest.mark.parametrize("error", ["interrupt", "disk full"])
def test_a_build_stopped_partway_then_reverted_is_repaired(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    writes: int,
    error: str,
) -> None:
    good = clean_build(project, tmp_path)
    assert main(["build"]) == 0
    old = edit_template(project)
    with monkeypatch.context() as patch:
        # The edit rewrites the compiled template, the five cards' pages, then the build state: stop among them.
        _stop_after(patch, writes, KeyboardInterrupt() if error == "interrupt" else OSError(errno.ENOSPC, "No space"))
        assert main(["build"]) == (130 if error == "interrupt" else 1)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    revert_template(project, old)
    assert main(["build"]) == 0
    assert site_bytes(project / "public") == good
    assert not [p for p in everything(project / "public") if p.endswith(".tmp")]


def test_a_page_edited_by_hand_is_repaired_by_the_next_full_build(project: Path, tmp_path: Path) -> None:
    good = clean_build(project, tmp_path)
    settings = load_settings(project / "contacts")
    build(settings, project / "public")
    page = project / "public" / "max" / "index.html"
    folder_mtime = page.parent.stat().st_mtime_ns
    with page.open("ab") as f:  # in place: the folder's mtime stays
        f.write(b"<p>defaced</p>")
    assert page.parent.stat().st_mtime_ns == folder_mtime
    # The stamp looks at the top of the output folder only; touching site.yaml is how a full build is asked for.
    os.utime(project / "site.yaml")
    settings = load_settings(project / "contacts")
    report = build(settings, project / "public")
    assert report.written == ["max/index.html"]
    assert site_bytes(project / "public") == good
    (project / "public" / "404.html").write_bytes(b"defaced")
    assert build(settings, project / "public").written == ["404.html"]
    assert site_bytes(project / "public") == good


# --------------------------------------------------------------------------- a full disk


def test_a_full_disk_is_a_clean_error_and_the_next_build_repairs(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = clean_build(project, tmp_path)
    with monkeypatch.context() as patch:
        _stop_after(patch, 7, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "Error: cannot write public/" in err and "No space left on device" in err
    assert not [p for p in everything(project / "public") if p.endswith(".tmp")]
    assert main(["build"]) == 0
    assert site_bytes(project / "public") == good


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """Mount a 1 MB tmpfs; skip where that is not allowed (it needs root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = shutil.which("mount")
    if not mount or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the injected full disk above covers the same path")
    run = subprocess.run([mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {run.stderr.strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def _fill(disk: Path, leave: int) -> Path:
    """Fill `disk` until about `leave` bytes are free; return the filler, to remove for space."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    filler.write_bytes(b"\0" * max(0, free - leave))
    return filler


def test_a_really_full_disk_midway_through_a_template_edit(
    project: Path, tmp_path: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = clean_build(project, tmp_path)
    out = small_disk / "public"
    assert main(["build", "--out", str(out)]) == 0
    pages = [p for p in out.glob("*/index.html")]
    # Each page grows by 8 KB: room for about three of the five.
    old = edit_template(project, "<!--" + "x" * 8000 + "-->")
    filler = _fill(small_disk, 3 * (max(p.stat().st_size for p in pages) + 8192) + 4096)
    capsys.readouterr()
    assert main(["build", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err, err
    assert 0 < sum(MARK in p.read_text() for p in pages) < len(pages), "the disk filled up partway"
    assert not [p for p in everything(out) if p.endswith(".tmp")]
    filler.unlink()
    revert_template(project, old)
    assert main(["build", "--out", str(out)]) == 0
    assert site_bytes(out) == good


# --------------------------------------------------------------------------- a killed build


def _many_cards(project: Path, count: int) -> None:
    for i in range(count):
        (project / "contacts" / f"person-{i:04d}.yaml").write_text(f"name: {{given: Person, family: Number {i}}}\n")


def _children(pid: int) -> set[int]:
    """Return the process ids whose parent is `pid`, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc (Linux)")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: the build runs without workers")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_build_killed_midway_leaves_no_workers_and_the_next_build_repairs(
    project: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    _many_cards(project, 600)
    good = clean_build(project, tmp_path)
    out = project / "public"
    command = [sys.executable, str(ROOT / "build.py"), "build", "-q"]
    subprocess.run(command, cwd=project, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    old = edit_template(project)
    child = subprocess.Popen(
        command, cwd=project, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True
    )
    pages = [out / f"person-{i:04d}" / "index.html" for i in range(600)]
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        workers |= _children(child.pid)
        if workers and any(MARK in p.read_text() for p in pages[::50]):
            break
        time.sleep(0.005)
    assert child.poll() is None, "the build ended before it could be stopped"
    child.send_signal(sig)
    _, err = child.communicate(timeout=30)
    if sig == signal.SIGINT:
        # One line: what was done and what was not (cardsite.progress), as the build's -q run prints nothing else.
        one_line = err.startswith("Interrupted: rendered at least ") and err.count("\n") == 1
        assert child.returncode == 130 and one_line, err
    stopped = sum(MARK in p.read_text() for p in pages)
    assert 0 < stopped < len(pages), "the build was stopped partway"
    assert workers, "the build ran worker processes"
    deadline = time.monotonic() + 5
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(workers), "every worker ended with its build"

    revert_template(project, old)
    run = subprocess.run(
        command[:-1], cwd=project, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert site_bytes(out) == good
    assert not [p for p in everything(out) if p.endswith(".tmp")]


# --------------------------------------------------------------------------- leftovers


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_builds_temporary_files_are_removed_and_never_published(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build"]) == 0
    out = project / "public"
    dead, alive = _dead_pid(), os.getppid()
    leftovers = [
        f".new-card.{dead}.tmp/index.html",
        f".new-card.{dead}.tmp",
        f"max/.index.html.{dead}.tmp",
        f"assets/.card.js.{dead}.tmp",
        f".404.html.{dead}.tmp",
        f".cardsite/state/.cards.07.{dead}.tmp",
        f".cardsite/.stamp.{dead}.tmp",
    ]
    running = [f"max/.qr.svg.{alive}.tmp", f".zoe-leclerc.{alive}.tmp/index.html"]
    for rel in leftovers + running:
        if rel != f".new-card.{dead}.tmp":  # the folder comes with its file
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text("half")
    mine = out / "max" / "notes.tmp"  # not cardsite's pattern: not cardsite's to remove
    mine.write_text("mine")
    published = set(scan_site(out))
    assert not [rel for rel in published if ".tmp" in rel and rel != "max/notes.tmp"]

    assert main(["build"]) == 0
    left = everything(out)
    assert [rel for rel in leftovers if rel in left] == []
    assert all(rel in left for rel in running), "a build still running keeps its files"
    assert mine.read_text() == "mine"
