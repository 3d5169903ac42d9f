"""Which column or directory attribute fills which card field, and the card data a record makes."""

from __future__ import annotations

import re
from typing import Any

from .records import FIELDS

#: Header and attribute names, folded by `fold`, that mean a card field without any configuration:
#: common English and German spreadsheet headers, and the attributes of LDAP/AD, SCIM, Graph and Google.
DEFAULT_NAMES: dict[str, str] = {
    **dict.fromkeys(["firstname", "givenname", "first", "given", "vorname", "rufname"], "given"),
    **dict.fromkeys(
        ["lastname", "surname", "familyname", "family", "last", "sn", "nachname", "familienname", "name2"], "family"
    ),
    **dict.fromkeys(["middlename", "additionalname", "additional", "zweitname", "weiterevornamen"], "additional"),
    **dict.fromkeys(["prefix", "honorificprefix", "titel", "akademischertitel", "nametitle"], "prefix"),
    **dict.fromkeys(["suffix", "honorificsuffix", "namenszusatz"], "suffix"),
    **dict.fromkeys(["name", "fullname", "displayname", "cn", "vollername", "anzeigename"], "fullname"),
    **dict.fromkeys(
        ["company", "organization", "organisation", "org", "o", "companyname", "firma", "unternehmen"], "org"
    ),
    **dict.fromkeys(["department", "dept", "departmentnumber", "ou", "abteilung", "bereich"], "department"),
    **dict.fromkeys(
        ["title", "jobtitle", "position", "role", "funktion", "berufsbezeichnung", "stellenbezeichnung"], "title"
    ),
    **dict.fromkeys(
        [
            "email",
            "mail",
            "emailaddress",
            "workemail",
            "primaryemail",
            "emailadresse",
            "emailgeschaftlich",
        ],
        "email",
    ),
    **dict.fromkeys(
        [
            "phone",
            "telephone",
            "telephonenumber",
            "businessphone",
            "businessphones",
            "workphone",
            "officephone",
            "telefon",
            "telefongeschaftlich",
            "telefonnummer",
            "festnetz",
        ],
        "phone",
    ),
    **dict.fromkeys(
        ["mobile", "mobilephone", "cell", "cellphone", "mobil", "mobiltelefon", "handy", "mobilnummer"], "mobile"
    ),
    **dict.fromkeys(["fax", "facsimiletelephonenumber", "faxnumber", "telefax", "faxnummer"], "fax"),
    **dict.fromkeys(["street", "streetaddress", "address", "strasse", "adresse", "anschrift"], "street"),
    **dict.fromkeys(["postalcode", "zip", "zipcode", "postcode", "plz", "postleitzahl"], "postal_code"),
    **dict.fromkeys(["city", "locality", "l", "town", "ort", "stadt", "wohnort"], "locality"),
    **dict.fromkeys(["state", "region", "st", "province", "kanton", "bundesland"], "region"),
    **dict.fromkeys(["country", "c", "co", "land", "staat"], "country"),
    **dict.fromkeys(["website", "webpage", "url", "homepage", "webseite", "internetseite"], "website"),
    **dict.fromkeys(["note", "notes", "notiz", "notizen", "bemerkung", "bemerkungen"], "note"),
    **dict.fromkeys(["language", "lang", "preferredlanguage", "sprache"], "lang"),
    **dict.fromkeys(["id", "cardid", "cardsiteid"], "id"),
}
#: `fullname` is split into given and family names when neither is mapped.
MAPPABLE = frozenset(FIELDS) | {"fullname", "ignore"}
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})


def fold(name: str) -> str:
    """Fold a header for matching: 'E-Mail-Adresse', 'e_mail adresse' and 'EmailAdresse' are one name."""
    return re.sub(r"[^a-z0-9]", "", name.strip().lower().translate(_FOLD))


def field_of(name: str, mapping: dict[str, str]) -> str | None:
    """Return the card field a column or attribute fills: the mapping's, else the default's, else None."""
    for key, target in mapping.items():
        if key == name or fold(key) == fold(name):
            return None if target == "ignore" else target
    return DEFAULT_NAMES.get(fold(name))


def map_values(raw: dict[str, Any], mapping: dict[str, str]) -> dict[str, list[str]]:
    """Return the card fields of one row or entry: {field: [values...]}, empty values left out."""
    out: dict[str, list[str]] = {}
    for name, value in raw.items():
        target = field_of(name, mapping)
        if target is None:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = "" if item is None else str(item).strip()
            if text and text not in out.get(target, []):
                out.setdefault(target, []).append(text)
    return out


_NAME_PARTS = ("prefix", "given", "additional", "family", "suffix")
_ADDRESS = ("street", "postal_code", "locality", "region", "country")
_PHONE_TYPES = (("phone", None), ("mobile", "cell"), ("fax", "fax"))


def card_data(values: dict[str, list[str]]) -> dict[str, Any]:
    """Return the card fields (top-level keys of a contact file) that a record's values make."""
    first = {k: v[0] for k, v in values.items() if v}
    return {**_identity(first), **_contacts(values, first), **_about(first)}


def _identity(first: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    name = _name(first)
    if name:
        data["name"] = name
    return data | {key: first[key] for key in ("org", "department", "title") if key in first}


def _name(first: dict[str, str]) -> dict[str, str]:
    name = {part: first[part] for part in _NAME_PARTS if part in first}
    # A full name alone fills the name: its last word is the family name.
    if "given" not in name and "family" not in name and "fullname" in first:
        given, _, family = first["fullname"].rpartition(" ")
        name |= {"given": given, "family": family} if given else {"family": family}
    return name


def _contacts(values: dict[str, list[str]], first: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if values.get("email"):
        data["emails"] = [{"value": v} for v in values["email"]]
    phones = _phones(values)
    if phones:
        data["phones"] = phones
    address = {key: first[key] for key in _ADDRESS if key in first}
    # The schema wants a street or a locality in every address: a postal code or country alone makes none.
    if "street" in address or "locality" in address:
        data["addresses"] = [address]
    if values.get("website"):
        data["websites"] = list(values["website"])
    return data


def _phones(values: dict[str, list[str]]) -> list[dict[str, str]]:
    return [{"value": v} | ({"type": t} if t else {}) for key, t in _PHONE_TYPES for v in values.get(key, [])]


def _about(first: dict[str, str]) -> dict[str, str]:
    data = {}
    if "note" in first:
        data["note"] = first["note"]
    if "lang" in first:
        # A directory's language is a tag (de-CH, en_US); a card's is the language alone.
        data["lang"] = first["lang"].lower().replace("_", "-").split("-")[0]
    return data
