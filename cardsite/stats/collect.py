"""Count the log files the running totals do not hold yet, a month of files at a time, and save once.

A file is known by its key and version (S3 ETag, or size and time of a local file). A file counted
before is never read again; CloudFront never rewrites a log file, so one whose version changed is
reported and left alone rather than counted twice. A file left out as bad is tried again only when
its version changes (it was replaced). Nothing is saved until every new file is counted, so a run
that stops halfway leaves the totals as they were.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, Protocol

from .. import progress
from ..errors import shown
from .count import connect, count_files, set_ids
from .parse import BadFile, LogFile, sniff
from .sources import Listed
from .totals import merge_batch

log = logging.getLogger(__name__)

#: At most this many files in one DuckDB query: half a month of hourly files, with room to spare.
BATCH_FILES = 2000


class Source(Protocol):
    where: str

    def list(self) -> list[Listed]: ...

    def fetch(self, listed: Listed, tmp: Path) -> Path: ...


class Store(Protocol):
    where: str

    def load(self, con: Any) -> dict[str, dict[str, Any]]: ...

    def save(self, con: Any, files: dict[str, dict[str, Any]]) -> None: ...


@dataclass
class RunInfo:
    """What one run read: files and lines new to the totals, and what it had to leave out."""

    listed: int = 0
    read: int = 0
    lines: int = 0
    bad_lines: int = 0
    bad_files: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    saved: bool = False
    #: Every file the totals have counted, this run's included: {key: version, size, month, lines, ...}.
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


def collect(
    source: Source, store: Store, ids: dict[str, tuple[str, bool]], con: Any | None = None
) -> tuple[Any, RunInfo]:
    """Bring the totals up to date with the source; return the DuckDB connection holding them and the run."""
    con = con or connect()
    set_ids(con, ids)
    files = store.load(con)
    info = RunInfo(files=files)
    listed = source.list()
    info.listed = len(listed)
    new = _new_files(listed, files, info)
    if not new:
        return con, info
    secret = secrets.token_bytes(32)  # the day's salt comes from it; it is never written anywhere
    with tempfile.TemporaryDirectory(prefix="cardsite-stats-") as tmp:
        con.execute("SET temp_directory = $tmp", {"tmp": tmp})  # where a query spills if it must
        # Nothing is saved until every batch is counted: an interrupted run leaves the totals as they were.
        stop = "counted {done:,} of {total:,} log files; the totals are unchanged, run stats again"
        with progress.step("Counting", len(new), "log files", interrupted=stop) as bar:
            for number, batch in enumerate(_batches(new)):
                _count_batch(con, source, batch, Path(tmp), secret, f"b{number}", files, info)
                bar.advance(len(batch))
    merge_batch(con)  # once: each merge rewrites the whole totals table
    store.save(con, files)
    info.saved = True
    return con, info


def _new_files(listed: list[Listed], files: dict[str, dict[str, Any]], info: RunInfo) -> list[Listed]:
    new = []
    for item in listed:
        known = files.get(item.key)
        if known is None or (known.get("bad") and known["version"] != item.version):
            new.append(item)
        elif known["version"] != item.version:
            info.changed.append(item.key)
    if info.changed:
        log.warning(
            "%d log file(s) changed after they were counted; not counted again: %s",
            len(info.changed),
            ", ".join(shown(key) for key in info.changed[:5]),
        )
    return new


def _batches(new: list[Listed]) -> Iterator[list[Listed]]:
    # Half a month of files together: a day is then counted in one query, so its visitors are distinct,
    # and a query's memory stays well under the limit (a month of a busy site took 570 MB).
    ordered = sorted(new, key=lambda item: (item.half_month, item.key))
    for _, group in groupby(ordered, key=lambda item: item.half_month):
        items = list(group)
        for start in range(0, len(items), BATCH_FILES):
            yield items[start : start + BATCH_FILES]


def _count_batch(
    con: Any,
    source: Source,
    batch: list[Listed],
    tmp: Path,
    secret: bytes,
    tag: str,
    files: dict[str, dict[str, Any]],
    info: RunInfo,
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = list(pool.map(lambda item: source.fetch(item, tmp), batch))
    readable: list[LogFile] = []
    bad: dict[str, str] = {}
    for item, path in zip(batch, paths, strict=True):
        try:
            readable.append(sniff(item.key, path))
        except BadFile as exc:
            bad[item.key] = str(exc)
    result = count_files(con, readable, secret, tag, tmp)
    bad |= result.bad_files
    for item, path in zip(batch, paths, strict=True):
        lines, bad_lines = result.lines.get(item.key, 0), result.bad_lines.get(item.key, 0)
        files[item.key] = {"version": item.version, "size": item.size, "month": item.month, "lines": lines}
        files[item.key] |= {"bad_lines": bad_lines, "bad": bad.get(item.key)}
        info.read += 1
        info.lines += lines
        info.bad_lines += bad_lines
        if bad_lines and item.key not in bad:
            log.warning("%s: %d malformed line(s) skipped", shown(item.key), bad_lines)
        if path.parent == tmp:
            os.unlink(path)
    for key, why in bad.items():
        log.warning("%s %s; left out", shown(key), why)
    info.bad_files |= bad
