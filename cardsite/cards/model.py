"""Turn a checked contact document into a Card, the one shape every output is made from."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

import phonenumbers

from ..errors import Problem
from .load import Document, check_id, format_path
from .settings import Settings, owner_address_problem
from .validate import (
    KEPT_RESULTS,
    character_problems,
    email_problem,
    parse_phone,
    schema_problems,
    url_problem,
)

#: NTAG213: 144 bytes of user memory less the URI record header and TLV wrapper.
NFC_MAX_URI_BYTES = 132

#: The marker each printed or issued copy of a card's URL carries, so the CDN's logs tell how a
#: page was reached (docs/print-job.md, "URL markers"). CloudFront's cache key ignores query
#: strings, so every marker serves the same cached page. Printed cards carry them for years:
#: never change or reuse a marker.
SOURCE_MARKERS = {"qr": "q", "nfc": "n", "wallet": "w"}


def source_url(url: str, source: str) -> str:
    """Return the card URL `url` as the QR code ('qr'), the NFC tag ('nfc') or a wallet pass ('wallet') carries it."""
    return f"{url}?{SOURCE_MARKERS[source]}"


#: Display labels of the social networks people ask for; any other name is shown capitalised.
NETWORK_LABELS = {
    "linkedin": "LinkedIn",
    "xing": "XING",
    "github": "GitHub",
    "gitlab": "GitLab",
    "x": "X",
    "twitter": "X",
    "mastodon": "Mastodon",
    "instagram": "Instagram",
    "facebook": "Facebook",
    "youtube": "YouTube",
    "tiktok": "TikTok",
    "bluesky": "Bluesky",
    "threads": "Threads",
}


#: Unicode name prefixes of the scripts whose names are written family name first (Chinese,
#: Japanese, Korean), and without a space between the parts.
_CJK_SCRIPTS = (
    "CJK UNIFIED IDEOGRAPH",
    "CJK COMPATIBILITY IDEOGRAPH",
    "HANGUL",
    "HIRAGANA",
    "KATAKANA",
    "HALFWIDTH KATAKANA",
)

FAMILY_FIRST, GIVEN_FIRST = "family-first", "given-first"


def is_cjk(text: str) -> bool:
    """Return whether the first letter of `text` is Han, Hangul or Kana."""
    for char in text:
        if char.isalpha():
            return unicodedata.name(char, "").startswith(_CJK_SCRIPTS)
    return False


@dataclass(frozen=True)
class Name:
    # Pages show the name up to eight times, so the formatted forms are kept (in __dict__, not in fields).
    given: str = ""
    family: str = ""
    additional: str = ""
    prefix: str = ""
    suffix: str = ""
    #: FAMILY_FIRST, GIVEN_FIRST, or "" to follow the script of the name.
    order: str = ""

    @property
    def family_first(self) -> bool:
        """Return whether the person writes the family name first."""
        if self.order:
            return self.order == FAMILY_FIRST
        # The script decides only for CJK: Hungarian and Vietnamese names are Latin and need the setting.
        return is_cjk(self.family) or is_cjk(self.given)

    def ordered(self, additional: bool = True) -> str:
        """Return the given, additional and family names in the person's own order."""
        extra = self.additional if additional else ""
        if not self.family_first:
            return " ".join(p for p in (self.given, extra, self.family) if p)
        parts = [p for p in (self.family, self.given, extra) if p]
        # 김민수, 张伟, 田中由紀: CJK names run together, as Android's contacts app writes them.
        return ("" if all(is_cjk(p) for p in parts) else " ").join(parts)

    @cached_property
    def full(self) -> str:
        """Return the name as pages and mails show it: prefix, the names in order, then ", suffix"."""
        main = " ".join(p for p in (self.prefix, self.ordered()) if p)
        return f"{main}, {self.suffix}" if self.suffix else main

    @cached_property
    def fn(self) -> str:
        """Return the vCard FN: as `full`, but with no comma before the suffix.

        An escaped comma (`\\,`) is correct, but some readers show the backslash; a space reads the same
        everywhere, and the suffix keeps its own slot in N.
        """
        return " ".join(p for p in (self.prefix, self.ordered(), self.suffix) if p)

    @property
    def short(self) -> str:
        """Return given and family name in the person's order, for subject lines and greetings."""
        return self.ordered(additional=False)

    @cached_property
    def dir(self) -> str:
        """Return the HTML direction of the name: "rtl" for Arabic or Hebrew, "ltr", or "auto" if unclear."""
        for char in self.ordered():
            kind = unicodedata.bidirectional(char)
            if kind in ("R", "AL"):
                return "rtl"
            if kind == "L":
                return "ltr"
        return "auto"


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    display: str
    type: str


