"""What the page says about the person for machines and at a glance: schema.org JSON-LD and initials."""

from __future__ import annotations

from typing import Any

from ..cards.model import Card, Name, Phone, is_cjk


def initials(name: Name) -> str:
    """Return the avatar's letters: given and family initial in the person's order; a CJK family name whole."""
    if is_cjk(name.family or name.given):
        return (name.family or name.given)[:2]
    first = [p for p in ((name.family, name.given) if name.family_first else (name.given, name.family)) if p]
    return "".join(p[0] for p in first).upper() or "?"


def profile_ld(card: Card) -> dict[str, Any]:
    """Return the card as schema.org ProfilePage JSON-LD, its mainEntity a Person with what the vCard holds."""
    person: dict[str, Any] = {"@type": "Person", "name": card.name.full}
    _add_names(person, card)
    _add_reach(person, card)
    links = [*card.websites, *(p.url for p in card.social)]
    if links:
        person["url"], person["sameAs"] = links[0], links[1:]
    if card.photo:
        person["image"] = card.url + "photo@3x.jpg"
    return {"@context": "https://schema.org", "@type": "ProfilePage", "url": card.url, "mainEntity": person}


def _add_names(person: dict[str, Any], card: Card) -> None:
    """Add the parts of the person's name and their job: the keys in this order, each only when given."""
    n = card.name
    for key, value in (
        ("givenName", n.given),
        ("additionalName", n.additional),
        ("familyName", n.family),
        ("honorificPrefix", n.prefix),
        ("honorificSuffix", n.suffix),
        ("jobTitle", card.title),
    ):
        if value:
            person[key] = value
    org: dict[str, Any] = {"@type": "Organization", "name": card.org}
    if card.department:
        org["department"] = {"@type": "Organization", "name": card.department}
    person["worksFor"] = org


def _add_reach(person: dict[str, Any], card: Card) -> None:
    """Add the e-mail addresses, the phone numbers (faxes apart) and the postal addresses."""
    if card.emails:
        person["email"] = [e.value for e in card.emails]
    if card.phones:
        _add_phones(person, card.phones)
    if card.addresses:
        person["address"] = [_postal(a) for a in card.addresses]


def _add_phones(person: dict[str, Any], phones: tuple[Phone, ...]) -> None:
    # schema.org has a property of its own for fax numbers.
    voice = [p.e164 for p in phones if p.type != "fax"]
    if voice:
        person["telephone"] = voice
    faxes = [p.e164 for p in phones if p.type == "fax"]
    if faxes:
        person["faxNumber"] = faxes


def _postal(address: Any) -> dict[str, str]:
    fields = {
        "streetAddress": address.street,
        "postalCode": address.postal_code,
        "addressLocality": address.locality,
        "addressRegion": address.region,
        "addressCountry": address.country,
    }
    return {"@type": "PostalAddress", **{k: v for k, v in fields.items() if v}}


def name_parts(name: Name) -> tuple[list[tuple[str, str]], str]:
    """Return the name's parts in the person's order, each with its h-card class, and what goes between them."""
    given = [("p-given-name", name.given), ("p-additional-name", name.additional)]
    family = [("p-family-name", name.family)]
    parts = [(cls, text) for cls, text in (family + given if name.family_first else given + family) if text]
    # As Name.ordered: CJK names run together.
    together = name.family_first and all(is_cjk(text) for _, text in parts)
    return parts, "" if together else " "
