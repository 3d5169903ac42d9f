"""Apply planned changes to card files: round-trip YAML, checked by cardsite's own validator first.

An update loads the file with ruamel.yaml's round-trip mode and sets only the changed fields, so
comments, key order, quoting and every field the person owns stay as they were; a file whose text
comes out the same is not written. Every new text goes through the same checks as `check` (read_yaml
and make_card from cardsite.cards) before anything is written, and a card those refuse is reported
and left as it is.
"""

from __future__ import annotations

import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import progress
from ..build.output import write_if_changed
from ..cards.load import _MAYBE_ANCHOR, Document, Loader, read_yaml
from ..cards.model import make_card
from ..cards.settings import Settings
from ..errors import display_path
from .plan import Change
from .plan import Path as FieldPath

HEADER = "# yaml-language-server: $schema=../cardsite/schema/contact.schema.json\n"
#: The order of a new card's keys: the README's.
KEY_ORDER = (
    "name",
    "org",
    "department",
    "title",
    "emails",
    "phones",
    "addresses",
    "websites",
    "note",
    "lang",
    "notify_owner",
    "sync_id",
)


@dataclass
class Outcome:
    """What applying a plan did (or, in a dry run, would do)."""

    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # card id -> (old text, new text)
    applied: list[Change] = field(default_factory=list)
    refused: list[tuple[Change, list[str]]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    def diff(self) -> str:
        """Return every change as a unified diff of the card files."""
        out = []
        for card_id, (old, new) in sorted(self.texts.items()):
            name = f"contacts/{card_id}.yaml"
            a, b = (f"a/{name}", f"b/{name}") if old else ("/dev/null", f"b/{name}")
            out += difflib.unified_diff(old.splitlines(True), new.splitlines(True), a, b)
        return "".join(out)


def _yaml() -> Any:
    from ruamel.yaml import YAML

    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096  # never re-wrap a person's long line
    rt.indent(mapping=2, sequence=4, offset=2)  # the README's layout
    return rt


class _Quoted(str):
    """A value written in double quotes: numbers people type (phones, postal codes) stay text, as the README asks."""


#: libyaml's emitter when PyYAML has it: a first sync writes thousands of cards.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _CardDumper(_Dumper):  # type: ignore[misc,valid-type]
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a card holds no anchors (check refuses them), even where two values are one object


_CardDumper.add_representer(_Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style='"'))
_QUOTED_KEYS = frozenset({"value", "postal_code"})


def _quote_numbers(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _quote_numbers(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_quote_numbers(v, key) for v in value]
    if isinstance(value, str) and key in _QUOTED_KEYS and value[:1] in "+0123456789(":
        return _Quoted(value)
    return value


def new_text(data: dict[str, Any]) -> str:
    """Return the YAML text of a new card: the schema comment, then its fields in the README's order."""
    ordered = {k: data[k] for k in KEY_ORDER if k in data} | {k: v for k, v in data.items() if k not in KEY_ORDER}
    body = yaml.dump(_quote_numbers(ordered), Dumper=_CardDumper, allow_unicode=True, sort_keys=False, width=4096)
    return HEADER + _indent_sequences(body)


def _indent_sequences(body: str) -> str:
    """Indent each top-level list under its key, as the README writes cards and later round trips keep them.

    libyaml writes a list flush with its key (`emails:` then `- value: ...`); shifting every line of
    that block by two spaces keeps the YAML's meaning, block scalars inside it included.
    """
    out, inside = [], False
    for line in body.splitlines(True):
        if line.startswith("-"):
            inside = True
        elif line.strip() and not line.startswith(" "):
            inside = False
        out.append("  " + line if inside and line.strip() else line)
    return "".join(out)


def _for_ruamel(value: Any, key: str = "") -> Any:
    """Return `value` with every string PyYAML would read as something else (no, 1:20, +41...) in quotes."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, dict):
        return {k: _for_ruamel(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_for_ruamel(v, key) for v in value]
    if isinstance(value, str) and (isinstance(_quote_numbers(value, key), _Quoted) or _misread(value)):
        return DoubleQuotedScalarString(value)
    return value


def _misread(text: str) -> bool:
    # cardsite reads cards with PyYAML (YAML 1.1), ruamel writes YAML 1.2: `no` or `1:20` differ between them.
    try:
        return yaml.safe_load(text) != text
    except yaml.YAMLError:
        return True


def updated_text(text: str, values: dict[FieldPath, Any]) -> str:
    """Return `text` with each path set to its value (None removes it), everything else kept."""
    rt = _yaml()
    doc = rt.load(text)
    for path, value in values.items():
        node = doc
        for part in path[:-1]:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = _for_ruamel(value, path[-1])
    out = io.StringIO()
    rt.dump(doc, out)
    return out.getvalue()


def gate(card_id: str, path: Path, text: str, settings: Settings) -> list[str]:
    """Return what `check` would say of `text` as the card `card_id`; empty when it would pass.

    libyaml parses first, as the build's cache does for speed; only a text that make_card refuses
    is read again with line numbers, and that answer stands.
    """
    data = text.encode("utf-8")
    if not _MAYBE_ANCHOR.search(text):
        fast = Document(path, display_path(path), yaml.load(data, Loader=Loader), "")
        if make_card(card_id, fast, settings)[0] is not None:
            return []
    doc, problems = read_yaml(path, data)
    if doc is not None:
        _, problems = make_card(card_id, doc, settings)
    return [p.format() for p in problems]


def apply(changes: list[Change], settings: Settings, dry_run: bool = False) -> Outcome:
    """Turn changes into new card texts, check each one, then write those that pass (unless `dry_run`)."""
    outcome = Outcome()
    due = [change for change in changes if change.kind in ("create", "update", "retire")]
    # Every text is checked before any is written: an interrupted sync has written nothing.
    stop = "checked {done:,} of {total:,} cards; nothing was written, run sync again"
    with progress.step("Checking", len(due), "cards", interrupted=stop) as bar:
        for change in due:
            _check_one(change, settings, outcome)
            bar.advance()
    if not dry_run:
        for card_id, (_, new) in sorted(outcome.texts.items()):
            path = settings.contacts_dir / f"{card_id}.yaml"
            if write_if_changed(path, new.encode("utf-8")):
                outcome.written.append(path)
    return outcome


def _check_one(change: Change, settings: Settings, outcome: Outcome) -> None:
    """Make one card's new text and check it; note it in `outcome` as due to be written, or refused."""
    path = settings.contacts_dir / f"{change.card_id}.yaml"
    if change.kind == "create":
        old = ""
        if path.exists():  # never overwrite: the planner saw no card there, so someone made one since
            outcome.refused.append((change, [f"{path.name} appeared meanwhile; not overwritten"]))
            return
        new = new_text(change.data)
    else:
        old = path.read_text("utf-8")
        new = updated_text(old, change.values)
    if new == old:
        return
    problems = gate(change.card_id, path, new, settings)
    if problems:
        outcome.refused.append((change, problems))
        return
    outcome.texts[change.card_id] = (old, new)
    outcome.applied.append(change)
