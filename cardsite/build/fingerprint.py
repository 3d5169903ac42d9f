"""Tell from file metadata alone what changed since the last successful build.

At 10,000 cards, a build with nothing to do, or with one card to redo, must cost less
than reading the whole build state. So before anything else, `build` scans what a
build reads: every file under the contacts folder, file by file, and a fingerprint of
the rest (site.yaml, the templates, cardsite's own code and the options). It also
scans what a build wrote: every entry at the top of the output folder, whose folder
times change when a file inside is added, replaced or deleted, and the build state.
Each file is known by its size, times and inode, never by reading it.

Against the stamp saved after the last successful build, the scans give one of three
answers: nothing changed; only these contact files changed, so only their cards need
a look; or something else changed, and the full build decides file by file (engine.py
takes the answer). The stamp is saved in the build's one store (store.py).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..cards.load import CONTACT_SUFFIXES
from .output import STATE_DIR, STATE_FOLDER

#: The endings of installed distributions' metadata folders, and the start of cardsite's own.
METADATA = (".dist-info", ".egg-info")
OWN = ("cardsite-", "cardsite.")


@cache
def code_digest() -> str:
    """Hash cardsite's own code and schemas and the installed libraries, so an upgrade invalidates every cache."""
    root = Path(__file__).parent.parent  # the whole cardsite package, every stage
    h = hashlib.sha256(sys.implementation.cache_tag.encode())
    for path in sorted([*root.glob("**/*.py"), *root.glob("schema/*.json")]):
        h.update(path.read_bytes())
    h.update("\n".join(installed()).encode())
    return h.hexdigest()


def installed() -> list[str]:
    """Return the metadata folder names of every installed distribution, which carry name and version."""
    # A new vobject, Jinja or qrcode may write different bytes. Listing the folders costs under a millisecond,
    # where asking importlib.metadata for each library's version costs tens.
    # cardsite's own metadata is left out: its code is hashed file by file, and an editable install's
    # cardsite.egg-info in the source tree is on sys.path only when build.py runs from there, not for the
    # `cardsite` script, so counting it made every switch between the two render the whole site again.
    names: list[str] = []
    for folder in sys.path:
        try:
            with os.scandir(folder or ".") as it:
                names.extend(e.name for e in it if e.name.endswith(METADATA) and not e.name.startswith(OWN))
        except OSError:  # a zip file or a folder that does not exist
            continue
    return sorted(names)


def signature(st: os.stat_result) -> list[int]:
    """Return what tells a file changed without reading it: size, mtime, ctime and inode."""
    # ctime and inode change on every write or replacement, even when a tool puts the old mtime back.
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def signature_of(path: str | Path) -> list[int]:
    """Return the signature of `path`, or an empty one when it does not exist."""
    try:
        return signature(os.stat(path))
    except FileNotFoundError:
        return []


def entries(root: str) -> Iterator[os.DirEntry[str]]:
    """Yield every file, folder and link below `root`, at any depth, never following a symbolic link."""
    with os.scandir(root) as it:
        found = list(it)
    for entry in found:
        yield entry
        # DirEntry answers both from the folder listing: no system call per entry.
        if entry.is_dir(follow_symlinks=False):
            yield from entries(entry.path)


def _tree(root: str, found: dict[str, list[int]]) -> bool:
    """Add the signature of every file and folder below `root` to `found`; return whether a link is among them."""
    # The same walk as entries(), written out: a generator costs 5 ms more here, on every build with nothing to do.
    links = False
    try:
        with os.scandir(root) as it:
            for entry in it:
                if entry.is_symlink():
                    links = True
                    found[entry.path] = signature(entry.stat(follow_symlinks=False))
                    continue
                found[entry.path] = signature(entry.stat())
                if entry.is_dir():
                    links |= _tree(entry.path, found)
    except OSError:  # missing, not a folder, unreadable: the full build that follows says which
        found[root] = []
    return links


def tree(root: str) -> tuple[dict[str, list[int]], bool]:
    """Return the signature of every file and folder below `root`, by path, and whether a link is among them."""
    found: dict[str, list[int]] = {}
    return found, _tree(root, found)


@dataclass(frozen=True)
class Scan:
    """What a build would read: a fingerprint of the site's settings, templates and code, and each contact file."""

    fixed: str
    contacts: dict[str, list[int]]
    contacts_dir: str
    #: Whether any input is a symbolic link, which only the full build may refuse.
    links: bool = False

    @property
    def cards(self) -> int:
        """Return the number of contact files, as the build will count cards."""
        top = f"{self.contacts_dir}/"
        return sum(p.endswith(CONTACT_SUFFIXES) and "/" not in p.removeprefix(top) for p in self.contacts)


