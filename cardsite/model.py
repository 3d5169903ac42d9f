"""Turn a checked contact document into a Card, the one shape every output is made from."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

import phonenumbers

from .errors import Problem
from .load import Document, check_id
from .settings import Settings, owner_address_problem
from .validate import email_problem, parse_phone, schema_problems, url_problem

#: NTAG213: 144 bytes of user memory less the URI record header and TLV wrapper.
NFC_MAX_URI_BYTES = 132

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


@dataclass(frozen=True)
class Name:
    given: str = ""
    family: str = ""
    additional: str = ""
    prefix: str = ""
    suffix: str = ""

    @property
    def full(self) -> str:
        """Return the formatted name (vCard FN): prefix given additional family, suffix."""
        main = " ".join(p for p in (self.prefix, self.given, self.additional, self.family) if p)
        return f"{main}, {self.suffix}" if self.suffix else main


@dataclass(frozen=True)
class Phone:
    e164: str
    display: str
    type: str


@dataclass(frozen=True)
class Email:
    value: str
    type: str


@dataclass(frozen=True)
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
        return "https://maps.apple.com/?q=" + quote_plus(", ".join(self.lines))


@dataclass(frozen=True)
class Profile:
    network: str
    url: str

    @property
    def label(self) -> str:
        """Return the network's display name."""
        return NETWORK_LABELS.get(self.network, self.network.capitalize())


@dataclass(frozen=True)
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
        """Return the card as plain JSON-ready data."""
        return dataclasses.asdict(self)


def make_card(card_id: str, doc: Document, settings: Settings) -> tuple[Card | None, list[Problem]]:
    """Check one contact document and build its Card; return the problems instead if any."""
    reason = check_id(card_id)
    if reason:
        return None, [Problem(doc.name, 1, "", reason)]
    # A quoted value or a YAML block scalar (`title: >`) can carry spaces or a final newline that nobody
    # means to print; stripped first, the schema's single-line rules see what will be printed.
    doc.data = _stripped(doc.data)
    problems = schema_problems(doc, "contact")
    if problems:
        return None, problems
    data = doc.data
    region = settings.phone_region

    phones = []
    for i, item in enumerate(data.get("phones", [])):
        number = parse_phone(item["value"], region)
        if number is None:
            problems.append(doc.problem(("phones", i), f"'{item['value']}' is not a valid phone number"))
            continue
        fmt = phonenumbers.PhoneNumberFormat
        phones.append(
            Phone(
                e164=phonenumbers.format_number(number, fmt.E164),
                display=phonenumbers.format_number(number, fmt.INTERNATIONAL),
                type=item.get("type", "work"),
            )
        )
    for i, item in enumerate(data.get("emails", [])):
        reason = email_problem(item["value"])
        if not reason and i == 0 and data.get("notify_owner", True) and data.get("active", True):
            reason = owner_address_problem(item["value"], settings.owner_domains)
        if reason:
            problems.append(doc.problem(("emails", i), reason))
    for i, url in enumerate(data.get("websites", [])):
        reason = url_problem(url)
        if reason:
            problems.append(doc.problem(("websites", i), reason))
    for network, url in data.get("social", {}).items():
        reason = url_problem(url)
        if reason:
            problems.append(doc.problem(("social", network), reason))

    photo, photo_digest = "", ""
    if "photo" in data:
        photo = data["photo"]
        path = (settings.contacts_dir / photo).resolve()
        if not path.is_relative_to(settings.contacts_dir.resolve()):
            problems.append(doc.problem(("photo",), f"photo '{photo}' must be a path inside the contacts folder"))
        elif reason := _photo_problem(path):
            problems.append(doc.problem(("photo",), reason))
        else:
            photo_digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if data.get("successor") == card_id:
        problems.append(doc.problem(("successor",), "a card cannot be its own successor"))
    if "successor" in data and data.get("active", True):
        problems.append(doc.problem(("successor",), "only a retired card (active: false) has a successor"))
    if card_id in data.get("aliases", []):
        problems.append(doc.problem(("aliases",), f"'{card_id}' is this card's own id, not a former one"))

    url = settings.card_url(card_id)
    after_scheme = url.split("://", 1)[1].encode()
    if len(after_scheme) > NFC_MAX_URI_BYTES:
        problems.append(
            Problem(
                doc.name,
                1,
                "",
                f"the card's URL is {len(after_scheme)} bytes after the scheme; an NTAG213 NFC tag"
                f" holds at most {NFC_MAX_URI_BYTES}: use a shorter id or base URL",
            )
        )
    if problems:
        return None, problems

    company = settings.company
    addresses = data.get("addresses") or ([company["address"]] if "address" in company else [])
    websites = data.get("websites") or ([company["website"]] if "website" in company else [])
    card = Card(
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
        photo=photo,
        photo_digest=photo_digest,
    )
    return card, []


def _stripped(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return {key: _stripped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stripped(item) for item in value]
    return value


def short_url(url: str) -> str:
    """Return a link without scheme, 'www.' or trailing slash, for display."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    return (host + parts.path).rstrip("/") or url


def _photo_problem(path: Path) -> str | None:
    from .photo import photo_problem  # Pillow is loaded only for cards that have a photo

    return photo_problem(path)
