"""Write the built site safely, and say how each built file is served."""

from __future__ import annotations

import errno
import functools
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import Abort, display_path

#: Build state lives inside the output folder, so it can never describe another folder.
STATE_DIR = ".cardsite"
#: The build's one store: a site file (with the stamp), and the cards' files beside it (store.py).
STATE_FOLDER = f"{STATE_DIR}/state"
STATE_FILE = f"{STATE_FOLDER}/build"
#: Compiled templates, kept so that rebuilding one card need not compile them again.
TEMPLATE_CACHE = f"{STATE_DIR}/templates"
#: The vCard's photo made from each card photo, by the photo's hash (build/photos.py).
PHOTO_CACHE = f"{STATE_DIR}/photos"
#: The temporary names of write_if_changed() and write_new_folder(): `.<name>.<process id>.tmp`.
TEMP_NAME = re.compile(r"\.(.+)\.([0-9]+)\.tmp")
#: What a full, read-only or forbidden disk raises: the user's to fix, so a message and not a traceback.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM})

F = TypeVar("F", bound=Callable[..., Any])


def disk_errors(func: F) -> F:
    """Turn a disk error raised by `func` (a build step writing into the output folder) into a clean message."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OSError as exc:
            if exc.errno not in DISK_ERRNOS:
                raise
            where = display_path(Path(exc.filename)) if exc.filename else "the output folder"
            # Every file is written under a temporary name and renamed, and the build state is saved last: what
            # was written is whole, and the next build finds and redoes whatever is not current.
            raise Abort(
                f"cannot write {where}: {exc.strerror}. No file was left half-written; "
                "free some space (or fix the permissions) and build again to finish the site."
            ) from None

    return wrapper  # type: ignore[return-value]


def guard_out_dir(out_dir: Path) -> None:
    """Refuse to build into a non-empty folder that cardsite did not make."""
    if out_dir.exists() and not out_dir.is_dir():
        raise Abort(f"{display_path(out_dir)} is a file, not a folder")
    # The state folder first: listing a built site's 10,000 folders to see that it is not empty costs 2.5 ms.
    if out_dir.is_dir() and not (out_dir / STATE_DIR).is_dir() and any(out_dir.iterdir()):
        raise Abort(
            f"{display_path(out_dir)} is not empty and was not built by cardsite; "
            "choose another --out folder or empty it first"
        )


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` atomically unless the file already holds exactly these bytes."""
    return write_parts_if_changed(path, [data])


def write_parts_if_changed(path: Path, parts: list[bytes]) -> bool:
    """Write the concatenation of `parts` atomically unless the file holds exactly those bytes.

    A large file made of many parts (the manifest) is never held whole in memory, nor is the old one.
    """
    try:
        if path.stat().st_size == sum(map(len, parts)):
            with open(path, "rb") as f:
                if all(f.read(len(part)) == part for part in parts):
                    return False
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, parts)
    return True


def write_atomic(path: Path, data: bytes | list[bytes]) -> None:
    """Write `data` (or its parts, in order) to `path` under a temporary name and rename it into place, so no
    reader sees half of it."""
    # The process id makes the temporary name ours alone; cheaper per file than mkstemp's random names.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, list):
                f.writelines(data)
            else:
                f.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not exc.filename:
            exc.filename = str(path)  # a failed write() or close() names no file; the message must
        raise


def write_new_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Create `folder` holding `files`, all at once: written in a hidden sibling, then renamed into place."""
    tmp = f"{folder.parent}/.{folder.name}.{os.getpid()}.tmp"
    try:
        os.mkdir(tmp)
    except FileExistsError:
        shutil.rmtree(tmp, ignore_errors=True)  # left by a crashed build that had our process id
        os.mkdir(tmp)
    try:
        # Opened relative to the folder and written unbuffered: at 10,000 cards, the path joins and file objects
        # of a buffered write cost more than the system calls.
        dir_fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name, data in files.items():
                _write_new(name, data, dir_fd)
        finally:
            os.close(dir_fd)
        os.rename(tmp, folder)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not exc.filename:
            exc.filename = str(folder)
        raise


def _write_new(name: str, data: bytes, dir_fd: int) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]  # a write may take only part of a large buffer
    finally:
        os.close(fd)


def remove_leftovers(folder: str) -> list[str]:
    """Remove the temporary files and folders a killed build left in `folder`; return their names.

    Only names of cardsite's own pattern are touched, and only those of a process that is gone: a build
    running beside this one keeps its files.
    """
    removed = []
    try:
        with os.scandir(folder) as it:
            found = [(e.path, e.name, m) for e in it if (m := TEMP_NAME.fullmatch(e.name))]
    except (FileNotFoundError, NotADirectoryError):
        return []
    for path, name, match in found:
        if _running(int(match[2])):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            Path(path).unlink(missing_ok=True)
        removed.append(name)
    return removed


def _running(pid: int) -> bool:
    """Return whether `pid` is another process that still runs."""
    if pid == os.getpid():
        return False  # ours: from an earlier build in this process, which was stopped
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's
    # A killed build's worker whose parent died too may stay a zombie where nothing reaps orphans (a container's
    # first process): it holds its id but writes nothing.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
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
    # Safari hands a pass to Wallet only when it is served with this type.
    ".pkpass": "application/vnd.apple.pkpass",
}


def object_headers(rel: str) -> dict[str, str]:
    """Return the HTTP headers a built file is served with, in preview and on S3 alike.

    Headers depend on the path alone, never on a card's content, so editing a
    card changes its files' bytes but not their headers, and publish need not
    rewrite its manifest.
    """
    suffix = Path(rel).suffix.lower()
    headers = {
        "Content-Type": _TYPES.get(suffix, "application/octet-stream"),
        "Cache-Control": CACHE_IMMUTABLE if rel.startswith("assets/") else CACHE_SHORT,
    }
    if suffix == ".vcf":
        # attachment makes phones offer the import; the id is ASCII, stable and names the person.
        headers["Content-Disposition"] = f'attachment; filename="{Path(rel).name}"'
    return headers
