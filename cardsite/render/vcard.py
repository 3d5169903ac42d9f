"""Write a Card as a vCard 3.0, the version iOS, Android and Outlook all import.

The text is written directly, line by line, as vobject would serialise the same contact:
building vobject's objects cost a quarter of a cold build. tests/test_vcard.py holds the
vobject-built version as its oracle and checks the bytes are equal, and reads every vCard back
with vobject.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import quote

from ..cards.model import Card

MAX_LINE_OCTETS = 75

_TEL_TYPES = {
    "work": ["WORK", "VOICE"],
    "cell": ["CELL", "VOICE"],
    "home": ["HOME", "VOICE"],
    "fax": ["WORK", "FAX"],
}

#: Whitespace (line breaks included) and control characters: raw in a uri value, they would end the line.
_UNSAFE_IN_URI = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
#: What RFC 2426 escapes in a text value, and how (a line break of any kind becomes \n).
_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n", "\r": "\\n"})


def card_uid(card: Card) -> str:
    """Return a UID that stays the same for a card URL across builds and machines."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, card.url)}"


def render_vcard(card: Card, photo: bytes | None = None) -> bytes:
    """Return the card as vCard 3.0 bytes: UTF-8, CRLF, folded at 75 octets.

    `photo` is the JPEG to embed, as render/photo.py's vcard_jpeg() makes it from the card's photo.
    """
    props = _properties(card, photo)
    # vobject's order: VERSION and UID first, then the rest by property name, each in the order added.
    lines = ["BEGIN:VCARD", "VERSION:3.0", *props.pop("UID")]
    lines += [line for name in sorted(props) for line in props[name]]
    lines.append("END:VCARD")
    return _fold(lines)


def _properties(card: Card, photo: bytes | None) -> dict[str, list[str]]:
    """Return the content lines of the card by property name, in the order vobject would have them added."""
    props: dict[str, list[str]] = {}

    def add(name: str, value: str, **params: list[str]) -> None:
        # vobject writes parameters sorted by name, values joined by commas.
        rendered = "".join(f";{key}={_param_values(tuple(params[key]))}" for key in sorted(params))
        props.setdefault(name, []).append(f"{name}{rendered}:{value}")

    _add_identity(add, card)
    _add_reach(add, card)
    if card.note:
        add("NOTE", _text(card.note))
    if photo:
        # Apple Contacts shows a photo only in this 3.0 form: ENCODING=b;TYPE=JPEG.
        add("PHOTO", base64.b64encode(photo).decode("ascii"), ENCODING=["b"], TYPE=["JPEG"])
    add("UID", _text(card_uid(card)))
    return props


def _add_identity(add: Callable[..., None], card: Card) -> None:
    """Add who the person is: name, organisation and title."""
    n = card.name
    add("N", _fields(n.family, n.given, n.additional, n.prefix, n.suffix))
    add("FN", _text(n.fn))
    add("ORG", _fields(card.org, card.department) if card.department else _fields(card.org))
    if card.title:
        add("TITLE", _text(card.title))


def _add_reach(add: Callable[..., None], card: Card) -> None:
    """Add how to reach the person: phones and e-mail addresses (the first of each preferred), addresses, links."""
    for i, phone in enumerate(card.phones):
        add("TEL", _text(phone.e164), TYPE=_TEL_TYPES[phone.type] + (["PREF"] if i == 0 else []))
    for i, email in enumerate(card.emails):
        add("EMAIL", _text(email.value), TYPE=["INTERNET", email.type.upper()] + (["PREF"] if i == 0 else []))
    for a in card.addresses:
        add("ADR", _fields("", "", a.street, a.locality, a.region, a.postal_code, a.country), TYPE=[a.type.upper()])
    for website in card.websites:
        add("URL", _uri(website))
    for profile in card.social:
        # X-SOCIALPROFILE is Apple's; other apps drop it, so each profile is also a URL.
        add("X-SOCIALPROFILE", _uri(profile.url), TYPE=[profile.network])
        add("URL", _uri(profile.url))


def _text(value: str) -> str:
    return value.replace("\r\n", "\n").translate(_TEXT_ESCAPES)


def _fields(*values: str) -> str:
    """Return a structured value (N, ADR, ORG): each part escaped as text, joined by semicolons."""
    return ";".join(map(_text, values))


def _uri(value: str) -> str:
    """Return a `uri` value (URL, X-SOCIALPROFILE) as it is.

    RFC 2426 escapes only text values; ical.js, sabre/vobject and vcf keep the backslashes of an
    escaped URL in the link. The link checks refuse whitespace and control characters; should one
    get through, it is percent-encoded, as a browser would, so it can never end the line and start
    a property of its own.
    """
    return _UNSAFE_IN_URI.sub(lambda m: quote(m.group()), value)


@lru_cache(maxsize=1024)
def _param_values(values: tuple[str, ...]) -> str:
    """Return a parameter's values joined by commas, as vobject writes them: the same few on every card."""
    return ",".join(map(_param, values))


def _param(value: str) -> str:
    if '"' in value:
        raise ValueError(f"a double quote cannot be written in a vCard parameter: {value!r}")
    return f'"{value}"' if any(char in value for char in ",;:") else value


def _fold(lines: list[str]) -> bytes:
    """Join content lines with CRLF, folding each at 75 octets without splitting a UTF-8 character."""
    out: list[bytes] = []
    for line in lines:
        data = line.encode("utf-8")
        while len(data) > MAX_LINE_OCTETS:
            cut = MAX_LINE_OCTETS
            while data[cut] & 0xC0 == 0x80:  # never cut before a UTF-8 continuation byte
                cut -= 1
            out.append(data[:cut])
            data = b" " + data[cut:]
        out.append(data)
    return b"\r\n".join(out) + b"\r\n"
