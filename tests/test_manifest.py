"""The site manifest: what a build made, in one versioned JSON file that publish and notify read."""

from __future__ import annotations

import email
import hashlib
import json
import os
import shutil
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest

from cardsite.build import engine
from cardsite.build import manifest as manifest_module
from cardsite.build.manifest import SITE_MANIFEST, read_manifest
from cardsite.cli import main
from cardsite.publish.plan import Plan, scan_site

SCHEMAS = Path(__file__).resolve().parent.parent / "cardsite" / "schema"


def build(*args: str) -> None:
    assert main(["build", "-q", *args]) == 0


def validate(doc: dict) -> None:
    """Validate against the manifest schema; its printable fields are the print job's own definition."""
    import jsonschema
    from referencing import Registry, Resource

    schemas = [
        json.loads((SCHEMAS / name).read_text()) for name in ("site-manifest.schema.json", "printjob.schema.json")
    ]
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    jsonschema.Draft202012Validator(schemas[0], registry=registry).validate(doc)


def published_files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".cardsite" not in p.parts}


def test_the_manifest_describes_every_output_and_validates(project: Path) -> None:
    build()
    out = project / "public"
    doc = json.loads((out / SITE_MANIFEST).read_bytes())
    validate(doc)
    assert doc["manifest_version"] == 1 and doc["base_url"] == "https://cards.example.ch"
    cards = doc["cards"]
    assert list(cards) == sorted(p.stem for p in (project / "contacts").glob("*.yaml"))
    jana, hans = cards["jana-mueller"], cards["hans-meier"]
    assert jana["name"] == jana["fields"]["name"]["full"] == "Dr. Jana Sophie Müller, MSc ETH"
    assert jana["aliases"] == ["jmueller"] and jana["status"] == "active" and jana["url"].endswith("/jana-mueller/")
    assert {"jana-mueller/photo.jpg", "jana-mueller/photo@2x.jpg", "jana-mueller/qr.svg"} <= jana["files"].keys()
    assert hans["status"] == "retired" and hans["successor"] == "jana-mueller"
    assert "hans-meier/hans-meier.vcf" not in hans["files"]
    # Every file a visitor can fetch is listed once, with its true hash and size.
    listed = {rel: f for c in cards.values() for rel, f in c["files"].items()} | doc["site"]["files"]
    assert listed.keys() == published_files(out)
    # ... which is exactly what publish uploads: the manifest itself, under a dot folder, never goes up.
    local = scan_site(out)
    assert local.keys() == listed.keys() and SITE_MANIFEST not in local
    assert all(local[rel].sha256 == f["sha256"] and local[rel].size == f["size"] for rel, f in listed.items())
    for rel, f in listed.items():
        data = (out / rel).read_bytes()
        assert (f["sha256"], f["size"]) == (hashlib.sha256(data).hexdigest(), len(data)), rel
    kinds = {rel: f["kind"] for rel, f in doc["site"]["files"].items()}
    assert kinds["404.html"] == "not-found" and kinds["jmueller/index.html"] == "alias"
    assert {k for r, k in kinds.items() if r.startswith("assets/")} == {"asset"}


def test_a_program_that_is_not_cardsite_reads_it_with_json_and_jsonschema(project: Path) -> None:
    build()
    reader = (
        "import json, sys, jsonschema, referencing\n"
        "schemas = [json.load(open(p, encoding='utf-8')) for p in sys.argv[2:]]\n"
        "reg = referencing.Registry().with_resources((s['$id'], referencing.Resource.from_contents(s)) for s in schemas)\n"
        "doc = json.load(open(sys.argv[1], encoding='utf-8'))\n"
        "jsonschema.Draft202012Validator(schemas[0], registry=reg).validate(doc)\n"
        "assert 'cardsite' not in sys.modules\n"
        "print(doc['manifest_version'], ' '.join(c['url'] for c in doc['cards'].values()))\n"
    )
    schemas = [str(SCHEMAS / "site-manifest.schema.json"), str(SCHEMAS / "printjob.schema.json")]
    done = subprocess.run(
        [sys.executable, "-I", "-c", reader, str(project / "public" / SITE_MANIFEST), *schemas],
        capture_output=True,
        text=True,
        check=True,
    )
    version, urls = done.stdout.split(" ", 1)
    assert version == "1" and "https://cards.example.ch/max/" in urls.split()


