"""Build a card's "Save to Google Wallet" link: a JWT, signed RS256, holding a generic pass object.

The link is https://pay.google.com/gp/v/save/<jwt>; whoever opens it gets the pass saved into
their Google Wallet, with the content of the Apple pass. The JWT is written into a small page,
`<id>/google-wallet.html`, that forwards to it, so the signature page and the owner notice can
link a stable address on the site. The key is loaded by the build (build/signing.py), never here.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ..cards.model import Card
    from ..cards.settings import Settings

SAVE_URL = "https://pay.google.com/gp/v/save/"
#: The class every card's object belongs to, under the issuer id: cardsite's business cards.
CLASS_SUFFIX = "cardsite"


@dataclass(frozen=True)
class GoogleSigner:
    """A Google service account's key and e-mail, with the Wallet issuer id."""

    email: str
    #: The loaded RSA key: PyJWT given PEM would load and check it again for every card, at ~40 ms each.
    key: Any
    key_id: str
    issuer_id: str


def _text(lang: str, value: str) -> dict[str, Any]:
    return {"defaultValue": {"language": lang, "value": value}}


def generic_object(
    card: Card, settings: Settings, signer: GoogleSigner, barcode_url: str, labels: dict[str, str]
) -> dict[str, Any]:
    """Return the card as a Google Wallet generic object: name, title, company, QR code, page link."""
    issuer = signer.issuer_id
    obj: dict[str, Any] = {
        "id": f"{issuer}.{card.id}",
        "classId": f"{issuer}.{CLASS_SUFFIX}",
        "state": "ACTIVE",
        "cardTitle": _text(card.lang, card.org or settings.company.get("name", "") or card.name.full),
        "header": _text(card.lang, card.name.full),
        "hexBackgroundColor": settings.brand_color,
        "barcode": {
            "type": "QR_CODE",
            "value": barcode_url,
            "alternateText": card.url.split("://", 1)[-1].rstrip("/"),
        },
        "linksModuleData": {"uris": [{"id": "page", "uri": card.url, "description": labels["wallet_page"]}]},
    }
    if card.title:
        obj["subheader"] = _text(card.lang, card.title)
    modules = [("org", labels["wallet_company"], card.org)]
    modules += [(f"phone{i}", labels[f"phone_{p.type}"], p.display) for i, p in enumerate(card.phones)]
    modules += [(f"email{i}", labels["wallet_email"], e.value) for i, e in enumerate(card.emails)]
    obj["textModulesData"] = [{"id": key, "header": head, "body": body} for key, head, body in modules if body]
    return obj


def save_claims(
    card: Card, settings: Settings, signer: GoogleSigner, barcode_url: str, labels: dict[str, str]
) -> dict[str, Any]:
    """Return the claims of the save JWT: Google's audience and type, the site as origin, class and object."""
    return {
        "iss": signer.email,
        "aud": "google",
        "typ": "savetowallet",
        # Google requires the time of issue; like the Apple pass's signing time, it changes only when the output
        # is made again, which the build does only when its inputs change.
        "iat": int(time.time()),
        # An origin is scheme and host: a site under a path (https://example.org/cards) is served from its host.
        "origins": [f"{urlsplit(settings.base_url).scheme}://{urlsplit(settings.base_url).netloc}"],
        "payload": {
            "genericClasses": [{"id": f"{signer.issuer_id}.{CLASS_SUFFIX}"}],
            "genericObjects": [generic_object(card, settings, signer, barcode_url, labels)],
        },
    }


def save_url(card: Card, settings: Settings, signer: GoogleSigner, barcode_url: str, labels: dict[str, str]) -> str:
    """Return the card's "Save to Google Wallet" link, its JWT signed RS256 with the service account's key."""
    import jwt

    headers = {"kid": signer.key_id} if signer.key_id else None
    claims = save_claims(card, settings, signer, barcode_url, labels)
    return SAVE_URL + jwt.encode(claims, signer.key, algorithm="RS256", headers=headers)


def save_page(card: Card, settings: Settings, signer: GoogleSigner, barcode_url: str, labels: dict[str, str]) -> bytes:
    """Return `<id>/google-wallet.html`: a page that forwards to the save link, and shows it for when it does not."""
    url = html.escape(save_url(card, settings, signer, barcode_url, labels))
    title = html.escape(f"{labels['wallet_google']} – {card.name.full}")
    return (
        f'<!doctype html>\n<html lang="{card.lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="robots" content="noindex, nofollow">\n<meta http-equiv="refresh" content="0; url={url}">\n'
        f"<title>{title}</title>\n</head>\n<body>\n"
        f'<p><a href="{url}">{html.escape(labels["wallet_google"])}</a></p>\n</body>\n</html>\n'
    ).encode()
