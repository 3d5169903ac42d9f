"""Write the built site safely, and say how each built file is served."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from .errors import Abort, display_path

#: Build state lives inside the output folder, so it can never describe another folder.
STATE_DIR = ".cardsite"
STATE_FILE = f"{STATE_DIR}/build.json"


def guard_out_dir(out_dir: Path) -> None:
    """Refuse to build into a non-empty folder that cardsite did not make."""
    if out_dir.exists() and not out_dir.is_dir():
        raise Abort(f"{display_path(out_dir)} is a file, not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / STATE_DIR).is_dir():
        raise Abort(
            f"{display_path(out_dir)} is not empty and was not built by cardsite; "
            "choose another --out folder or empty it first"
        )


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` atomically unless the file already holds exactly these bytes."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    # The process id makes the temporary name ours alone; cheaper per file than mkstemp's random names.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def mtime_ns(path: str) -> int:
    """Return the modification time of `path` in nanoseconds, or -1 when it does not exist."""
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return -1


def remove_output(out_dir: Path, rel: str) -> bool:
    """Remove one output file and any folder it leaves empty."""
    path = out_dir / rel
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    parent = path.parent
    while parent != out_dir and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
    return True


# --------------------------------------------------------------------------- serving


CACHE_SHORT = "public, max-age=300"
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".vcf": "text/vcard; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


def object_headers(rel: str, card_names: dict[str, str] | None = None) -> dict[str, str]:
    """Return the HTTP headers a built file is served with, in preview and on S3 alike."""
    suffix = Path(rel).suffix.lower()
    headers = {
        "Content-Type": _TYPES.get(suffix, "application/octet-stream"),
        "Cache-Control": CACHE_IMMUTABLE if rel.startswith("assets/") else CACHE_SHORT,
    }
    if suffix == ".vcf":
        headers["Content-Disposition"] = vcf_disposition(Path(rel).stem, (card_names or {}).get(Path(rel).stem))
    return headers


def vcf_disposition(card_id: str, full_name: str | None) -> str:
    """Return an RFC 6266 attachment header naming the file after the person."""
    ascii_name = f"{card_id}.vcf"
    if not full_name:
        return f'attachment; filename="{ascii_name}"'
    # Characters that some file systems or header parsers reject are dropped from the name.
    pretty = "-".join("".join(c for c in full_name if c not in '\\/:*?"<>|,;').split()) + ".vcf"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(pretty)}"
