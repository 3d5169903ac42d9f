"""A CSV export at a path (next to site.yaml) or an http(s) URL, for HR systems that only export."""

from __future__ import annotations

from pathlib import Path

from ...errors import Abort
from ..records import Listing, SourceConfig
from .files import decode, parse_csv

#: An HR export is a few megabytes; a cap keeps a wrong URL from costing the runner its memory.
MAX_BYTES = 64 * 1024 * 1024


def read(config: SourceConfig, base: Path) -> Listing:
    """Return every row of the CSV as a Record; the listing is complete, so a missing row retires its card."""
    if not config.url:
        raise Abort("the csv source needs a url: a path or an https:// address (sync.url or --url)")
    if config.url.startswith(("http://", "https://")):
        data, name = _download(config), config.url.split("?", 1)[0]
    else:
        path = base / config.url
        try:
            data, name = path.read_bytes(), config.url
        except OSError as exc:
            raise Abort(f"cannot read the CSV source {config.url}: {exc.strerror or exc}") from None
    headers, records = parse_csv(decode(data, name), name)
    return Listing(records, complete=True, attributes=headers)


def _download(config: SourceConfig) -> bytes:
    import httpx

    headers = {"Authorization": f"Bearer {config.secret}"} if config.secret else {}
    try:
        with httpx.stream("GET", config.url, headers=headers, timeout=30, follow_redirects=True) as response:
            if response.status_code in (401, 403):
                raise Abort(f"the CSV source {config.url} refused the credentials (HTTP {response.status_code})")
            if response.status_code != 200:
                raise Abort(f"the CSV source {config.url} answered HTTP {response.status_code}")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise Abort(f"the CSV source {config.url} is larger than {MAX_BYTES // 2**20} MiB")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise Abort(f"cannot reach the CSV source {config.url}: {exc}") from None
    return b"".join(chunks)
