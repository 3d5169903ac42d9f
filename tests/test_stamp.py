"""The stamp: a build with nothing to do stops early, and anything that could change an output defeats it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from cardsite.cli import main

NOTHING = "nothing changed"


def build(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["build", *args]) == 0
    return capsys.readouterr().err


def test_second_build_stops_early_and_touches_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert NOTHING not in build(capsys)
    out = project / "public"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    err = build(capsys)
    assert NOTHING in err and "Built 5 cards" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


@pytest.mark.parametrize(
    "change",
    [
        "edit a card",
        "edit a card and put its old mtime back",
        "add a card",
        "replace the photo",
        "edit a template",
        "edit site.yaml",
        "delete an output file",
        "delete a card's folder",
        "delete the build state",
    ],
)
def test_any_change_rebuilds(project: Path, capsys: pytest.CaptureFixture[str], change: str) -> None:
    build(capsys)
    out = project / "public"
    card = project / "contacts" / "max.yaml"
    if change == "edit a card":
        card.write_text(card.read_text().replace("Max", "Mad"))
    elif change == "edit a card and put its old mtime back":
        st = card.stat()
        card.write_text(card.read_text().replace("Max", "Mad"))  # same size
        os.utime(card, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "add a card":
        (project / "contacts" / "new-card.yaml").write_text("name: {given: New, family: Card}\n")
    elif change == "replace the photo":
        photo = project / "contacts" / "photos" / "jana-mueller.jpg"
        from PIL import Image

        Image.new("RGB", (300, 300), "#336699").save(photo)
    elif change == "edit a template":
        style = project / "templates" / "style.css"
        style.write_text(style.read_text() + "\n/* edited */\n")
    elif change == "edit site.yaml":
        site = project / "site.yaml"
        site.write_text(site.read_text().replace("noindex: true", "noindex: false"))
    elif change == "delete an output file":
        (out / "max" / "qr.svg").unlink()
    elif change == "delete a card's folder":
        shutil.rmtree(out / "zoe-leclerc")
    elif change == "delete the build state":
        shutil.rmtree(out / ".cardsite" / "state")
    err = build(capsys)
    assert NOTHING not in err
    assert (out / "max" / "qr.svg").is_file() and (out / "zoe-leclerc" / "index.html").is_file()
    if change.startswith("edit a card"):
        assert "Mad" in (out / "max" / "index.html").read_text()
    assert NOTHING in build(capsys)


def test_other_options_rebuild(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(capsys)
    assert NOTHING not in build(capsys, "--base-url", "https://other.example.org")
    assert "https://other.example.org/max/" in (project / "public" / "max" / "index.html").read_text()
    assert NOTHING in build(capsys, "--base-url", "https://other.example.org")
    assert NOTHING not in build(capsys)


def test_a_failed_build_is_never_current(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(capsys)
    card = project / "contacts" / "max.yaml"
    good = card.read_text()
    card.write_text("name: [not, a, mapping]\n")
    assert main(["build"]) == 1
    assert "contacts/max.yaml" in capsys.readouterr().err
    assert main(["build"]) == 1  # still failing: no stamp let the broken card through
    capsys.readouterr()
    card.write_text(good)
    assert NOTHING not in build(capsys)
    assert NOTHING in build(capsys)


def test_a_library_upgrade_rebuilds(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cardsite.build import fingerprint as stamp

    build(capsys)
    libraries = tmp_path / "libraries"
    (libraries / "vobject-99.0.dist-info").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(libraries))
    stamp.code_digest.cache_clear()
    try:
        assert "vobject-99.0.dist-info" in stamp.installed()
        assert NOTHING not in build(capsys), "output made with other libraries is not current"
        assert NOTHING in build(capsys)
    finally:
        stamp.code_digest.cache_clear()


@pytest.mark.parametrize("option", ["--contacts", "--templates"])
def test_a_file_given_for_a_folder_is_a_clean_error(
    project: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    assert main(["build", option, "site.yaml"]) == 1
    err = capsys.readouterr().err
    assert "folder not found" in err and "Traceback" not in err


def test_the_installed_libraries_are_the_same_from_every_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # build.py puts its own folder first on sys.path, where an editable install leaves cardsite.egg-info; the
    # `cardsite` script puts the venv's bin/. Both must see the same libraries, or the code digest differs.
    from cardsite.build import fingerprint

    source_tree = tmp_path / "checkout"
    (source_tree / "cardsite.egg-info").mkdir(parents=True)
    (source_tree / "cardsite-0.1.0.dist-info").mkdir()
    before = fingerprint.installed()
    monkeypatch.setattr(sys, "path", [str(source_tree), *sys.path])
    assert fingerprint.installed() == before
    (source_tree / "vobject-9.9.dist-info").mkdir()
    assert fingerprint.installed() == sorted([*before, "vobject-9.9.dist-info"])
