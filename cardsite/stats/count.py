"""Count log files with DuckDB: each request classified once, then summed per card and month and per day.

What a request is (`KIND_SQL`), in this order:
- `bad`: its date or status cannot be read (the line is skipped, only counted);
- `head`: a HEAD request (link checkers, some previews): never a scan;
- `error`: status 400 or above (a mistyped id, a refused `_cardsite/` key);
- `bot`: a user agent that says it is a crawler, a link preview or a script;
- `redirect`: the request a former id's redirect page makes for the card's page (its Referer is
  that alias's page), so one visit through an old URL counts once, for the alias's request;
- `view`: a GET of a card's page (`/<id>/` or `/<id>/index.html`), or of a former id's page;
- `save`: a GET of a card's vCard (`/<id>/<id>.vcf`);
- `other`: everything else (assets, photos, QR codes, the 404 page): counted for the cost only.

The source of a view is its URL marker (`?q` QR code, `?n` NFC tag, `?w` wallet pass, none: a
link); a save carries none itself, so it takes the marker of the page it was saved from, which the
browser sends as Referer (same origin, `strict-origin-when-cross-origin`).

Unique visitors: each run draws a random secret that never leaves memory; a request's visitor is
`hash(secret, day, c-ip, user agent)` (64 bits), so the salt changes every day and every run, and
only the number of distinct hashes per card and day (and per day for the site) is kept: an
approximation of people, since one address and browser is one visitor. The hashes live in DuckDB's
memory during the query; no address, hash or user agent is written anywhere. (An exact count of
distinct hashes per small group is several times faster than a HyperLogLog sketch per group.)
"""

from __future__ import annotations

import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cards.model import SOURCE_MARKERS
from ..errors import Abort
from .parse import Joined, LogFile, check_whole, join_legacy, json_sql, legacy_sql, parquet_sql, sql_list

log = logging.getLogger(__name__)

#: User agents that announce themselves as machines: crawlers, link previews (chat apps, social
#: networks, Apple's), uptime checks and HTTP libraries. Matched case-insensitively.
BOT_PATTERN = (
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|whatsapp|telegram|skype|"
    r"headless|lighthouse|pingdom|uptime|monitor|curl|wget|python-|python/|go-http|java/|okhttp|"
    r"libwww|httpclient|axios|node-fetch|scrapy|feedfetcher"
)
KINDS = ("view", "save", "redirect", "bot", "head", "error", "other")
#: The URL markers' sources, and `link` for a URL without one.
SOURCES = (*SOURCE_MARKERS, "link")

#: One row per request: day, card, kind, source, bytes, whether the origin was asked, the visitor hash.
CLASSIFY = r"""
WITH r AS (
    SELECT try_cast(date AS DATE) AS day, try_cast(status AS INTEGER) AS status, method,
           url_decode(stem) AS path, url_decode(query) AS query,
           coalesce(ua, '') AS ua, ip, coalesce(try_cast(bytes AS BIGINT), 0) AS bytes,
           result, url_decode(referer) AS referer, filename
    FROM raw
), m AS (
    -- String functions, not regular expressions: this runs once per request.
    SELECT r.*, split_part(path, '/', 2) AS seg,
           CASE WHEN referer IS NOT NULL THEN regexp_extract(referer, '^https?://[^/]+/([^/?#]*)/(\?|#|$)', 1) END
               AS ref_seg,
           CASE WHEN referer IS NOT NULL THEN regexp_extract(referer, '\?([^#]*)', 1) END AS ref_query
    FROM r
), c AS (
    SELECT m.*,
           CASE WHEN path = '/' || seg || '/' OR path = '/' || seg || '/index.html' THEN p.card END AS page_card,
           CASE WHEN path = '/' || seg || '/' || seg || '.vcf' AND NOT p.alias THEN p.card END AS save_card,
           seg = p.card AS is_card_id, f.card AS ref_card, f.alias AS ref_alias
    FROM m
    LEFT JOIN ids p ON p.name = m.seg
    LEFT JOIN ids f ON f.name = m.ref_seg
), k AS (
    SELECT filename, day, bytes, result, ip, ua, query, ref_query,
           coalesce(page_card, save_card, '') AS card,
           CASE WHEN day IS NULL OR status IS NULL THEN 'bad'
                WHEN method = 'HEAD' THEN 'head'
                WHEN status >= 400 THEN 'error'
                WHEN regexp_matches(ua, $bots, 'i') THEN 'bot'
                WHEN method <> 'GET' THEN 'other'
                WHEN page_card IS NOT NULL AND ref_alias AND ref_card = page_card AND is_card_id THEN 'redirect'
                WHEN page_card IS NOT NULL THEN 'view'
                WHEN save_card IS NOT NULL THEN 'save'
                ELSE 'other' END AS kind
    FROM c
)
SELECT filename AS key, day, card, kind, bytes,
       CASE WHEN kind NOT IN ('view', 'save') THEN ''
            ELSE coalesce({marker}('query'), CASE WHEN kind = 'save' THEN {marker}('ref_query') END, 'link')
       END AS source,
       coalesce(result, 'Miss') NOT IN ('Hit', 'RefreshHit', 'LimitExceeded') AS origin,
       hash($secret, day, ip, ua) AS visitor
FROM k
"""


