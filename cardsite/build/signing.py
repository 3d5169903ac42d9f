"""Read the wallet signing material named by environment variables: Apple's pass certificates, Google's key.

Nothing is committed: each variable holds the path of a PEM (or JSON key) file. Without any of them,
no pass (or no Google link) is built and the build says so once. A variable that is set but names
a missing, unreadable or mismatched file stops the build with a message naming the variable.

`material_digest` hashes the variables and the files' bytes without parsing them, for the stamp and
the outputs' input keys: a pass is signed again only when its card, the settings or this material change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Abort

if TYPE_CHECKING:
    from cryptography import x509

    from ..cards.settings import Settings
    from ..render.gwallet import GoogleSigner
    from ..render.wallet import PassSigner

APPLE_FILES = ("CARDSITE_PASS_CERT", "CARDSITE_PASS_KEY", "CARDSITE_PASS_WWDR")
APPLE_IDS = ("CARDSITE_PASS_TYPE_ID", "CARDSITE_PASS_TEAM_ID")
APPLE_PASSWORD = "CARDSITE_PASS_KEY_PASSWORD"
GOOGLE_KEY, GOOGLE_ISSUER = "CARDSITE_GOOGLE_WALLET_KEY", "CARDSITE_GOOGLE_WALLET_ISSUER_ID"
APPLE_VARS = (*APPLE_FILES, *APPLE_IDS)
GOOGLE_VARS = (GOOGLE_KEY, GOOGLE_ISSUER)
#: The project's background design: templates/background/background.yaml and the files it names.
BACKGROUND_DIR = "background"
#: Apple's ids: a pass type id is reverse DNS under "pass."; a team id is 10 capitals and digits.
PASS_TYPE_ID = re.compile(r"pass\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
TEAM_ID = re.compile(r"[A-Z0-9]{10}")


def material_digest(names: tuple[str, ...], environ: Mapping[str, str] = os.environ) -> str:
    """Return a hash of the variables `names` and the bytes of the files they name; "" when none is set."""
    if not any(environ.get(name) for name in names):
        return ""
    h = hashlib.sha256()
    for name in (*names, APPLE_PASSWORD):
        value = environ.get(name, "")
        h.update(f"{name}={value}\0".encode())
        if value and name not in (*APPLE_IDS, GOOGLE_ISSUER, APPLE_PASSWORD):
            try:
                h.update(Path(value).read_bytes())
            except OSError as exc:  # the full build's loader says which variable is wrong
                h.update(str(exc).encode())
    return h.hexdigest()[:20]


def _required(names: tuple[str, ...], environ: Mapping[str, str]) -> dict[str, str] | None:
    """Return the values of `names`, None when none is set; refuse a partial set."""
    values = {name: environ.get(name, "").strip() for name in names}
    if not any(values.values()):
        return None
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise Abort(f"{', '.join(missing)} not set: wallet signing needs all of {', '.join(names)}")
    return values


def _read(name: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise Abort(f"{name}: cannot read {path}: {exc.strerror}") from None


def _certificate(name: str, path: str) -> x509.Certificate:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(_read(name, path))
    except ValueError:
        raise Abort(f"{name}: {path} is not a PEM certificate") from None


def apple_signer(environ: Mapping[str, str] = os.environ) -> PassSigner | None:
    """Load and check Apple's signing material; None when no variable is set."""
    values = _required(APPLE_VARS, environ)
    if values is None:
        return None
    from ..render.wallet import PassSigner

    cert = _certificate("CARDSITE_PASS_CERT", values["CARDSITE_PASS_CERT"])
    wwdr = _certificate("CARDSITE_PASS_WWDR", values["CARDSITE_PASS_WWDR"])
    key = _pass_key(values["CARDSITE_PASS_KEY"], environ.get(APPLE_PASSWORD) or None)
    if key.public_key() != cert.public_key():
        raise Abort("CARDSITE_PASS_KEY: the key does not belong to the certificate in CARDSITE_PASS_CERT")
    if cert.issuer != wwdr.subject:
        raise Abort("CARDSITE_PASS_WWDR: the certificate in CARDSITE_PASS_CERT was not issued by this intermediate")
    type_id, team_id = values["CARDSITE_PASS_TYPE_ID"], values["CARDSITE_PASS_TEAM_ID"]
    _check_pass_ids(cert, type_id, team_id)
    return PassSigner(cert, key, wwdr, type_id, team_id)


