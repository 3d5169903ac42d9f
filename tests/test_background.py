"""The video-call background: 1920 × 1080 PNG and a JPEG, QR code readable mirrored, the face's third clear.

zxing-cpp reads the QR code from the PNG as built and from a mirrored copy, as the self-view shows it.
Where the name is drawn is found by pixels: the same card drawn with another name differs only there.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageOps

from cardsite.cards.model import source_url
from cardsite.cards.settings import load_settings
from cardsite.cli import main
from cardsite.render.background import CLEAR, HEIGHT, JPEG_MAX, WIDTH, draw_background, load_design

ACTIVE = {"jana-mueller", "zoe-leclerc", "lukasz-wojcik", "max"}


def enable(project: Path, design: str | None = None) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text() + "video_backgrounds: true\n")
    if design is not None:
        (project / "templates" / "background" / "background.yaml").write_text(design)


def card_url(project: Path, card_id: str) -> str:
    return json.loads((project / "public" / ".cardsite" / "site.json").read_text())["cards"][card_id]["url"]


def decoded(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def test_off_by_default(project: Path) -> None:
    assert main(["build"]) == 0
    assert not list((project / "public").rglob("background.*"))


@pytest.mark.parametrize("side", ["left", "right"])
def test_background_png_and_jpeg_with_a_qr_code_that_reads_mirrored(project: Path, side: str) -> None:
    enable(project, f"side: {side}\n")
    assert main(["build"]) == 0
    out = project / "public"
    assert not (out / "hans-meier" / "background.png").exists()  # retired
    for card_id in ACTIVE:
        png_bytes = (out / card_id / "background.png").read_bytes()
        jpg_bytes = (out / card_id / "background.jpg").read_bytes()
        png, jpg = Image.open(io.BytesIO(png_bytes)), Image.open(io.BytesIO(jpg_bytes))
        assert (png.format, png.size) == ("PNG", (WIDTH, HEIGHT))
        assert jpg.format == "JPEG" and jpg.width * 9 == jpg.height * 16 and len(jpg_bytes) < JPEG_MAX
        want = source_url(card_url(project, card_id), "qr")
        assert "?q" in want
        assert decoded(png) == [want]
        mirrored = ImageOps.mirror(png.convert("RGB"))
        assert decoded(mirrored) == [want]
        assert decoded(jpg) == [want]


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_name_is_drawn_outside_the_middle_third(project: Path, side: str) -> None:
    settings = load_settings(project / "contacts")
    from cardsite.build.engine import check, load_one

    card = next(load_one(settings, s)[0] for s in check(settings) if s.id == "jana-mueller")
    (project / "templates" / "background" / "background.yaml").write_text(f"side: {side}\n")
    design = load_design(project / "templates" / "background")
    url = source_url(card.url, "qr")
    drawn = np.asarray(draw_background(card, settings, design, url), dtype=int)
    other_name = dataclasses.replace(card, name=dataclasses.replace(card.name, given="Wilhelmina", family="X"))
    other = np.asarray(draw_background(other_name, settings, design, url), dtype=int)
    _, xs = np.nonzero((drawn != other).any(axis=2))
    assert len(xs) > 1000  # the name was drawn, and it is where the two differ
    assert xs.max() < CLEAR[0] or xs.min() >= CLEAR[1]
    # And nothing at all is drawn in the middle third: it is the background colour from top to bottom.
    middle = drawn[:, CLEAR[0] : CLEAR[1]]
    assert (middle == middle[0, 0]).all()


def test_a_bad_design_is_refused_with_its_key(project: Path, capsys) -> None:
    enable(project, "side: middle\nqr_size: 50\ncolour: red\n")
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert "templates/background/background.yaml:1: side: 'middle' is not left or right" in err
    assert "background.yaml:2: qr_size: " in err and "background.yaml:3: colour: unknown key" in err
    assert not (project / "public").exists()


def test_backgrounds_are_linked_from_the_signature_page_and_rebuilt_only_when_needed(project: Path) -> None:
    enable(project)
    assert main(["build"]) == 0
    out = project / "public"
    assert f'href="{card_url(project, "max")}background.png"' in (out / "max" / "signature.html").read_text()
    mtimes = {c: (out / c / "background.png").stat().st_mtime_ns for c in ACTIVE}
    card_html = project / "templates" / "card.html"
    card_html.write_text(card_html.read_text() + "<!-- edited -->\n")
    assert main(["build"]) == 0
    assert {c: (out / c / "background.png").stat().st_mtime_ns for c in ACTIVE} == mtimes
    design = project / "templates" / "background" / "background.yaml"
    design.write_text(design.read_text().replace("side: left", "side: right"))
    assert main(["build"]) == 0
    assert all((out / c / "background.png").stat().st_mtime_ns != mtimes[c] for c in ACTIVE)


def test_a_name_the_font_cannot_draw_is_replaced_by_the_cards_address(project: Path) -> None:
    from cardsite.render.background import drawable

    assert drawable("Zoë Łukasz Ødegaard Ἀθηνᾶ Жанна") and not drawable("김민수")
    # The print check would refuse the name too (Noto Sans has no Hangul): this site prints elsewhere.
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + "print:\n  artwork: false\n", "utf-8")
    (project / "contacts" / "kim.yaml").write_text("name:\n  given: 민수\n  family: 김\n")
    settings = load_settings(project / "contacts")
    from cardsite.build.engine import check, load_one

    card = next(load_one(settings, s)[0] for s in check(settings) if s.id == "kim")
    design = load_design(project / "templates" / "background")
    url = source_url(card.url, "qr")
    drawn = np.asarray(draw_background(card, settings, design, url), dtype=int)
    as_address = dataclasses.replace(card, name=dataclasses.replace(card.name, given="Kim", family="Min"))
    # Any other name the font cannot draw gives the very same picture: no box of a missing glyph is drawn.
    other = dataclasses.replace(card, name=dataclasses.replace(card.name, given="伟", family="张"))
    assert (np.asarray(draw_background(other, settings, design, url), dtype=int) == drawn).all()
    assert not (np.asarray(draw_background(as_address, settings, design, url), dtype=int) == drawn).all()
