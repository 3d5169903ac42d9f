"""Read YAML files into plain data, remembering the line of every value."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, display_path

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: The tag of plain text, which construct_yaml_str turns into the node's own value.
_STR_TAG = "tag:yaml.org,2002:str"
#: SafeLoader's implicit resolvers by a plain scalar's first character, the wildcard ones appended once.
_WILDCARD = tuple(_SafeLoader.yaml_implicit_resolvers.get(None, ()))
_IMPLICIT = {first: (*resolvers, *_WILDCARD) for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()}


class Loader(_SafeLoader):
    """SafeLoader, resolving a scalar's tag by a table made once."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        # libyaml asks for the tag of every node, 80 a card, and BaseResolver.resolve builds the list of
        # resolvers to try anew each time: with the table, read_yaml fell from 0.31 to 0.21 ms a card. Without
        # path resolvers (SafeLoader has none), a scalar's tag is the first implicit resolver that matches a
        # plain one, or text; tests/test_hostile_input.py checks every kind against PyYAML's own.
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        if implicit[0]:
            for tag, regexp in _IMPLICIT.get(value[:1], _WILDCARD):
                if regexp.match(value):
                    return tag
        return _STR_TAG


#: The one rule for a card id; used with fullmatch, as `$` would also match before a final newline.
ID_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
#: Card ids that would collide with the site's own folders.
RESERVED_IDS = frozenset({"assets"})
CONTACT_SUFFIXES = (".yaml", ".yml")
#: A card is a few hundred bytes; a cap keeps a hostile file from costing the build its memory.
MAX_FILE_BYTES = 256 * 1024
#: A card nests three levels (phones[0].value); deeper data is a mistake or an attack.
MAX_DEPTH = 20

PathKey = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed YAML file with the line of every value in it."""

    path: Path
    name: str
    data: Any
    digest: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int:
        """Return the line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: PathKey, message: str) -> Problem:
        """Make a Problem pointing at `path` in this file."""
        return Problem(self.name, self.line_of(path), format_path(path), message)


def format_path(path: PathKey) -> str:
    """Format ('phones', 1, 'value') as 'phones[1].value'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_yaml(path: Path, data: bytes | None = None) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML file; return the document or the problems that stop it."""
    name = display_path(path)
    if data is None:
        data = read_file(path)
    if len(data) > MAX_FILE_BYTES:
        return None, [
            Problem(name, 1, "", f"file is larger than {MAX_FILE_BYTES // 1024} KiB, the most cardsite reads")
        ]
    text, problems = _text(name, data)
    if text is None:
        return None, problems
    doc = Document(path, name, None, hashlib.sha256(data).hexdigest())
    problems = _parse(doc, text)
    return (None, problems) if problems else (doc, [])


def read_file(path: Path | str) -> bytes:
    """Return the bytes of a file to parse, at most one more than MAX_FILE_BYTES: enough to refuse it."""
    with open(path, "rb") as f:
        return f.read(MAX_FILE_BYTES + 1)


