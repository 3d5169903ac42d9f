"""Build the site: gather and check every card, then write only what changed.

Which outputs depend on which inputs is spelled out once, in RULES: a template
change re-renders every page, a card change re-renders that card only, and the
QR code, which depends on the URL alone, is re-encoded only when the URL moves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from . import qr
from .errors import Problem, ValidationError, display_path
from .load import contact_files, read_yaml
from .model import Card, make_card
from .output import STATE_FILE, guard_out_dir, remove_output, write_if_changed
from .pages import Pages
from .photo import web_jpeg
from .settings import Settings
from .vcard import render_vcard

log = logging.getLogger(__name__)

#: Below this many cards to render, a process pool costs more than it saves.
PARALLEL_MIN = 200


@dataclass(frozen=True)
class Rule:
    """One output of a card, the inputs it depends on, which cards get it, and how to make it."""

    path: str
    depends: tuple[str, ...]
    when: str
    render: Callable[[Pages, Card], bytes]


def _photo(pages: Pages, card: Card) -> bytes:
    return (pages.settings.contacts_dir / card.photo).read_bytes()


RULES = (
    Rule("{id}/{id}.vcf", ("card",), "active", lambda p, c: render_vcard(c, _photo(p, c) if c.photo else None)),
    Rule("{id}/qr.svg", ("url", "qr"), "always", lambda p, c: qr.render_svg(c.url, p.settings.qr_error_correction)),
    Rule("{id}/photo.jpg", ("photo",), "photo", lambda p, c: web_jpeg(_photo(p, c), "photo.jpg")),
    Rule("{id}/photo@2x.jpg", ("photo",), "photo", lambda p, c: web_jpeg(_photo(p, c), "photo@2x.jpg")),
    Rule("{id}/signature.html", ("card", "site", "templates"), "active", lambda p, c: p.render_signature(c)),
    Rule("{id}/index.html", ("card", "site", "templates", "successor"), "always", lambda p, c: p.render_card(c)),
)
#: Which cards get an output, decided from the small summary kept in the build state.
WHEN: dict[str, Callable[[dict[str, Any]], bool]] = {
    "always": lambda meta: True,
    "active": lambda meta: meta["active"],
    "photo": lambda meta: meta["active"] and bool(meta["photo"]),
}


@cache
def code_digest() -> str:
    """Hash cardsite's own code and schemas, so an upgrade invalidates the build cache."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted([*root.glob("*.py"), *root.glob("schema/*.json")]):
        h.update(path.read_bytes())
    return h.hexdigest()


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass
class Source:
    """One contact file: its id and digest, a summary of its card, and, once loaded, the Card."""

    id: str
    path: Path
    key: str
    card: Card | None = None
    card_hash: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Return the full name on the card."""
        return self.meta["name"]


@dataclass
class BuildReport:
    """What a build did, for the CLI, the preview and the benchmark."""

    cards: dict[str, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rendered: int = 0


# --------------------------------------------------------------------------- gather


def gather(settings: Settings, state: dict[str, Any] | None = None) -> list[Source]:
    """Read and check every contact file; raise ValidationError listing every problem.

    A file whose bytes (and photo), settings and cardsite code all match the last
    build's state was valid then and is valid now, so it is not parsed again.
    """
    cached = (state or {}).get("cards", {})
    sources: list[Source] = []
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    to_load: list[Source] = []
    for path in contact_files(settings.contacts_dir):
        card_id = path.stem
        if card_id in seen:
            other = display_path(seen[card_id])
            problems.append(Problem(display_path(path), 1, "", f"card id '{card_id}' is also defined by {other}"))
            continue
        seen[card_id] = path
        key = _hash(hashlib.sha256(path.read_bytes()).hexdigest(), settings.digest, code_digest())
        source = Source(card_id, path, key)
        entry = cached.get(card_id)
        if entry and entry["key"] == key and _photo_unchanged(settings, entry["meta"]):
            source.card_hash, source.meta = entry["card"], entry["meta"]
        else:
            to_load.append(source)
        sources.append(source)
    for source, (card, found) in zip(to_load, _map(_load_one, settings, to_load), strict=True):
        problems.extend(found)
        if card:
            _attach(source, card)
    if not problems:
        problems = cross_check(sources)
    if problems:
        raise ValidationError(problems)
    return sources


def _photo_unchanged(settings: Settings, meta: dict[str, Any]) -> bool:
    if not meta["photo"]:
        return True
    path = settings.contacts_dir / meta["photo_path"]
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == meta["photo"]


def _attach(source: Source, card: Card) -> None:
    source.card = card
    source.card_hash = hashlib.sha256(json.dumps(card.to_dict(), sort_keys=True).encode()).hexdigest()
    source.meta = {
        "name": card.name.full,
        "lang": card.lang,
        "active": card.active,
        "successor": card.successor,
        "aliases": list(card.aliases),
        "photo": card.photo_digest,
        "photo_path": card.photo,
    }


def _load_one(settings: Settings, source: Source) -> tuple[Card | None, list[Problem]]:
    doc, problems = read_yaml(source.path)
    if doc is None:
        return None, problems
    return make_card(source.id, doc, settings)


def cross_check(sources: list[Source]) -> list[Problem]:
    """Check what involves two cards: aliases and successors."""
    by_id = {s.id: s for s in sources}
    claimed: dict[str, str] = {}
    found: list[tuple[Source, tuple[str | int, ...], str]] = []
    for source in sources:
        for i, alias in enumerate(source.meta["aliases"]):
            if alias in by_id:
                found.append(
                    (source, ("aliases", i), f"'{alias}' is the id of an existing card; an alias must be free")
                )
            elif alias in claimed:
                found.append((source, ("aliases", i), f"'{alias}' is already an alias of card '{claimed[alias]}'"))
            else:
                claimed[alias] = source.id
        successor = source.meta["successor"]
        if successor and successor not in by_id:
            found.append((source, ("successor",), f"successor '{successor}' is not a card"))
        elif successor and not by_id[successor].meta["active"]:
            found.append((source, ("successor",), f"successor '{successor}' is retired itself"))
    problems = []
    for source, path, message in found:
        doc, _ = read_yaml(source.path)  # only on error: re-read for the line number
        problems.append(doc.problem(path, message) if doc else Problem(display_path(source.path), 1, "", message))
    return problems


def check(settings: Settings) -> list[Source]:
    """Validate every card without writing anything."""
    return gather(settings)


# --------------------------------------------------------------------------- build


def build(settings: Settings, out_dir: Path) -> BuildReport:
    """Build the site into `out_dir`, writing only files whose bytes changed."""
    guard_out_dir(out_dir)
    state = read_state(out_dir)
    sources = gather(settings, state)
    by_id = {s.id: s for s in sources}
    pages = Pages(settings, names={s.id: s.name for s in sources})
    inputs = {"site": settings.digest, "templates": pages.digest, "qr": settings.qr_error_correction}

    old_outputs: dict[str, str] = state.get("outputs", {})
    outputs: dict[str, str] = {}
    todo: dict[str, list[str]] = {}
    for source in sources:
        meta = source.meta
        card_inputs = {
            **inputs,
            "card": source.card_hash,
            "url": settings.card_url(source.id),
            "photo": meta["photo"],
            "successor": by_id[meta["successor"]].name if meta["successor"] else "",
        }
        for rule in RULES:
            if not WHEN[rule.when](meta):
                continue
            rel = rule.path.format(id=source.id)
            outputs[rel] = _hash(rule.path, *(card_inputs[d] for d in rule.depends))
            if old_outputs.get(rel) != outputs[rel] or not (out_dir / rel).is_file():
                todo.setdefault(source.id, []).append(rule.path)

    files = site_files(pages, sources)
    trial_render(pages, sources, todo)

    report = BuildReport(cards={s.id: s.name for s in sources})
    jobs = [(by_id[i], paths) for i, paths in todo.items()]
    for written in _map(_render_one, (pages, out_dir), jobs):
        report.written.extend(written)
    report.rendered = len(jobs)

    for rel, data in files.items():
        outputs[rel] = hashlib.sha256(data).hexdigest()
        if old_outputs.get(rel) != outputs[rel] and write_if_changed(out_dir / rel, data):
            report.written.append(rel)

    for rel in sorted(set(old_outputs) - set(outputs)):
        if remove_output(out_dir, rel):
            report.removed.append(rel)

    cards_state = {s.id: {"key": s.key, "card": s.card_hash, "name": s.name, "meta": s.meta} for s in sources}
    write_if_changed(
        out_dir / STATE_FILE,
        json.dumps({"code": code_digest(), "cards": cards_state, "outputs": outputs}, sort_keys=True).encode(),
    )
    return report


def trial_render(pages: Pages, sources: list[Source], todo: dict[str, list[str]]) -> None:
    """Render one page per language before writing, so a template error writes nothing."""
    langs: set[str] = set()
    for source in sources:
        if source.id in todo and source.card is not None and source.card.lang not in langs:
            langs.add(source.card.lang)
            pages.render_card(source.card)
            if source.card.active:
                pages.render_signature(source.card)


def site_files(pages: Pages, sources: list[Source]) -> dict[str, bytes]:
    """Return the outputs that are not one card's: 404 page, assets, alias redirects, directory."""
    files = {"404.html": pages.render_404()}
    files.update({asset.path: asset.data for asset in pages.assets.values()})
    for source in sources:
        for alias in source.meta["aliases"]:
            files[f"{alias}/index.html"] = pages.render_alias(source.id, source.name, source.meta["lang"])
    if pages.settings.directory:
        files["index.html"] = pages.render_directory([s for s in sources if s.meta["active"]])
    return files


