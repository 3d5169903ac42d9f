"""The existing cards as the planner sees them: id -> data, read with cardsite's own loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..cards.load import _MAYBE_ANCHOR, MAX_FILE_BYTES, Loader, contact_files, read_yaml
from ..errors import Problem, ValidationError


def existing_cards(contacts_dir: Path) -> dict[str, dict[str, Any]]:
    """Return every card's data; raise ValidationError when a file cannot be read, as a sync must see them all."""
    cards: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for card_id, path, st in contact_files(contacts_dir):
        if data := _quick(path, st.st_size):
            cards[card_id] = data
            continue
        doc, found = read_yaml(Path(path))
        problems += found
        if doc is not None and isinstance(doc.data, dict):
            cards[card_id] = doc.data
        elif doc is not None:
            problems.append(doc.problem((), "expected a mapping of fields (key: value) at the top of the file"))
    if problems:
        raise ValidationError(problems)
    return cards


def _quick(path: str, size: int) -> dict[str, Any] | None:
    """Return a plain card's data parsed by libyaml alone; None sends the file to read_yaml and its checks."""
    # read_yaml keeps every value's line, which costs more than the parse: a sync needs only the data.
    if size > MAX_FILE_BYTES:
        return None
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
        if _MAYBE_ANCHOR.search(text):
            return None
        data = yaml.load(text, Loader=Loader)
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None