def _marker(column: str) -> str:
    """SQL for the source a query string names by its marker (`SOURCE_MARKERS`), the bare marker tried first."""
    exact = " ".join(f"WHEN {column} = '{m}' THEN '{source}'" for source, m in SOURCE_MARKERS.items())
    # Another parameter beside the marker (a campaign tag added by hand) still names the source.
    among = " ".join(
        f"WHEN regexp_matches({column}, '(^|&){m}(=|&|$)') THEN '{source}'" for source, m in SOURCE_MARKERS.items()
    )
    return f"CASE WHEN {column} IS NULL OR {column} = '' THEN NULL {exact} {among} END"


CLASSIFY_SQL = re.sub(r"\{marker\}\('(\w+)'\)", lambda m: f"({_marker(m.group(1))})", CLASSIFY)

#: Per card and month, by kind and source; visitors are the sum of each day's distinct visitors
#: ("visitor-days"). The row of kind `visitors` counts them over every source of the card.
CARD_MONTHS = """
SELECT 'card' AS level, strftime(day, '%Y-%m') AS period, card, kind, source,
       sum(n)::BIGINT AS requests, sum(b)::BIGINT AS bytes, sum(v)::BIGINT AS visitors, sum(o)::BIGINT AS origin
FROM (SELECT day, card, kind, source, count(*) AS n, sum(bytes) AS b, sum(origin::INT) AS o,
             count(DISTINCT visitor) FILTER (WHERE kind IN ('view', 'save')) AS v
      FROM requests WHERE kind <> 'bad' GROUP BY day, card, kind, source
      UNION ALL
      SELECT day, card, 'visitors', '', 0, 0, 0, count(DISTINCT visitor)
      FROM requests WHERE kind IN ('view', 'save') GROUP BY day, card)
GROUP BY period, card, kind, source
"""
#: Per day, the whole site; the row of kind `visitors` counts that day's distinct visitors over every card.
DAYS = """
SELECT 'day' AS level, strftime(day, '%Y-%m-%d') AS period, '' AS card, kind, source,
       count(*) AS requests, sum(bytes)::BIGINT AS bytes,
       count(DISTINCT visitor) FILTER (WHERE kind IN ('view', 'save')) AS visitors,
       sum(origin::INT)::BIGINT AS origin
FROM requests WHERE kind <> 'bad' GROUP BY period, kind, source
UNION ALL
SELECT 'day', strftime(day, '%Y-%m-%d'), '', 'visitors', '', 0, 0, count(DISTINCT visitor), 0
FROM requests WHERE kind IN ('view', 'save') GROUP BY day
"""
TOTALS_COLUMNS = "level VARCHAR, period VARCHAR, card VARCHAR, kind VARCHAR, source VARCHAR, " + (
    "requests BIGINT, bytes BIGINT, visitors BIGINT, origin BIGINT"
)


@dataclass
class BatchResult:
    """What one batch of files gave: lines counted and bad per file, and the files left out."""

    lines: dict[str, int] = field(default_factory=dict)
    bad_lines: dict[str, int] = field(default_factory=dict)
    bad_files: dict[str, str] = field(default_factory=dict)


def connect(threads: int | None = None, memory_limit: str = "600MB") -> Any:
    """Return a DuckDB connection with bounded memory and the `batch` table made."""
    try:
        import duckdb
    except ImportError:
        raise Abort("stats needs DuckDB: pip install 'cardsite[stats]' (or: pip install duckdb)") from None

    con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1, "memory_limit": memory_limit})
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE TABLE batch ({TOTALS_COLUMNS})")
    return con


