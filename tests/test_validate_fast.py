"""The compiled fast path never accepts a document jsonschema rejects, and changes no message."""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cardsite.cards.load import Document, read_yaml
from cardsite.cards.validate import SCHEMAS, _describe, _schema, fast_valid, schema_problems, validator

ROOT = Path(__file__).resolve().parent.parent

#: Keywords that fastjsonschema's draft-07 generator and jsonschema's 2020-12 validator treat alike for the
#: data YAML produces. A schema edit that uses any other keyword (prefixItems, unevaluatedProperties,
#: dependentRequired, $dynamicRef, ...) must first be checked and added here, or the fast path could accept
#: what jsonschema rejects: fastjsonschema ignores keywords it does not know.
SAME_IN_BOTH = {
    "type", "properties", "additionalProperties", "required", "enum", "pattern", "minLength", "maxLength",
    "minItems", "maxItems", "maxProperties", "items", "propertyNames", "anyOf", "uniqueItems", "$ref",
}  # fmt: skip
ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default"}

#: Wrong (and some right) values put in place of every field: types, lengths at and past each limit, empty,
#: multi-line, and the odd types YAML makes (dates, bytes, sets).
VALUES: list[Any] = [
    None, 0, 42, 1.5, True, False, "", " ", "x", "x" * 200, "x" * 201, "x" * 1000, "x" * 1001, "a\nb", "a\rb",
    "a\n", "\n", [], ["x"], [None], [{}], {}, {"x": "y"}, {"value": "a@example.ch"}, datetime.date(2024, 1, 2),
    b"bytes", {"a", "b"}, "work", "cell", "mobile", "de", "EN", "jmueller", "Jmueller", "-x", "a" * 40, "a" * 41,
    "photos/a.jpg", "../a.jpg", "a.gif", "https://example.ch", "#0b5cad", "#0b5cadd", "CH", "ch", "M", "Ünïcødé",
]  # fmt: skip
EXTRA_KEYS = ["extra", "emial", "Name", "", "1", "a b", "a" * 31, "x-y"]


def _walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))


def _set(data: Any, path: tuple, value: Any) -> Any:
    copied = copy.deepcopy(data)
    *parents, last = path
    target = copied
    for part in parents:
        target = target[part]
    target[last] = value
    return copied


def _delete(data: Any, path: tuple) -> Any:
    copied = copy.deepcopy(data)
    *parents, last = path
    target = copied
    for part in parents:
        target = target[part]
    del target[last]
    return copied


def mutations(base: dict[str, Any]) -> Iterator[Any]:
    """Yield `base` and hundreds of variants of it, most of them invalid."""
    yield base
    for path, node in list(_walk(base)):
        if path:
            for value in VALUES:
                yield _set(base, path, value)
            yield _delete(base, path)
        if isinstance(node, dict):
            for key in EXTRA_KEYS:
                yield _set(base, (*path, key), "https://example.ch") if path else {**base, key: "x"}
            if node:
                yield _set(base, path, {}) if path else {}
        if isinstance(node, list) and node:
            for count in (5, 6, 10, 11, 12, 13, 50, 51):
                yield _set(base, path, [copy.deepcopy(node[0]) for _ in range(count)])
                yield _set(base, path, [f"{node[0]}{i}" if isinstance(node[0], str) else node[0] for i in range(count)])
            yield _set(base, path, [*node, copy.deepcopy(node[0])])


def _full_contact() -> dict[str, Any]:
    doc, _ = read_yaml(ROOT / "contacts" / "jana-mueller.yaml")
    full = copy.deepcopy(doc.data)
    full.update(active=False, successor="max", notify_owner=False)
    full["addresses"].append({"locality": "Bern", "type": "home"})
    return full


def _full_site() -> dict[str, Any]:
    doc, _ = read_yaml(ROOT / "site.yaml")
    full = copy.deepcopy(doc.data)
    full.update(directory=True)
    full["notify"] = {
        "sender": "Example Cards <cards@example.ch>",
        "print_inbox": ["print@example.ch", "print2@example.ch"],
        "configuration_set": "cardsite",
        "reply_to": "people@example.ch",
    }
    return full


