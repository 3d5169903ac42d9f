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
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

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
CHUNK = 1 << 20
#: Enough of a file to see its format and its #Fields line.
HEAD_BYTES = 4096


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
            head = f.read(HEAD_BYTES)
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
            while f.read(CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return _not_whole(exc)
    return None


def _not_whole(exc: BaseException) -> str:
    return f"is not a whole gzip file ({exc or 'it ends early'})"


@dataclass
class Joined:
    """Legacy files of one #Fields list, their lines copied one after another into one plain file.

    DuckDB reads one large file many times faster than thousands of small gzipped ones (each has a
    fixed cost), so the files of a batch are decompressed here and read as one. `starts[i]` is the
    line number, in the joined file, of the first line of `keys[i]`, so a rejected line is told
    against the file it came from.
    """

    path: Path
    fields: tuple[str, ...]
    keys: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)
    bad_files: dict[str, str] = field(default_factory=dict)

    def key_of(self, line: int) -> str:
        """Return the file that line `line` of the joined file came from."""
        return self.keys[bisect_right(self.starts, line) - 1]


def join_legacy(files: list[LogFile], path: Path) -> Joined:
    """Copy the request lines of legacy files sharing one #Fields list into `path`; leave out unreadable files."""
    joined = Joined(path, files[0].fields)
    line = 1
    with open(path, "wb") as sink:
        for f in files:
            mark = sink.tell()
            try:
                count = _copy_lines(f.path, sink)
            except (OSError, EOFError, zlib.error) as exc:
                sink.seek(mark)
                sink.truncate()
                joined.bad_files[f.key] = _not_whole(exc)
                continue
            joined.keys.append(f.key)
            joined.starts.append(line)
            joined.lines[f.key] = count
            line += count
    return joined


def _copy_lines(path: Path, sink: BinaryIO) -> int:
    """Append the file's lines after its two header lines to `sink`; return how many were appended."""
    with gzip.open(path, "rb") as f:
        head = f.read(CHUNK)
        start = head.index(b"\n", head.index(b"\n") + 1) + 1 if head.count(b"\n") >= 2 else len(head)
        chunk, count, last = head[start:], 0, b"\n"
        while chunk:
            sink.write(chunk)
            count += chunk.count(b"\n")
            last = chunk[-1:]
            chunk = f.read(CHUNK)
    if last != b"\n":  # a last line without its newline still counts, and must not join the next file's first
        sink.write(b"\n")
        count += 1
    return count


def sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_quote(str(p)) for p in paths) + "]"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def legacy_sql(joined: Joined, rejects: str) -> str:
    """Return a SELECT of COLUMNS over a joined legacy file; lines that do not fit go to the `rejects` table.

    Date, status and size are typed as they are read, so a line whose values do not parse is
    rejected with its line number, like one with too few or too many fields.
    """
    fields = joined.fields
    types = {"date": "DATE", "sc-status": "INTEGER", "sc-bytes": "BIGINT"}
    columns = "{" + ", ".join(f"'f{i}': '{types.get(name, 'VARCHAR')}'" for i, name in enumerate(fields)) + "}"
    picks = ", ".join(
        f"f{fields.index(name)}::VARCHAR AS {column}" if name in fields else f"NULL::VARCHAR AS {column}"
        for name, column in FIELDS.items()
    )
    # quote='' : CloudFront never quotes, and a stray '"' in a value must not swallow the lines after it.
    return (
        f"SELECT NULL::VARCHAR AS filename, {picks} FROM read_csv({_quote(str(joined.path))}, delim='\\t',"
        f" header=false, quote='', escape='', columns={columns}, auto_detect=false, ignore_errors=true,"
        f" store_rejects=true, rejects_table='{rejects}', rejects_scan='{rejects}_scan', nullstr='-',"
        " dateformat='%Y-%m-%d')"
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
