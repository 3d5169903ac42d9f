"""Rebuilding edited cards alone: the same result as a full build, for a fraction of its work."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import vobject

from cardsite.build import engine as site
from cardsite.build.store import read_state
from cardsite.cli import main


def build(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["build", *args]) == 0
    return capsys.readouterr().err


def snapshot(out: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file() and ".cardsite" not in p.parts
    }


def touched(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> set[str]:
    return {rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel)}


def no_full_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the build fail the test if it reads every card."""
    monkeypatch.setattr(site, "gather", lambda *args, **kwargs: pytest.fail("the full build ran"))


def edit(card: Path, old: str, new: str) -> None:
    text = card.read_text()
    assert old in text
    card.write_text(text.replace(old, new))


def test_an_edited_card_is_rebuilt_alone(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = project / "public"
    build(capsys)
    before = snapshot(out)
    edit(project / "contacts" / "jana-mueller.yaml", "title: ", "title: Chief ")
    edit(project / "contacts" / "max.yaml", "Max", "Max")  # rewritten with the same bytes
    no_full_build(monkeypatch)
    err = build(capsys)
    assert "Built 5 cards" in err and "3 files written" in err
    assert touched(before, snapshot(out)) == {
        "jana-mueller/index.html",
        "jana-mueller/jana-mueller.vcf",
        "jana-mueller/signature.html",
    }
    assert "Chief " in (out / "jana-mueller" / "index.html").read_text()
    assert "TITLE:Chief " in (out / "jana-mueller" / "jana-mueller.vcf").read_text()
    assert "nothing changed" in build(capsys)


def test_a_card_saved_with_the_same_bytes_leaves_the_manifest_as_it_was(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = project / "public"
    build(capsys)
    manifest = out / ".cardsite" / "site.json"
    before = (manifest.stat().st_ino, manifest.stat().st_mtime_ns, manifest.read_bytes())
    edit(project / "contacts" / "max.yaml", "Max", "Max")
    no_full_build(monkeypatch)
    assert "0 files written" in build(capsys)
    assert (manifest.stat().st_ino, manifest.stat().st_mtime_ns, manifest.read_bytes()) == before
    edit(project / "contacts" / "max.yaml", "Max", "Maxi")
    build(capsys)
    doc = json.loads(manifest.read_bytes())
    assert (
        doc["cards"]["max"]["name"].startswith("Maxi") and doc["cards"].keys() == json.loads(before[2])["cards"].keys()
    )


def test_a_rebuild_leaves_the_state_a_full_build_would(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project / "public"
    build(capsys)
    edit(project / "contacts" / "max.yaml", "  family: Muster\n", "  family: Muster\ntitle: Intern\n")
    build(capsys)
    after_rebuild = read_state(out)
    os.utime(project / "site.yaml")  # defeats the stamp's cheap checks, changes no content: a full build
    before = snapshot(out)
    assert "0 files written" in build(capsys)  # the full build finds every file current
    assert snapshot(out) == before
    assert read_state(out) == after_rebuild


def test_a_change_other_pages_show_rebuilds_them(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project / "public"
    build(capsys)
    edit(project / "contacts" / "jana-mueller.yaml", "family: Müller", "family: Muster")
    build(capsys)
    for page in ("hans-meier", "jmueller"):  # her successor link and her alias redirect name her
        text = (out / page / "index.html").read_text()
        assert "Sophie Muster" in text and "Müller" not in text, page


def tree(out: Path) -> dict[str, bytes]:
    """Return every output's bytes, the site manifest included, the build's private store aside."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and (".cardsite" not in p.parts or p.name == "site.json")
    }


@pytest.mark.parametrize("directory", [False, True])
def test_a_name_edit_rewrites_exactly_the_pages_that_show_it(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, directory: bool
) -> None:
    # Jana has the alias jmueller and is the successor of the retired Hans: three pages show her name.
    if directory:
        (project / "site.yaml").write_text((project / "site.yaml").read_text() + "directory: true\n")
    out = project / "public"
    build(capsys)
    before = snapshot(out)
    edit(project / "contacts" / "jana-mueller.yaml", "family: Müller", "family: Muster")
    with monkeypatch.context() as patch:
        no_full_build(patch)
        err = build(capsys)
    assert "Built 5 cards" in err
    shown = {"hans-meier/index.html", "jmueller/index.html"} | ({"index.html"} if directory else set())
    own = {"jana-mueller/index.html", "jana-mueller/jana-mueller.vcf", "jana-mueller/signature.html"}
    assert touched(before, snapshot(out)) == own | shown
    for page in shown:
        assert "Sophie Muster" in (out / page).read_text(), page
    # Byte for byte what a full build of the same files makes, manifest included; then nothing is due.
    assert main(["build", "--out", "fresh"]) == 0
    assert tree(out) == tree(project / "fresh")
    assert "nothing changed" in build(capsys)
    os.utime(project / "site.yaml")  # a full build now finds every file current
    assert "0 files written" in build(capsys)


def test_a_photo_removed_is_rebuilt_alone_and_its_files_go(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = project / "public"
    build(capsys)
    card = project / "contacts" / "jana-mueller.yaml"
    card.write_text("".join(line for line in card.read_text().splitlines(True) if not line.startswith("photo:")))
    with monkeypatch.context() as patch:
        no_full_build(patch)
        build(capsys)
    assert not (out / "jana-mueller" / "photo.jpg").exists()
    assert main(["build", "--out", "fresh"]) == 0
    assert tree(out) == tree(project / "fresh")


def kept_photos(out: Path) -> list[str]:
    return sorted(p.name for p in (out / ".cardsite" / "photos").iterdir())


def test_a_title_edit_embeds_the_kept_photo_without_decoding_the_photo_again(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardsite.build.photos import kept_name
    from cardsite.render import photo

    out = project / "public"
    build(capsys)
    digest = hashlib.sha256((project / "contacts" / "photos" / "jana-mueller.jpg").read_bytes()).hexdigest()
    assert kept_photos(out) == [kept_name(digest)]
    edit(project / "contacts" / "jana-mueller.yaml", "title: ", "title: Chief ")
    with monkeypatch.context() as patch:
        no_full_build(patch)
        patch.setattr(photo, "vcard_jpeg", lambda data: pytest.fail("the unchanged photo was decoded again"))
        build(capsys)
    assert "TITLE:Chief " in (out / "jana-mueller" / "jana-mueller.vcf").read_text()
    assert main(["build", "--out", "fresh"]) == 0  # made from the photo itself
    assert tree(out) == tree(project / "fresh")


def test_a_new_photo_gets_its_own_jpeg_and_the_old_one_goes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from cardsite.build.photos import kept_name
    from cardsite.render.photo import vcard_jpeg

    out = project / "public"
    build(capsys)
    new = project / "contacts" / "photos" / "jana-mueller.jpg"
    Image.new("RGB", (400, 300), "#3a7").save(new, format="JPEG")
    build(capsys)  # a changed photo is the full build's
    vcard = vobject.readOne((out / "jana-mueller" / "jana-mueller.vcf").read_text())
    assert vcard.photo.value == vcard_jpeg(new.read_bytes())
    assert kept_photos(out) == [kept_name(hashlib.sha256(new.read_bytes()).hexdigest())]


def test_a_build_lets_go_of_the_decoded_photos(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cardsite.render import photo

    build(capsys)  # in this process: five cards are too few for workers
    assert (project / "public" / "jana-mueller" / "photo@3x.webp").is_file()
    assert photo._source.cache_info().currsize == photo._square.cache_info().currsize == 0


def test_a_damaged_kept_photo_is_made_again(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project / "public"
    build(capsys)
    (name,) = kept_photos(out)
    kept = out / ".cardsite" / "photos" / name
    whole = kept.read_bytes()
    kept.write_bytes(whole[: len(whole) // 2])
    edit(project / "contacts" / "jana-mueller.yaml", "title: ", "title: Chief ")
    build(capsys)
    assert kept.read_bytes() == whole
    assert main(["build", "--out", "fresh"]) == 0
    assert tree(out) == tree(project / "fresh")


def test_a_broken_edit_is_reported_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = project / "public"
    build(capsys)
    card = project / "contacts" / "max.yaml"
    good = card.read_text()
    card.write_text(good + "phones:\n  - value: '12'\n")
    line = len(good.splitlines()) + 2
    before = snapshot(out)
    with monkeypatch.context() as patch:
        no_full_build(patch)
        for _ in range(2):  # a failed build saves no stamp: the second try checks the card again
            assert main(["build"]) == 1
            err = capsys.readouterr().err
            assert f"contacts/max.yaml:{line}" in err and "phones[0]" in err and "'12'" in err
            assert "Traceback" not in err
            assert snapshot(out) == before
    card.write_text(good.replace("Max", "Maxi"))
    build(capsys)
    assert "Maxi" in (out / "max" / "index.html").read_text()


def test_an_output_changed_by_hand_is_restored(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project / "public"
    build(capsys)
    (out / "zoe-leclerc" / "qr.svg").unlink()
    edit(project / "contacts" / "max.yaml", "  family: Muster\n", "  family: Muster\ntitle: Intern\n")
    build(capsys)
    assert (out / "zoe-leclerc" / "qr.svg").is_file()
    assert "nothing changed" in build(capsys)


def test_a_lost_state_file_means_a_full_build(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project / "public"
    build(capsys)
    for shard in (out / ".cardsite" / "state").glob("cards.*"):
        shard.write_bytes(b"garbage")
    edit(project / "contacts" / "max.yaml", "  family: Muster\n", "  family: Muster\ntitle: Intern\n")
    build(capsys)
    assert "Intern" in (out / "max" / "index.html").read_text()
    assert len(read_state(out)["cards"]) == 5


def test_the_engine_alone_decides_what_to_do(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No command line: build() itself stops, rebuilds one card, or builds everything.
    from cardsite.cards.settings import load_settings

    out = project / "public"
    first = site.build(load_settings(project / "contacts"), out)
    assert first.path == "full" and len(first.cards) == 5
    again = site.build(load_settings(project / "contacts"), out)
    assert again.path == "nothing" and again.cards == first.cards and not again.written
    edit(project / "contacts" / "max.yaml", "  family: Muster\n", "  family: Muster\ntitle: Intern\n")
    with monkeypatch.context() as patch:
        no_full_build(patch)
        one = site.build(load_settings(project / "contacts"), out)
    # The report names every card, for the preview's index, and says which were looked at again.
    assert one.path == "cards" and one.rebuilt == ["max"] and one.cards == first.cards
    assert "max/index.html" in one.written and "Intern" in (out / "max" / "index.html").read_text()


def test_the_stamp_is_part_of_the_one_store(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cardsite.build.store import STORE_HEADER

    out = project / "public"
    build(capsys)
    assert not (out / ".cardsite" / "stamp").exists()
    files = sorted((out / ".cardsite" / "state").iterdir())
    assert files and all(path.read_bytes().startswith(STORE_HEADER) for path in files)
    # A card file of the store replaced by hand (here by another card file) is never trusted by the cheap checks.
    first, second = [path for path in files if path.name.startswith("cards.")][:2]
    first.write_bytes(second.read_bytes())
    assert "nothing changed" not in build(capsys)
    assert len(read_state(out)["cards"]) == 5
    assert "nothing changed" in build(capsys)


def test_site_yaml_broken_after_a_good_build_is_checked(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The CLI defers site.yaml's checks to the engine, which skips them only for the very file it checked.
    build(capsys)
    site_file = project / "site.yaml"
    site_file.write_text(site_file.read_text().replace('brand_color: "#0b5cad"', 'brand_color: "#ffd400"'))
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert "brand_color: white text on #ffd400 has a contrast of 1.4:1" in err and "Traceback" not in err
