"""Read CloudFront access log files into one DuckDB relation of requests, whatever their format.

Three formats, told apart by their first bytes rather than their names:
- standard logs (legacy): gzipped, tab-separated, `#Version` and `#Fields` lines first, values
  URL-encoded and `-` for empty;
- standard logging v2 as JSON: one object per line (gzipped or not), keyed by the same field names;
- standard logging v2 as Parquet: columns named by the same field names.

Every format becomes the same columns (`COLUMNS`), all text, so the classifying query is written once.
A file that cannot be read (not a log, a truncated gzip) is reported as bad and left out; a line
that does not fit its file's fields is counted as bad and skipped.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

#: The fields the counting needs, by their CloudFront names; the query sees them under COLUMNS' names.
FIELDS = {
    "date": "date",
    "time": "time",
    "sc-bytes": "bytes",
    "c-ip": "ip",
    "cs-method": "method",
    "cs-uri-stem": "stem",
    "sc-status": "status",
    "cs(Referer)": "referer",
    "cs(User-Agent)": "ua",
    "cs-uri-query": "query",
    "x-edge-result-type": "result",
}
COLUMNS = tuple(FIELDS.values())
#: Without these a file says nothing countable; any other field may be missing (it reads as NULL).
REQUIRED = ("date", "c-ip", "cs-method", "cs-uri-stem", "sc-status")
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"


class BadFile(Exception):
    """A log file that cannot be read at all; its message says why."""


@dataclass(frozen=True)
class LogFile:
    """One log file on local disk: `key` names it in the report and the running totals."""

    key: str
    path: Path
    #: 'legacy', 'json' or 'parquet'
    format: str
    #: The legacy #Fields list; empty for the other formats.
    fields: tuple[str, ...] = ()


def sniff(key: str, path: Path) -> LogFile:
    """Return the file with its format (and legacy field list); raise BadFile for anything else."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic == PARQUET_MAGIC:
            return LogFile(key, path, "parquet")
        opener = gzip.open if magic[:2] == GZIP_MAGIC else open
        with opener(path, "rb") as f:
            head = f.read(64 * 1024)
    except (OSError, EOFError, zlib.error) as exc:
        raise BadFile(f"cannot be read: {exc}") from None
    first = head.lstrip()[:1]
    if first == b"{":
        return LogFile(key, path, "json")
    if head.startswith(b"#Version:"):
        return LogFile(key, path, "legacy", _fields(head))
    raise BadFile("is neither a CloudFront standard log (#Version) nor v2 JSON or Parquet")


def _fields(head: bytes) -> tuple[str, ...]:
    """Return the names on the #Fields line of a legacy log's first bytes."""
    lines = head.split(b"\n", 2)
    if len(lines) < 2 or not lines[1].startswith(b"#Fields:"):
        raise BadFile("has no #Fields line after #Version")
    fields = tuple(lines[1][len(b"#Fields:") :].decode("ascii", "replace").split())
    missing = [name for name in REQUIRED if name not in fields]
    if missing:
        raise BadFile(f"has no field {', '.join(missing)} in its #Fields line")
    return fields


def check_whole(path: Path) -> str | None:
    """Return why a gzipped file cannot be read to its end (a truncated or corrupt stream), or None."""
    try:
        with open(path, "rb") as raw:
            if raw.read(2) != GZIP_MAGIC:
                return None
        with gzip.open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return f"is not a whole gzip file ({exc or 'it ends early'})"
    return None


def sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_quote(str(p)) for p in paths) + "]"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def legacy_sql(files: list[LogFile], rejects: str) -> str:
    """Return a SELECT of COLUMNS over legacy files that share one #Fields list; bad lines go to `rejects`."""
    fields = files[0].fields
    columns = "{" + ", ".join(f"'f{i}': 'VARCHAR'" for i in range(len(fields))) + "}"
    picks = ", ".join(
        f"f{fields.index(name)} AS {column}" if name in fields else f"NULL::VARCHAR AS {column}"
        for name, column in FIELDS.items()
    )
    # quote='' : CloudFront never quotes, and a stray '"' in a value must not swallow the lines after it.
    return (
        f"SELECT filename, {picks} FROM read_csv({sql_list([f.path for f in files])}, delim='\\t', header=false,"
        f" skip=2, quote='', escape='', columns={columns}, auto_detect=false, ignore_errors=true, store_rejects=true,"
        f" rejects_table='{rejects}', rejects_scan='{rejects}_scan', nullstr='-', filename=true)"
    )


def json_sql(files: list[LogFile]) -> str:
    """Return a SELECT of COLUMNS over v2 JSON files (one object per line)."""
    columns = "{" + ", ".join(f"{_quote(name)}: 'VARCHAR'" for name in FIELDS) + "}"
    picks = ", ".join(f'"{name}" AS {column}' for name, column in FIELDS.items())
    return (
        f"SELECT filename, {picks} FROM read_json({sql_list([f.path for f in files])}, format='newline_delimited',"
        f" columns={columns}, ignore_errors=true, filename=true)"
    )


def parquet_sql(files: list[LogFile], names: set[str]) -> str:
    """Return a SELECT of COLUMNS over v2 Parquet files whose columns (together) are `names`."""
    picks = ", ".join(
        f'CAST("{name}" AS VARCHAR) AS {column}' if name in names else f"NULL::VARCHAR AS {column}"
        for name, column in FIELDS.items()
    )
    paths = sql_list([f.path for f in files])
    return f"SELECT filename, {picks} FROM read_parquet({paths}, union_by_name=true, filename=true)"