def test_a_one_card_edit_rewrites_its_line_and_hashes_its_rendered_files_only(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build()
    path = project / "public" / SITE_MANIFEST
    before = path.read_bytes().split(b"\n")
    read_back: list[str] = []
    real_hash = manifest_module._hash
    monkeypatch.setattr(manifest_module, "_hash", lambda out, rel: read_back.append(rel) or real_hash(out, rel))
    hashed: list[int] = []
    real_entry = manifest_module.file_entry
    monkeypatch.setattr(manifest_module, "file_entry", lambda data: hashed.append(len(data)) or real_entry(data))
    monkeypatch.setattr(engine, "file_entry", manifest_module.file_entry)
    monkeypatch.setattr(engine, "gather", lambda *a, **k: pytest.fail("the full build ran"))
    card = project / "contacts" / "max.yaml"
    card.write_text(card.read_text() + "title: Intern\n")
    build()
    rendered = ["max/index.html", "max/max.vcf", "max/signature.html"]
    # Hashed from the bytes just written, never read back; no other file is hashed at all.
    assert read_back == []
    assert sorted(hashed) == sorted((project / "public" / rel).stat().st_size for rel in rendered)
    after = path.read_bytes().split(b"\n")
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [
        next(i for i, line in enumerate(after) if line.startswith(b'"max":'))
    ]
    doc = json.loads(path.read_bytes())
    validate(doc)
    assert doc["cards"]["max"]["fields"]["title"] == "Intern"
    # A full build over the same site writes the very same manifest.
    monkeypatch.undo()
    os.utime(project / "site.yaml")  # anything but a contact file moved: the full build decides
    rebuilt_bytes = path.read_bytes()
    stat = path.stat()
    build()
    assert path.read_bytes() == rebuilt_bytes
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns), "written only on change"


def test_a_lost_manifest_is_made_again_whole(project: Path) -> None:
    build()
    path = project / "public" / SITE_MANIFEST
    first = path.read_bytes()
    path.unlink()
    build()
    assert path.read_bytes() == first


def test_link_order_comes_from_the_manifest(project: Path) -> None:
    build()
    shutil.rmtree(project / "public" / ".cardsite" / "state")
    site = read_manifest(project / "public")
    pages = ["jmueller/index.html", "jana-mueller/index.html", "hans-meier/index.html", "index.html"]
    phases = Plan(added=pages).phases(site.page_links())
    order = {rel: i for i, phase in enumerate(phases) for rel in phase}
    assert order["jana-mueller/index.html"] < order["jmueller/index.html"], "target before its alias"
    assert order["jana-mueller/index.html"] < order["hans-meier/index.html"], "successor before the retired page"


# --------------------------------------------------------------------------- publish and notify read it alone


def test_publish_plans_from_the_manifest_without_the_build_state(project: Path, aws: str) -> None:
    """A site built under another Python (whose marshal state this one cannot read) still publishes."""
    import boto3

    from cardsite.publish.sync import PublishOptions, publish

    build()
    out = project / "public"
    boto3.client("s3", endpoint_url=aws).create_bucket(Bucket="cards")
    state = out / ".cardsite" / "state" / "build"
    # What another Python minor version leaves: a header naming another cache tag, so read_state sees nothing.
    state.write_bytes(state.read_bytes().replace(sys.implementation.cache_tag.encode(), b"cpython-399"))
    from cardsite.build.store import read_state

    assert read_state(out) == {}
    first = publish(PublishOptions(out=out, bucket="cards", endpoint_url=aws))
    assert sorted(first.uploaded) == sorted(published_files(out))
    assert first.to_json()["cards"]["added"] == sorted(read_manifest(out).cards)
    shutil.rmtree(out / ".cardsite" / "state")
    again = publish(PublishOptions(out=out, bucket="cards", endpoint_url=aws))
    assert again.uploaded == [] and again.plan is not None and again.plan.empty
    (out / SITE_MANIFEST).unlink()
    assert main(["publish", "-q", "--bucket", "cards", "--endpoint-url", aws, "--dry-run"]) == 1


def eml_jobs(folder: Path) -> dict[str, dict]:
    """Return {message file: its card.json and attachments} of a notify dry run."""
    jobs = {}
    for path in sorted(folder.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        parts = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments() if p.get_filename()}
        if "card.json" in parts:
            parts["card.json"] = json.loads(parts["card.json"])
        jobs[path.name] = {"subject": msg["Subject"], "parts": parts}
    return jobs


