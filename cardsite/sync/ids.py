"""Card ids for new people: from the e-mail's local part or the transliterated name, made unique."""

from __future__ import annotations

import re

from ..cards.load import RESERVED_IDS, check_id

_NOT_ID = re.compile(r"[^a-z0-9]+")
#: Room for a "-NN" suffix within the 40 characters of an id.
_STEM_MAX = 36


def slug(text: str) -> str:
    """Return `text` as id material: ASCII (Łukasz Wójcik -> lukasz-wojcik), lowercase, '-' between words."""
    from anyascii import anyascii

    ascii_text = anyascii(text).lower()
    return _NOT_ID.sub("-", ascii_text).strip("-")[:_STEM_MAX].strip("-")


def propose_id(email: str, given: str, family: str) -> str:
    """Return the preferred id of a new person: the e-mail's local part, else the name; '' when neither gives one."""
    if "@" in email:
        stem = slug(email.rsplit("@", 1)[0])
        if stem:
            return stem
    return slug(f"{given} {family}")


def unique_id(stem: str, taken: set[str]) -> str:
    """Return `stem`, or `stem-2`, `stem-3`... whichever is free and valid; record it in `taken`."""
    stem = stem or "person"
    candidate, n = stem, 1
    while candidate in taken or candidate in RESERVED_IDS or check_id(candidate):
        n += 1
        candidate = f"{stem}-{n}"
    taken.add(candidate)
    return candidate
