"""Compare the cards with a git revision, so that no printed URL disappears."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from ..errors import Abort, Problem, display_path
from .load import CONTACT_SUFFIXES


def _git(cwd: Path, *args: str) -> str:
    try:
        run = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise Abort("git is not installed; --base needs it") from None
    if run.returncode != 0:
        raise Abort(f"git {' '.join(args)} failed: {run.stderr.strip() or run.stdout.strip()}")
    return run.stdout


def ids_at(ref: str, contacts_dir: Path) -> set[str]:
    """Return the card ids that existed in `contacts_dir` at git revision `ref`."""
    folder = contacts_dir.resolve()
    top = Path(_git(folder, "rev-parse", "--show-toplevel").strip())
    rel = folder.relative_to(top).as_posix()
    listing = _git(top, "ls-tree", "--name-only", ref, "--", f"{rel}/")
    names = (Path(line) for line in listing.splitlines())
    return {p.stem for p in names if p.suffix in CONTACT_SUFFIXES}


def broken_urls(live: set[str], ref: str, contacts_dir: Path) -> list[Problem]:
    """Report every card id at `ref` that is not in `live`: now neither a card nor another card's alias."""
    problems = []
    for card_id in sorted(ids_at(ref, contacts_dir) - live):
        problems.append(
            Problem(
                display_path(contacts_dir / f"{card_id}.yaml"),
                1,
                "",
                f"card '{card_id}' exists at {ref} but was deleted, which breaks the URL printed on its cards."
                f" Keep the file with 'active: false' (and 'successor: NEW-ID' if someone took over),"
                f" or add '{card_id}' to 'aliases:' of the card it was renamed to",
            )
        )
    return problems


def change_dates(contacts_dir: Path) -> dict[str, list[str]]:
    """Return {card id: the date (YYYY-MM-DD, UTC) of each commit that changed its file}, newest first.

    One `git log` for the whole folder, so the cost does not grow with the number of cards.
    """
    folder = contacts_dir.resolve()
    top = Path(_git(folder, "rev-parse", "--show-toplevel").strip())
    rel = folder.relative_to(top).as_posix()
    out = _git(top, "log", "--no-renames", "--format=%x00%ct", "--name-only", "--", f"{rel}/")
    changes: dict[str, list[str]] = {}
    for entry in out.split("\0")[1:]:
        stamp, *names = entry.strip("\n").split("\n")
        date = datetime.fromtimestamp(int(stamp), tz=UTC).strftime("%Y-%m-%d")
        for name in names:
            path = Path(name)
            if path.suffix in CONTACT_SUFFIXES and path.parent.as_posix() == rel:
                changes.setdefault(path.stem, []).append(date)
    return changes