#: Schema-level cases of tests/test_check.py and some more.
HAND_WRITTEN = {
    "contact": [
        "- a\n- b\n",
        "name:\n  given: 42\n",
        "title: CEO\n",
        "name:\n  prefix: Dr.\n",
        "name: {given: A}\nphones:\n  - {value: '+41446681800', type: mobile}\n",
        "name: {given: A}\nsocial:\n  github: ftp://github.com/a\n",
        'name: {given: "A\\nB"}\n',
        "name:\n  given: A\nemial: a@example.ch\n",
        "name:\n  given: Jana\nphones:\n  - value: '+41 44 12'\n",
        "name: {given: A}\naliases: [a, a]\n",
        "name: {given: A}\naliases: [!!set {a}]\n",
        "name: {given: A}\naliases: !!set {a}\n",
        "name: {given: A}\nnote: !!binary aGVsbG8=\n",
        "name: {given: A}\nsocial: {1: https://x.ch}\n",
        "name: {given: 2024-01-02}\n",
        "name: {given: yes}\n",
        "name: {given: ~}\n",
        "name: {family: B}\nlang: DE\n",
        "name: {family: B}\naddresses: [{type: home}]\n",
        "name: {family: B}\naddresses:\n  - street: |\n      Line 1\n      Line 2\n",
        "name: {family: B}\nphoto: photos/x.JPEG\n",
        "name: {family: B}\nphoto: photos/x.jpeg\n",
        "name: {family: B}\nphoto: /etc/x.jpg\n",
    ],
    "site": [
        "base_url: https://x.ch\n",
        "company: {name: X}\n",
        "base_url: https://x.ch\ncompany: {name: X, address: {street: S, bogus: 1}}\n",
        "base_url: https://x.ch\ncompany: {name: X}\ndefault_language: es\n",
        "base_url: https://x.ch\ncompany: {name: X}\nnotify: {print_inbox: []}\n",
        "base_url: https://x.ch\ncompany: {name: X}\nnotify: {print_inbox: ['a@x.ch, b@x.ch']}\n",
        "base_url: https://x.ch\ncompany: {name: X}\nbrand_color: '#0b5cad\n'\n",
    ],
}


def corpus(name: str) -> list[Any]:
    """Return every document both validators are compared on for schema `name`."""
    docs: list[Any] = []
    if name == "contact":
        for path in sorted((ROOT / "contacts").glob("*.yaml")):
            doc, _ = read_yaml(path)
            docs.append(doc.data)
        docs.extend(mutations(_full_contact()))
        docs.extend(mutations({"name": {"family": "Meier"}}))
    else:
        docs.extend(mutations(_full_site()))
    for text in HAND_WRITTEN[name]:
        doc, problems = read_yaml(Path("hand.yaml"), text.encode())
        assert doc is not None, problems
        docs.append(doc.data)
    return docs


def _reference_problems(doc: Document, name: str) -> list:
    """Return the problems jsonschema alone finds, as schema_problems did before the fast path."""
    if not isinstance(doc.data, dict):
        return schema_problems(doc, name)
    return [p for error in validator(name).iter_errors(doc.data) for p in _describe(doc, error)]


def _ends_a_string_with_newline(data: Any) -> bool:
    return any(isinstance(node, str) and node.endswith("\n") for _, node in _walk(data))


@pytest.mark.parametrize("name", SCHEMAS)
def test_fast_path_never_accepts_what_jsonschema_rejects(name: str) -> None:
    docs = corpus(name)
    verdicts = [(fast_valid(data, name), validator(name).is_valid(data)) for data in docs]
    # The corpus must exercise both answers, or agreement would prove nothing.
    assert len(docs) >= 800
    assert sum(js for _, js in verdicts) >= 100
    assert sum(not js for _, js in verdicts) >= 500

    unsafe = [data for data, (fast, js) in zip(docs, verdicts, strict=True) if fast and not js]
    assert unsafe == []
    # Once the one difference the other way round: jsonschema's `$` also matched before a final newline,
    # fastjsonschema's (compiled to \Z) did not. With (?!\n)$ the two agree on those documents too.
    stricter = [data for data, (fast, js) in zip(docs, verdicts, strict=True) if js and not fast]
    assert stricter == []
    assert any(_ends_a_string_with_newline(data) for data in docs)


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_problems_are_jsonschemas_problems(name: str) -> None:
    for i, data in enumerate(corpus(name)):
        doc = Document(Path("x.yaml"), "x.yaml", data, "", {(): 1})
        assert schema_problems(doc, name) == _reference_problems(doc, name), data
        assert (schema_problems(doc, name) == []) == validator(name).is_valid(data), i