def scan(
    contacts_dir: Path,
    site_file: Path,
    templates_dir: Path,
    options: str,
    site_stat: os.stat_result | None = None,
    contacts: tuple[dict[str, list[int]], bool] | None = None,
) -> Scan:
    """Scan everything a build reads; `site_stat`: site.yaml's metadata when the settings were read from it.

    `contacts`: what tree() would say of the contacts folder, from a caller that keeps it current without
    walking the folder (the preview, from file events).
    """
    # Settings are read before the scan: the metadata taken before reading them is what describes them.
    rest = {str(site_file): signature_of(site_file) if site_stat is None else signature(site_stat)}
    links = _tree(str(templates_dir), rest)
    fixed = hashlib.sha256(repr((code_digest(), options, sorted(rest.items()))).encode()).hexdigest()
    found, contact_links = tree(str(contacts_dir)) if contacts is None else contacts
    links |= contact_links
    links |= any(os.path.islink(path) for path in (site_file, templates_dir, contacts_dir))
    return Scan(fixed, found, str(contacts_dir), links)


def _outputs(out_dir: Path, names: Iterable[str] | None = None) -> dict[str, list[int]]:
    """Scan the build state and the top of the output folder, or only these entries of it."""
    found: dict[str, list[int]] = {}
    if names is None:
        try:
            with os.scandir(out_dir) as it:
                found = {entry.name: signature(entry.stat()) for entry in it}
        except FileNotFoundError:
            return {}
        # The store is written after this scan; it records the signatures of its own card files instead.
        found.pop(STATE_DIR, None)
    found.update((name, signature_of(out_dir / name)) for name in names or ())
    return found


class Stamp:
    """Compare a build's inputs with the stamp the last successful build saved in the store; make the next one."""

    def __init__(self, out_dir: Path, inputs: Scan, saved: dict[str, Any], outputs_as_left: bool = False) -> None:
        self.out_dir, self.inputs, self.saved = out_dir, inputs, saved
        #: The caller vouches that nothing wrote into the output folder since the last build, which succeeded.
        self.outputs_as_left = outputs_as_left
        #: The output folder as found before the build, when changed_cards() needed to look.
        self.outputs: dict[str, list[int]] | None = None

    def changed_cards(self) -> dict[str, str] | None:
        """Return {card id: file} of the contact files changed since the last successful build.

        Return an empty dict when nothing changed, and None when anything but contact files
        changed, files were added or removed, or an input is a link: then only the full build
        can tell what to do.
        """
        saved = self.saved
        changed = self._changed_contacts()
        if changed is None:
            return None
        # Listing the output folder costs as much as scanning the inputs: only do it when they allow an answer,
        # and the caller cannot vouch for it.
        self.outputs = dict(saved.get("outputs", {})) if self.outputs_as_left else _outputs(self.out_dir)
        if saved.get("outputs") != self.outputs or not self._store_as_left():
            return None
        return {path.stem: name for name, path in changed.items()}

    def _changed_contacts(self) -> dict[str, Path] | None:
        """Return {file: path} of the contact files whose signature moved; None when anything else did."""
        saved, now = self.saved, self.inputs
        if now.links or saved.get("fixed") != now.fixed or saved.get("contacts", {}).keys() != now.contacts.keys():
            return None
        old = saved["contacts"]
        changed = {path: Path(path) for path, sig in now.contacts.items() if old[path] != sig}
        top = Path(now.contacts_dir)
        if any(path.parent != top or path.suffix not in CONTACT_SUFFIXES for path in changed.values()):
            return None
        return changed

    def _store_as_left(self) -> bool:
        """Return whether every card file of the store is the very file the last build left."""
        shards = self.saved.get("shards", {})
        folder = f"{self.out_dir}/{STATE_FOLDER}"
        return all(signature_of(f"{folder}/cards.{int(n):02d}") == sig for n, sig in shards.items())

    def record(self, cards: Iterable[str] | None = None) -> dict[str, Any]:
        """Return the stamp of a successful build of the inputs scanned before it began, for the store to save.

        `cards`: when the build wrote into these card folders and the store alone, only they
        are looked at again; otherwise the whole output folder is. Only a success saves a
        stamp. A failed build leaves the old one, which cannot match again: the inputs it was
        built from changed (file times only move on), or the outputs did.
        """
        if cards is None or self.outputs is None:
            outputs = _outputs(self.out_dir)
        else:
            outputs = {**self.outputs, **_outputs(self.out_dir, cards)}
        return {"fixed": self.inputs.fixed, "contacts": self.inputs.contacts, "outputs": outputs}
