"""The import and sync commands: read a source, plan against the cards, check, then write."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from .. import progress
from ..build.output import write_if_changed
from ..cards.settings import Settings
from ..errors import Abort, display_path
from .cards import existing_cards
from .plan import Change, Options, plan
from .records import Listing, Record, SourceConfig
from .sources.files import read_file
from .write import Outcome, apply

log = logging.getLogger("cardsite")

#: The module in cardsite/sync/sources/ that reads each kind of source.
SOURCES = {"csv": "csvurl", "ldap": "ldap", "scim": "scim", "graph": "graph", "google": "google"}
DEFAULT_SECRET_ENV = "CARDSITE_SYNC_PASSWORD"


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """Read --map 'Header=field' options into a mapping; refuse a pair without '=' or an unknown field."""
    from .mapping import MAPPABLE

    mapping = {}
    for pair in pairs or []:
        header, sep, target = pair.rpartition("=")
        if not sep or not header or target not in MAPPABLE:
            known = ", ".join(sorted(MAPPABLE))
            raise Abort(f"--map {pair!r}: write HEADER=FIELD with FIELD one of: {known}")
        mapping[header] = target
    return mapping


def _options(settings: Settings, args: argparse.Namespace, **kwargs: Any) -> Options:
    conf = settings.raw.get("sync") or {}
    mapping = {**conf.get("mapping", {}), **parse_mapping(getattr(args, "map", None))}
    return Options(
        mapping=mapping,
        owns=conf.get("owns"),
        phone_region=settings.phone_region,
        owner_domains=settings.owner_domains,
        **kwargs,
    )


def import_command(settings: Settings, args: argparse.Namespace) -> int:
    """Import CSV, XLSX and vCard files into cards; report what was created, skipped and refused."""
    records: list[Record] = []
    for path in args.files:
        records += read_file(path)
    attributes = list(dict.fromkeys(k for r in records for k in r.values))
    options = _options(settings, args, update=args.update, complete=False, adopt=False)
    changes = plan(records, existing_cards(settings.contacts_dir), attributes, options)
    outcome = apply(changes, settings, dry_run=args.dry_run)
    _report(changes, outcome, "would " if args.dry_run else "", updating=args.update)
    if args.dry_run:
        print(outcome.diff(), end="")
    return 1 if _refused(changes, outcome) else 0


def _report(changes: list[Change], outcome: Outcome, would: str, updating: bool = True) -> None:
    applied = {id(c) for c in outcome.applied}
    for change in changes:
        _report_change(change, id(change) in applied, would, updating)
    for change, problems in outcome.refused:
        log.warning("refused %s (%s): %s", f"contacts/{change.card_id}.yaml", change.where, "; ".join(problems))
    _report_totals(changes, outcome, would)


def _report_change(change: Change, applied: bool, would: str, updating: bool) -> None:
    name = f"contacts/{change.card_id}.yaml"
    for refusal in change.refused:
        log.warning("left out: %s", refusal.format())
    if applied:
        detail = f" ({', '.join(change.fields)})" if change.kind == "update" else ""
        log.info("%s%s %s%s  <- %s", would, change.kind + ("d" if not would else ""), name, detail, change.where)
    elif change.kind == "skip" and not updating:
        log.info("skipped %s: the card exists (--update changes it)  <- %s", name, change.where)
    elif change.kind == "refuse":
        log.warning("refused %s", "; ".join(r.format() for r in change.refused))


def _report_totals(changes: list[Change], outcome: Outcome, would: str) -> None:
    counts = {k: sum(1 for c in outcome.applied if c.kind == k) for k in ("create", "update", "retire")}
    skipped = sum(1 for c in changes if c.kind == "skip")
    log.info(
        "%s%d created, %d updated, %d retired, %d skipped or unchanged, %d refused; %d files written",
        would,
        counts["create"],
        counts["update"],
        counts["retire"],
        skipped,
        _refused(changes, outcome),
        len(outcome.written),
    )


def _refused(changes: list[Change], outcome: Outcome) -> int:
    """Return how many cards were refused: by the planner (no name) or by the check of their new text."""
    return sum(1 for c in changes if c.kind == "refuse") + len(outcome.refused)


# --------------------------------------------------------------------------- sync


def source_config(settings: Settings, args: argparse.Namespace) -> SourceConfig:
    """Return the source to read: site.yaml's sync block, each option given on the command line overriding it."""
    conf = dict(settings.raw.get("sync") or {})
    for key in ("source", "url", "base_dn", "bind_dn", "filter"):
        if getattr(args, key, None):
            conf[key] = getattr(args, key)
    if not conf.get("source"):
        raise Abort("no directory to sync from: add a sync: block to site.yaml or give --source (docs/sync.md)")
    if not 1 <= conf.get("page_size", 500) <= 1000:
        raise Abort(f"sync.page_size in site.yaml must be 1 to 1000, not {conf['page_size']}")
    secret_env = conf.get("secret_env", DEFAULT_SECRET_ENV)
    state_file = settings.site_file.parent / conf.get("state_file", "sync-state.json")
    state = json.loads(state_file.read_text("utf-8")) if state_file.is_file() else {}
    return SourceConfig(
        source=conf["source"],
        url=conf.get("url", ""),
        base_dn=conf.get("base_dn", ""),
        bind_dn=conf.get("bind_dn", ""),
        filter=conf.get("filter", ""),
        secret=os.environ.get(secret_env, ""),
        tenant_id=conf.get("tenant_id", ""),
        client_id=conf.get("client_id", ""),
        customer=conf.get("customer", "my_customer"),
        subject=conf.get("subject", ""),
        page_size=conf.get("page_size", 500),
        attributes=list(conf.get("mapping", {})),
        state=state.get(conf["source"], {}),
    )


