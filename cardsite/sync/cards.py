"""The existing cards as the planner sees them: id -> data, read with cardsite's own loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..cards.load import contact_files, read_yaml
from ..errors import Problem, ValidationError


def existing_cards(contacts_dir: Path) -> dict[str, dict[str, Any]]:
    """Return every card's data; raise ValidationError when a file cannot be read, as a sync must see them all."""
    cards: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for card_id, path, _ in contact_files(contacts_dir):
        doc, found = read_yaml(Path(path))
        problems += found
        if doc is not None and isinstance(doc.data, dict):
            cards[card_id] = doc.data
        elif doc is not None:
            problems.append(doc.problem((), "expected a mapping of fields (key: value) at the top of the file"))
    if problems:
        raise ValidationError(problems)
    return cards
