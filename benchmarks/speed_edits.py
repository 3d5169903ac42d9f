"""One-card edits for the benchmark, and the check of what a rebuild really wrote.

An edit returns what must be true after the rebuild: (file, text) pairs, e.g. the new
name on the page of a retired card whose successor was renamed. `Tree` keeps a hash of
every output file, so each rebuild's touched files (inode or mtime changed) split into
those whose bytes changed and those rewritten with the same bytes.
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import Any

import yaml
from run import snapshot

Expect = list[tuple[str, str]]


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _rewrite(contacts: Path, card_id: str, change: dict[str, Any]) -> dict[str, Any]:
    """Apply `change` (dotted keys) to the card's YAML as an editor would save it; return the new document."""
    path = contacts / f"{card_id}.yaml"
    doc = yaml.safe_load(path.read_text("utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200), "utf-8")
    return doc


def edit_title(contacts: Path, card_id: str, run: int) -> Expect:
    """Give the card a new title: only its own page, vCard and signature show it."""
    title = f"Benchmark title {run}"
    _rewrite(contacts, card_id, {"title": title})
    return [(f"{card_id}/index.html", title)]


def edit_name(contacts: Path, card_id: str, run: int, shown_on: tuple[str, ...] = ()) -> Expect:
    """Give the card a new family name; it must appear on its page, its aliases' pages and `shown_on` pages."""
    family = f"Renamed{run}"
    doc = _rewrite(contacts, card_id, {"name.family": family})
    pages = [card_id, *doc.get("aliases", ()), *shown_on]
    return [(f"{page}/index.html", html.escape(family)) for page in pages]


def shown_by(contacts: Path, card_id: str) -> tuple[str, ...]:
    """Return the retired cards whose successor is `card_id` (their pages show its name)."""
    needle = f"successor: {card_id}\n"
    return tuple(sorted(p.stem for p in contacts.glob("*.yaml") if needle in p.read_text("utf-8")))


class Tree:
    """The output folder's files and their hashes, to judge what each rebuild wrote."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.hashes = {rel: _digest(out / rel) for rel in snapshot(out)}

    def judge(self, result: dict[str, Any], expect: Expect) -> dict[str, Any]:
        """Add to a build's `result` which touched files changed bytes, which did not, and what is stale."""
        changed, same, new = [], [], []
        for rel in result.pop("touched"):
            digest = _digest(self.out / rel)
            old = self.hashes.get(rel)
            (new if old is None else same if old == digest else changed).append(rel)
            self.hashes[rel] = digest
        for rel in result.get("removed", ()):
            self.hashes.pop(rel, None)
        result.update(
            files_written=len(changed) + len(same) + len(new),
            bytes_changed=changed + new,
            # The build state (.cardsite/) is the build's own business; site files are what publish uploads.
            same_bytes_site=[rel for rel in same if not rel.startswith(".")],
            same_bytes_state=[rel for rel in same if rel.startswith(".")],
            stale=[rel for rel, text in expect if text not in (self.out / rel).read_text("utf-8")],
        )
        return result