@dataclass(frozen=True, slots=True)
class Email:
    value: str
    type: str


@dataclass(frozen=True, slots=True)
class Address:
    street: str = ""
    locality: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    type: str = "work"

    @property
    def lines(self) -> list[str]:
        """Return the address as display lines."""
        city = " ".join(p for p in (self.postal_code, self.locality) if p)
        return [p for p in (*self.street.splitlines(), city, self.region, self.country) if p]

    @property
    def maps_url(self) -> str:
        """Return a link that opens the address in the phone's maps app."""
        return _maps_link(", ".join(self.lines))


@functools.lru_cache(maxsize=1024)
def _maps_link(address: str) -> str:
    # A company's cards share a few office addresses, and a page links each one twice.
    return "https://maps.apple.com/?q=" + quote_plus(address)


@dataclass(frozen=True, slots=True)
class Profile:
    network: str
    url: str

    @property
    def label(self) -> str:
        """Return the network's display name."""
        return NETWORK_LABELS.get(self.network, self.network.capitalize())


@dataclass(frozen=True, slots=True)
class Card:
    """Everything printable about one person, normalised and checked."""

    id: str
    url: str
    source: str
    name: Name
    org: str
    department: str
    title: str
    emails: tuple[Email, ...]
    phones: tuple[Phone, ...]
    addresses: tuple[Address, ...]
    websites: tuple[str, ...]
    social: tuple[Profile, ...]
    note: str
    lang: str
    active: bool = True
    successor: str = ""
    aliases: tuple[str, ...] = ()
    notify_owner: bool = True
    photo: str = ""
    photo_digest: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the card as plain JSON-ready data: tuples as lists, nested records as dicts."""
        return _plain(self)


#: The types of a card's leaf values, returned as they are.
_LEAVES = frozenset({str, bool, int, float, type(None)})


def _plain(value: Any) -> Any:
    # dataclasses.asdict deep-copies every leaf, a tenth of a millisecond a card; the leaves here are immutable.
    if type(value) in _LEAVES:  # most values: asked first
        return value
    names = _field_names(type(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


@functools.cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """Return the field names of a dataclass, or None for any other type: asked once per type, not per value."""
    return tuple(f.name for f in dataclasses.fields(kind)) if dataclasses.is_dataclass(kind) else None


#: The fields that hold web links: a list of websites and a mapping of social profiles.
LINK_FIELDS = ("websites", "social")

#: The fields that may hold several lines (and tabs); every other text is a single line.
MULTI_LINE_FIELDS = frozenset({("note",), ("addresses", None, "street")})


def make_card(card_id: str, doc: Document, settings: Settings) -> tuple[Card | None, list[Problem]]:
    """Check one contact document and build its Card; return every problem instead if any."""
    reason = check_id(card_id)
    problems = [Problem(doc.name, 1, "", reason)] if reason else []
    # A quoted value or a YAML block scalar (`title: >`) can carry spaces or a final newline that nobody
    # means to print; stripped first, the schema's single-line rules see what will be printed.
    doc.data = _stripped(doc.data)
    problems += schema_problems(doc, "contact")
    if not isinstance(doc.data, dict):
        return None, problems
    # A schema mistake (a typo such as `emial:`) must not hide the other fields' problems, so every check
    # runs on whatever has the right type, and skips a field that has a problem already.
    problems += character_problems(doc, MULTI_LINE_FIELDS)
    phones, found = _phones(doc, settings.phone_region, {p.field for p in problems})
    problems += found + _email_problems(doc, settings, {p.field for p in problems})
    problems += _link_problems(doc, {p.field for p in problems})
    photo, photo_digest, found = _photo_check(doc, settings, {p.field for p in problems})
    url = settings.card_url(card_id)
    problems += found + _relation_problems(card_id, doc) + _nfc_problems(doc, url)
    if problems:
        # The character check and the schema both say "must be a single line"; once is enough.
        return None, sorted(set(problems))
    return _card(card_id, url, doc, settings, phones, (photo, photo_digest)), []


def check_ahead(docs: list[Document], settings: Settings) -> None:
    """Check the phone numbers, then the e-mail addresses, then the links of several documents, each kind for all.

    The checks keep their results (they are memoised), so make_card finds them; doing one kind of check after
    another keeps its library's code in the processor's caches (docs/performance.md, "Step by step").
    """
    data = [doc.data for doc in docs if isinstance(doc.data, dict)]
    # Stripped as make_card strips them, so that it asks for the same values.
    for value in (v.strip() for d in data for _, v in _texts(d, "phones", "value")):
        parse_phone(value, settings.phone_region)
    for value in (v.strip() for d in data for _, v in _texts(d, "emails", "value")):
        email_problem(value)
    for value in (v.strip() for d in data for key in LINK_FIELDS for _, v in _texts(d, key)):
        url_problem(value)


def _card(
    card_id: str, url: str, doc: Document, settings: Settings, phones: list[Phone], photo: tuple[str, str]
) -> Card:
    """Build the Card of a document that passed every check, filling in the company's defaults."""
    data, company = doc.data, settings.company
    addresses = data.get("addresses") or ([company["address"]] if "address" in company else [])
    websites = data.get("websites") or ([company["website"]] if "website" in company else [])
    return Card(
        id=card_id,
        url=url,
        source=doc.name,
        name=Name(**data["name"]),
        org=data.get("org", company["name"]),
        department=data.get("department", ""),
        title=data.get("title", ""),
        emails=tuple(Email(e["value"], e.get("type", "work")) for e in data.get("emails", [])),
        phones=tuple(phones),
        addresses=tuple(Address(**a) for a in addresses),
        websites=tuple(websites),
        social=tuple(Profile(n, u) for n, u in data.get("social", {}).items()),
        note=data.get("note", "").strip(),
        lang=data.get("lang", settings.default_language),
        active=data.get("active", True),
        successor=data.get("successor", ""),
        aliases=tuple(data.get("aliases", ())),
        notify_owner=data.get("notify_owner", True),
        photo=photo[0],
        photo_digest=photo[1],
    )


