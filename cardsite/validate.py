"""Check documents against the JSON Schemas and the rules a schema cannot express.

jsonschema is the reference and writes the messages, but it costs ~60 ms to import and
~0.2 ms a card. A validator compiled by fastjsonschema decides valid/invalid in ~0.01 ms;
only a document it rejects goes to jsonschema, whose answer then stands. The compiled
check may reject more than jsonschema (its `$` does not match before a final newline),
never less: tests/test_validate_fast.py proves this over hundreds of documents and keeps
the schemas to the keywords both treat alike. docs/performance-validation.md has figures.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import phonenumbers

from .errors import Problem
from .load import Document

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError as SchemaError
    from referencing import Registry

SCHEMAS = ("contact", "site")
#: fastjsonschema's draft-07 generator: every keyword our schemas use means the same there as in 2020-12.
FAST_DRAFT = "http://json-schema.org/draft-07/schema#"


@cache
def _schema(name: str) -> dict[str, Any]:
    text = resources.files("cardsite.schema").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def _schema_by_uri(uri: str) -> dict[str, Any]:
    """Return a bundled schema by its $id; cardsite never fetches a schema."""
    for name in SCHEMAS:
        if _schema(name)["$id"] == uri:
            return _schema(name)
    raise LookupError(f"{uri} is not one of cardsite's schemas")


@cache
def _registry() -> Registry:
    from referencing import Registry, Resource

    resources_ = []
    for name in SCHEMAS:
        schema = _schema(name)
        resources_.append((f"{name}.schema.json", Resource.from_contents(schema)))
        resources_.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources_)


@cache
def validator(name: str) -> Draft202012Validator:
    """Return the validator of the schema `name` ('contact' or 'site')."""
    from jsonschema import Draft202012Validator

    schema = _registry().contents(f"{name}.schema.json")
    return Draft202012Validator(schema, registry=_registry())


@cache
def _fast_validator(name: str) -> Callable[[Any], Any]:
    import fastjsonschema

    # use_default=False, or the compiled code would write the schema's defaults into the card's data.
    schema = {**_schema(name), "$schema": FAST_DRAFT}
    return fastjsonschema.compile(
        schema,
        handlers={"https": _schema_by_uri, "http": _schema_by_uri},
        use_default=False,
        use_formats=False,
        detailed_exceptions=False,
    )


def fast_valid(data: Any, name: str) -> bool:
    """Return whether the compiled validator of schema `name` accepts `data`."""
    try:
        _fast_validator(name)(data)
    except Exception:
        # fastjsonschema reports "invalid" by raising; it may also trip (TypeError) over data it was not
        # written for, e.g. a YAML !!set in a uniqueItems list. Either way jsonschema decides.
        return False
    return True


def schema_problems(doc: Document, name: str) -> list[Problem]:
    """Validate `doc` against schema `name`; return one Problem per mistake."""
    if not isinstance(doc.data, dict):
        return [doc.problem((), "expected a mapping of fields (key: value) at the top of the file")]
    if fast_valid(doc.data, name):
        return []
    problems = []
    for error in validator(name).iter_errors(doc.data):
        problems.extend(_describe(doc, error))
    return problems


def _describe(doc: Document, error: SchemaError) -> list[Problem]:
    path = tuple(error.absolute_path)
    kind = error.validator
    value = error.instance
    if kind == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = [k for k in value if k not in known]
        problems = []
        for key in extra:
            hint = difflib.get_close_matches(key, known, n=1)
            also = f"; did you mean '{hint[0]}'?" if hint else f"; known fields: {', '.join(known)}"
            problems.append(doc.problem((*path, key), f"unknown field '{key}'{also}"))
        return problems
    if kind == "type":
        return [doc.problem(path, _type_message(value, error.validator_value))]
    if kind == "required":
        missing = error.message.split("'")[1]
        return [doc.problem(path, f"missing required field '{missing}'")]
    if kind == "anyOf" and all(set(s) == {"required"} for s in error.validator_value):
        options = " or ".join(f"'{s['required'][0]}'" for s in error.validator_value)
        return [doc.problem(path, f"needs at least {options}")]
    if kind == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return [doc.problem(path, f"'{value}' is not one of: {allowed}")]
    if kind == "pattern" and error.validator_value == "^[^\\r\\n]*$":
        return [doc.problem(path, "must be a single line")]
    if kind == "minLength" and error.validator_value == 1:
        return [doc.problem(path, "must not be empty")]
    if kind == "maxLength":
        return [doc.problem(path, f"is too long ({len(value)} characters, at most {error.validator_value})")]
    if kind in ("maxItems", "maxProperties"):
        return [doc.problem(path, f"has too many entries (at most {error.validator_value})")]
    if kind == "propertyNames":
        bad = error.message.split("'")[1] if "'" in error.message else str(value)
        return [doc.problem((*path, bad), f"'{bad}' is not a valid name: use lowercase letters, digits and '-'")]
    if kind == "pattern":
        return [doc.problem(path, f"'{value}' does not have the expected form ({error.validator_value})")]
    return [doc.problem(path, error.message)]


_TYPE_NAMES = {
    "string": "text",
    "object": "a mapping (key: value)",
    "array": "a list",
    "boolean": "true or false",
}


def _type_message(value: Any, expected: str | list[str]) -> str:
    want = _TYPE_NAMES.get(expected, expected) if isinstance(expected, str) else " or ".join(expected)
    if value is None:
        return f"is empty; expected {want}"
    if expected == "string" and isinstance(value, bool | int | float):
        # YAML reads 8001, 044 or +41... as numbers and yes/no as booleans; quotes keep the text.
        return f"expected text, got {value!r}; put the value in quotes"
    got = {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(type(value), type(value).__name__)
    return f"expected {want}, got {got}"


def url_problem(url: str) -> str | None:
    """Return why `url` is not an acceptable web link, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        return f"'{url}' is not a web address: only http:// and https:// links are allowed"
    if not parts.hostname or any(c.isspace() for c in url.strip()) or url != url.strip():
        return f"'{url}' is not a valid web address"
    return None


def email_problem(value: str) -> str | None:
    """Return why `value` is not an e-mail address, or None."""
    # Imported here: checking a card without e-mail addresses need not load it (~25 ms).
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"'{value}' is not a valid e-mail address: {exc}"
    return None


def parse_phone(value: str, region: str) -> phonenumbers.PhoneNumber | None:
    """Parse `value` as a valid phone number, or return None."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def phone_problem(value: str, region: str) -> str | None:
    """Return why `value` is not a valid phone number, or None."""
    if parse_phone(value, region) is None:
        return f"'{value}' is not a valid phone number"
    return None
