"""Describe what a build made in one versioned JSON file: the interface between the build and later commands.

`public/.cardsite/site.json` (docs/manifest.md, schema/site-manifest.schema.json) lists every card
(id, URL, name, language, status, successor, aliases, printable fields) with the path, sha256 and
size of each of its output files, and the site-wide outputs. `publish` and `notify` read it and
nothing else the build keeps, so it is plain JSON, free of anything tied to one Python version.

The file is one JSON document laid out one card per line, sorted by id. A rebuild of a few cards
swaps their lines without parsing the rest, so its cost hardly grows with the site. A hash is taken
only for a file rendered in this build or unknown to the last manifest; every other output is, by
its signature in the build state, the very file the last build hashed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Abort, display_path
from .output import STATE_DIR, write_atomic, write_parts_if_changed

if TYPE_CHECKING:
    from ..cards.model import Card
    from ..cards.settings import Settings
    from .engine import Source
    from .rules import Plan

#: Where the manifest lives: under the dot folder, which publish never uploads.
SITE_MANIFEST = f"{STATE_DIR}/site.json"
SCHEMA_ID = "https://cardsite.dev/schema/site-manifest.schema.json"
#: Raised only by a change that can break a reader (docs/manifest.md); additions keep it.
MANIFEST_VERSION = 1
_CARDS_LINE = '"cards":{'
_NEXT = b",\n"

#: The card's printable fields, as the print job's card.json carries them and notify compares them.
FIELD_KEYS = (
    "name",
    "org",
    "department",
    "title",
    "emails",
    "phones",
    "addresses",
    "websites",
    "social",
    "note",
    "lang",
)


def card_fields(card: Card) -> dict[str, Any]:
    """Return the card's printable fields as JSON-ready data."""
    data = card.to_dict()  # lists, not tuples: equal to what was saved and read back as JSON
    fields = {key: data[key] for key in FIELD_KEYS}
    fields["name"]["full"] = card.name.full
    if not card.name.order:
        del fields["name"]["order"]  # only a set order is printable content; the script decides otherwise
    return fields


def card_record(card: Card, source: str, digest: str) -> dict[str, Any]:
    """Return what the manifest says about one card, its files aside (`source`: its file under contacts/)."""
    return {
        "url": card.url,
        "name": card.name.full,
        "lang": card.lang,
        "status": "active" if card.active else "retired",
        "successor": card.successor or None,
        "aliases": list(card.aliases),
        "notify_owner": bool(card.notify_owner),
        "fields": card_fields(card),
        "source": {"path": source, "sha256": digest},
    }


def file_entry(data: bytes) -> dict[str, Any]:
    """Return a file's manifest entry: its sha256 and size."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _hash(root: str, rel: str) -> dict[str, Any]:
    with open(root + rel, "rb") as f:
        return file_entry(f.read())


def file_entries(
    out_dir: Path, rels: Iterable[str], rendered: dict[str, dict[str, Any]], old: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Return {path: sha256 and size} of `rels`: a file rendered now by its `rendered` entry, one the last manifest
    lists by that entry, and any other by reading it."""
    old, root = old or {}, f"{out_dir}/"
    return {rel: rendered.get(rel) or old.get(rel) or _hash(root, rel) for rel in sorted(rels)}


def site_kind(rel: str) -> str:
    """Return what a site-wide output is: the 404 page, an asset, the directory or an alias redirect."""
    if rel == "404.html":
        return "not-found"
    if rel.startswith("assets/"):
        return "asset"
    return "directory" if rel == "index.html" else "alias"


# --------------------------------------------------------------------------- writing


def write_manifest(
    settings: Settings, out_dir: Path, plan: Plan, lines: dict[str, bytes], old_head: bytes, redone: bool
) -> None:
    """Write the manifest of a full build from each card's line in `lines`, `redone` if any is new.

    The lines come from the render step, each made by the worker that rendered the card (card_line); the
    head, with the site's own outputs, is made here.
    """
    head = _head(settings, _site_files(out_dir, plan, old_head))
    if not redone and head == old_head and list(lines) == sorted(plan.outputs):
        return  # every line as it was, in the same order: the very bytes on disk
    ordered = sorted(plan.outputs)
    write_parts_if_changed(out_dir / SITE_MANIFEST, _joined(head, [lines[card_id] for card_id in ordered]))


