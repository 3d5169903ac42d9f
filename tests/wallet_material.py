"""Throwaway signing material for the wallet tests: a CA, a WWDR stand-in, a Pass Type ID certificate, a Google key.

Nothing here reaches Apple or Google: the certificates are made with `cryptography` for each test, and
openssl checks the signatures against the throwaway CA as Wallet checks them against Apple's root.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASS_TYPE_ID = "pass.ch.example.cards"
TEAM_ID = "A1B2C3D4E5"


def _name(*parts: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(
    subject: x509.Name, key: rsa.RSAPrivateKey, issuer: x509.Name, issuer_key: rsa.RSAPrivateKey, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    else:
        usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    return builder.add_extension(usage, critical=True).sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_apple(folder: Path, password: bytes | None = None) -> dict[str, str]:
    """Write a CA, a WWDR stand-in and a Pass Type ID certificate and key into `folder`; return the environment."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, wwdr_key, pass_key = _key(), _key(), _key()
    ca_name = _name((NameOID.COMMON_NAME, "Throwaway Root CA"))
    wwdr_name = _name((NameOID.COMMON_NAME, "Throwaway WWDR stand-in"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "G4"))
    pass_name = _name(
        (NameOID.USER_ID, PASS_TYPE_ID),
        (NameOID.COMMON_NAME, f"Pass Type ID: {PASS_TYPE_ID}"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, TEAM_ID),
    )
    ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)
    wwdr = _cert(wwdr_name, wwdr_key, ca_name, ca_key, ca=True)
    cert = _cert(pass_name, pass_key, wwdr_name, wwdr_key, ca=False)
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    key_pem = pass_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    files = {"ca.pem": _pem(ca), "wwdr.pem": _pem(wwdr), "pass.pem": _pem(cert), "pass.key": key_pem}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    env = {
        "CARDSITE_PASS_CERT": str(folder / "pass.pem"),
        "CARDSITE_PASS_KEY": str(folder / "pass.key"),
        "CARDSITE_PASS_WWDR": str(folder / "wwdr.pem"),
        "CARDSITE_PASS_TYPE_ID": PASS_TYPE_ID,
        "CARDSITE_PASS_TEAM_ID": TEAM_ID,
    }
    if password:
        env["CARDSITE_PASS_KEY_PASSWORD"] = password.decode()
    return env


def make_google(folder: Path) -> tuple[dict[str, str], bytes]:
    """Write a service account's JSON key file into `folder`; return the environment and the public key (PEM)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = _key()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    doc = {
        "type": "service_account",
        "project_id": "cardsite-test",
        "private_key_id": "0123456789abcdef",
        "private_key": private.decode(),
        "client_email": "wallet@cardsite-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    (folder / "google.json").write_text(json.dumps(doc))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    env = {
        "CARDSITE_GOOGLE_WALLET_KEY": str(folder / "google.json"),
        "CARDSITE_GOOGLE_WALLET_ISSUER_ID": "3388000000022",
    }
    return env, public
