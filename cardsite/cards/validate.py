"""Check documents against the JSON Schemas and the rules a schema cannot express.

jsonschema is the reference and writes the messages, but it costs ~60 ms to import and
~0.2 ms a card. A validator compiled by fastjsonschema decides valid/invalid in ~0.01 ms;
only a document it rejects goes to jsonschema, whose answer then stands. The compiled
check never accepts what jsonschema rejects: tests/test_validate_fast.py proves this over
hundreds of documents and keeps the schemas to the keywords both treat alike. Every
pattern ends in `(?!\n)$`, so that neither validator lets a final newline through
(Python's `$` also matches before one). docs/performance-validation.md has figures.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import phonenumbers

from ..errors import Problem
from .load import Document, PathKey

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError as SchemaError
    from referencing import Registry

SCHEMAS = ("contact", "site")
#: The schemas' single-line rule ($defs/line), and the message for a value that breaks it.
LINE_PATTERN = "^[^\\r\\n]*(?!\\n)$"
SINGLE_LINE = "must be a single line"
#: Words people write for an allowed value that difflib cannot see as close (phone type 'mobile' is 'cell').
ENUM_SYNONYMS = {
    "mobile": "cell",
    "handy": "cell",
    "cellphone": "cell",
    "cellular": "cell",
    "office": "work",
    "business": "work",
    "private": "home",
    "personal": "home",
    "telefax": "fax",
}
#: fastjsonschema's draft-07 generator: every keyword our schemas use means the same there as in 2020-12.
FAST_DRAFT = "http://json-schema.org/draft-07/schema#"

#: How many values each memoised check keeps: more than a batch of cards holds (build/engine.py STEP_BATCH: 32
#: cards, some 300 values) besides the company's shared ones. A build's other values are each checked once, so
#: a larger cache only holds memory: 4,096 of each (these three and short_url) held 4 MB in each process.
KEPT_RESULTS = 512


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
    """Turn one jsonschema error into problems a person can act on, each at the line of its field."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        return _unknown_fields(doc, path, error)
    message = _MESSAGES[error.validator](error) if error.validator in _MESSAGES else None
    if message is None and "propertyNames" in error.relative_schema_path:
        # jsonschema reports a bad key as the pattern's error on the mapping; the key's own line is better.
        bad = str(error.instance)
        return [doc.problem((*path, bad), f"'{bad}' is not a valid name: use lowercase letters, digits and '-'")]
    if message is None and error.validator == "pattern":
        form = error.validator_value.replace("(?!\\n)$", "$")  # the end-of-text guard means nothing to a reader
        message = f"'{error.instance}' does not have the expected form ({form})"
    return [doc.problem(path, message or error.message)]


def _unknown_fields(doc: Document, path: PathKey, error: SchemaError) -> list[Problem]:
    """Report each unknown key at its own line, with the closest known field or the list of known ones."""
    known = sorted(error.schema.get("properties", {}))
    problems = []
    for key in (k for k in error.instance if k not in known):
        hint = difflib.get_close_matches(key, known, n=1)
        also = f"; did you mean '{hint[0]}'?" if hint else f"; known fields: {', '.join(known)}"
        problems.append(doc.problem((*path, key), f"unknown field '{key}'{also}"))
    return problems


def _needs_one_of(error: SchemaError) -> str | None:
    """Word an anyOf of required fields ('needs at least ...'); None for any other anyOf."""
    if not all(set(s) == {"required"} for s in error.validator_value):
        return None
    return "needs at least " + " or ".join(f"'{s['required'][0]}'" for s in error.validator_value)


def _not_allowed(error: SchemaError) -> str:
    """Word an enum error, with the allowed value the writer most likely meant."""
    allowed = ", ".join(str(v) for v in error.validator_value)
    hint = close_match(error.instance, error.validator_value)
    return f"'{error.instance}' is not one of: {allowed}" + (f"; did you mean '{hint}'?" if hint else "")


