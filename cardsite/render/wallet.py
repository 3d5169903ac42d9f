"""Build a card's Apple Wallet pass (.pkpass): pass.json, images, manifest, CMS signature, zip.

Everything here is pure: the card, the settings and loaded signing material in, bytes out. The
signing material is read from the environment by the build (build/signing.py), never here.

A .pkpass is a zip of pass.json, the images, manifest.json (the SHA-1 of every other file) and
`signature`, a detached CMS signature of manifest.json by the Pass Type ID certificate that also
carries Apple's WWDR intermediate. Wallet refuses a signature without a signing-time attribute;
cryptography's PKCS7SignatureBuilder adds one (with the current time) unless told not to, which
is also why two signings of the same pass differ in their bytes (docs/wallet.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

    from ..cards.model import Card
    from ..cards.settings import Settings

FONTS = Path(__file__).resolve().parent.parent / "fonts"
#: The files of every pass, in the order they are zipped; manifest.json and signature follow them.
IMAGE_SIZES = {
    "icon.png": (29, 29),
    "icon@2x.png": (58, 58),
    "icon@3x.png": (87, 87),
    "logo.png": (160, 50),
    "logo@2x.png": (320, 100),
    "logo@3x.png": (480, 150),
}
PASS_FILES = ("pass.json", *IMAGE_SIZES, "manifest.json", "signature")
#: Zip entries carry this time, so the archive depends only on its files (the signature aside).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


#: Where each wallet output of a card lives in the card's folder: the build's RULES write them there, and the
#: signature page and the owner notice link them.
WALLET_FILES = {"apple": "{id}.pkpass", "google": "google-wallet.html", "background": "background.png"}


@dataclass(frozen=True)
class PassSigner:
    """Loaded, checked Apple signing material: Pass Type ID certificate and key, WWDR intermediate, ids."""

    cert: x509.Certificate
    key: PrivateKeyTypes
    wwdr: x509.Certificate
    pass_type_id: str
    team_id: str


def rgb(color: str) -> str:
    """Return a #rrggbb colour as pass.json writes colours: rgb(r, g, b)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _field(key: str, label: str, value: str) -> dict[str, str]:
    return {"key": key, "label": label, "value": value}


def pass_json(card: Card, settings: Settings, signer: PassSigner, barcode_url: str, labels: dict[str, str]) -> bytes:
    """Return pass.json of a generic pass: the name in the person's order, title, company, QR code, page URL."""
    name = card.name.full
    generic: dict[str, Any] = {"primaryFields": [_field("name", labels["wallet_name"], name)]}
    if card.title:
        generic["secondaryFields"] = [_field("title", labels["wallet_title"], card.title)]
    if card.org:
        generic["auxiliaryFields"] = [_field("org", labels["wallet_company"], card.org)]
    back = [_field("page", labels["wallet_page"], card.url)]
    back += [_field(f"phone{i}", labels[f"phone_{p.type}"], p.display) for i, p in enumerate(card.phones)]
    back += [_field(f"email{i}", labels["wallet_email"], e.value) for i, e in enumerate(card.emails)]
    generic["backFields"] = back
    doc = {
        "formatVersion": 1,
        "passTypeIdentifier": signer.pass_type_id,
        "teamIdentifier": signer.team_id,
        # One pass per card, for ever: a later pass with this serial replaces the one in Wallet.
        "serialNumber": card.id,
        "organizationName": card.org or settings.company.get("name", "") or name,
        "description": f"{labels['wallet_description']}: {name}",
        "logoText": card.org,
        "backgroundColor": rgb(settings.brand_color),
        "foregroundColor": "rgb(255, 255, 255)",
        "labelColor": "rgb(255, 255, 255)",
        "barcodes": [
            {
                "format": "PKBarcodeFormatQR",
                "message": barcode_url,
                "messageEncoding": "iso-8859-1",
                "altText": card.url.split("://", 1)[-1].rstrip("/"),
            }
        ],
        "generic": generic,
    }
    if not doc["logoText"]:
        del doc["logoText"]
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")


def _font(bold: bool, size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(FONTS / ("NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf")), size)


