"""Keep the build state: what the last build read and wrote, card by card, in the output folder.

The state is a folder: one small file for the whole site (cardsite's code hash, the
settings hash, the shared pages) and the cards spread over SHARDS files by a hash of
their id. A full build reads every file; a rebuild of one card reads and rewrites
only its shard, so its cost does not grow with the number of cards.
"""

from __future__ import annotations

import marshal
import sys
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .output import STATE_FILE, STATE_FOLDER, write_if_changed

#: Each file is plain dicts, lists and strings in marshal's format: at 10,000 cards it loads in half the
#: time of JSON and is written in a seventh. marshal's format may change between Python versions, so each
#: file starts with a header naming the version, and any other header means no state.
STATE_HEADER = f"cardsite build state 2 {sys.implementation.cache_tag} marshal {marshal.version}\n".encode()
#: Enough files that one holds about 150 of 10,000 cards, few enough that a full build reads them quickly.
SHARDS = 64


def shard_of(card_id: str) -> int:
    """Return the number of the state file that holds this card."""
    return zlib.crc32(card_id.encode()) % SHARDS


def _by_shard(cards: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Group {card id: entry} by the state file that holds each card."""
    shards: dict[int, dict[str, Any]] = {}
    for card_id, entry in cards.items():
        shards.setdefault(shard_of(card_id), {})[card_id] = entry
    return shards


def _shard_path(out_dir: Path, shard: int) -> Path:
    return out_dir / STATE_FOLDER / f"cards.{shard:02d}"


def _load(path: Path) -> dict[str, Any] | None:
    """Return one state file's dict, or None when it is missing or unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(STATE_HEADER):
        return None
    try:
        value = marshal.loads(memoryview(data)[len(STATE_HEADER) :])
    except (EOFError, ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _save(path: Path, value: dict[str, Any]) -> None:
    write_if_changed(path, STATE_HEADER + marshal.dumps(value))


def read_state(out_dir: Path) -> dict[str, Any]:
    """Return the last build's state, or an empty one when any part of it is missing or unreadable."""
    state = _load(out_dir / STATE_FILE)
    if state is None:
        return {}
    cards: dict[str, Any] = {}
    for shard in state.pop("shards", ()):
        part = _load(_shard_path(out_dir, shard))
        if part is None:
            return {}
        cards.update(part)
    state["cards"] = cards
    return state


def read_cards(out_dir: Path, card_ids: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the last build's site state (without cards) and the state of these cards that it holds."""
    site = _load(out_dir / STATE_FILE)
    if site is None:
        return {}, {}
    ids = set(card_ids)
    cards: dict[str, Any] = {}
    for shard in {shard_of(card_id) for card_id in ids} & set(site.pop("shards", ())):
        part = _load(_shard_path(out_dir, shard)) or {}
        cards.update((card_id, entry) for card_id, entry in part.items() if card_id in ids)
    return site, cards


def write_state(out_dir: Path, state: dict[str, Any], old: dict[str, Any]) -> None:
    """Save `state`, rewriting only the files whose part differs from the `old` state read before the build."""
    shards, old_shards = _by_shard(state["cards"]), _by_shard(old.get("cards", {}))
    for shard, part in shards.items():
        if part != old_shards.get(shard):
            _save(_shard_path(out_dir, shard), part)
    # The site file names the card files, and is written last: a build that stops halfway leaves it naming
    # files each of which is whole, and every entry in them is checked against its card's outputs anyway.
    site = {key: value for key, value in state.items() if key != "cards"}
    _save(out_dir / STATE_FILE, {**site, "shards": sorted(shards)})
    # Only then may the files it no longer names go: a listed file that is missing means no state at all.
    for shard in old_shards.keys() - shards.keys():
        _shard_path(out_dir, shard).unlink(missing_ok=True)


def update_cards(out_dir: Path, entries: dict[str, Any]) -> None:
    """Replace the state of these cards, which the last build already holds, leaving every other card's."""
    for shard, changed in _by_shard(entries).items():
        path = _shard_path(out_dir, shard)
        _save(path, {**(_load(path) or {}), **changed})


def all_outputs(state: dict[str, Any]) -> set[str]:
    """Return every file a build state says it wrote."""
    if "old" in state:
        return state["old"]
    rels = {rel for entry in state.get("cards", {}).values() for rel in entry.get("outputs", {})}
    return rels | set(state.get("site", {}).get("outputs", {}))


def card_names(out_dir: Path) -> dict[str, str]:
    """Return {card id: full name} of the site built in `out_dir`."""
    return {card_id: entry["name"] for card_id, entry in read_state(out_dir).get("cards", {}).items()}
