"""The oracle for cardsite/render/vcard.py: the same vCard, built with vobject's objects and serialised by vobject.

This was cardsite's renderer until the build wrote the text directly (issue 17); the tests check
that both give the same bytes for every card they have.
"""

from __future__ import annotations

from urllib.parse import quote

import vobject
from vobject.behavior import Behavior

from cardsite.cards.model import Card

# The type table and the unsafe-character rule are data, not serialisation: the oracle shares them.
from cardsite.render.vcard import _TEL_TYPES, _UNSAFE_IN_URI, MAX_LINE_OCTETS, card_uid


class _Uri(Behavior):
    """A `uri` value (URL, X-SOCIALPROFILE): written as it is.

    RFC 2426 escapes only text values; ical.js, sabre/vobject and vcf keep the backslashes
    of an escaped URL in the link. vobject treats every unknown property as text, hence this.
    """

    @classmethod
    def encode(cls, line: vobject.base.ContentLine) -> None:
        # The link checks refuse these characters; should one get through, it is percent-encoded, as a
        # browser would, so it can never end the line and start a property of its own.
        line.value = _UNSAFE_IN_URI.sub(lambda m: quote(m.group()), line.value)
        line.encoded = True

    @classmethod
    def decode(cls, line: vobject.base.ContentLine) -> None:
        line.encoded = False


def render_vcard(card: Card, photo: bytes | None = None) -> bytes:
    """Return the card as vobject serialises it, refolded at 75 octets."""
    return refold(vcard_object(card, photo).serialize()).encode("utf-8")


def vcard_object(card: Card, photo: bytes | None = None) -> vobject.base.Component:
    """Return the card as a vobject vCard 3.0 component."""
    v = vobject.vCard()
    n = card.name
    v.add("n").value = vobject.vcard.Name(
        family=n.family, given=n.given, additional=n.additional, prefix=n.prefix, suffix=n.suffix
    )
    v.add("fn").value = n.fn
    v.add("org").value = [card.org, card.department] if card.department else [card.org]
    if card.title:
        v.add("title").value = card.title
    _add_reachable(v, card)
    for website in card.websites:
        _add_uri(v, "url", website)
    for profile in card.social:
        # X-SOCIALPROFILE is Apple's; other apps drop it, so each profile is also a URL.
        _add_uri(v, "x-socialprofile", profile.url).type_param = profile.network
        _add_uri(v, "url", profile.url)
    if card.note:
        v.add("note").value = card.note
    if photo:
        _add_photo(v, photo)
    v.add("uid").value = card_uid(card)
    return v


def _add_reachable(v: vobject.base.Component, card: Card) -> None:
    """Add the phones and e-mail addresses (the first of each preferred) and the postal addresses."""
    for i, phone in enumerate(card.phones):
        tel = v.add("tel")
        tel.value = phone.e164
        tel.type_param = _TEL_TYPES[phone.type] + (["PREF"] if i == 0 else [])
    for i, email in enumerate(card.emails):
        line = v.add("email")
        line.value = email.value
        line.type_param = ["INTERNET", email.type.upper()] + (["PREF"] if i == 0 else [])
    for address in card.addresses:
        adr = v.add("adr")
        adr.value = vobject.vcard.Address(
            street=address.street,
            city=address.locality,
            region=address.region,
            code=address.postal_code,
            country=address.country,
        )
        adr.type_param = [address.type.upper()]


def _add_photo(v: vobject.base.Component, photo: bytes) -> None:
    # Apple Contacts shows a photo only in this 3.0 form: ENCODING=b;TYPE=JPEG.
    line = v.add("photo")
    line.value = photo
    line.encoding_param = "b"
    line.type_param = "JPEG"


def _add_uri(v: vobject.base.Component, name: str, uri: str) -> vobject.base.ContentLine:
    line = v.add(name)
    line.value, line.behavior = uri, _Uri
    return line


def refold(text: str) -> str:
    """Fold every content line at 75 octets without splitting a UTF-8 character.

    vobject decides whether to fold by counting characters, so a short line of
    umlauts can leave it longer than 75 octets; unfold and fold again by bytes.
    """
    out: list[bytes] = []
    for line in text.replace("\r\n ", "").split("\r\n"):
        data = line.encode("utf-8")
        width = MAX_LINE_OCTETS
        while len(data) > width:
            cut = width
            while data[cut] & 0xC0 == 0x80:  # never cut before a UTF-8 continuation byte
                cut -= 1
            out.append(data[:cut])
            data = b" " + data[cut:]
        if data:
            out.append(data)
    return (b"\r\n".join(out) + b"\r\n").decode("utf-8")