#: The message for each schema keyword cardsite words itself; None falls back to the next rule in _describe.
_MESSAGES: dict[str, Callable[[SchemaError], str | None]] = {
    "type": lambda e: _type_message(e.instance, e.validator_value),
    "required": lambda e: f"missing required field '{e.message.split(chr(39))[1]}'",
    "anyOf": _needs_one_of,
    "enum": _not_allowed,
    "pattern": lambda e: SINGLE_LINE if e.validator_value == LINE_PATTERN else None,
    "minLength": lambda e: "must not be empty" if e.validator_value == 1 else None,
    "maxLength": lambda e: f"is too long ({len(e.instance)} characters, at most {e.validator_value})",
    "maxItems": lambda e: f"has too many entries (at most {e.validator_value})",
    "maxProperties": lambda e: f"has too many entries (at most {e.validator_value})",
}


def close_match(value: Any, allowed: list[Any]) -> str | None:
    """Return the allowed value `value` was most likely meant to be, or None."""
    options = {str(v).casefold(): str(v) for v in allowed}
    text = str(value).strip().casefold()
    if text in options:
        return options[text]
    if ENUM_SYNONYMS.get(text) in options:
        return options[ENUM_SYNONYMS[text]]
    hint = difflib.get_close_matches(text, list(options), n=1)
    return options[hint[0]] if hint else None


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


@lru_cache(maxsize=KEPT_RESULTS)
def url_problem(url: str) -> str | None:
    """Return why `url` is not a web link that can be shown, followed and written into a vCard as is, or None."""
    if reason := url_characters_problem(url):
        return reason
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return f"'{url}' is not a web address: only http:// and https:// links are allowed"
    if not parts.hostname:
        return f"'{url}' is not a valid web address"
    if "@" in parts.netloc:
        return f"'{url}' has a user name or password before '@': browsers go to the host after it; remove that part"
    return host_problem(url, parts.hostname)


def url_characters_problem(url: str) -> str | None:
    """Return why `url` has a character no link may hold, or None.

    Browsers drop tabs and line breaks from a URL and read a backslash as a slash, so such a link
    would go elsewhere than its text says; a space or control character would also break the
    vCard's unescaped URI value.
    """
    if url.isprintable() and " " not in url and "\\" not in url:
        return None
    bad = next(c for c in url if not c.isprintable() or c in " \\")
    what = "a space" if bad == " " else "a backslash" if bad == "\\" else describe_character(bad)
    return f"'{url}' contains {what}; a link must not (write a space as %20)"


def host_problem(url: str, host: str) -> str | None:
    """Return why a browser would not open `url` at `host`, the host Python reads and the page shows, or None."""
    # Imported here: only cards with links need the WHATWG parser (ada, as browsers parse) or IDNA tables.
    import ada_url

    try:
        parsed = ada_url.parse_url(url, attributes=("hostname", "username", "password"))
    except ValueError:
        return f"'{url}' is not a valid web address"
    if parsed["username"] or parsed["password"]:
        return f"'{url}' has a user name or password before '@': browsers go to the host after it; remove that part"
    expected = host
    if not host.isascii():
        import idna

        # IDNA 2008 without UTS 46 mapping: a host must be written as it is shown, so fullwidth letters
        # or an ideographic full stop, which browsers map to ASCII, are refused rather than mapped.
        try:
            expected = idna.encode(host, uts46=False).decode("ascii")
            same = idna.decode(expected) == host
        except idna.IDNAError:
            same = False
        if not same:
            return f"'{url}': the host '{host}' is neither plain ASCII nor a valid international domain name"
    if ":" in expected:
        expected = f"[{expected}]"  # an IPv6 address, which WHATWG keeps in brackets
    if parsed["hostname"] != expected:
        return f"'{url}': a browser would open the host '{parsed['hostname']}', not '{host}'; write the host plainly"
    return None