def _wordmark(text: str, size: tuple[int, int], color: tuple[int, int, int] | None) -> bytes:
    """Draw `text` in white, as large as fits in `size`, left-aligned; on `color`, or on transparency."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGBA", size, (*color, 255) if color else (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    font_size = int(height * 0.7)
    while font_size > 6:
        font = _font(True, font_size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= width * 0.94:
            break
        font_size -= 1
    x = (width - (right - left)) // 2 - left if color else -left
    draw.text((x, (height - (bottom - top)) // 2 - top), text, font=font, fill=(255, 255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


@lru_cache(maxsize=4)
def pass_images(company: str, brand_color: str) -> dict[str, bytes]:
    """Return the icon and logo of every pass of a site, drawn once: the company's initial and its name."""
    rgb_color = tuple(int(brand_color[i : i + 2], 16) for i in (1, 3, 5))
    initial = (company.strip()[:1] or "·").upper()
    images = {}
    for name, size in IMAGE_SIZES.items():
        if name.startswith("icon"):
            images[name] = _wordmark(initial, size, rgb_color)  # type: ignore[arg-type]
        else:
            images[name] = _wordmark(company or initial, size, None)
    return images


def manifest_json(files: dict[str, bytes]) -> bytes:
    """Return manifest.json: the SHA-1 of every file of the pass, as Wallet checks them."""
    digests = {name: hashlib.sha1(data, usedforsecurity=False).hexdigest() for name, data in files.items()}
    return json.dumps(digests, indent=2, sort_keys=True).encode("ascii")


def sign_manifest(manifest: bytes, signer: PassSigner) -> bytes:
    """Return the detached CMS (PKCS #7) signature of manifest.json, DER, with the WWDR certificate in it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(signer.cert, signer.key, hashes.SHA256())  # type: ignore[arg-type]
        .add_certificate(signer.wwdr)
    )
    # Without NoAttributes the signed attributes hold content type, message digest and the signing time Wallet needs.
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return builder.sign(Encoding.DER, options)


def zip_files(files: dict[str, bytes]) -> bytes:
    """Zip `files` in order, each with a fixed time and permissions, so equal files give an equal archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buf.getvalue()


def still_valid(previous: bytes | None, manifest: bytes, signer: PassSigner) -> bool:
    """Tell whether `previous`, the pass built before, holds this very manifest signed with this certificate."""
    if not previous:
        return False
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        with zipfile.ZipFile(io.BytesIO(previous)) as archive:
            if archive.namelist() != list(PASS_FILES) or archive.read("manifest.json") != manifest:
                return False
            signature = archive.read("signature")
    except (zipfile.BadZipFile, KeyError, OSError):
        return False
    # The manifest holds the SHA-1 of every other file; the certificate travels inside the signature.
    return signer.cert.public_bytes(Encoding.DER) in signature


def pass_identity(data: bytes) -> str | None:
    """Return what makes a built pass the same pass: its manifest and the certificates that signed it.

    Two signings of one manifest differ only in their signing time. Publish compares passes by this
    hash instead of their bytes, so a pass signed again by a build from a fresh checkout (every CI
    deploy) is not uploaded again. None when `data` is not a pass.
    """
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest, signature = archive.read("manifest.json"), archive.read("signature")
        certificates = pkcs7.load_der_pkcs7_certificates(signature)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return None
    h = hashlib.sha256(b"pkpass\0" + manifest)
    for cert in certificates:
        h.update(b"\0" + cert.public_bytes(Encoding.DER))
    return h.hexdigest()


def render_pkpass(
    card: Card,
    settings: Settings,
    signer: PassSigner,
    barcode_url: str,
    labels: dict[str, str],
    previous: bytes | None = None,
) -> bytes:
    """Return the signed .pkpass of `card`; `previous`, the pass found in the output, when it is still that pass.

    A new signature carries a new signing time, so its bytes differ: reusing a pass whose manifest is unchanged
    keeps a rebuild that lost its build state (a cardsite upgrade, a restored folder) from uploading every pass.
    """
    company = settings.company.get("name", "") or card.org
    files = {"pass.json": pass_json(card, settings, signer, barcode_url, labels)}
    files.update(pass_images(company, settings.brand_color))
    files["manifest.json"] = manifest_json(files)
    if previous is not None and still_valid(previous, files["manifest.json"], signer):
        return previous
    files["signature"] = sign_manifest(files["manifest.json"], signer)
    return zip_files(files)