def _nfc_problems(doc: Document, url: str) -> list[Problem]:
    """Refuse a card whose URL, as the NFC tag carries it (with its marker), does not fit an NTAG213 tag."""
    after_scheme = source_url(url, "nfc").split("://", 1)[1].encode()
    if len(after_scheme) <= NFC_MAX_URI_BYTES:
        return []
    return [
        Problem(
            doc.name,
            1,
            "",
            f"the card's URL on its NFC tag ({source_url(url, 'nfc')}) is {len(after_scheme)} bytes after the"
            f" scheme; an NTAG213 NFC tag holds at most {NFC_MAX_URI_BYTES}: use a shorter id or base URL",
        )
    ]


def _texts(data: dict[str, Any], key: str, inner: str = "") -> list[tuple[str | int, str]]:
    """Return (index or name, text) of the entries of list or mapping `key` whose value (or `inner`) is text."""
    entries = data.get(key)
    pairs = enumerate(entries) if isinstance(entries, list) else entries.items() if isinstance(entries, dict) else ()
    found = []
    for index, item in pairs:
        value = item.get(inner) if inner and isinstance(item, dict) else None if inner else item
        if isinstance(value, str):
            found.append((index, value))
    return found


def _reported(reported: set[str], path: tuple[str | int, ...]) -> bool:
    """Return whether the field at `path` has a problem already (`reported`: their formatted paths)."""
    # Most cards have no problem at all: then no path is formatted.
    return bool(reported) and format_path(path) in reported


def _phones(doc: Document, region: str, reported: set[str]) -> tuple[list[Phone], list[Problem]]:
    """Parse the phone numbers (national ones in `region`); return the phones and the problems found."""
    phones, problems, fmt = [], [], phonenumbers.PhoneNumberFormat
    for i, value in _texts(doc.data, "phones", "value"):
        if _reported(reported, ("phones", i, "value")):
            continue
        number = parse_phone(value, region)
        if number is None:
            problems.append(doc.problem(("phones", i), f"'{value}' is not a valid phone number"))
            continue
        phones.append(
            Phone(
                e164=phonenumbers.format_number(number, fmt.E164),
                display=phonenumbers.format_number(number, fmt.INTERNATIONAL),
                type=doc.data["phones"][i].get("type", "work"),
            )
        )
    return phones, problems