def _pass_key(path: str, password: str | None) -> Any:
    """Load the pass certificate's PEM private key, with its password when it has one."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return load_pem_private_key(_read("CARDSITE_PASS_KEY", path), password.encode() if password else None)
    except TypeError:  # encrypted without a password, or a password for a plain key
        raise Abort(f"CARDSITE_PASS_KEY: {path} is encrypted: set {APPLE_PASSWORD}") from None
    except ValueError:
        raise Abort(
            f"CARDSITE_PASS_KEY: cannot load the PEM private key in {path} (not a PEM key, or a wrong {APPLE_PASSWORD})"
        ) from None


def _check_pass_ids(cert: Any, type_id: str, team_id: str) -> None:
    """Refuse a pass type id or team id of the wrong form, or a type id that is not the certificate's."""
    from cryptography.x509.oid import NameOID

    if not PASS_TYPE_ID.fullmatch(type_id):
        raise Abort(f"CARDSITE_PASS_TYPE_ID: '{type_id}' is not a pass type id (pass.com.example.cards)")
    if not TEAM_ID.fullmatch(team_id):
        raise Abort(f"CARDSITE_PASS_TEAM_ID: '{team_id}' is not a team id (10 capitals and digits)")
    # Apple's Pass Type ID certificates name their pass type in the subject's UID: a mismatch is refused by Wallet.
    uids = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.USER_ID)]
    if uids and type_id not in uids:
        raise Abort(f"CARDSITE_PASS_TYPE_ID: '{type_id}' is not the certificate's pass type id ({uids[0]})")


def google_signer(environ: Mapping[str, str] = os.environ) -> GoogleSigner | None:
    """Load Google's service-account key file and issuer id; None when neither variable is set."""
    values = _required(GOOGLE_VARS, environ)
    if values is None:
        return None
    path = values[GOOGLE_KEY]
    try:
        doc: Any = json.loads(_read(GOOGLE_KEY, path))
    except (ValueError, UnicodeDecodeError):
        raise Abort(f"{GOOGLE_KEY}: {path} is not a service account's JSON key file") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in ("client_email", "private_key")):
        raise Abort(f"{GOOGLE_KEY}: {path} has no client_email and private_key (a service account's JSON key)")
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from ..render.gwallet import GoogleSigner

    try:
        key = load_pem_private_key(doc["private_key"].encode(), None)
    except (TypeError, ValueError):
        raise Abort(f"{GOOGLE_KEY}: the private_key in {path} is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Abort(f"{GOOGLE_KEY}: the private_key in {path} is not an RSA key (RS256 needs one)")
    issuer = values[GOOGLE_ISSUER]
    if not issuer.isdigit():
        raise Abort(f"{GOOGLE_ISSUER}: '{issuer}' is not an issuer id (digits, from the Google Pay & Wallet Console)")
    return GoogleSigner(doc["client_email"], key, str(doc.get("private_key_id", "")), issuer)


def _folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else ():
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def wallet_material(settings: Settings, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Return the digests of the signing material ("" when none is set), made once per build's settings.

    The build's cheap checks need them on every build, the templates' own digests only when something is
    planned: the scan already looks at every file under templates/.
    """
    kept = settings.__dict__.get("_wallet_material")
    if kept is None:
        kept = {"apple": material_digest(APPLE_VARS, environ), "google": material_digest(GOOGLE_VARS, environ)}
        settings.__dict__["_wallet_material"] = kept
    return kept


def wallet_inputs(settings: Settings, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Return the shared inputs of the wallet outputs; "" for one that is off (no material, not asked for)."""
    # Only the catalogs and the background's design, not every template: a page edit must not re-sign every pass.
    background = ""
    if settings.raw.get("video_backgrounds"):
        background = _folder_digest(settings.templates_dir / BACKGROUND_DIR)
    return {
        **wallet_material(settings, environ),
        "background": background,
        "locale": _folder_digest(settings.templates_dir / "locale"),
    }


def load_wallet(settings: Settings, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Load what the wallet outputs need, before anything is written: bad material stops the build here."""
    wallet: dict[str, Any] = {"apple": apple_signer(environ), "google": google_signer(environ), "background": None}
    if settings.raw.get("video_backgrounds"):
        from ..render.background import load_design

        wallet["background"] = load_design(settings.templates_dir / BACKGROUND_DIR)
    return wallet


def wallet_notes(inputs: dict[str, str]) -> list[str]:
    """Return what the build's summary says about wallet outputs it did not make."""
    notes = []
    if not inputs["apple"]:
        notes.append(f"No Apple Wallet passes: set {', '.join(APPLE_VARS)} to build them (docs/wallet.md).")
    if not inputs["google"]:
        notes.append(f"No Google Wallet links: set {GOOGLE_KEY} and {GOOGLE_ISSUER} to build them (docs/wallet.md).")
    return notes
