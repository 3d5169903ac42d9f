"""Keep the build's one store: what the last successful build read and wrote, in the output folder.

The store is a folder: one site file and the cards spread over SHARDS files by a hash of
their id. The site file holds cardsite's code hash, the settings hash, the shared pages,
each card's name, the links between cards (card_links) and the stamp: the signatures of
every input and of the top of the output folder as the build left them (fingerprint.py
compares them). A full build reads every file; a rebuild of one card reads and rewrites
only its shard and the site file, so its cost does not grow with the number of cards.

Every file starts with one header, checked in one place (_load); the site file is written
last, so it is the one atomic save that makes a build's record current.
"""

from __future__ import annotations

import marshal
import sys
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .fingerprint import signature_of
from .output import STATE_FILE, STATE_FOLDER, write_if_changed

#: Each file is plain dicts, lists and strings in marshal's format: at 10,000 cards it loads in half the
#: time of JSON and is written in a seventh. marshal's format may change between Python versions, so each
#: file starts with a header naming the version, and any other header means no store.
STORE_HEADER = f"cardsite build store 3 {sys.implementation.cache_tag} marshal {marshal.version}\n".encode()
#: Enough files that one holds about 150 of 10,000 cards, few enough that a full build reads them quickly.
SHARDS = 64


def shard_of(card_id: str) -> int:
    """Return the number of the store file that holds this card."""
    return zlib.crc32(card_id.encode()) % SHARDS