def test_notify_sends_the_same_jobs_from_the_manifest_alone(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cardsite.render import qr

    for name in ("CARDSITE_MAIL_FROM", "CARDSITE_PRINT_INBOX", "CARDSITE_BUCKET", "GITHUB_SHA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_SHA", "0" * 40)
    build()
    assert main(["notify", "-q", "--dry-run", "with-contacts"]) == 0
    shutil.rmtree(project / "contacts")
    shutil.rmtree(project / "public" / ".cardsite" / "state")
    for name in ("render_svg", "render_png", "modules_of", "_make"):
        monkeypatch.setattr(qr, name, lambda *a, **k: pytest.fail("notify encoded a QR code"))
    assert main(["notify", "-q", "--dry-run", "without"]) == 0
    with_contacts, without = eml_jobs(project / "with-contacts"), eml_jobs(project / "without")
    assert with_contacts == without and "jana-mueller.print.eml" in without
    job = without["jana-mueller.print.eml"]["parts"]
    out = project / "public" / "jana-mueller"
    monkeypatch.undo()
    assert job["qr.svg"] == (out / "qr.svg").read_bytes()
    assert job["qr.png"] == qr.render_png(job["card.json"]["qr"]["url"], "M", min_width=600)
    assert job["jana-mueller.vcf"] == (out / "jana-mueller.vcf").read_bytes()
    assert job["card.json"]["fields"] == read_manifest(project / "public").cards["jana-mueller"].fields


def test_notify_refuses_a_manifest_older_than_the_cards(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build()
    card = project / "contacts" / "max.yaml"
    card.write_text(card.read_text() + "title: Intern\n")
    assert main(["notify", "-q", "--dry-run", "out"]) == 1
    assert "contacts/max.yaml changed since the last build: run `python build.py`" in capsys.readouterr().err
    assert not (project / "out").exists()


def test_a_build_encodes_each_qr_code_once(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build writes qr.svg alone, one encoding per URL; notify draws the print job's PNG from that file."""
    from cardsite.render import qr

    encoded: list[str] = []
    real = qr._make
    monkeypatch.setattr(qr, "_make", lambda url, level: encoded.append(url) or real(url, level))
    qr.modules_of.cache_clear()
    build()
    site = read_manifest(project / "public")
    assert sorted(encoded) == sorted(f"{card.url}?q" for card in site.cards.values())
    assert not [rel for c in site.cards.values() for rel in c.files if rel.endswith(".png")]


def test_a_rebuild_puts_back_a_card_line_removed_by_hand(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build()
    path = project / "public" / SITE_MANIFEST
    lines = path.read_bytes().split(b"\n")
    (zoe,) = [i for i, line in enumerate(lines) if line.startswith(b'"zoe-leclerc":')]
    del lines[zoe]
    lines[zoe - 1] = lines[zoe - 1].removesuffix(b",")  # zoe-leclerc is the last card
    path.write_bytes(b"\n".join(lines))
    assert "zoe-leclerc" not in read_manifest(project / "public").cards
    card = project / "contacts" / "zoe-leclerc.yaml"
    card.write_text(card.read_text().replace("title: Responsable", "title: Chef"))
    monkeypatch.setattr(engine, "gather", lambda *a, **k: pytest.fail("the full build ran"))
    build()
    doc = json.loads(path.read_bytes())
    validate(doc)
    assert list(doc["cards"]) == sorted(doc["cards"])
    assert doc["cards"]["zoe-leclerc"]["fields"]["title"].startswith("Chef des ventes")


def test_notify_refuses_a_vcard_changed_after_the_build(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build()
    vcf = project / "public" / "max" / "max.vcf"
    vcf.write_bytes(vcf.read_bytes().replace(b"Muster", b"Mallory"))
    assert main(["notify", "-q", "--dry-run", "out"]) == 1
    assert "public/max/max.vcf changed since the last build" in capsys.readouterr().err
    assert not (project / "out").exists()


def test_a_card_line_is_found_by_bisection_among_ids_that_share_a_prefix() -> None:
    ids = sorted(["a", "a-b", "a0", "ab", "ab-c", "cards", "m", "max", "max-1", "z", "zz-9"])
    head = b'{"manifest_version":1,"site":{"files":{}}'
    data = manifest_module._join(head, [manifest_module._card_line(i, {"n": i * 50}) for i in ids])
    first = data.index(b"\n", data.index(b"\n") + 1) + 1
    for card_id in ids:
        start = manifest_module._line_of(data, card_id, first)
        assert data[start:].startswith(f'"{card_id}":'.encode()), card_id
        # From any line start at or before its own line, and never from after it.
        assert manifest_module._line_of(data, card_id, data.index(b"\n", first) + 1 if card_id != ids[0] else first)
        after = data.index(b"\n", start) + 1
        assert manifest_module._line_of(data, card_id, after) == 0
    for absent in ("", "0", "a-", "aa", "car", "cardsa", "maz", "zzz"):
        assert manifest_module._line_of(data, absent, first) == 0, absent
