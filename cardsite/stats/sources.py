"""Where log files come from: a local folder (--dir) or the log bucket (see bucket.py).

A source lists its log files with a version tag each (the S3 ETag; size and modification time for
a local file) and puts one on local disk on request. Everything under the reserved prefix
(`_cardsite/`, where the running totals live) and every hidden name is left out of the listing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..aws import RESERVED
from ..errors import Abort, display_path

#: The date in a log file's name: legacy `<dist>.YYYY-MM-DD-HH.<id>.gz`, v2 `.../YYYY/MM/DD/HH/...`.
NAME_DATE = re.compile(r"(?<!\d)(\d{4})[-/](\d{2})[-/](\d{2})(?:[-/]\d{2})?(?!\d)")


@dataclass(frozen=True)
class Listed:
    """One log file as the source lists it."""

    key: str
    version: str
    size: int

    @property
    def month(self) -> str:
        """Return the YYYY-MM in the file's name, or '' when it has none (files are counted by month)."""
        found = NAME_DATE.search(self.key)
        return f"{found.group(1)}-{found.group(2)}" if found else ""

    @property
    def half_month(self) -> str:
        """Return YYYY-MM-1 (days 1 to 15) or YYYY-MM-2 from the file's name; '' when it has no date."""
        found = NAME_DATE.search(self.key)
        return f"{found.group(1)}-{found.group(2)}-{1 if int(found.group(3)) <= 15 else 2}" if found else ""


class DirSource:
    """Log files in a local folder and its subfolders."""

    def __init__(self, folder: Path):
        if not folder.is_dir():
            raise Abort(f"--dir {display_path(folder)} is not a folder")
        self.folder = folder
        self.where = display_path(folder)

    def list(self) -> list[Listed]:
        """Return every log file below the folder, by its path relative to it."""
        found = []
        for root, dirs, names in os.walk(self.folder):
            rel_root = os.path.relpath(root, self.folder)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not _reserved(rel_root, d))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                st = os.stat(os.path.join(root, name))
                key = name if rel_root == "." else f"{Path(rel_root).as_posix()}/{name}"
                found.append(Listed(key, f"{st.st_size}:{st.st_mtime_ns}", st.st_size))
        return found

    def fetch(self, listed: Listed, tmp: Path) -> Path:
        """Return the file's path (it is on disk already)."""
        return self.folder / listed.key


def _reserved(rel_root: str, name: str) -> bool:
    return rel_root == "." and f"{name}/" == RESERVED