def _by_shard(cards: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Group {card id: entry} by the store file that holds each card."""
    shards: dict[int, dict[str, Any]] = {}
    for card_id, entry in cards.items():
        shards.setdefault(shard_of(card_id), {})[card_id] = entry
    return shards


def shard_path(out_dir: Path, shard: int) -> Path:
    """Return the path of one card file of the store."""
    return out_dir / STATE_FOLDER / f"cards.{shard:02d}"


def _load(path: Path) -> dict[str, Any] | None:
    """Return one store file's dict, or None when it is missing, of another version or unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(STORE_HEADER):
        return None
    try:
        value = marshal.loads(memoryview(data)[len(STORE_HEADER) :])
    except (EOFError, ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _save(path: Path, value: dict[str, Any]) -> None:
    write_if_changed(path, STORE_HEADER + marshal.dumps(value))


#: The site file this process last wrote or read, with the signature it had then: {path: (signature, site)}.
#: The preview builds into the same folder after every save, and parsing the site file of 10,000 cards
#: (2.5 MB) cost 20 ms of each build. Any other writer gives the file a new inode or ctime.
_last_site: dict[str, tuple[list[int], dict[str, Any]]] = {}


def read_site(out_dir: Path) -> dict[str, Any]:
    """Return the site file alone (code, settings, stamp, names, shared pages, shards), or {}.

    The dict may be the one this process last wrote or read: callers read it and never change it.
    """
    path = str(out_dir / STATE_FILE)
    signature, site = _last_site.get(path, ([], {}))
    if signature and signature == signature_of(path):
        return site
    site = _load(Path(path)) or {}
    _remember(path, site)
    return site


def _remember(path: str, site: dict[str, Any]) -> None:
    _last_site.clear()  # one output folder at a time: the preview's, or a test's
    if site:
        _last_site[path] = (signature_of(path), site)


def read_state(out_dir: Path) -> dict[str, Any]:
    """Return the last build's state with every card, or an empty one when any part is missing or unreadable."""
    state = dict(read_site(out_dir))
    if not state:
        return {}
    cards: dict[str, Any] = {}
    for shard in state.pop("shards", ()):
        part = _load(shard_path(out_dir, shard))
        if part is None:
            return {}
        cards.update(part)
    # What fingerprint.py compares, and the names, are kept for the next build's cheap checks alone.
    state.pop("stamp", None)
    state.pop("names", None)
    state["cards"] = cards
    return state


def read_cards(site: dict[str, Any], out_dir: Path, card_ids: Iterable[str]) -> dict[str, Any]:
    """Return the entries of these cards that the store whose site file is `site` holds."""
    ids = set(card_ids)
    cards: dict[str, Any] = {}
    for shard in {shard_of(card_id) for card_id in ids} & set(site.get("shards", ())):
        part = _load(shard_path(out_dir, shard)) or {}
        cards.update((card_id, entry) for card_id, entry in part.items() if card_id in ids)
    return cards


def write_state(out_dir: Path, state: dict[str, Any], old: dict[str, Any], stamp: dict[str, Any]) -> None:
    """Save `state` and its stamp, rewriting only the card files whose part differs from the `old` state."""
    shards, old_shards = _by_shard(state["cards"]), _by_shard(old.get("cards", {}))
    for shard, part in shards.items():
        if part != old_shards.get(shard):
            _save(shard_path(out_dir, shard), part)
    names = {card_id: entry["name"] for card_id, entry in state["cards"].items()}
    site = {key: value for key, value in state.items() if key != "cards"}
    site.update(names=names, links=card_links(state["cards"]), shards=sorted(shards))
    _save_site(out_dir, site, stamp)
    # Only then may the files it no longer names go: a listed file that is missing means no store at all.
    for shard in old_shards.keys() - shards.keys():
        shard_path(out_dir, shard).unlink(missing_ok=True)


def card_links(cards: dict[str, Any]) -> dict[str, Any]:
    """Return what ties cards to each other's pages, so a rebuild of one card knows which others show it.

    `shown_by`: {card id: the retired cards whose page names it as successor}; `aliases`: {card id:
    its former ids, whose redirect pages show its name}; `retired`: the ids the directory leaves out.
    """
    shown_by: dict[str, list[str]] = {}
    for card_id, entry in cards.items():
        if entry["meta"]["successor"]:
            shown_by.setdefault(entry["meta"]["successor"], []).append(card_id)
    aliases = {card_id: list(e["meta"]["aliases"]) for card_id, e in cards.items() if e["meta"]["aliases"]}
    retired = sorted(card_id for card_id, entry in cards.items() if not entry["meta"]["active"])
    return {"shown_by": shown_by, "aliases": aliases, "retired": retired}


def update_cards(out_dir: Path, site: dict[str, Any], entries: dict[str, Any], stamp: dict[str, Any]) -> None:
    """Replace the entries of these cards, which the store already holds, then save the site file's new stamp."""
    for shard, changed in _by_shard(entries).items():
        path = shard_path(out_dir, shard)
        _save(path, {**(_load(path) or {}), **changed})
    _save_site(out_dir, site, stamp)


def _save_site(out_dir: Path, site: dict[str, Any], stamp: dict[str, Any]) -> None:
    """Write the site file last: a build that stops before leaves the old one, whose stamp cannot match again."""
    # The site file names the card files: a build that stops halfway leaves it naming files each of which is
    # whole, and every entry in them is checked against its card's outputs anyway. The card files' own
    # signatures go into the stamp, so that one changed by hand is never trusted by the cheap checks.
    shards = {str(n): signature_of(shard_path(out_dir, n)) for n in site["shards"]}
    saved = {**site, "stamp": {**stamp, "shards": shards}}
    _save(out_dir / STATE_FILE, saved)
    _remember(str(out_dir / STATE_FILE), saved)


def all_outputs(state: dict[str, Any]) -> set[str]:
    """Return every file a build state says it wrote."""
    if "old" in state:
        return state["old"]
    rels = {rel for entry in state.get("cards", {}).values() for rel in entry.get("outputs", {})}
    return rels | set(state.get("site", {}).get("outputs", {}))


def card_names(out_dir: Path) -> dict[str, str]:
    """Return {card id: full name} of the site built in `out_dir`."""
    return dict(read_site(out_dir).get("names", {}))