def _email_problems(doc: Document, settings: Settings, reported: set[str]) -> list[Problem]:
    """Check the e-mail addresses; the first one of a notified card must be in an owner domain."""
    data, problems = doc.data, []
    # Owner notices go to the first address, through the company's SES identity: only to its domains.
    notified = data.get("notify_owner", True) is not False and data.get("active", True) is not False
    for i, value in _texts(data, "emails", "value"):
        if _reported(reported, ("emails", i, "value")):
            continue
        reason = email_problem(value)
        if not reason and i == 0 and notified:
            reason = owner_address_problem(value, settings.owner_domains)
        if reason:
            problems.append(doc.problem(("emails", i), reason))
    return problems


def _link_problems(doc: Document, reported: set[str]) -> list[Problem]:
    """Check the websites and social profile links."""
    return [
        doc.problem((key, index), reason)
        for key in LINK_FIELDS
        for index, url in _texts(doc.data, key)
        if not _reported(reported, (key, index)) and (reason := url_problem(url))
    ]


def _photo_check(doc: Document, settings: Settings, reported: set[str]) -> tuple[str, str, list[Problem]]:
    """Check the photo; return its path, the digest of its bytes and the problems found."""
    photo = doc.data.get("photo")
    if not isinstance(photo, str) or "photo" in reported:
        return "", "", []
    path = (settings.contacts_dir / photo).resolve()
    if not path.is_relative_to(settings.contacts_dir.resolve()):
        return "", "", [doc.problem(("photo",), f"photo '{photo}' must be a path inside the contacts folder")]
    if reason := _photo_problem(path):
        return "", "", [doc.problem(("photo",), reason)]
    return photo, hashlib.sha256(path.read_bytes()).hexdigest(), []


def _relation_problems(card_id: str, doc: Document) -> list[Problem]:
    """Check the successor and aliases against the card's own id and status."""
    data, problems = doc.data, []
    if data.get("successor") == card_id:
        problems.append(doc.problem(("successor",), "a card cannot be its own successor"))
    if "successor" in data and data.get("active", True) is not False:
        problems.append(doc.problem(("successor",), "only a retired card (active: false) has a successor"))
    aliases = data.get("aliases")
    if isinstance(aliases, list) and card_id in aliases:
        problems.append(doc.problem(("aliases",), f"'{card_id}' is this card's own id, not a former one"))
    return problems


def _stripped(value: Any) -> Any:
    # Texts, most of a card's values, are stripped in place of a call each.
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return {key: item.strip() if isinstance(item, str) else _stripped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [item.strip() if isinstance(item, str) else _stripped(item) for item in value]
    return value


@functools.lru_cache(maxsize=KEPT_RESULTS)
def short_url(url: str) -> str:
    """Return a link without scheme, 'www.' or trailing slash, for display."""
    parts = urlsplit(url)
    host = _shown_host(parts.hostname or "").removeprefix("www.")
    return (host + parts.path).rstrip("/") or url


#: Scripts that one name legitimately mixes (Japanese writes kanji, hiragana and katakana together).
_SCRIPT_GROUPS = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "CJK": "CJK"}


def _shown_host(host: str) -> str:
    """Return the host as link text: its ASCII form when a label mixes scripts, as browsers do for spoofs."""
    # 'lіnkedin.com' with a Cyrillic 'і' is valid IDNA; written out in Unicode it reads as LinkedIn.
    if host.isascii():
        return host  # one script, Latin
    for label in host.split("."):
        scripts = {unicodedata.name(c, "?").split()[0] for c in label if c.isalpha()}
        if len({_SCRIPT_GROUPS.get(s, s) for s in scripts}) > 1:
            import idna

            return idna.encode(host).decode("ascii")
    return host


def _photo_problem(path: Path) -> str | None:
    from .photo import photo_problem  # Pillow is loaded only for cards that have a photo

    return photo_problem(path)