def card_line(
    settings: Settings,
    out_dir: Path,
    source: Source,
    card: Card | None,
    outputs: Iterable[str],
    rendered: dict[str, dict[str, Any]],
    old: bytes | None,
) -> bytes:
    """Return one card's line: its record (from `card`, else from its `old` line: unchanged since the last build,
    which wrote it) and its files, those `rendered` now by the entries made from their bytes."""
    before = json.loads(old.partition(b":")[2]) if old else {}
    if card is not None:
        record = card_record(card, _source_path(settings, source), source.digest)
    else:
        record = {k: v for k, v in before.items() if k != "files"}
    record["files"] = file_entries(out_dir, outputs, rendered, before.get("files"))
    return _card_line(source.id, record)


def _site_files(out_dir: Path, plan: Plan, old_head: bytes) -> dict[str, dict[str, Any]]:
    """Return the entries of the site's own outputs (404, assets, redirects, directory), each with its kind."""
    old_site = json.loads(old_head + b"}").get("site", {}).get("files", {}) if old_head else {}
    # Site pages are few; when they were rendered, hashing them all costs less than telling which moved.
    site_files = file_entries(out_dir, plan.site_outputs, {}, old_site if plan.site_current else {})
    for rel, entry in site_files.items():
        entry["kind"] = site_kind(rel)
    return site_files


def old_lines(out_dir: Path) -> tuple[bytes, dict[str, bytes]]:
    """Return the head and {card id: line} of the last manifest; nothing when it is missing or of another version."""
    try:
        head, lines = _split((out_dir / SITE_MANIFEST).read_bytes())
        if json.loads(head + b"}").get("manifest_version") == MANIFEST_VERSION:
            return head, {_line_id(line): line for line in lines}
    except (OSError, ValueError, AttributeError):
        pass
    return b"", {}


def lines_of(out_dir: Path, ids: Iterable[str]) -> tuple[bytes, dict[str, bytes]]:
    """Return the bytes of the manifest, which a rebuild checked is current, and the lines of the cards `ids`."""
    data = (out_dir / SITE_MANIFEST).read_bytes()
    return data, {i: line for i in ids if (line := _find_line(data, i)[1])}


def _find_line(data: bytes, card_id: str, after: int = 0) -> tuple[int, bytes]:
    """Return where card `card_id`'s line starts in manifest `data`, past `after`, and the line; (0, b"") when it
    has none."""
    first = data.find(b"\n", data.index(b"\n") + 1) + 1 or len(data)  # the first card's line, after '"cards":{'
    start = _line_of(data, card_id, data.index(b"\n", after) + 1 if after > first else first)
    if not start:
        return 0, b""
    return start, data[start : data.index(b"\n", start)].removesuffix(b",")


def update_manifest(
    settings: Settings, out_dir: Path, data: bytes, lines: dict[str, bytes], site_pages: dict[str, bytes]
) -> None:
    """Replace the `lines` of a few rebuilt cards (and the entries of `site_pages` rewritten with them) in the
    manifest, whose bytes are `data` (lines_of), leaving every other byte as it is."""
    path = out_dir / SITE_MANIFEST
    head_end = data.index(b"\n")
    pieces: list[Any] = [_new_head(settings, data[:head_end].removesuffix(b","), site_pages)] if site_pages else []
    changed = bool(pieces) and pieces[0] != data[:head_end]
    view, done, missing = memoryview(data), head_end if site_pages else 0, {}
    for card_id in sorted(lines):
        start, old = _find_line(data, card_id, done)
        if not start:
            missing[card_id] = lines[card_id]
            continue
        pieces += [view[done:start], lines[card_id]]
        changed |= lines[card_id] != old
        done = start + len(old)
    pieces.append(view[done:])
    if missing:  # a manifest edited by hand; every build writes a line for each of its cards
        head, found = _split(b"".join(pieces))
        new = _join(head, sorted([line for line in found if _line_id(line) not in missing] + list(missing.values())))
        write_atomic(path, new)
    elif changed:
        # Slices of a memoryview are not copies: the old bytes go straight into the new file, never joined into
        # another 20 MB (5-10 ms of a one-card edit at 10,000 cards), and only a changed line makes it rewritten.
        write_atomic(path, pieces)


