"""The running totals: what every log file counted so far added up, and which files those were.

One Parquet file (`stats.parquet`) holds both: its rows are the counts (`count.TOTALS_COLUMNS`: per
card and month, and per day for the whole site), and its key-value metadata `cardsite` holds a JSON
list of the log files already counted (key, ETag or size and time, lines, bad lines, why a file was
left out). One object, so the counts and the list of what they cover are always saved together: a
run that stops before the end saves nothing, and the next run counts the same files again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import Abort, display_path
from .count import TOTALS_COLUMNS

STATE_NAME = "stats.parquet"
STATE_VERSION = 1


def empty_files() -> dict[str, dict[str, Any]]:
    """Return the file list of totals that have counted nothing yet."""
    return {}


def load_totals(con: Any, path: Path | None, where: str) -> dict[str, dict[str, Any]]:
    """Fill the `totals` table from a saved file (or leave it empty); return the files it has counted."""
    con.execute(f"CREATE OR REPLACE TABLE totals ({TOTALS_COLUMNS})")
    if path is None:
        return empty_files()
    import duckdb

    quoted = "'" + str(path).replace("'", "''") + "'"
    try:
        meta = dict(con.execute(f"SELECT key, value FROM parquet_kv_metadata({quoted})").fetchall())
        doc = json.loads(meta[b"cardsite"])
        if doc.get("version") != STATE_VERSION:
            raise Abort(f"{where} has stats version {doc.get('version')!r}; this cardsite reads {STATE_VERSION}")
        con.execute(f"INSERT INTO totals SELECT * FROM read_parquet({quoted})")
    except (duckdb.Error, KeyError, ValueError, AttributeError) as exc:
        raise Abort(
            f"{where} is not cardsite's running totals ({exc}). Put back a good copy, or delete it"
            " to count every log file still in the bucket again."
        ) from None
    return dict(doc["files"])


KEY = "level, period, card, kind, source"


def merge_batch(con: Any) -> None:
    """Add the `batch` table into `totals`, and empty it.

    Only the rows the batch touches are summed again and replaced, so a run with one new file costs
    about that file, not the size of the totals.
    """
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE merged AS SELECT {KEY}, sum(requests)::BIGINT AS requests,"
        " sum(bytes)::BIGINT AS bytes, sum(visitors)::BIGINT AS visitors, sum(origin)::BIGINT AS origin"
        f" FROM (SELECT * FROM totals SEMI JOIN batch USING ({KEY}) UNION ALL SELECT * FROM batch) GROUP BY ALL"
    )
    con.execute(
        f"DELETE FROM totals USING merged WHERE {' AND '.join(f'totals.{k} = merged.{k}' for k in KEY.split(', '))}"
    )
    con.execute("INSERT INTO totals SELECT * FROM merged")
    con.execute("DROP TABLE merged; DELETE FROM batch")


def write_totals(con: Any, path: Path, files: dict[str, dict[str, Any]]) -> None:
    """Write the totals and their file list to `path` (a new file: callers rename or upload it)."""
    meta = json.dumps({"version": STATE_VERSION, "files": files}, sort_keys=True, separators=(",", ":"))
    quoted = "'" + str(path).replace("'", "''") + "'"
    con.execute(
        f"COPY totals TO {quoted} (FORMAT parquet, COMPRESSION zstd, KV_METADATA {{cardsite: $meta}})",
        {"meta": meta},
    )


class LocalTotals:
    """The totals in a folder of logs (--dir): under its `_cardsite/`, which is never read as a log."""

    def __init__(self, folder: Path, reserved: str):
        self.path = folder / reserved / STATE_NAME
        self.where = display_path(self.path)

    def load(self, con: Any) -> dict[str, dict[str, Any]]:
        """Return the files counted so far, filling `totals`."""
        return load_totals(con, self.path if self.path.is_file() else None, self.where)

    def save(self, con: Any, files: dict[str, dict[str, Any]]) -> None:
        """Write the totals atomically: to a temporary name beside them, then renamed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{STATE_NAME}.tmp")
        try:
            write_totals(con, tmp, files)
            tmp.replace(self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise Abort(f"cannot write {self.where}: {exc.strerror}; the counts of this run were not kept") from exc
