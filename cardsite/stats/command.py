"""`build.py stats`: bring the running totals up to date from the access logs, then print the report."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from .. import aws
from ..build.manifest import SiteManifest, read_manifest
from ..errors import Abort, display_path
from .collect import RunInfo, collect
from .page import to_html
from .report import to_json, to_markdown
from .sources import DirSource
from .summary import SiteFacts, summarize
from .totals import LocalTotals

log = logging.getLogger(__name__)


def stats_command(args: argparse.Namespace) -> int:
    """Run `build.py stats` and print the report in the chosen format to standard output."""
    if bool(args.dir) == bool(args.bucket):
        raise Abort("give the logs either as --dir PATH or as --bucket NAME (or set CARDSITE_LOG_BUCKET), not both")
    if args.log_retention_days < 1:
        raise Abort("--log-retention-days must be 1 or more")
    site = read_manifest(args.out)
    with tempfile.TemporaryDirectory(prefix="cardsite-stats-") as tmp:
        source, store = _places(args, Path(tmp))
        con, info = collect(source, store, card_names(site))
        report = summarize(con, _facts(args, site, info), _run(source.where, info), card_months=args.format == "json")
        con.close()
    sys.stdout.write(render(report, args.format))
    return 0


def render(report: dict[str, Any], style: str) -> str:
    """Return the report as `json`, `markdown` or `html`."""
    if style == "json":
        return to_json(report)
    if style == "html":
        return to_html(report)
    return to_markdown(report)


def _places(args: argparse.Namespace, tmp: Path) -> tuple[Any, Any]:
    """Return the log source and the totals' store the options name."""
    if args.dir:
        return DirSource(args.dir), LocalTotals(args.dir, aws.RESERVED)
    from .bucket import S3Source, S3Totals

    client = aws.make_client("s3", args.endpoint_url)
    return S3Source(client, args.bucket, args.prefix), S3Totals(client, args.bucket, args.prefix, tmp)


def card_names(site: SiteManifest) -> dict[str, tuple[str, bool]]:
    """Return {name in a URL: (card id, whether it is a former id)}: every card and every alias."""
    ids = {alias: (card.id, True) for card in site.cards.values() for alias in card.aliases}
    return ids | {card_id: (card_id, False) for card_id in site.cards}


def _facts(args: argparse.Namespace, site: SiteManifest, info: RunInfo) -> SiteFacts:
    files = [f for card in site.cards.values() for f in card.files.values()] + list(site.site_files.values())
    log_bytes: dict[str, int] = {}
    for entry in info.files.values():
        log_bytes[entry["month"]] = log_bytes.get(entry["month"], 0) + int(entry["size"])
    return SiteFacts(
        base_url=site.base_url,
        names={card_id: card.name for card_id, card in site.cards.items()},
        site_bytes=sum(int(f["size"]) for f in files),
        changes=_changes(args.contacts),
        log_days=args.log_retention_days,
        log_bytes=log_bytes,
    )


def _changes(contacts: Path) -> dict[str, list[str]] | None:
    """Return each card's commit dates, or None (with a warning) when there is no git history to read."""
    from ..cards.history import change_dates

    if not contacts.is_dir():
        log.warning("%s is not a folder: scans per change are left out", display_path(contacts))
        return None
    try:
        return change_dates(contacts)
    except Abort as exc:
        log.warning("scans per change are left out: %s", exc)
        return None


def _run(where: str, info: RunInfo) -> dict[str, Any]:
    return {
        "source": where,
        "listed": info.listed,
        "read": info.read,
        "lines": info.lines,
        "bad_lines": info.bad_lines,
        "bad_files": len(info.bad_files),
        "changed_files": len(info.changed),
        "saved": info.saved,
    }