def _line_of(data: bytes, card_id: str, lo: int) -> int:
    """Return where the card's line starts in the manifest `data`, at `lo` (a line's start) or after, or 0 if none.

    The card lines are sorted by id, so a bisection finds one in a few dozen probes, where searching 20 MB for
    it cost a one-card rebuild at 10,000 cards 9 ms. A manifest edited out of order may hide a line: then
    the card's line is written anew, as for a line that is missing.
    """
    want, hi = card_id.encode(), len(data) - len(b"}}\n")
    while lo < hi:
        start = max(lo, data.rfind(b"\n", lo, (lo + hi) // 2) + 1)  # the line around the middle
        # Ids are [a-z0-9-], so a card's line starts with exactly '"<id>":'; nothing else in the file can.
        end = data.find(b'":', start, hi)
        if data[start : start + 1] != b'"' or end < 0:
            return 0  # not a card line: the head, or a file that is not a manifest
        found = data[start + 1 : end]
        if found == want:
            return start
        if found < want:
            lo = data.find(b"\n", start, hi) + 1 or hi
        else:
            hi = start
    return 0


def _new_head(settings: Settings, head: bytes, site_pages: dict[str, bytes]) -> bytes:
    """Return the manifest's first line with the entries of these rewritten site pages."""
    files = json.loads(head + b"}")["site"]["files"]
    for rel, data in site_pages.items():
        files[rel] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "kind": site_kind(rel)}
    return _head(settings, dict(sorted(files.items()))) + b","


def manifest_current(out_dir: Path) -> bool:
    """Return whether the manifest exists and has this version, so that a rebuild may edit it."""
    try:
        with open(out_dir / SITE_MANIFEST, "rb") as f:
            head = f.readline().rstrip(b"\n").removesuffix(b",")
        return json.loads(head + b"}").get("manifest_version") == MANIFEST_VERSION
    except (OSError, ValueError, AttributeError):
        return False


@cache
def cardsite_version() -> str:
    """Return the installed cardsite's version (informative: readers go by manifest_version)."""
    # Imported here: importlib.metadata costs ~18 ms, and a one-card edit only splices a line.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cardsite")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def _source_path(settings: Settings, source: Source) -> str:
    folder, _, name = source.file.rpartition(os.sep)
    if folder == os.fspath(settings.contacts_dir):
        return name  # where contact_files() finds every card: no relpath() (and getcwd()) per card
    return os.path.relpath(source.file, settings.contacts_dir).replace(os.sep, "/")


def _head(settings: Settings, site_files: dict[str, Any]) -> bytes:
    head = {
        "$schema": SCHEMA_ID,
        "manifest_version": MANIFEST_VERSION,
        "cardsite_version": cardsite_version(),
        "base_url": settings.base_url,
        "default_language": settings.default_language,
        "qr_error_correction": settings.qr_error_correction,
        "site": {"files": site_files},
    }
    return json.dumps(head, ensure_ascii=False, separators=(",", ":")).encode()[:-1]


def _card_line(card_id: str, record: dict[str, Any]) -> bytes:
    return f'"{card_id}":{json.dumps(record, ensure_ascii=False, separators=(",", ":"))}'.encode()


def _join(head: bytes, lines: list[bytes]) -> bytes:
    return b"".join(_joined(head, lines))


def _joined(head: bytes, lines: list[bytes]) -> list[bytes]:
    """Return the parts of a manifest: its head, then one line per card."""
    # JSON escapes every line break inside a string, so each card is exactly one line.
    parts = [head + b",\n" + _CARDS_LINE.encode() + b"\n"]
    for line in lines:
        parts += (line, _NEXT)  # the lines themselves, not copies of them
    if lines:
        parts.pop()  # no comma after the last line
    return [*parts, b"\n}}\n"]


def _split(data: bytes) -> tuple[bytes, list[bytes]]:
    """Return the head (without its closing brace) and the card lines (without commas) of a manifest."""
    head, sep, rest = data.partition(b",\n" + _CARDS_LINE.encode() + b"\n")
    if not sep or not rest.endswith(b"}}\n"):
        raise ValueError("not a cardsite site manifest")
    body = rest[: -len(b"}}\n")].rstrip(b"\n")
    return head, [line.removesuffix(b",") for line in body.split(b"\n")] if body else []


def _line_id(line: bytes) -> str:
    return line[1 : line.index(b'":')].decode()


# --------------------------------------------------------------------------- reading


def _read(out_dir: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((out_dir / SITE_MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("manifest_version") == MANIFEST_VERSION else None


@dataclass(frozen=True)
class SiteCard:
    """One card as the manifest describes it, for the commands that run after a build."""

    id: str
    url: str
    name: str
    lang: str
    active: bool
    successor: str | None
    aliases: tuple[str, ...]
    notify_owner: bool
    fields: dict[str, Any]
    source: dict[str, str]
    files: dict[str, dict[str, Any]]

    @property
    def owner_email(self) -> str | None:
        """Return the address owner notices go to: the card's first e-mail address."""
        emails = self.fields.get("emails") or []
        return emails[0]["value"] if emails else None


@dataclass(frozen=True)
class SiteManifest:
    """What a build made, read back from its manifest."""

    base_url: str
    qr_error_correction: str
    default_language: str
    cards: dict[str, SiteCard]
    site_files: dict[str, dict[str, Any]]

    def card_url(self, card_id: str) -> str:
        """Return the page URL of `card_id` on this site."""
        return f"{self.base_url}/{card_id}/"

    def page_links(self) -> dict[str, set[str]]:
        """Return {page: the card pages it links to}: alias redirects, successors, signatures, the directory."""
        links: dict[str, set[str]] = {}
        for card_id, card in self.cards.items():
            page = f"{card_id}/index.html"
            links[f"{card_id}/signature.html"] = {page}
            for alias in card.aliases:
                links.setdefault(f"{alias}/index.html", set()).add(page)
            if card.successor:
                links.setdefault(page, set()).add(f"{card.successor}/index.html")
        # The directory links every card; ordering it last costs nothing and keeps its links live.
        links["index.html"] = {f"{card_id}/index.html" for card_id in self.cards}
        return links


def read_manifest(out_dir: Path) -> SiteManifest:
    """Return the manifest of the site built in `out_dir`; refuse a folder that was never built."""
    if not out_dir.is_dir():
        raise Abort(f"{display_path(out_dir)} does not exist; run `python build.py` first")
    path = out_dir / SITE_MANIFEST
    if not path.is_file():
        raise Abort(
            f"{display_path(out_dir)} has no {SITE_MANIFEST}, so it was not built by cardsite; "
            "run `python build.py` first"
        )
    doc = _read(out_dir)
    try:
        return _parse(doc) if doc is not None else _unreadable(path)
    except (KeyError, TypeError, AttributeError, ValueError):
        return _unreadable(path)


def _unreadable(path: Path) -> SiteManifest:
    raise Abort(
        f"cannot read {display_path(path)} as a manifest of version {MANIFEST_VERSION}; run `python build.py` again"
    )


def _parse(doc: dict[str, Any]) -> SiteManifest:
    cards = {
        card_id: SiteCard(
            card_id,
            c["url"],
            c["name"],
            c["lang"],
            c["status"] == "active",
            c["successor"],
            tuple(c["aliases"]),
            bool(c["notify_owner"]),
            dict(c["fields"]),
            dict(c["source"]),
            dict(c["files"]),
        )
        for card_id, c in doc["cards"].items()
    }
    site_files = dict(doc["site"]["files"])
    return SiteManifest(doc["base_url"], doc["qr_error_correction"], doc["default_language"], cards, site_files)


def check_current(settings: Settings, site: SiteManifest) -> None:
    """Refuse a manifest older than the contact files beside it, naming any problem a newer card has.

    Without a contacts folder (a CI job handed only the built site) the manifest alone is the truth.
    """
    from ..cards.load import contact_files

    if not settings.contacts_dir.is_dir():
        return
    built = {card.source["path"]: card for card in site.cards.values()}
    moved = [
        (card_id, file)
        for card_id, file, _ in contact_files(settings.contacts_dir)
        if _moved(settings, built, card_id, file)
    ]
    if moved:
        _refuse_problems(settings, moved)
    if moved or built:
        changed = sorted([display_path(Path(file)) for _, file in moved] + list(built))
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise Abort(f"{shown} changed since the last build: run `python build.py` (and publish) first")


def _refuse_problems(settings: Settings, moved: list[tuple[str, str]]) -> None:
    """Raise ValidationError naming every problem of the cards changed since the build, if they have any."""
    from ..errors import ValidationError
    from .engine import Source, load_one

    problems = [p for card_id, file in moved for p in load_one(settings, Source(card_id, file, "", [], ""))[3]]
    if problems:
        raise ValidationError(problems)


def _moved(settings: Settings, built: dict[str, SiteCard], card_id: str, file: str) -> bool:
    """Return whether a contact file is not the one the manifest was built from; take its card out of `built`."""
    rel = os.path.relpath(file, settings.contacts_dir).replace(os.sep, "/")
    card = built.pop(rel, None)
    if card is None or card.id != card_id:
        return True
    with open(file, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest() != card.source["sha256"]