def _render_one(pages: Pages, out_dir: Path, job: tuple[Source, list[str]]) -> list[str]:
    source, rule_paths = job
    card = source.card
    if card is None:
        # Unchanged source whose page must be redone (e.g. a template edit): it
        # was valid when cached under the same key, so it loads cleanly.
        card, problems = _load_one(pages.settings, source)
        if card is None:
            raise ValidationError(problems)
    written = []
    for rule in RULES:
        if rule.path in rule_paths:
            rel = rule.path.format(id=source.id)
            if write_if_changed(out_dir / rel, rule.render(pages, card)):
                written.append(rel)
    return written


_shared: tuple[Callable[..., Any], tuple[Any, ...]] | None = None


def _map(func: Callable[..., Any], context: Any, items: list[Any]) -> Iterable[Any]:
    """Apply func(*context, item) to items in order, on every core when it pays."""
    global _shared
    args = context if isinstance(context, tuple) else (context,)
    workers = min(os.cpu_count() or 1, 8)
    if len(items) < PARALLEL_MIN or workers < 2:
        return [func(*args, item) for item in items]
    # Forked workers inherit the template environment instead of unpickling it per task.
    _shared = (func, args)
    try:
        chunk = max(1, len(items) // (workers * 8))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_call, items, chunksize=chunk))
    finally:
        _shared = None


def _call(item: Any) -> Any:
    assert _shared is not None
    func, args = _shared
    return func(*args, item)


# --------------------------------------------------------------------------- state


def read_state(out_dir: Path) -> dict[str, Any]:
    """Return the last build's state, or an empty one when it is missing or stale."""
    try:
        state = json.loads((out_dir / STATE_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    return state if state.get("code") == code_digest() else {"outputs": state.get("outputs", {})}


def card_names(out_dir: Path) -> dict[str, str]:
    """Return {card id: full name} of the site built in `out_dir`."""
    return {card_id: entry["name"] for card_id, entry in read_state(out_dir).get("cards", {}).items()}