def _text(name: str, data: bytes) -> tuple[str | None, list[Problem]]:
    """Decode a file's bytes; return its text, or None and why it cannot be a card."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Problem(name, line, "", "file is not UTF-8 text; save it as UTF-8")]
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        return None, [Problem(name, 1, "", "file is empty")]
    return text, []


def _parse(doc: Document, text: str) -> list[Problem]:
    """Build `doc.data` from YAML text, refusing anchors; return the problems that stop it."""
    name = doc.name
    loader = Loader(text)
    try:
        problems = _anchor_problems(name, text) if _MAYBE_ANCHOR.search(text) else []
        if problems:
            return problems
        node = loader.get_single_node()
        doc.data = _construct(loader, node, (), doc, problems)
    except yaml.MarkedYAMLError as exc:
        return [_yaml_problem(name, exc)]
    except yaml.YAMLError as exc:
        return [Problem(name, 1, "", f"invalid YAML: {exc}")]
    except _TooDeep as exc:
        return [Problem(name, exc.line, "", f"the data is nested more than {MAX_DEPTH} levels deep")]
    except RecursionError:
        # Only the pure-Python loader gets here (libyaml stops at 1000 levels), or a deeply nested key.
        return [Problem(name, 1, "", f"the data is nested more than {MAX_DEPTH} levels deep")]
    finally:
        loader.dispose()
    return problems


def _yaml_problem(name: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    reason = exc.problem or str(exc)
    if exc.context:
        reason = f"{exc.context}, {reason}"
    return Problem(name, line, "", f"invalid YAML: {reason}")


#: Where an anchor (&a) or alias (*a) could start: a node begins after whitespace, a flow indicator or ':',
#: and a name follows at once. Text such as "R&D" or "Finanzen & Controlling" does not match, so cards
#: skip the token scan that decides.
_MAYBE_ANCHOR = re.compile(r"(?<![^\s\[{,:])[&*][^\s\[\]{},]")
#: Report at most this many anchors and aliases of one file: one is enough to refuse it.
MAX_ANCHOR_PROBLEMS = 10


def _anchor_problems(name: str, text: str) -> list[Problem]:
    """Refuse YAML anchors and aliases: a card has no use for them, and nested aliases are a memory bomb."""
    scanner = Loader(text)
    problems: list[Problem] = []
    try:
        while len(problems) < MAX_ANCHOR_PROBLEMS and scanner.check_token():
            token = scanner.get_token()
            if isinstance(token, yaml.AnchorToken | yaml.AliasToken):
                what = "anchor" if isinstance(token, yaml.AnchorToken) else "alias"
                sign = "&" if what == "anchor" else "*"
                message = f"YAML {what} '{sign}{token.value}' is not allowed: write the value out in full"
                problem = Problem(name, token.start_mark.line + 1, "", message)
                if problem not in problems:
                    problems.append(problem)
    finally:
        scanner.dispose()
    return problems


class _TooDeep(Exception):
    def __init__(self, line: int):
        self.line = line


def _construct(loader: Any, node: yaml.Node, path: PathKey, doc: Document, problems: list[Problem]) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        if len(path) >= MAX_DEPTH:
            raise _TooDeep(node.start_mark.line + 1)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                # PyYAML keeps the last of two equal keys; silently losing one is worse.
                line = key_node.start_mark.line + 1
                problems.append(Problem(doc.name, line, format_path((*path, key)), "duplicate key"))
                continue
            result[key] = _construct(loader, value_node, (*path, key), doc, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        if len(path) >= MAX_DEPTH:
            raise _TooDeep(node.start_mark.line + 1)
        return [_construct(loader, item, (*path, i), doc, problems) for i, item in enumerate(node.value)]
    return _scalar(loader, node)


def _scalar(loader: Any, node: yaml.Node) -> Any:
    """Construct a scalar (or a complex key) by its resolved tag's constructor, as construct_object would."""
    if not isinstance(node, yaml.ScalarNode):
        return loader.construct_object(node, deep=True)
    if node.tag == _STR_TAG:
        return node.value  # nearly every key and value of a card: two constructor calls saved on each
    # Straight to the constructor: construct_object's bookkeeping is for anchors and recursion, refused here.
    constructor = loader.yaml_constructors.get(node.tag)
    return constructor(loader, node) if constructor else loader.construct_object(node, deep=True)


def contact_files(contacts_dir: Path) -> Iterator[tuple[str, str, os.stat_result]]:
    """Yield (card id, path, stat) of the card files of `contacts_dir`, sorted by file name."""
    # Plain strings and scandir: at 10,000 cards, Path objects cost more than the work itself.
    with os.scandir(contacts_dir) as it:
        entries = sorted((e.name, e) for e in it if e.name.endswith(CONTACT_SUFFIXES) and e.is_file())
    for name, entry in entries:
        yield name.rpartition(".")[0], entry.path, entry.stat()


def check_id(card_id: str) -> str | None:
    """Return why `card_id` is not a usable card id, or None when it is."""
    if card_id in RESERVED_IDS:
        return f"the id '{card_id}' is reserved for the site's own files; rename the file"
    if not ID_PATTERN.fullmatch(card_id):
        return (
            f"'{card_id}' is not a valid card id: use 1 to 40 lowercase letters a-z, digits and '-',"
            " starting and ending with a letter or digit (rename the file)"
        )
    return None