def read_source(config: SourceConfig, base: Path) -> Listing:
    """Read the configured source; an unreachable directory or refused login raises Abort (in the module)."""
    if config.source not in SOURCES:
        raise Abort(f"unknown source '{config.source}': use one of {', '.join(SOURCES)}")
    module = importlib.import_module(f".sources.{SOURCES[config.source]}", __package__)
    return module.read(config, base)


def sync_command(settings: Settings, args: argparse.Namespace) -> int:
    """Sync the cards with the directory: read all of it first, plan, guard, check, then write."""
    config = source_config(settings, args)
    listing = read_source(config, settings.site_file.parent)
    cards = existing_cards(settings.contacts_dir)
    changes = plan(listing.records, cards, listing.attributes, _options(settings, args, complete=listing.complete))
    _retire_guard(changes, cards, settings, args.allow_retire)
    outcome = apply(changes, settings, dry_run=args.dry_run)
    _report(changes, outcome, "would " if args.dry_run else "")
    if args.dry_run:
        print(outcome.diff(), end="")
    text = summary(changes, outcome, config.source)
    if not args.dry_run:
        progress.append_summary(text)  # the job summary of a scheduled sync (docs/sync.md)
    if args.summary:
        write_if_changed(args.summary, text.encode("utf-8"))
    if not args.dry_run and listing.state:
        _save_state(settings, config.source, listing.state)
    return 0


def _retire_guard(
    changes: list[Change], cards: dict[str, dict[str, Any]], settings: Settings, allowed: int | None
) -> None:
    retiring = sum(1 for c in changes if c.kind == "retire")
    synced = sum(1 for d in cards.values() if d.get("sync_id") and d.get("active", True) is not False)
    share = (settings.raw.get("sync") or {}).get("max_retire_share", 0.1)
    limit = allowed if allowed is not None else max(1, int(share * synced))
    if retiring > limit:
        raise Abort(
            f"this sync would retire {retiring} of {synced} synced cards, more than the {limit} allowed"
            f" (sync.max_retire_share {share}); nothing was written. If the directory is right,"
            f" run again with --allow-retire {retiring}"
        )


def _save_state(settings: Settings, source: str, state: dict[str, str]) -> None:
    conf = settings.raw.get("sync") or {}
    path = settings.site_file.parent / conf.get("state_file", "sync-state.json")
    old = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    text = json.dumps({**old, source: state}, indent=2, sort_keys=True) + "\n"
    if write_if_changed(path, text.encode("utf-8")):
        log.info("kept the %s state for the next run in %s", source, display_path(path))


def summary(changes: list[Change], outcome: Outcome, source: str) -> str:
    """Return the Markdown summary of a sync: the pull request's body."""
    by_kind = [(k, [c for c in outcome.applied if c.kind == k]) for k in ("create", "update", "retire")]
    lines = [f"## Directory sync from {source}", ""]
    lines.append(", ".join(f"{len(cs)} {k}d" for k, cs in by_kind))
    for kind, items in by_kind:
        lines += _applied_section(kind, items)
    lines += _refused_section(changes, outcome)
    owned_only = all(c.kind in ("update", "retire") for c in outcome.applied)
    lines += ["", f"Touches only directory-owned fields: {'yes' if owned_only else 'no'}", ""]
    return "\n".join(lines)


_TITLES = {"create": "Added", "update": "Changed", "retire": "Retired (active: false)"}


def _applied_section(kind: str, items: list[Change]) -> list[str]:
    if not items:
        return []
    lines = ["", f"### {_TITLES[kind]}", ""]
    for c in items:
        detail = f": {', '.join(c.fields)}" if kind == "update" else ""
        lines.append(f"- `{c.card_id}`{detail}")
    return lines


def _refused_section(changes: list[Change], outcome: Outcome) -> list[str]:
    left_out = [r for c in changes for r in c.refused]
    if not left_out and not outcome.refused:
        return []
    return [
        "",
        "### Refused (fix these in the directory)",
        "",
        *(f"- {_md(r.format())}" for r in dict.fromkeys(left_out)),
        *(f"- `{c.card_id}` ({_md(c.where)}): {_md('; '.join(p))}" for c, p in outcome.refused),
    ]


def _md(text: str) -> str:
    # Directory values are untrusted: no Markdown, HTML or mentions of theirs may act in the pull request.
    return "".join("\\" + c if c in "\\`*_{}[]<>()#+-.!|@~" else c for c in text.replace("\n", " "))
