"""Keep the build state: what the last build read and wrote, card by card, in the output folder."""

from __future__ import annotations

import marshal
import sys
from pathlib import Path
from typing import Any

from .output import STATE_FILE, write_if_changed

#: The state is a cache of plain dicts, lists and strings in marshal's format: at 10,000 cards it loads in
#: half the time of JSON and is written in a seventh, which a one-card rebuild feels. marshal's format may
#: change between Python versions, so the header names the version, and any other header means no state.
STATE_HEADER = f"cardsite build state 1 {sys.implementation.cache_tag} marshal {marshal.version}\n".encode()


def read_state(out_dir: Path) -> dict[str, Any]:
    """Return the last build's state as written, or an empty one when it is missing or unreadable."""
    try:
        data = (out_dir / STATE_FILE).read_bytes()
    except OSError:
        return {}
    if not data.startswith(STATE_HEADER):
        return {}
    try:
        state = marshal.loads(memoryview(data)[len(STATE_HEADER) :])
    except (EOFError, ValueError, TypeError):
        return {}
    return state if isinstance(state, dict) else {}


def write_state(out_dir: Path, state: dict[str, Any]) -> None:
    """Replace the build state atomically."""
    write_if_changed(out_dir / STATE_FILE, STATE_HEADER + marshal.dumps(state))


def all_outputs(state: dict[str, Any]) -> set[str]:
    """Return every file a build state says it wrote."""
    if "old" in state:
        return state["old"]
    rels = {rel for entry in state.get("cards", {}).values() for rel in entry.get("outputs", {})}
    return rels | set(state.get("site", {}).get("outputs", {}))


def card_names(out_dir: Path) -> dict[str, str]:
    """Return {card id: full name} of the site built in `out_dir`."""
    return {card_id: entry["name"] for card_id, entry in read_state(out_dir).get("cards", {}).items()}