def test_a_value_ending_in_a_newline_is_refused_by_both_validators() -> None:
    # Python's `$` also matches before a final newline, so jsonschema used to let "Jana\n" through the
    # single-line pattern (and "max\n" through the id pattern); every pattern now ends in (?!\n)$.
    doc, _ = read_yaml(Path("x.yaml"), b"name:\n  given: |\n    Jana\n")
    assert doc.data == {"name": {"given": "Jana\n"}}
    assert not fast_valid(doc.data, "contact")
    assert not validator("contact").is_valid(doc.data)
    assert [p.message for p in schema_problems(doc, "contact")] == ["must be a single line"]


def test_invalid_documents_keep_the_friendly_messages() -> None:
    doc, _ = read_yaml(Path("contacts/a.yaml"), b"name:\n  given: 42\nemial: a@example.ch\naliases: [!!set {a}]\n")
    messages = {(p.field, p.message) for p in schema_problems(doc, "contact")}
    assert ("name.given", "expected text, got 42; put the value in quotes") in messages
    assert ("emial", "unknown field 'emial'; did you mean 'emails'?") in messages
    assert any(field == "aliases[0]" for field, _ in messages)


def test_the_fast_path_leaves_the_data_alone() -> None:
    # fastjsonschema fills in defaults unless told not to; the card would then differ from its file.
    data = {"name": {"given": "A"}, "emails": [{"value": "a@example.ch"}], "addresses": [{"locality": "Bern"}]}
    before = copy.deepcopy(data)
    assert fast_valid(data, "contact")
    assert data == before


def test_yaml_makes_lists_and_dicts_only() -> None:
    # fastjsonschema takes a tuple for an array, jsonschema does not: the loader must never produce one (or a set).
    doc, _ = read_yaml(Path("x.yaml"), b"name: {given: A}\naliases: !!python/tuple [a]\nsocial: !!set {a}\n")
    assert doc is not None
    assert type(doc.data["aliases"]) is list and type(doc.data["social"]) is dict


@pytest.mark.parametrize("name", SCHEMAS)
def test_schemas_use_only_keywords_both_validators_share(name: str) -> None:
    def keywords(schema: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
        for key, value in schema.items():
            yield key, value, schema
            subschemas: list[Any] = []
            if key in ("properties", "$defs"):
                subschemas = list(value.values())
            elif key == "anyOf":
                subschemas = value
            elif key in ("items", "additionalProperties", "propertyNames"):
                subschemas = [value]
            for sub in subschemas:
                if isinstance(sub, dict):
                    yield from keywords(sub)

    for key, value, schema in keywords(_schema(name)):
        assert key in SAME_IN_BOTH | ANNOTATIONS, f"{name}: '{key}' is not checked to mean the same in both"
        if key == "items":
            assert isinstance(value, dict), "items as a list means prefixItems in 2020-12, not in draft-07"
        if key == "$ref":
            # Draft-07 ignores a $ref's siblings; 2020-12 applies them.
            assert set(schema) - {"$ref"} <= ANNOTATIONS, schema
        if key == "pattern":
            assert "$" not in value.rstrip("$"), "only a final $ is compiled the same way (as \\Z)"
            assert value.startswith("^") and value.endswith("(?!\\n)$"), f"{value} must be a full match"


def test_a_valid_build_loads_neither_jsonschema_nor_the_email_library_early() -> None:
    code = """
import sys
from pathlib import Path
import cardsite.cards.validate
assert "email_validator" not in sys.modules
from cardsite.cards.settings import load_settings
from cardsite.build.engine import check
check(load_settings(Path("contacts")))
print(json.dumps(sorted(m for m in ("jsonschema", "referencing", "email_validator") if m in sys.modules)))
"""
    run = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    # The sample cards and site.yaml have e-mail addresses, so that library is needed; jsonschema is not.
    assert json.loads(run.stdout) == ["email_validator"]
