"""Tell from file metadata alone that nothing changed since the last successful build.

A build with nothing to do must stay quick at 10,000 cards: quicker than importing
the validators and reading the build state. So before anything else, `build`
fingerprints what a build reads (every file under the contacts folder, site.yaml,
the templates, cardsite's own code and the options) and what it wrote (every entry
at the top of the output folder, whose folder times change when a file inside is
added or deleted): names, sizes, times and inodes. When both match the stamp saved
after the last successful build, the output is current and the build stops there.
A mismatch only means the full build runs, which decides file by file.
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import cache
from pathlib import Path

from .load import CONTACT_SUFFIXES
from .output import STATE_DIR, STATE_FILE, write_if_changed

STAMP_FILE = f"{STATE_DIR}/stamp"


@cache
def code_digest() -> str:
    """Hash cardsite's own code and schemas, so an upgrade invalidates every cache."""
    root = Path(__file__).parent
    h = hashlib.sha256(sys.implementation.cache_tag.encode())
    for path in sorted([*root.glob("*.py"), *root.glob("schema/*.json")]):
        h.update(path.read_bytes())
    return h.hexdigest()


def signature(st: os.stat_result) -> list[int]:
    """Return what tells a file changed without reading it: size, mtime, ctime and inode."""
    # ctime and inode change on every write or replacement, even when a tool puts the old mtime back.
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _line(name: str, st: os.stat_result) -> str:
    return "\0".join([name, *map(str, signature(st))]) + "\n"


def _tree(root: str, lines: list[str]) -> list[str]:
    """Append one line per file and folder below `root`; return the names of the files at its top."""
    try:
        with os.scandir(root) as it:
            entries = sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        lines.append(f"{root}\0missing\n")
        return []
    files = []
    for entry in entries:
        lines.append(_line(entry.path, entry.stat()))
        if entry.is_dir():
            _tree(entry.path, lines)
        else:
            files.append(entry.name)
    return files


def inputs(contacts_dir: Path, site_file: Path, templates_dir: Path, options: str) -> tuple[str, int]:
    """Fingerprint everything a build reads; return it with the number of contact files."""
    lines = [code_digest(), "\n", options, "\n"]
    try:
        lines.append(_line(str(site_file), os.stat(site_file)))
    except FileNotFoundError:
        lines.append("no site file\n")
    _tree(str(templates_dir), lines)
    cards = sum(name.endswith(CONTACT_SUFFIXES) for name in _tree(str(contacts_dir), lines))
    return hashlib.sha256("".join(lines).encode()).hexdigest(), cards


def _outputs(out_dir: Path) -> str:
    """Fingerprint the top of the output folder: one line per entry, and the build state."""
    lines: list[str] = []
    try:
        with os.scandir(out_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
        lines.extend(_line(e.name, e.stat()) for e in entries if e.name != STATE_DIR)
        lines.append(_line(STATE_FILE, os.stat(out_dir / STATE_FILE)))
    except FileNotFoundError:
        return "missing"
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def is_current(out_dir: Path, fingerprint: str) -> bool:
    """Return whether `out_dir` is the output of a successful build of inputs with this fingerprint."""
    try:
        saved = (out_dir / STAMP_FILE).read_text("ascii")
    except (OSError, UnicodeDecodeError):
        return False
    # Listing the output folder costs as much as fingerprinting the inputs: only do it when they match.
    return saved.startswith(f"{fingerprint} ") and saved == f"{fingerprint} {_outputs(out_dir)}"


def record(out_dir: Path, fingerprint: str) -> None:
    """Save the stamp of a successful build of inputs fingerprinted (before it began) as `fingerprint`.

    Only a success saves a stamp. A failed build leaves the old one, which cannot match again: the inputs
    it was built from changed (file times only move on), or the outputs did.
    """
    write_if_changed(out_dir / STAMP_FILE, f"{fingerprint} {_outputs(out_dir)}".encode("ascii"))
