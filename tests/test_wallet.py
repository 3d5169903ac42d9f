"""Apple Wallet passes and Google Wallet links: built, signed, published, checked with tools that are not ours.

No test reaches Apple or Google: the signing material is made for each test (wallet_material.py).
openssl verifies the detached CMS signature against the throwaway CA, PyJWT the Google JWT.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import conftest
import jsonschema
import jwt
import pytest
from test_publish import Recorder, build_site, run
from wallet_material import PASS_TYPE_ID, TEAM_ID, make_apple, make_google

from cardsite.build.output import object_headers
from cardsite.cards.model import source_url
from cardsite.cli import main
from cardsite.render.wallet import PASS_FILES

ACTIVE = {"jana-mueller", "zoe-leclerc", "lukasz-wojcik", "max"}
RETIRED = "hans-meier"
#: signingTime counts whole seconds: after this long, signing the same manifest again gives other bytes.
SIGNING_TIME_STEP = 1.1
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "pass.schema.json").read_text())


@pytest.fixture
def apple(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Set the Apple signing variables to throwaway material; return its folder (ca.pem is the root)."""
    folder = tmp_path / "apple"
    for name, value in make_apple(folder).items():
        monkeypatch.setenv(name, value)
    return folder


@pytest.fixture
def google(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Set the Google Wallet variables to a throwaway service account; return its public key."""
    env, public = make_google(tmp_path / "google")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return public


def pkpass(project: Path, card_id: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(project / "public" / card_id / f"{card_id}.pkpass")


def card_url(project: Path, card_id: str) -> str:
    manifest = json.loads((project / "public" / ".cardsite" / "site.json").read_text())
    return manifest["cards"][card_id]["url"]


def openssl_verify(folder: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    """Check `folder`/signature, a detached DER CMS signature of `folder`/manifest.json, against the CA `ca`."""
    command = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(folder / "signature")]
    command += ["-content", str(folder / "manifest.json"), "-CAfile", str(ca), "-purpose", "any", "-out", "/dev/null"]
    return subprocess.run(command, capture_output=True, text=True)


def test_every_active_card_gets_a_signed_pass_that_openssl_accepts(project: Path, apple: Path, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        conftest.skip_or_fail("openssl is not installed (apt-get install openssl)")
    assert main(["build"]) == 0
    out = project / "public"
    assert not (out / RETIRED / f"{RETIRED}.pkpass").exists()
    for card_id in ACTIVE:
        with pkpass(project, card_id) as archive:
            assert archive.namelist() == list(PASS_FILES)  # exactly the documented files, nothing else
            files = {name: archive.read(name) for name in archive.namelist()}
        manifest = json.loads(files["manifest.json"])
        assert manifest.keys() == set(PASS_FILES) - {"manifest.json", "signature"}
        for name, digest in manifest.items():
            assert hashlib.sha1(files[name]).hexdigest() == digest, name
        work = tmp_path / card_id
        work.mkdir()
        (work / "manifest.json").write_bytes(files["manifest.json"])
        (work / "signature").write_bytes(files["signature"])
        verify = openssl_verify(work, apple / "ca.pem")
        assert verify.returncode == 0, verify.stderr
        printed = subprocess.run(
            ["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(work / "signature")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "signingTime" in printed  # Wallet refuses a signature without it
        assert "Throwaway WWDR stand-in" in printed  # the intermediate travels with the signature


def test_a_tampered_pass_fails_openssl(project: Path, apple: Path, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        conftest.skip_or_fail("openssl is not installed (apt-get install openssl)")
    assert main(["build"]) == 0
    with pkpass(project, "max") as archive:
        signature, manifest = archive.read("signature"), archive.read("manifest.json")
    (tmp_path / "signature").write_bytes(signature)
    (tmp_path / "manifest.json").write_bytes(manifest.replace(b'"', b"'", 1))
    verify = openssl_verify(tmp_path, apple / "ca.pem")
    assert verify.returncode != 0


def test_pass_json_follows_apples_keys_and_carries_the_card(project: Path, apple: Path) -> None:
    assert main(["build"]) == 0
    for card_id in ACTIVE:
        with pkpass(project, card_id) as archive:
            doc = json.loads(archive.read("pass.json"))
        jsonschema.validate(doc, SCHEMA)
        url = card_url(project, card_id)
        assert doc["barcodes"][0]["message"] == source_url(url, "wallet")
        assert "?w" in doc["barcodes"][0]["message"]
        assert (doc["passTypeIdentifier"], doc["teamIdentifier"], doc["serialNumber"]) == (
            PASS_TYPE_ID,
            TEAM_ID,
            card_id,
        )
        fields = [f for group in doc["generic"].values() for f in group]
        assert len({f["key"] for f in fields}) == len(fields)  # keys are unique across the whole pass
        assert url in [f["value"] for f in doc["generic"]["backFields"]]
    with pkpass(project, "jana-mueller") as archive:
        doc = json.loads(archive.read("pass.json"))
    assert doc["generic"]["primaryFields"][0]["value"] == "Dr. Jana Sophie Müller, MSc ETH"
    assert doc["generic"]["secondaryFields"][0]["value"] == "Head of Platform"
    assert doc["backgroundColor"] == "rgb(11, 92, 173)"  # site.yaml's brand_color


def test_the_schema_refuses_a_misspelt_key() -> None:
    doc = {
        "formatVersion": 1,
        "passTypeIdentifier": PASS_TYPE_ID,
        "serialNumber": "x",
        "teamIdentifier": TEAM_ID,
        "organizationName": "o",
        "description": "d",
        "generic": {},
        "backgroundColour": "rgb(0, 0, 0)",
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_family_first_name_keeps_its_order_in_the_pass(project: Path, apple: Path) -> None:
    # Noto Sans has no Hangul, so this site prints its cards elsewhere (test_names.py does the same).
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + "print:\n  artwork: false\n", "utf-8")
    (project / "contacts" / "kim.yaml").write_text("name:\n  given: 민수\n  family: 김\n")
    assert main(["build"]) == 0
    with pkpass(project, "kim") as archive:
        assert json.loads(archive.read("pass.json"))["generic"]["primaryFields"][0]["value"] == "김민수"


def test_an_unchanged_pass_is_not_signed_again(project: Path, apple: Path) -> None:
    assert main(["build"]) == 0
    passes = {card_id: (project / "public" / card_id / f"{card_id}.pkpass") for card_id in ACTIVE}
    before = {card_id: path.read_bytes() for card_id, path in passes.items()}
    time.sleep(SIGNING_TIME_STEP)  # a new signature now would differ from the old one
    # A page template edit re-renders every page, but no pass; a card edit re-signs that card's pass alone.
    card_html = project / "templates" / "card.html"
    card_html.write_text(card_html.read_text() + "<!-- edited -->\n")
    jana = project / "contacts" / "jana-mueller.yaml"
    jana.write_text(jana.read_text().replace("Head of Platform", "Head of Platforms"))
    assert main(["build"]) == 0
    after = {card_id: path.read_bytes() for card_id, path in passes.items()}
    assert [c for c in ACTIVE if after[c] != before[c]] == ["jana-mueller"]
    assert main(["build"]) == 0
    assert {card_id: path.read_bytes() for card_id, path in passes.items()} == after


def test_a_build_that_lost_its_state_keeps_the_signed_passes(project: Path, apple: Path) -> None:
    # A cardsite upgrade or a restored output folder renders everything again: an unchanged pass keeps its bytes,
    # so publish uploads none, though a new signature would carry a new signing time.
    assert main(["build"]) == 0
    path = project / "public" / "max" / "max.pkpass"
    before = path.read_bytes()
    time.sleep(SIGNING_TIME_STEP)  # a new signature now would differ from the old one
    shutil.rmtree(project / "public" / ".cardsite" / "state")
    assert main(["build"]) == 0
    assert path.read_bytes() == before
    max_yaml = project / "contacts" / "max.yaml"
    max_yaml.write_text(max_yaml.read_text() + "title: Tester\n")
    shutil.rmtree(project / "public" / ".cardsite" / "state")
    assert main(["build"]) == 0
    assert path.read_bytes() != before


def test_new_signing_material_signs_every_pass_again(project: Path, apple: Path, monkeypatch, tmp_path) -> None:
    assert main(["build"]) == 0
    before = (project / "public" / "max" / "max.pkpass").read_bytes()
    for name, value in make_apple(tmp_path / "renewed").items():
        monkeypatch.setenv(name, value)
    assert main(["build"]) == 0
    with pkpass(project, "max") as archive:
        signature = archive.read("signature")
    renewed = (tmp_path / "renewed" / "pass.pem").read_bytes()
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(renewed)
    assert (project / "public" / "max" / "max.pkpass").read_bytes() != before
    assert cert.public_bytes(__import__("cryptography").hazmat.primitives.serialization.Encoding.DER) in signature


def test_without_material_no_pass_and_one_line_says_so(project: Path, capsys) -> None:
    assert main(["build"]) == 0
    assert not list((project / "public").rglob("*.pkpass"))
    assert not list((project / "public").rglob("google-wallet.html"))
    lines = capsys.readouterr().err.splitlines()
    notes = [line for line in lines if "Apple Wallet" in line]
    assert len(notes) == 1 and "CARDSITE_PASS_CERT" in notes[0] and not notes[0].startswith("Error")
    assert len([line for line in lines if "Google Wallet" in line]) == 1
    assert "Wallet" not in (project / "public" / "max" / "signature.html").read_text()


@pytest.mark.parametrize(
    ("variable", "content", "message"),
    [
        ("CARDSITE_PASS_CERT", b"not a certificate", "CARDSITE_PASS_CERT: "),
        ("CARDSITE_PASS_WWDR", None, "CARDSITE_PASS_WWDR: cannot read"),
        ("CARDSITE_PASS_KEY", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "CARDSITE_PASS_KEY: "),
    ],
)
def test_bad_material_is_a_clean_error_naming_the_variable_and_writes_nothing(
    project: Path, apple: Path, monkeypatch, capsys, variable: str, content: bytes | None, message: str
) -> None:
    bad = apple / "bad.pem"
    if content is not None:
        bad.write_bytes(content)
    monkeypatch.setenv(variable, str(bad))
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (project / "public").exists()


def test_bad_material_after_a_good_build_changes_no_file(project: Path, apple: Path, monkeypatch, capsys) -> None:
    assert main(["build"]) == 0
    out = project / "public"
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    jana = project / "contacts" / "jana-mueller.yaml"
    jana.write_text(jana.read_text().replace("Head of Platform", "Head of Platforms"))
    (apple / "pass.pem").write_text("garbage")
    assert main(["build"]) == 1
    assert "CARDSITE_PASS_CERT: " in capsys.readouterr().err
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == before


def test_a_key_of_another_certificate_is_refused(project: Path, apple: Path, monkeypatch, tmp_path, capsys) -> None:
    other = make_apple(tmp_path / "other")
    monkeypatch.setenv("CARDSITE_PASS_KEY", other["CARDSITE_PASS_KEY"])
    assert main(["build"]) == 1
    assert "CARDSITE_PASS_KEY: the key does not belong to the certificate" in capsys.readouterr().err


def test_a_partial_set_of_variables_is_refused(project: Path, apple: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("CARDSITE_PASS_TEAM_ID")
    assert main(["build"]) == 1
    assert "CARDSITE_PASS_TEAM_ID not set" in capsys.readouterr().err


def test_an_encrypted_key_needs_its_password(project: Path, monkeypatch, tmp_path, capsys) -> None:
    env = make_apple(tmp_path / "locked", password=b"s3cret")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["build"]) == 0
    assert (project / "public" / "max" / "max.pkpass").is_file()
    monkeypatch.delenv("CARDSITE_PASS_KEY_PASSWORD")
    shutil.rmtree(project / "public")
    assert main(["build"]) == 1
    assert "CARDSITE_PASS_KEY_PASSWORD" in capsys.readouterr().err


def test_passes_are_served_as_apple_passes() -> None:
    assert object_headers("max/max.pkpass")["Content-Type"] == "application/vnd.apple.pkpass"


def test_the_signature_page_links_the_pass(project: Path, apple: Path) -> None:
    assert main(["build"]) == 0
    page = (project / "public" / "max" / "signature.html").read_text()
    assert f'href="{card_url(project, "max")}max.pkpass"' in page
    assert "Safari" in page or "safari" in page.lower()


# --------------------------------------------------------------------------- Google


def save_link(project: Path, card_id: str) -> str:
    page = (project / "public" / card_id / "google-wallet.html").read_text()
    return html.unescape(re.search(r'<a href="([^"]+)"', page).group(1))


def test_google_link_is_a_jwt_signed_with_the_service_account(project: Path, google: bytes) -> None:
    assert main(["build"]) == 0
    link = save_link(project, "jana-mueller")
    assert link.startswith("https://pay.google.com/gp/v/save/")
    token = link.removeprefix("https://pay.google.com/gp/v/save/")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, google, algorithms=["RS256"], audience="google")
    assert claims["iss"] == "wallet@cardsite-test.iam.gserviceaccount.com"
    assert claims["typ"] == "savetowallet" and isinstance(claims["iat"], int)
    assert claims["origins"] == ["https://cards.example.ch"]
    (obj,) = claims["payload"]["genericObjects"]
    url = card_url(project, "jana-mueller")
    assert obj["id"] == "3388000000022.jana-mueller"
    assert obj["classId"] == claims["payload"]["genericClasses"][0]["id"] == "3388000000022.cardsite"
    assert obj["header"]["defaultValue"]["value"] == "Dr. Jana Sophie Müller, MSc ETH"
    assert obj["subheader"]["defaultValue"]["value"] == "Head of Platform"
    assert obj["cardTitle"]["defaultValue"]["value"] == "Example AG"
    assert obj["barcode"] == {"type": "QR_CODE", "value": source_url(url, "wallet"), "alternateText": url[8:-1]}
    assert obj["linksModuleData"]["uris"][0]["uri"] == url
    assert obj["hexBackgroundColor"] == "#0b5cad"


def test_google_origin_is_the_host_of_a_site_under_a_path(project: Path, google: bytes) -> None:
    assert main(["build", "--base-url", "https://x.example.org/cards/"]) == 0
    token = save_link(project, "max").rsplit("/", 1)[1]
    claims = jwt.decode(token, google, algorithms=["RS256"], audience="google")
    assert claims["origins"] == ["https://x.example.org"]
    assert (
        claims["payload"]["genericObjects"][0]["linksModuleData"]["uris"][0]["uri"]
        == "https://x.example.org/cards/max/"
    )


def test_google_link_fails_with_another_key(project: Path, google: bytes, tmp_path: Path) -> None:
    assert main(["build"]) == 0
    _, other = make_google(tmp_path / "other")
    token = save_link(project, "max").rsplit("/", 1)[1]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["RS256"], audience="google")


def test_a_bad_google_key_file_names_the_variable(project: Path, google: bytes, monkeypatch, tmp_path, capsys) -> None:
    (tmp_path / "broken.json").write_text('{"client_email": "x@y.z"}')
    monkeypatch.setenv("CARDSITE_GOOGLE_WALLET_KEY", str(tmp_path / "broken.json"))
    assert main(["build"]) == 1
    assert "CARDSITE_GOOGLE_WALLET_KEY: " in capsys.readouterr().err
    assert not (project / "public").exists()


def test_the_signature_page_links_google_wallet(project: Path, google: bytes) -> None:
    assert main(["build"]) == 0
    page = (project / "public" / "max" / "signature.html").read_text()
    assert f'href="{card_url(project, "max")}google-wallet.html"' in page
    assert "max.pkpass" not in page  # no Apple material, no Apple link


# --------------------------------------------------------------------------- owner notice


def owner_notice(project: Path, monkeypatch: pytest.MonkeyPatch, card_id: str):
    import email
    from email import policy

    for name in ("CARDSITE_MAIL_FROM", "CARDSITE_PRINT_INBOX", "CARDSITE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["notify", "-q", "--dry-run", "out"]) == 0
    return email.message_from_bytes((project / "out" / f"{card_id}.owner.eml").read_bytes(), policy=policy.default)


def test_the_owner_notice_links_pass_google_wallet_and_background(project: Path, apple, google, monkeypatch) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text() + "video_backgrounds: true\n")
    assert main(["build"]) == 0
    msg = owner_notice(project, monkeypatch, "jana-mueller")
    url = card_url(project, "jana-mueller")
    text = msg.get_body(("plain",)).get_content()
    body = msg.get_body(("html",)).get_content()
    for target in (f"{url}jana-mueller.pkpass", f"{url}google-wallet.html", f"{url}background.png"):
        assert target in text and f'href="{target}"' in body
    line = next(line for line in text.splitlines() if "pkpass" in line)
    assert "Safari" in line


def test_without_wallet_outputs_the_owner_notice_has_no_wallet_lines(project: Path, monkeypatch) -> None:
    assert main(["build"]) == 0
    text = owner_notice(project, monkeypatch, "jana-mueller").get_body(("plain",)).get_content()
    assert "Wallet" not in text and "pkpass" not in text


# --------------------------------------------------------------------------- publish
# Every CI deploy builds from a fresh checkout, so every pass is signed again, with a new signing time.
# publish compares passes by their manifest and certificates (render.wallet.pass_identity), not their bytes.

BUCKET = conftest.TEST_BUCKET


def test_a_pass_signed_again_in_a_fresh_build_is_not_uploaded(project: Path, apple: Path, s3, aws: str) -> None:
    first = build_site(project / "public")
    run(first, aws)
    obj = s3.get_object(Bucket=BUCKET, Key="max/max.pkpass")
    assert obj["ContentType"] == "application/vnd.apple.pkpass"
    assert obj["Body"].read() == (first / "max" / "max.pkpass").read_bytes()
    time.sleep(SIGNING_TIME_STEP)  # a new signing time: the fresh build's passes have other bytes
    fresh = build_site(project / "fresh")
    assert (fresh / "max" / "max.pkpass").read_bytes() != (first / "max" / "max.pkpass").read_bytes()
    recorder = Recorder()
    result = run(fresh, aws, recorder)
    assert recorder.count("PutObject") == 0 and result.plan.empty
    # A changed card's pass is a new pass, and goes up.
    max_yaml = project / "contacts" / "max.yaml"
    max_yaml.write_text(max_yaml.read_text() + "title: Tester\n")
    assert main(["build", "--out", str(fresh), "-q"]) == 0
    recorder = Recorder()
    run(fresh, aws, recorder)
    assert "max/max.pkpass" in recorder.keys("PutObject")
    body = s3.get_object(Bucket=BUCKET, Key="max/max.pkpass")["Body"].read()
    assert body == (fresh / "max" / "max.pkpass").read_bytes()


def test_verify_accepts_a_pass_signed_again_and_repairs_a_replaced_one(project: Path, apple: Path, s3, aws) -> None:
    run(build_site(project / "public"), aws)
    time.sleep(SIGNING_TIME_STEP)
    fresh = build_site(project / "fresh")
    recorder = Recorder()
    run(fresh, aws, recorder, verify=True)
    assert recorder.count("PutObject") == 0
    s3.put_object(Bucket=BUCKET, Key="max/max.pkpass", Body=b"not a pass", ContentType="application/vnd.apple.pkpass")
    recorder = Recorder()
    run(fresh, aws, recorder, verify=True)
    assert "max/max.pkpass" in recorder.keys("PutObject")
