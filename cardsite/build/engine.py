"""Build the site: decide what changed, check the cards that did, write only what is not current.

One engine, one store: `build` takes the answer of the cheap checks (fingerprint.py) against
the store (store.py) and either stops, rebuilds a few cards, or gathers every card. Which
outputs depend on which inputs, and so what a change re-renders, is spelled out once, in rules.py.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import progress
from ..cards.load import CONTACT_SUFFIXES, contact_files, read_file, read_yaml
from ..cards.settings import Settings, link_problem
from ..errors import Problem, ValidationError, display_path
from . import photos, workers
from .fingerprint import Stamp, code_digest, entries, scan, signature, signature_of
from .manifest import (
    card_line,
    file_entry,
    lines_of,
    manifest_current,
    old_lines,
    update_manifest,
    write_manifest,
)
from .output import (
    PHOTO_CACHE,
    STATE_DIR,
    STATE_FOLDER,
    TEMPLATE_CACHE,
    disk_errors,
    guard_out_dir,
    mtime_ns,
    remove_leftovers,
    remove_output,
    write_if_changed,
    write_new_folder,
)
from .printing import layout_problems, print_problems
from .rules import RULES, Plan, new_plan, plan_all, plan_card, short_hash
from .signing import load_wallet, wallet_material, wallet_notes
from .store import all_outputs, read_cards, read_site, read_state, update_cards, write_state
from .workers import Pool

if TYPE_CHECKING:
    from ..cards.model import Card
    from ..render.pages import Pages

log = logging.getLogger(__name__)


def fixed_key(settings: Settings) -> str:
    """Hash what every card's validity depends on besides its own file: the settings, the print layout, the code."""
    from .printing import layout_digest

    return short_hash(settings.digest, layout_digest(settings), code_digest())


@dataclass
class Source:
    """One contact file: its id and digest, a summary of its card, and, once loaded, the Card."""

    id: str
    file: str
    key: str
    stat: list[int]
    digest: str
    card: Card | None = None
    card_hash: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    #: The last build's state entry, when the file is unchanged since.
    entry: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        """Return the full name on the card."""
        return self.meta["name"]

    @property
    def loaded(self) -> bool:
        """Return whether this build loaded the card: its file, or what its validity depends on, moved."""
        return self.entry is None

    @property
    def path(self) -> Path:
        """Return the contact file's path."""
        return Path(self.file)


