"""The contacts folder's signatures, kept current from the watcher's events instead of a walk on every save.

The build's cheap checks stat every file below contacts/ (fingerprint.tree): 13,000 files and
about 36 ms at 10,000 cards with photos, on every save. The watcher names each path that changed,
so the preview stats only those again. Each path is looked at after its event, so a file's last
event leaves its last signature. A walk now and then (`Preview`) catches what the watcher missed.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from ..build.fingerprint import entries, signature, tree


class WatchedTree:
    """What fingerprint.tree() says of one folder, with the same path names, updated path by path."""

    def __init__(self, root: Path) -> None:
        #: The folder as the build names it (maybe relative): the scan's keys are "<root>/<name>/...".
        self.root = str(root)
        self._real = Path(os.path.abspath(root))
        self._lock = threading.Lock()
        self._found: dict[str, list[int]] = {}
        self._links: set[str] = set()
        self.rescan()

    def rescan(self) -> bool:
        """Walk the whole folder again; return whether that found anything the events had not told."""
        # Under the lock: an event looked at during the walk could otherwise be undone by what the walk saw first.
        with self._lock:
            found, links = tree(self.root)
            linked = _links_below(self.root) if links else set()
            news = (found, linked) != (self._found, self._links)
            self._found, self._links = found, linked
        return news

    def snapshot(self) -> tuple[dict[str, list[int]], bool]:
        """Return a copy of the signatures and whether a link is among them, as build(contacts=...) takes them."""
        with self._lock:
            return dict(self._found), bool(self._links)

    def changed(self, path: str, walk: bool = True) -> None:
        """Look again at a path the watcher named (absolute), and at its folder, whose times it moved.

        `walk`: a folder that came (or came back) is walked; one only modified has its own signature taken.
        """
        try:
            rel = Path(path).relative_to(self._real)
        except ValueError:
            return
        if not rel.parts:
            return  # the folder itself: not in the scan
        key = os.path.join(self.root, *rel.parts)
        with self._lock:
            self._look(key, walk)
            if len(rel.parts) > 1:
                self._look(os.path.dirname(key), walk=False)

    def _look(self, key: str, walk: bool) -> None:
        try:
            st = os.lstat(key)
        except OSError:
            st = None
        if st is None or (walk and stat.S_ISDIR(st.st_mode)):
            self._forget_below(key)  # gone, or a folder that came or was replaced: walked anew below
        if st is None:
            self._found.pop(key, None)
            self._links.discard(key)
            return
        self._found[key] = signature(st)
        if stat.S_ISLNK(st.st_mode):
            self._links.add(key)
            return
        self._links.discard(key)
        if walk and stat.S_ISDIR(st.st_mode):
            found, links = tree(key)
            self._found.update(found)
            self._links |= _links_below(key) if links else set()

    def _forget_below(self, key: str) -> None:
        below = key + os.sep
        for gone in [k for k in self._found if k.startswith(below)]:
            del self._found[gone]
        self._links = {k for k in self._links if not k.startswith(below)}


def _links_below(root: str) -> set[str]:
    try:
        return {entry.path for entry in entries(root) if entry.is_symlink()}
    except OSError:
        return set()