def set_ids(con: Any, ids: dict[str, tuple[str, bool]]) -> None:
    """Load {name in a URL: (card id, whether the name is a former id)} from the site manifest."""
    con.execute("CREATE OR REPLACE TABLE ids (name VARCHAR, card VARCHAR, alias BOOLEAN)")
    if ids:
        names = list(ids)
        con.execute(
            "INSERT INTO ids SELECT unnest($1), unnest($2), unnest($3)",
            {"1": names, "2": [ids[n][0] for n in names], "3": [ids[n][1] for n in names]},
        )


def count_files(con: Any, files: list[LogFile], secret: bytes, tag: str, tmp: Path) -> BatchResult:
    """Count `files` into the `batch` table; leave out whole files that cannot be read, and say why."""
    result = BatchResult()
    todo = list(files)
    while todo:
        try:
            _count(con, todo, secret, tag, tmp, result)
            return result
        except Exception as exc:  # DuckDB names no usable subclass per cause; find the file it was
            broken = {f.key: why for f in todo if f.format != "legacy" and (why := check_whole(f.path))}
            if not broken:
                raise
            log.debug("batch %s: %s", tag, exc)
            result.bad_files.update(broken)
            todo = [f for f in todo if f.key not in broken]
    return result


def _count(con: Any, files: list[LogFile], secret: bytes, tag: str, tmp: Path, result: BatchResult) -> None:
    joined = _join(files, tag, tmp, result)
    parts = _sources(con, files, joined, tag)
    if not parts:
        return
    con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS {' UNION ALL '.join(parts)}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE requests AS {CLASSIFY_SQL}", {"bots": BOT_PATTERN, "secret": secret.hex()}
    )
    _count_lines(con, files, result)
    _count_rejects(con, joined, tag, result)
    con.execute(f"INSERT INTO batch {CARD_MONTHS} UNION ALL {DAYS}")
    con.execute("DROP TABLE requests")


def _sources(con: Any, files: list[LogFile], joined: list[Joined], tag: str) -> list[str]:
    """Return the SELECT of every kind of file in the batch: the joined legacy files, the JSON and the Parquet ones."""
    parts = [legacy_sql(j, f"rejects_{tag}_{i}") for i, j in enumerate(joined)]
    if json_files := [f for f in files if f.format == "json"]:
        parts.append(json_sql(json_files))
    if parquet := [f for f in files if f.format == "parquet"]:
        parts.append(parquet_sql(parquet, _parquet_names(con, parquet)))
    return parts


def _count_lines(con: Any, files: list[LogFile], result: BatchResult) -> None:
    """Record each file's requests and the lines among them whose date or status could not be read."""
    by_path = {str(f.path): f.key for f in files}
    for path, n, bad in con.execute(
        "SELECT key, count(*), count(*) FILTER (WHERE kind = 'bad') FROM requests WHERE key IS NOT NULL GROUP BY key"
    ).fetchall():
        result.lines[by_path[path]] = int(n)
        result.bad_lines[by_path[path]] = int(bad)


def _count_rejects(con: Any, joined: list[Joined], tag: str, result: BatchResult) -> None:
    """Add the lines DuckDB's CSV reader rejected to their files' bad lines; drop the joined files and their tables."""
    for i, j in enumerate(joined):
        table = f"rejects_{tag}_{i}"
        for (line,) in con.execute(f"SELECT DISTINCT line FROM {table}").fetchall():
            key = j.key_of(int(line))
            result.bad_lines[key] = result.bad_lines.get(key, 0) + 1
        con.execute(f"DROP TABLE {table}; DROP TABLE {table}_scan")
        j.path.unlink()


def _join(files: list[LogFile], tag: str, tmp: Path, result: BatchResult) -> list[Joined]:
    """Join the legacy files of the batch: per #Fields list, one plain file per core, made side by side."""
    groups: dict[tuple[str, ...], list[LogFile]] = {}
    for f in files:
        if f.format == "legacy":
            groups.setdefault(f.fields, []).append(f)
    cores = max(1, os.cpu_count() or 1)
    parts = [group[i::cores] for group in groups.values() for i in range(cores) if group[i::cores]]
    # zlib lets go of the GIL while it inflates, so threads decompress on every core.
    with ThreadPoolExecutor(max_workers=cores) as pool:
        joined = list(pool.map(lambda n: join_legacy(parts[n], tmp / f"joined-{tag}-{n}.tsv"), range(len(parts))))
    for j in joined:
        result.bad_files |= j.bad_files
        result.lines |= j.lines
    return joined


def _parquet_names(con: Any, files: list[LogFile]) -> set[str]:
    names = con.execute(f"SELECT DISTINCT name FROM parquet_schema({sql_list([f.path for f in files])})").fetchall()
    return {row[0] for row in names}
