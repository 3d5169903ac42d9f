"""Write CloudFront access logs in the documented formats, for the stats tests and benchmark.

Standard logs (legacy): gzip, `#Version: 1.0`, `#Fields:` with the 33 fields in their documented
order, one tab-separated line per request, `-` for an empty value, user agent and query
URL-encoded. Standard logging v2: JSON (one object per line, the same field names) and Parquet
(written by DuckDB, the same column names).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

_FIELD_LINE = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
    "cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
    "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type "
    "sc-content-type sc-content-len sc-range-start sc-range-end"
)
FIELDS = tuple(_FIELD_LINE.split())
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HOST = "d111111abcdef8.cloudfront.net"


@dataclass(frozen=True)
class Request:
    """One viewer request, as CloudFront logs it."""

    date: str
    path: str
    query: str = ""
    ip: str = "198.51.100.7"
    ua: str = IPHONE
    method: str = "GET"
    status: int = 200
    bytes: int = 2048
    referer: str = ""
    time: str = "10:15:00"
    result: str = "Hit"

    def values(self) -> dict[str, str]:
        """Return the request's fields by name, unencoded ('' for empty)."""
        return {
            "date": self.date,
            "time": self.time,
            "x-edge-location": "ZRH55-P2",
            "sc-bytes": str(self.bytes),
            "c-ip": self.ip,
            "cs-method": self.method,
            "cs(Host)": HOST,
            "cs-uri-stem": self.path,
            "sc-status": str(self.status),
            "cs(Referer)": self.referer,
            "cs(User-Agent)": self.ua,
            "cs-uri-query": self.query,
            "x-edge-result-type": self.result,
            "x-edge-request-id": "Zq7m1XbT3mJ0gF4rUuYVwQ1nA2bC3dE4fG5hI6jK7lM8nO9pQ0rS==",
            "x-host-header": "cards.example.ch",
            "cs-protocol": "https",
            "cs-bytes": "412",
            "time-taken": "0.002",
            "x-edge-response-result-type": self.result,
            "cs-protocol-version": "HTTP/2.0",
            "ssl-protocol": "TLSv1.3",
            "ssl-cipher": "TLS_AES_128_GCM_SHA256",
            "c-port": "50123",
            "time-to-first-byte": "0.001",
            "x-edge-detailed-result-type": self.result,
            "sc-content-type": "text/html",
            "sc-content-len": str(self.bytes - 300),
        }

    def legacy_line(self) -> str:
        """Return the tab-separated line: each value URL-encoded as CloudFront does, '-' when empty."""
        values = self.values()
        return "\t".join(quote(values.get(name, ""), safe="/:;=,()&+") or "-" for name in FIELDS)


def legacy_text(requests: list[Request], extra_lines: tuple[str, ...] = ()) -> bytes:
    """Return the uncompressed text of a standard log file."""
    lines = ["#Version: 1.0", "#Fields: " + " ".join(FIELDS), *(r.legacy_line() for r in requests), *extra_lines]
    return ("\n".join(lines) + "\n").encode("utf-8")


def legacy_file(requests: list[Request], extra_lines: tuple[str, ...] = ()) -> bytes:
    """Return a gzipped standard log file."""
    return gzip.compress(legacy_text(requests, extra_lines), mtime=0)


def legacy_name(distribution: str, date: str, hour: int, unique: str) -> str:
    """Return the documented name: <distribution-id>.YYYY-MM-DD-HH.<unique>.gz."""
    return f"{distribution}.{date}-{hour:02d}.{unique}.gz"


def v2_json_file(requests: list[Request]) -> bytes:
    """Return a gzipped v2 JSON log: one object per request, values URL-encoded like the legacy ones."""
    lines = []
    for r in requests:
        values = r.values()
        lines.append(json.dumps({name: quote(values.get(name, ""), safe="/:;=,()&+") or "-" for name in FIELDS}))
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)


def v2_parquet_file(requests: list[Request], path: Path) -> None:
    """Write a v2 Parquet log with DuckDB: one column per field, text values."""
    import duckdb

    con = duckdb.connect()
    columns = ", ".join(f'"{name}" VARCHAR' for name in FIELDS)
    con.execute(f"CREATE TABLE log ({columns})")
    for r in requests:
        values = r.values()
        con.execute(
            "INSERT INTO log VALUES (" + ", ".join("?" for _ in FIELDS) + ")", [values.get(n) or "-" for n in FIELDS]
        )
    con.execute(f"COPY log TO '{path}' (FORMAT parquet)")
    con.close()