#: Refused in every value: C0 controls but tab and line feed, DEL, C1 controls (NEL among them), the
#: Unicode line and paragraph separators, and the bidi embeddings, overrides and isolates that make text
#: display in another order than it is stored.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_REFUSED_MULTI_LINE = re.compile(f"[{_CONTROL}]")
_REFUSED_SINGLE_LINE = re.compile(f"[\t\n{_CONTROL}]")
#: Names of the control characters unicodedata does not name.
_CONTROL_NAMES = {0x00: "NUL", 0x09: "TAB", 0x0A: "LF", 0x0B: "VT", 0x0C: "FF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL"}
_CONTROL_NAMES |= {0x85: "NEL"}


def describe_character(char: str) -> str:
    """Name a character for a message: 'U+001B (ESC)'."""
    name = _CONTROL_NAMES.get(ord(char)) or unicodedata.name(char, "")
    return f"U+{ord(char):04X} ({name})" if name else f"U+{ord(char):04X}"


#: A field's path with None for every list index: ("addresses", None, "street").
FieldShape = tuple[str | None, ...]


def character_problems(doc: Document, multi_line: frozenset[FieldShape]) -> list[Problem]:
    """Refuse control characters in every text value of `doc`; tabs and line feeds only in `multi_line` fields."""
    problems: list[Problem] = []
    _visit(doc, multi_line, problems, doc.data, (), ())
    return problems


def _visit(
    doc: Document,
    multi_line: frozenset[FieldShape],
    problems: list[Problem],
    value: Any,
    path: PathKey,
    shape: FieldShape,
) -> None:
    # Runs on every card: one regex search a text in the common case, and the shape built as it goes. A function
    # of the module, not a closure calling itself: that closure's reference cycle kept every card's document
    # alive until the garbage collector found it, which made up most of a build's collection time.
    if isinstance(value, str):
        found = _REFUSED_SINGLE_LINE.search(value)
        many = found is not None and shape in multi_line
        if many:
            found = _REFUSED_MULTI_LINE.search(value)
        if found is None:
            return
        char = found.group()
        if char in "\r\n" and not many:
            problems.append(doc.problem(path, SINGLE_LINE))
        else:
            hint = "; only multi-line fields (note, street) take tabs" if char == "\t" else ""
            problems.append(doc.problem(path, f"contains the control character {describe_character(char)}{hint}"))
    elif isinstance(value, dict):
        for key, item in value.items():
            # A clean text, nearly every one, needs neither a call nor its path.
            if not isinstance(item, str) or _REFUSED_SINGLE_LINE.search(item):
                _visit(doc, multi_line, problems, item, (*path, key), (*shape, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str) or _REFUSED_SINGLE_LINE.search(item):
                _visit(doc, multi_line, problems, item, (*path, i), (*shape, None))


def reported_fields(problems: list[Problem]) -> set[str]:
    """Return the fields that already have a problem, so that later checks do not report them twice."""
    return {p.field for p in problems}


@lru_cache(maxsize=KEPT_RESULTS)
def email_problem(value: str) -> str | None:
    """Return why `value` is not an e-mail address, or None."""
    library = _email_validator()
    try:
        library.validate_email(value, check_deliverability=False)
    except library.EmailNotValidError as exc:
        return f"'{value}' is not a valid e-mail address: {exc}"
    return None


@cache
def _email_validator() -> Any:
    """Import email_validator (not needed by a card without addresses: ~25 ms), checking each domain once."""
    import sys

    import email_validator

    # Every address of a company shares its domain, and the domain's check (IDNA rules, one character at a
    # time) is some 70 % of validate_email's cost: a pure function of its arguments, it is kept per domain.
    # Only successes are kept (lru_cache does not keep a raised error); validate_email reads the result only.
    module = sys.modules[email_validator.validate_email.__module__]
    module.validate_email_domain_name = lru_cache(maxsize=256)(module.validate_email_domain_name)
    return email_validator


# The patterns of the metadata are few and fixed: compiled once each, rather than looked up in re's cache
# (or compiled again once they fall out of it) some fifteen times a number.
phonenumbers.enable_pattern_cache()


# Company numbers repeat on every card; a PhoneNumber is not changed by its users, so one object serves all.
@lru_cache(maxsize=KEPT_RESULTS)
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