@dataclass
class BuildReport:
    """What a build did, for the CLI, the preview and the benchmark."""

    #: {card id: full name} of every card of the site, whichever path the build took.
    cards: dict[str, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: How many cards had outputs rendered.
    rendered: int = 0
    #: "nothing" (the stamp matched), "cards" (only the cards in `rebuilt` were looked at) or "full".
    path: str = "full"
    #: The ids of the cards looked at again: the changed ones, or in a full build those rendered.
    rebuilt: list[str] = field(default_factory=list)
    #: What the build left out and why (no wallet signing material), said once in the summary.
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- gather


#: How many cards a process takes through a step together, one part of the step after another: every card's file
#: read, then every card checked, ...; every card's page rendered, then every QR code drawn, and so on. Doing one
#: kind of work after another keeps its code in the processor's caches (docs/performance.md, "Step by step"). A
#: batch's outputs are held until they are written: about a megabyte (a card with a photo goes on its own).
STEP_BATCH = 32


def gather(settings: Settings, state: dict[str, Any] | None, pool: Pool) -> list[Source]:
    """Read and check every contact file; raise ValidationError listing every problem.

    The cards are loaded in `pool`'s workers, which keep them for the build's later steps; the
    sources returned carry each card's summary (meta), not the card.

    A file whose bytes (and photo), settings and cardsite code all match the last
    build's state was valid then and is valid now, so it is not parsed again; a
    file whose size and modification time match is not even read.
    """
    links = input_links(settings)
    problems = [link_problem(path) for path in sorted(links)]
    if not links:
        problems += layout_problems(settings)  # and its fonts load here, once, before any worker forks
    fixed, state = fixed_key(settings), state or {}
    known = _Known(state.get("cards", {}), fixed, state.get("fixed") == fixed)
    sources, duplicates = _sources(settings, links, known)
    problems += duplicates
    to_load = [s for s in sources if s.loaded]
    for source, (meta, digest, card_hash, found) in zip(
        to_load, pool.map(load_kept, (settings,), to_load, _card_id, batch=STEP_BATCH), strict=True
    ):
        problems.extend(found)
        if meta:
            attach(source, meta, digest, card_hash, known.fixed)
    if not problems:
        problems = cross_check(sources)
    if problems:
        raise ValidationError(problems)
    return sources


class _Known(NamedTuple):
    """What the last build's state says of the cards, and whether its settings and code were these."""

    cards: dict[str, Any]
    fixed: str
    same_fixed: bool


def _sources(settings: Settings, links: set[str], known: _Known) -> tuple[list[Source], list[Problem]]:
    """Return a source for every contact file but the links, and a problem for each card id defined twice."""
    seen: dict[str, str] = {}
    sources: list[Source] = []
    problems: list[Problem] = []
    for card_id, file, st in contact_files(settings.contacts_dir):
        if file in links:
            continue  # never read: its text could be anything, and a problem would echo it
        if card_id in seen:
            other = display_path(Path(seen[card_id]))
            problems.append(Problem(display_path(Path(file)), 1, "", f"card id '{card_id}' is also defined by {other}"))
            continue
        seen[card_id] = file
        sources.append(_source(settings, card_id, file, signature(st), known))
    return sources, problems


def _source(settings: Settings, card_id: str, file: str, stat: list[int], known: _Known) -> Source:
    """Return the source of one contact file, with the last build's entry when the card is as it was then."""
    entry = known.cards.get(card_id)
    digest = ""  # a file new to the cache is hashed by its loader, which reads it anyway
    if entry and entry["stat"] == stat:
        digest = entry["digest"]
    elif entry:
        with open(file, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    same = known.same_fixed and digest and digest == entry["digest"]
    source = Source(card_id, file, entry["key"] if same else short_hash(digest, known.fixed), stat, digest)
    if entry and entry["key"] == source.key and _photo_unchanged(settings, entry["meta"]):
        source.card_hash, source.meta, source.entry = entry["card"], entry["meta"], entry
    return source


def input_links(settings: Settings) -> set[str]:
    """Return every symbolic link among the contact files, photos and templates (assets and catalogs included)."""
    # One listing of each folder, which says what is a link without a system call per file.
    roots = (settings.contacts_dir, settings.templates_dir)
    return {entry.path for root in roots for entry in entries(str(root)) if entry.is_symlink()}


def _photo_unchanged(settings: Settings, meta: dict[str, Any]) -> bool:
    if not meta["photo"]:
        return True
    path = settings.contacts_dir / meta["photo_path"]
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == meta["photo"]


def summary(card: Card) -> dict[str, Any]:
    """Return what the build keeps of a card between steps and builds: what other pages and the plan need."""
    return {
        "name": card.name.full,
        "lang": card.lang,
        "active": card.active,
        "successor": card.successor,
        "aliases": list(card.aliases),
        "photo": card.photo_digest,
        "photo_path": card.photo,
    }


def attach(source: Source, meta: dict[str, Any], digest: str, card_hash: str, fixed: str) -> None:
    """Give `source` a freshly loaded card's summary, the digest of its file and the card's hash."""
    source.digest, source.key = digest, short_hash(digest, fixed)
    source.card_hash, source.meta = card_hash, meta


Loaded = tuple["Card | None", str, str, list[Problem]]


def load_one(settings: Settings, source: Source) -> Loaded:
    """Load one card; return it with the digest of its file and a hash of the card."""
    return load_cards(settings, [source])[0]


def load_cards(settings: Settings, sources: list[Source]) -> list[Loaded]:
    """Load cards one step at a time for them all (see STEP_BATCH); return each card, or None and its problems,
    with the digest of its file and a hash of the card."""
    from ..cards.model import check_ahead, make_card

    files = [read_file(source.path) for source in sources]
    read = [read_yaml(source.path, data) for source, data in zip(sources, files, strict=True)]
    check_ahead([doc for doc, _ in read if doc is not None], settings)
    made = [
        make_card(source.id, doc, settings) if doc is not None else (None, problems)
        for source, (doc, problems) in zip(sources, read, strict=True)
    ]
    checked = []
    for (doc, _), (card, problems) in zip(read, made, strict=True):
        if card is not None and card.active:
            # A card that cannot be printed as the layout says fails like any other mistake (docs/print.md).
            problems = print_problems(settings, doc, card)
            card = None if problems else card
        checked.append((card, problems))
    # A dataclass repr names every field and value, nested ones too: its hash changes exactly when the card
    # does, at a tenth of the cost of JSON from asdict().
    return [
        (card, doc.digest if doc is not None else "", short_hash(repr(card)) if card else "", problems)
        for (doc, _), (card, problems) in zip(read, checked, strict=True)
    ]


def load_kept(settings: Settings, sources: list[Source]) -> list[tuple[dict[str, Any] | None, str, str, list[Problem]]]:
    """Load cards in a worker, which keeps them for rendering; return each one's summary, digests and problems."""
    results = []
    for source, (card, digest, card_hash, problems) in zip(sources, load_cards(settings, sources), strict=True):
        if card is not None:
            workers.kept[source.id] = card
        results.append((summary(card) if card is not None else None, digest, card_hash, problems))
    return results


def card_of(settings: Settings, source: Source) -> Card:
    """Return the card of `source`: the one this process loaded, else loaded now from its unchanged file."""
    card = source.card or workers.kept.get(source.id)
    if card is None:
        # An unchanged source whose outputs must be redone (a template edit): it was valid when cached under
        # the same key, so it loads cleanly.
        card, _, _, problems = load_one(settings, source)
        if card is None:
            raise ValidationError(problems)
    return card


def _card_id(item: Any) -> str:
    """Return the card id of a step's item: a Source, or a tuple that starts with one."""
    return (item[0] if isinstance(item, tuple) else item).id


def cross_check(sources: list[Source]) -> list[Problem]:
    """Check what involves two cards: aliases and successors."""
    by_id = {s.id: s for s in sources}
    found = _alias_problems(sources, by_id)
    for source in sources:
        successor = source.meta["successor"]
        if successor and successor not in by_id:
            found.append((source, ("successor",), f"successor '{successor}' is not a card"))
        elif successor and not by_id[successor].meta["active"]:
            found.append((source, ("successor",), f"successor '{successor}' is retired itself"))
    return [_located(source, path, message) for source, path, message in found]


def _alias_problems(sources: list[Source], by_id: dict[str, Source]) -> list[tuple[Source, tuple[str | int, ...], str]]:
    """Return the aliases that name a card, or that another card claimed first."""
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
    return found


def _located(source: Source, path: tuple[str | int, ...], message: str) -> Problem:
    """Return the problem at `path` of a card's file, with its line: only on error is the file read again for it."""
    doc, _ = read_yaml(source.path)
    return doc.problem(path, message) if doc else Problem(display_path(source.path), 1, "", message)


def check(settings: Settings) -> list[Source]:
    """Validate every card without writing anything; return their sources (summaries, not cards)."""
    with workers.fewer_collections(), workers.pool(_count(settings), LOAD_MODULES) as pool:
        return gather(settings, None, pool)


#: What loading and checking a card import, and rendering it besides, some of it on first use (the validators,
#: QR's numpy): ~0.25 s of CPU that each worker would spend again, imported before the fork.
LOAD_MODULES = ("ada_url", "email_validator", "cardsite.cards.model", "cardsite.render.artwork")
BUILD_MODULES = (*LOAD_MODULES, "numpy", "cardsite.render.pages", "cardsite.render.qr", "cardsite.render.vcard")


def _count(settings: Settings) -> int:
    """Return about how many cards there are, to choose the pool before anything is read (no scan to ask)."""
    with os.scandir(settings.contacts_dir) as it:
        return sum(1 for _ in it)


# --------------------------------------------------------------------------- build

#: Beyond this many changed cards, the full build's process pool is quicker than rebuilding one by one.
REBUILD_MAX = 20


@disk_errors
def build(
    settings: Settings,
    out_dir: Path,
    contacts: tuple[dict[str, list[int]], bool] | None = None,
    outputs_as_left: bool = False,
) -> BuildReport:
    """Build the site into `out_dir`, doing only what changed since the last successful build.

    Cheap checks come first (stat signatures, fingerprint.py): when they show that nothing
    changed the build stops; when only a few contact files changed, only their cards are looked
    at (rebuild_cards); otherwise every card is, by content hash (full_build). `contacts`: the
    contacts folder's signatures as fingerprint.tree() gives them, from a caller that keeps them
    current (the preview); otherwise the build walks the folder. `outputs_as_left`: the caller
    vouches that the last build into `out_dir` succeeded and nothing wrote there since (the
    preview's own temporary folder), so the top of the output folder is not listed again.
    """
    with workers.fewer_collections():
        return _build(settings, out_dir, contacts, outputs_as_left)


def _build(
    settings: Settings, out_dir: Path, contacts: tuple[dict[str, list[int]], bool] | None, outputs_as_left: bool
) -> BuildReport:
    guard_out_dir(out_dir)
    for folder in (out_dir / STATE_DIR, out_dir / STATE_FOLDER):
        remove_leftovers(str(folder))  # a killed build's; its leftovers at the top of `out_dir` defeat the stamp
    wallet = wallet_material(settings)
    inputs = scan(
        settings.contacts_dir,
        settings.site_file,
        settings.templates_dir,
        f"base_url={settings.base_url} wallet={sorted(wallet.items())}",
        settings.site_stat,
        contacts,
    )
    site = read_site(out_dir)
    saved = site.get("stamp", {}) if site.get("code") == code_digest() else {}
    stamp = Stamp(out_dir, inputs, saved, outputs_as_left)
    changed = stamp.changed_cards()
    if changed == {} and not manifest_current(out_dir):
        changed = None  # the manifest went missing: what publish and notify read must be made again
    if changed == {}:
        report = BuildReport(cards=dict(site["names"]), path="nothing")
    elif not changed or not (report := rebuild_cards(settings, out_dir, site, changed, stamp)):
        # site.yaml (or the code, or an option) may have changed: its checks are due before anything is read.
        settings.check()
        report = full_build(settings, out_dir, stamp)
    report.notes = wallet_notes(wallet)
    # A successful build ends here, whichever path it took: report.cards names every card.
    return report


def full_build(settings: Settings, out_dir: Path, stamp: Stamp) -> BuildReport:
    """Check every card, by content hash where its metadata moved, and write whatever is not current."""
    remove_leftovers(str(out_dir))  # a killed build's; every card folder is looked at when it moved
    # Forked before anything is read, the workers stay small; each keeps the cards it loads for rendering them.
    with workers.pool(stamp.inputs.cards, BUILD_MODULES) as pool:
        state = read_state(out_dir)
        if state.get("code") != code_digest():
            # Made by another cardsite: keep only the list of files, to clean up what is gone.
            state = {"cards": {}, "site": {}, "old": all_outputs(state)}
            shutil.rmtree(out_dir / TEMPLATE_CACHE, ignore_errors=True)
        sources = gather(settings, state, pool)
        plan = plan_all(settings, sources, state, out_dir)
        report = BuildReport(cards={s.id: s.name for s in sources}, path="full", rebuilt=sorted(plan.todo))
        old_head, lines = old_lines(out_dir)
        new_lines = _write(settings, out_dir, state, sources, plan, report, pool, lines)
        photos.prune(out_dir, {s.meta["photo"] for s in sources if s.meta["active"] and s.meta["photo"]})
        write_manifest(settings, out_dir, plan, {**lines, **new_lines}, old_head, bool(new_lines))
        _save_state(settings, out_dir, state, sources, plan, stamp)  # still with the pool's collector settings
    return report


def _write(
    settings: Settings,
    out_dir: Path,
    state: dict[str, Any],
    sources: list[Source],
    plan: Plan,
    report: BuildReport,
    pool: Pool,
    lines: dict[str, bytes],
) -> dict[str, bytes]:
    """Render and write what the plan says is not current, the site's own pages too, and remove what is gone;
    return the new manifest lines of the cards rendered or loaded (`lines`: the last manifest's)."""
    files: dict[str, bytes] = {}
    pages = None
    if plan.todo or not plan.site_current:
        pages = pages_for(settings, out_dir, report.cards, sources, plan.todo)
    if not plan.site_current:
        files = site_files(pages, sources)
        plan.site_outputs = {rel: hashlib.sha256(data).hexdigest()[:20] for rel, data in files.items()}
    report.written, new_lines = render_cards(settings, pages, out_dir, sources, plan, pool, lines)
    report.rendered = len(plan.todo)
    for rel, data in files.items():
        if write_if_changed(out_dir / rel, data):
            report.written.append(rel)
    if files:
        plan.site_files = {rel: signature_of(out_dir / rel) for rel in files}
    report.removed = _remove_gone(out_dir, all_outputs(state), plan)
    return new_lines


def _remove_gone(out_dir: Path, before: set[str], plan: Plan) -> list[str]:
    """Remove the outputs of the last build that this one does not make; return those that were there."""
    current = {rel for rels in (*plan.outputs.values(), plan.site_outputs) for rel in rels}
    return [rel for rel in sorted(before - current) if remove_output(out_dir, rel)]


def _save_state(
    settings: Settings, out_dir: Path, state: dict[str, Any], sources: list[Source], plan: Plan, stamp: Stamp
) -> None:
    """Record what this build made and its stamp, rewriting only the parts of the store on disk that differ."""
    cards = {}
    for s in sources:
        if s.entry and s.id in plan.dirs and s.entry["inputs"] == plan.keys[s.id]:
            cards[s.id] = s.entry  # unchanged in every field; the same object also compares fastest
        else:
            cards[s.id] = card_entry(s, plan, out_dir)
    new = {
        "code": code_digest(),
        "fixed": fixed_key(settings),
        "cards": cards,
        "site": {"inputs": plan.site_key, "outputs": plan.site_outputs, "files": plan.site_files},
    }
    write_state(out_dir, new, state, stamp.record())


#: What a rebuild of a few cards lets change in a card's summary. Other pages show a card's name and
#: language only where the store's links say (successor pages, alias redirects, the directory); a
#: change of status, successor or aliases changes which pages exist, and is the full build's.
LOCAL_META = frozenset({"name", "lang", "photo", "photo_path"})


def rebuild_cards(
    settings: Settings, out_dir: Path, site: dict[str, Any], card_files: dict[str, str], stamp: Stamp
) -> BuildReport | None:
    """Rebuild the cards {card id: file}, and the pages that show them; return None when the full build must decide.

    The stamp showed that the settings, the templates, cardsite's code, the output folder and
    every other contact file are as the last successful build left them, so these cards are the
    only inputs that moved. Each is loaded and checked as the full build would, planned and
    rendered under the same rules, and only its part of the store is read and rewritten. A new
    name or language also re-renders the pages that show it: successors' pages, alias redirects
    and the directory (store.card_links says which).
    """
    scope = _rebuild_scope(settings, out_dir, site, card_files, stamp)
    if scope is None:
        return None
    everything = scope.everything
    plan = scope.plan(settings, out_dir)
    pages = pages_for(settings, out_dir, scope.names, everything, plan.todo) if plan.todo or scope.shown else None
    report = BuildReport(
        cards=scope.names, path="cards", rebuilt=sorted(s.id for s in everything), rendered=len(plan.todo)
    )
    manifest, old = lines_of(out_dir, report.rebuilt)
    report.written, lines = render_cards(settings, pages, out_dir, everything, plan, workers.InProcess(), old)
    report.removed = [rel for rel in scope.replaced(plan) if remove_output(out_dir, rel)]
    site_part, touched = (site["site"], {})
    if scope.shown:
        site_part, touched = _shown_pages(pages, out_dir, site, scope, report)
    update_manifest(settings, out_dir, manifest, lines, touched)
    new_entries = {source.id: card_entry(source, plan, out_dir) for source in everything}
    # The stamp's record of the output folder's top: the card folders and the site pages this rebuild wrote.
    tops = [*new_entries, *sorted({rel.partition("/")[0] for rel in touched})]
    update_cards(out_dir, {**site, "names": scope.names, "site": site_part}, new_entries, stamp.record(cards=tops))
    return report


@dataclass
class _Scope:
    """What a rebuild of a few cards looks at: the changed cards and the unchanged ones whose pages show them."""

    changed: list[Source]
    dependents: list[Source]
    #: The changed cards whose name or language moved: other pages show those.
    shown: list[Source]
    #: The store's entry of every card looked at.
    entries: dict[str, Any]
    #: {card id: full name} of every card of the site, the changed names included.
    names: dict[str, str]

    @property
    def everything(self) -> list[Source]:
        """Return every card looked at: the changed ones, then those whose pages show them."""
        return self.changed + self.dependents

    def plan(self, settings: Settings, out_dir: Path) -> Plan:
        """Return the plan of every card looked at, under the full build's rules."""
        plan = new_plan(settings)
        for source in self.everything:
            successor = self.names.get(source.meta["successor"], "")
            plan_card(settings, plan, source, successor, self.entries[source.id], f"{out_dir}/")
        return plan

    def replaced(self, plan: Plan) -> list[str]:
        """Return the outputs the changed cards had in the last build and no longer make."""
        return [rel for s in self.changed for rel in self.entries[s.id]["outputs"] if rel not in plan.outputs[s.id]]


def _rebuild_scope(
    settings: Settings, out_dir: Path, site: dict[str, Any], card_files: dict[str, str], stamp: Stamp
) -> _Scope | None:
    """Load and check the changed cards and find what shows them; return None when the full build must decide."""
    fixed = fixed_key(settings)
    entries = _rebuildable(out_dir, site, card_files, fixed)
    if entries is None:
        return None
    changed = _load_changed(settings, card_files, fixed)
    if changed is None:
        return None
    shown = _shown(changed, entries)
    if shown is None:
        return None
    dependents = _dependents(site, out_dir, stamp, shown, set(card_files))
    if dependents is None:
        return None
    entries.update((s.id, s.entry) for s in dependents if s.entry)
    names = {**site["names"], **{s.id: s.name for s in changed}}
    return _Scope(changed, dependents, shown, entries, names)


def _rebuildable(out_dir: Path, site: dict[str, Any], card_files: dict[str, str], fixed: str) -> dict[str, Any] | None:
    """Return the store's entries of the changed cards, or None when a rebuild of a few cards cannot stand in."""
    if len(card_files) > REBUILD_MAX or site.get("fixed") != fixed or "links" not in site:
        return None
    entries = read_cards(site, out_dir, card_files)
    if entries.keys() != card_files.keys() or not manifest_current(out_dir):
        return None
    return entries


def _shown(changed: list[Source], entries: dict[str, Any]) -> list[Source] | None:
    """Return the changed cards whose name or language other pages show; None if more than LOCAL_META moved."""
    moved = {s.id: _moved(s.meta, entries[s.id]["meta"]) for s in changed}
    if any(keys - LOCAL_META for keys in moved.values()):
        return None
    return [s for s in changed if moved[s.id] & {"name", "lang"}]


def _moved(meta: dict[str, Any], old: dict[str, Any]) -> set[str]:
    return {key for key in meta.keys() | old.keys() if meta.get(key) != old.get(key)}


def _dependents(
    site: dict[str, Any], out_dir: Path, stamp: Stamp, shown: list[Source], changed: set[str]
) -> list[Source] | None:
    """Return the unchanged cards whose page shows one of `shown` (retired cards naming it as successor)."""
    ids = sorted({d for s in shown for d in site["links"]["shown_by"].get(s.id, ())} - changed)
    if not ids:
        return []
    if len(ids) + len(changed) > REBUILD_MAX:
        return None
    entries = read_cards(site, out_dir, ids)
    files = _contact_files_of(stamp, ids)
    if entries.keys() != set(ids) or files.keys() != set(ids):
        return None
    return [
        Source(i, files[i], e["key"], e["stat"], e["digest"], card_hash=e["card"], meta=e["meta"], entry=e)
        for i, e in entries.items()
    ]


def _contact_files_of(stamp: Stamp, ids: list[str]) -> dict[str, str]:
    """Return {card id: contact file} of the cards `ids`, as the stamp's scan found them."""
    # The scan named every contact file; a card's is <contacts>/<id>.yaml or .yml.
    found = (f"{stamp.inputs.contacts_dir}/{i}{suffix}" for i in ids for suffix in CONTACT_SUFFIXES)
    return {Path(path).stem: path for path in found if path in stamp.inputs.contacts}


@dataclass(frozen=True)
class _Listed:
    """A card as the directory page lists it."""

    id: str
    name: str


def _shown_pages(
    pages: Pages | None, out_dir: Path, site: dict[str, Any], scope: _Scope, report: BuildReport
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Write the alias redirects and the directory that show a renamed card; return the store's site part and them."""
    assert pages is not None
    files = _pages_showing(pages, site, scope)
    part = site["site"]
    # The site pages' input key covers every card's summary, which a rebuild does not read: left blank, it
    # makes the next full build look at these few pages again, and find them current by their bytes.
    outputs, signatures = dict(part["outputs"]), dict(part["files"])
    for rel, data in files.items():
        if write_if_changed(out_dir / rel, data):
            report.written.append(rel)
        outputs[rel] = hashlib.sha256(data).hexdigest()[:20]
        signatures[rel] = signature_of(out_dir / rel)
    return {"inputs": "", "outputs": outputs, "files": signatures}, files


def _pages_showing(pages: Pages, site: dict[str, Any], scope: _Scope) -> dict[str, bytes]:
    """Return the alias redirects and the directory page, as they read with the changed names."""
    files = {
        f"{alias}/index.html": pages.render_alias(s.id, s.name, s.meta["lang"])
        for s in scope.shown
        for alias in s.meta["aliases"]
    }
    if pages.settings.directory and any(s.meta["active"] for s in scope.shown):
        retired = set(site["links"]["retired"])
        listed = [_Listed(i, n) for i, n in scope.names.items() if i not in retired]
        files["index.html"] = pages.render_directory(listed)
    return files


def _load_changed(settings: Settings, card_files: dict[str, str], fixed: str) -> list[Source] | None:
    """Load and check the changed cards; raise ValidationError on a problem, return None for a link."""
    sources: list[Source] = []
    problems: list[Problem] = []
    for card_id, file in card_files.items():
        st = os.lstat(file)
        if stat.S_ISLNK(st.st_mode):
            return None  # the full build refuses it, with every other problem
        source = Source(card_id, file, "", signature(st), "")
        card, digest, card_hash, found = load_one(settings, source)
        problems.extend(found)
        if card:
            attach(source, summary(card), digest, card_hash, fixed)
            source.card = card
        sources.append(source)
    if problems:
        # Every other card was valid in the last build and is unchanged; these are all the problems there are.
        raise ValidationError(problems)
    return sources


def card_entry(source: Source, plan: Plan, out_dir: Path) -> dict[str, Any]:
    """Return the build state of one card, after its outputs are written."""
    return {
        "key": source.key,
        "stat": source.stat,
        "digest": source.digest,
        "card": source.card_hash,
        "name": source.name,
        "meta": source.meta,
        "inputs": plan.keys[source.id],
        "outputs": plan.outputs[source.id],
        "files": plan.files[source.id],
        "dir": plan.dirs[source.id] if source.id in plan.dirs else mtime_ns(f"{out_dir}/{source.id}"),
    }


def pages_for(
    settings: Settings, out_dir: Path, names: dict[str, str], sources: list[Source], todo: dict[str, list[str]]
) -> Pages:
    """Return the template environment of a build into `out_dir`, once a trial render found no template error."""
    # Before the first write: bad signing material leaves the output untouched.
    pages = _pages(settings, out_dir, names)
    trial_render(pages, sources, todo)
    return pages


def _pages(settings: Settings, out_dir: Path, names: dict[str, str]) -> Pages:
    import jinja2

    from ..render.pages import Pages

    wallet = load_wallet(settings)  # bad signing material is refused before anything is written
    cache_dir = out_dir / TEMPLATE_CACHE
    for folder in (cache_dir, out_dir / PHOTO_CACHE):
        folder.mkdir(parents=True, exist_ok=True)
    # Compiled code follows the environment's options as well as the template, so cardsite's code is in the
    # name; Jinja checks the template's own text.
    cache = jinja2.FileSystemBytecodeCache(str(cache_dir), f"{code_digest()[:16]}-%s.cache")
    return Pages(settings, names=names, bytecode_cache=cache, wallet=wallet, out_dir=out_dir)


@dataclass
class RenderContext:
    """What rendering a card needs: the settings, the output folder and, when anything is to be rendered, Pages."""

    settings: Settings
    out_dir: Path
    pages: Pages | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to a worker: the signers hold keys that do not pickle, so the worker loads the same material again,
        # and the templates from the bytecode cache the trial render just filled.
        names = self.pages.names if self.pages else None
        return (_render_context, (self.settings, self.out_dir, names))


def _render_context(settings: Settings, out_dir: Path, names: dict[str, str] | None) -> RenderContext:
    return RenderContext(settings, out_dir, None if names is None else _pages(settings, out_dir, names))


def trial_render(pages: Pages, sources: list[Source], todo: dict[str, list[str]]) -> None:
    """Render one page per language before writing, so a template error writes nothing."""
    langs: set[str] = set()
    for source in sources:
        if source.id in todo and source.meta["lang"] not in langs:
            langs.add(source.meta["lang"])
            card = card_of(pages.settings, source)  # in the parent, the workers keep theirs: loaded again here
            pages.render_card(card)
            if card.active:
                pages.render_signature(card)


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


def render_cards(
    settings: Settings,
    pages: Pages | None,
    out_dir: Path,
    sources: list[Source],
    plan: Plan,
    pool: Pool,
    old: dict[str, bytes],
) -> tuple[list[str], dict[str, bytes]]:
    """Render and write the outputs on the plan's to-do list, noting their signatures in it; return the files
    written and the new manifest line of every card rendered or loaded (`old`: their lines in the last manifest)."""
    # An unchanged card with nothing rendered keeps its line byte for byte: no parsing, no hashing. A card loaded
    # in this build (its file's bytes moved) gets a new line even when every output was current.
    jobs = [
        (s, plan.todo.get(s.id, []), list(plan.outputs[s.id]), old.get(s.id))
        for s in sources
        if s.id in plan.todo or s.loaded or s.id not in old
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    written, lines = [], {}
    # Ctrl-C leaves whole files only, and no saved state: the next build sees what is missing.
    stop = "rendered at least {done:,} of {total:,} cards; every file written is whole; the next build does the rest."
    with progress.step("Rendering", len(jobs), "cards", interrupted=stop) as bar:
        context = RenderContext(settings, out_dir, pages)
        results = pool.map(_render_batch, (context,), jobs, _card_id, bar.advance, batch=STEP_BATCH)
    for (source, *_), (done, line) in zip(jobs, results, strict=True):
        lines[source.id] = line
        for rel, changed, sig in done:
            plan.files[source.id][rel] = sig
            if changed:
                written.append(rel)
    return written, lines


RenderJob = tuple[Source, list[str], list[str], bytes | None]


def _render_batch(
    context: RenderContext, jobs: list[RenderJob]
) -> list[tuple[list[tuple[str, bool, list[int]]], bytes]]:
    """Render and write the outputs on the to-do lists of a batch of cards, one step at a time for them all; return,
    for each card, each output's path, whether it changed and its signature, and the card's manifest line, its files'
    hashes taken from the bytes in hand."""
    cards = [_card_to_render(context, job) for job in jobs]
    # A card with a photo goes through on its own: its outputs are cut from one decode of the photo, which
    # render/photo.py keeps until photos.release() after the card, and they are the large ones, written at once.
    alone = [[i] for i, card in enumerate(cards) if card is not None and card.photo]
    together = [i for i, card in enumerate(cards) if card is None or not card.photo]
    results: list[Any] = [None] * len(jobs)
    for part in [*alone, together]:
        done = _render_part(context, [jobs[i] for i in part], [cards[i] for i in part])
        photos.release()
        for i, result in zip(part, done, strict=True):
            results[i] = result
    return results


def _render_part(
    context: RenderContext, jobs: list[RenderJob], cards: list[Card | None]
) -> list[tuple[list[tuple[str, bool, list[int]]], bytes]]:
    """Render, then write, the outputs of `jobs`, then make their manifest lines; return what _render_batch does."""
    settings, out_dir = context.settings, context.out_dir
    files = _rendered(context.pages, jobs, cards)
    changed = [_write_card(out_dir, job[0].id, out) if out else {} for job, out in zip(jobs, files, strict=True)]
    lines = [
        card_line(settings, out_dir, source, card, outputs, {rel: file_entry(data) for rel, data in out.items()}, old)
        for (source, _, outputs, old), card, out in zip(jobs, cards, files, strict=True)
    ]
    # Taken after the rename, which changes a file's ctime: the next build trusts the file only while this holds.
    signatures = [[(rel, was, signature(os.stat(f"{out_dir}/{rel}"))) for rel, was in c.items()] for c in changed]
    return list(zip(signatures, lines, strict=True))


def _card_to_render(context: RenderContext, job: RenderJob) -> Card | None:
    """Return the card of a job, or None for a card unchanged since the last manifest with nothing to render."""
    source, rule_paths, _, old = job
    if not (rule_paths or source.loaded or old is None):
        return None  # it keeps its record: it is not loaded
    card = card_of(context.settings, source)
    workers.kept.pop(source.id, None)  # this is the card's last step: what the worker kept is free again
    return card


def _rendered(pages: Pages | None, jobs: list[RenderJob], cards: list[Card | None]) -> list[dict[str, bytes]]:
    """Return {path: bytes} of each card's outputs on its to-do list, made one rule at a time for the whole batch."""
    files: list[dict[str, bytes]] = [{} for _ in jobs]
    for rule in RULES:
        for (source, rule_paths, *_), card, out in zip(jobs, cards, files, strict=True):
            if rule.path in rule_paths:
                # The build makes Pages whenever anything is to be rendered, and loads the card of every job that has.
                assert pages is not None and card is not None
                out[rule.path.format(id=source.id)] = rule.render(pages, card)
    return files


def _write_card(out_dir: Path, card_id: str, files: dict[str, bytes]) -> dict[str, bool]:
    """Write one card's rendered files; return whether each one's bytes changed."""
    folder = out_dir / card_id
    if not folder.exists():
        # A new card's files appear together, with one rename instead of one per file.
        write_new_folder(folder, {rel.removeprefix(f"{card_id}/"): data for rel, data in files.items()})
        return dict.fromkeys(files, True)
    return {rel: write_if_changed(out_dir / rel, data) for rel, data in files.items()}
