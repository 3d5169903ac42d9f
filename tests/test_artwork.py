"""The print artwork, read back by tools nobody here wrote: pypdf, poppler (pdffonts, pdftotext,
pdftoppm), pdfplumber and zxing-cpp, on the sample cards and on long and non-Latin names."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cardsite.cli import main

MM = 72 / 25.4
TRIM = (85.0, 55.0)
BLEED = 3.0
SAFE = 3.0
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

#: Cards with long and non-Latin names, each as a contact file's name block and title.
GENERATED = {
    # 40 characters: set smaller than the layout's 11 pt, and still inside the safe area.
    "forty": ({"given": "Anna-Katharina Sophie", "family": "Müller-Lüdenscheid"}, "Head of Platform"),
    "olafur": ({"given": "Ólafur Ragnar", "family": "Grímsson"}, "Forseti Íslands, Bessastaðir"),
    "eleni": ({"given": "Αικατερίνη", "family": "Παπαδοπούλου"}, "Διευθύντρια Πωλήσεων Ελλάδας"),
    "sasha": ({"given": "Александра Владимировна", "family": "Кузнецова"}, "Руководитель отдела продаж"),
    "long-title": (
        {"given": "Zoë", "family": "Łukasiewicz"},
        "Senior Vice President, Infrastructure & Developer Experience",
    ),
}


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing (apt-get install poppler-utils)")
        pytest.skip(f"{tool} is missing (apt-get install poppler-utils)")
    return path


def write_card(project: Path, card_id: str, name: dict[str, str], title: str = "") -> None:
    doc = {"name": name, **({"title": title} if title else {})}
    (project / "contacts" / f"{card_id}.yaml").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")


def full_name(name: dict[str, str]) -> str:
    return f"{name['given']} {name['family']}"


@pytest.fixture
def printed(project: Path) -> Path:
    """Build the sample project with the generated cards and render every live card's PDF."""
    for card_id, (name, title) in GENERATED.items():
        write_card(project, card_id, name, title)
    assert len(full_name(GENERATED["forty"][0])) == 40
    assert main(["build", "-q"]) == 0
    assert main(["print", "-q"]) == 0
    return project / "public" / ".cardsite" / "print"


def live_ids(project: Path) -> list[str]:
    site = json.loads((project / "public" / ".cardsite" / "site.json").read_text("utf-8"))
    return sorted(card_id for card_id, card in site["cards"].items() if card["status"] == "active")


def pt_box(left: float, bottom: float, right: float, top: float) -> list[float]:
    return [round(v * MM, 2) for v in (left, bottom, right, top)]


def test_two_pages_with_media_bleed_and_trim_boxes(printed: Path, project: Path) -> None:
    from pypdf import PdfReader

    ids = live_ids(project)
    assert ids == sorted(p.stem for p in printed.glob("*.pdf")), "one PDF per live card, none for the retired one"
    w, h = TRIM
    for card_id in ids:
        reader = PdfReader(printed / f"{card_id}.pdf")
        assert len(reader.pages) == 2, card_id
        for page in reader.pages:
            boxes = {
                name: [round(float(v), 2) for v in getattr(page, name)] for name in ("mediabox", "bleedbox", "trimbox")
            }
            assert boxes["mediabox"] == pt_box(0, 0, w + 2 * BLEED, h + 2 * BLEED), card_id
            assert boxes["bleedbox"] == boxes["mediabox"]
            assert boxes["trimbox"] == pt_box(BLEED, BLEED, BLEED + w, BLEED + h), card_id


def test_every_font_is_embedded_as_a_subset(printed: Path) -> None:
    pdffonts = need("pdffonts")
    for pdf in printed.glob("*.pdf"):
        lines = subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
        fonts = lines[2:]
        assert fonts, pdf
        for line in fonts:
            # name type encoding emb sub uni object ID: "yes yes" for embedded and subset.
            assert re.search(r"\s+yes\s+yes\s+(yes|no)\s+\d+\s+\d+$", line), line
            assert re.match(r"[A-Z]{6}\+NotoSans", line), line


def test_front_carries_name_and_title_in_the_persons_order(printed: Path, project: Path) -> None:
    pdftotext = need("pdftotext")

    def front(card_id: str) -> str:
        cmd = [pdftotext, "-f", "1", "-l", "1", "-layout", str(printed / f"{card_id}.pdf"), "-"]
        return " ".join(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split())

    expected = {card_id: (full_name(name), title) for card_id, (name, title) in GENERATED.items()}
    expected["jana-mueller"] = ("Dr. Jana Sophie Müller, MSc ETH", "Head of Platform")
    expected["lukasz-wojcik"] = ("Łukasz Wójcik", "Software Engineer")
    expected["zoe-leclerc"] = ("Zoë Leclerc", "Responsable des ventes Suisse romande")
    for card_id, (name, title) in expected.items():
        text = front(card_id)
        assert name in text and title in text, (card_id, text)
        assert "Example AG" in text


def test_every_character_lies_inside_the_safe_area(printed: Path) -> None:
    import pdfplumber

    w, h = TRIM
    left, right = (BLEED + SAFE) * MM, (BLEED + w - SAFE) * MM
    top, bottom = (BLEED + SAFE) * MM, (BLEED + h - SAFE) * MM  # pdfplumber measures from the page's top
    sizes = {}
    for pdf in sorted(printed.glob("*.pdf")):
        with pdfplumber.open(pdf) as doc:
            for page in doc.pages:
                assert page.chars, pdf
                for char in page.chars:
                    inside = left - 0.01 <= char["x0"] and char["x1"] <= right + 0.01
                    inside = inside and top - 0.01 <= char["top"] and char["bottom"] <= bottom + 0.01
                    assert inside, (pdf.name, char["text"], char["x0"], char["x1"], char["top"], char["bottom"])
            words = doc.pages[0].extract_words(extra_attrs=["size"])
            sizes[pdf.stem] = {word["text"]: word["size"] for word in words}
    # The 40-character name was set smaller to fit, within the layout's minimum of 7 pt; a short one at 11 pt.
    assert 7 <= sizes["forty"]["Anna-Katharina"] < 10.9
    assert round(sizes["max"]["Muster"], 2) == 11


def test_the_qr_code_on_the_back_decodes_to_the_cards_qr_url_at_300_dpi(printed: Path, project: Path, tmp_path) -> None:
    import zxingcpp
    from PIL import Image

    pdftoppm = need("pdftoppm")
    site = json.loads((project / "public" / ".cardsite" / "site.json").read_text("utf-8"))
    for card_id in live_ids(project):
        out = tmp_path / card_id
        subprocess.run(
            [pdftoppm, "-r", "300", "-f", "2", "-l", "2", "-png", str(printed / f"{card_id}.pdf"), str(out)], check=True
        )
        (png,) = tmp_path.glob(f"{card_id}-*.png")
        image = Image.open(png)
        assert image.width == round((TRIM[0] + 2 * BLEED) / 25.4 * 300)
        found = [r.text for r in zxingcpp.read_barcodes(image)]
        assert found == [site["cards"][card_id]["url"] + "?q"], card_id
        # The same symbol as the published qr.svg: decoding that one gives the same text.
        svg = (project / "public" / card_id / "qr.svg").read_text()
        assert 'viewBox="0 0 ' in svg


def test_the_pdfs_qr_modules_are_the_published_svgs_and_at_least_0_6_mm(printed: Path, project: Path, tmp_path) -> None:
    import email
    from email import policy

    import numpy as np
    import zxingcpp
    from PIL import Image

    from cardsite.render.qr import png_from_svg

    assert main(["notify", "-q", "--dry-run", str(tmp_path / "outbox")]) == 0
    raw = (tmp_path / "outbox" / "jana-mueller.print.eml").read_bytes()
    files = {
        p.get_filename(): p.get_payload(decode=True)
        for p in email.message_from_bytes(raw, policy=policy.default).iter_attachments()
    }
    job = json.loads(files["card.json"])
    assert files["card.pdf"] == (printed / "jana-mueller.pdf").read_bytes()
    side = int(re.search(rb'viewBox="0 0 (\d+)', files["qr.svg"])[1])  # modules with the quiet zone
    module = job["print"]["qr_module_mm"]
    assert module == round(36 / side, 4) and module >= 0.6  # the layout's 36 mm square
    # Sample the back, rasterised by poppler at 600 dpi, at every module's centre; qr.svg drawn 1 px a module.
    subprocess.run(
        [
            need("pdftoppm"),
            "-r",
            "600",
            "-f",
            "2",
            "-l",
            "2",
            "-gray",
            str(printed / "jana-mueller.pdf"),
            str(tmp_path / "b"),
        ],
        check=True,
    )
    back = np.asarray(Image.open(next(tmp_path.glob("b-*.pgm"))))
    left, top = BLEED + TRIM[0] - 4 - 36, BLEED + 4  # qr: {x: -4, y: 4, size: 36}
    centres = [(left + (i + 0.5) * 36 / side) / 25.4 * 600 for i in range(side)]
    rows = [(top + (i + 0.5) * 36 / side) / 25.4 * 600 for i in range(side)]
    printed_modules = np.array([[back[round(y), round(x)] < 128 for x in centres] for y in rows])
    svg = np.asarray(Image.open(io.BytesIO(png_from_svg(files["qr.svg"], min_width=side))).convert("L")) < 128
    assert svg.shape == (side, side) and (printed_modules == svg).all()
    assert [r.text for r in zxingcpp.read_barcodes(Image.fromarray(~svg))] == [job["url"] + "?q"]


def test_output_is_byte_identical_between_runs(printed: Path, project: Path) -> None:
    first = {p.name: p.read_bytes() for p in printed.glob("*.pdf")}
    shutil.rmtree(printed)
    # Another process, so nothing is shared but the inputs.
    subprocess.run([sys.executable, "-m", "cardsite.cli", "print", "-q"], cwd=project, check=True)
    assert {p.name: p.read_bytes() for p in printed.glob("*.pdf")} == first
    assert b"CreationDate" not in first["max.pdf"] or b"D:20000101" in first["max.pdf"]


def test_a_card_edit_renders_its_pdf_again_and_a_layout_edit_every_one(printed: Path, project: Path, caplog) -> None:
    from cardsite.build.manifest import read_manifest
    from cardsite.build.printing import print_cards
    from cardsite.cards.settings import load_settings

    out = project / "public"

    def drawn() -> list[str]:
        return print_cards(load_settings(project / "contacts"), out, read_manifest(out), [], None)[0]

    assert drawn() == []
    path = project / "contacts" / "max.yaml"
    path.write_text(path.read_text() + "title: Solo\n")
    assert main(["build", "-q"]) == 0
    assert drawn() == ["max"]
    layout = project / "templates" / "print" / "card.yaml"
    layout.write_text(layout.read_text().replace("size: 7.5,", "size: 7.25,"))
    assert main(["build", "-q"]) == 0
    assert drawn() == live_ids(project)


# --------------------------------------------------------------------------- check


def check(project: Path, capsys) -> tuple[int, str]:
    code = main(["check"])
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def test_missing_glyphs_are_a_check_problem_naming_card_field_and_characters(project: Path, capsys) -> None:
    write_card(project, "giorgi", {"given": "გიორგი", "family": "Smith"})
    code, out = check(project, capsys)
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("contacts/giorgi.yaml"))
    assert line.startswith("contacts/giorgi.yaml:1: name.given: print: has characters the print font (Noto Sans) lacks")
    assert "'გ' (U+10D2 GEORGIAN LETTER GAN)" in line and "print.fallback_font" in line
    assert "Traceback" not in out


def test_a_fallback_font_in_site_yaml_supplies_the_missing_glyphs(project: Path, capsys, tmp_path) -> None:
    if not DEJAVU.is_file():
        pytest.skip("needs fonts-dejavu-core") if not os.environ.get("CI") else pytest.fail("needs fonts-dejavu-core")
    shutil.copy(DEJAVU, project / "DejaVuSans.ttf")
    site = project / "site.yaml"
    site.write_text(site.read_text() + "print:\n  fallback_font: DejaVuSans.ttf\n")
    write_card(project, "giorgi", {"given": "გიორგი", "family": "Smith"})
    assert check(project, capsys)[0] == 0
    assert main(["build", "-q"]) == 0 and main(["print", "-q", "giorgi"]) == 0
    pdffonts = need("pdffonts")
    pdf = project / "public" / ".cardsite" / "print" / "giorgi.pdf"
    fonts = subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "DejaVuSans" in fonts and all(" yes yes " in line for line in fonts.splitlines()[2:])
    text = subprocess.run([need("pdftotext"), "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True)
    assert "გიორგი Smith" in text.stdout


def test_text_too_long_at_the_minimum_size_is_a_check_problem(project: Path, capsys) -> None:
    write_card(
        project,
        "wordy",
        {"given": "Max"},
        "Chief Executive Officer and Chairman of the Board of Directors, Europe and Africa",
    )
    code, out = check(project, capsys)
    assert code == 1
    assert "contacts/wordy.yaml:1: title: print: 'Chief Executive Officer" in out
    assert "does not fit on the printed card: at the smallest size the layout allows (5.5 pt)" in out
    assert "Error: 1 problem(s) found" in out
    # A retired card is not printed, so it is not held to the layout.
    path = project / "contacts" / "wordy.yaml"
    path.write_text(path.read_text("utf-8")[:-1] + ', "active": false}', "utf-8")
    assert check(project, capsys)[0] == 0


def test_a_layout_edit_rechecks_every_card(project: Path, capsys) -> None:
    assert main(["build", "-q"]) == 0
    layout = project / "templates" / "print" / "card.yaml"
    layout.write_text(layout.read_text().replace("size: 11, min_size: 7", "size: 20, min_size: 20"))
    assert main(["build", "-q"]) == 1
    out = capsys.readouterr().err
    assert re.search(
        r"contacts/jana-mueller\.yaml:\d+: name: print: 'Dr\. Jana Sophie Müller, MSc ETH' does not fit", out
    )


def test_a_layout_outside_the_safe_area_is_refused_with_its_line(project: Path, capsys) -> None:
    layout = project / "templates" / "print" / "card.yaml"
    layout.write_text(layout.read_text().replace("name: {x: 9, y: -21,", "name: {x: 1, y: -21,"))
    code, out = check(project, capsys)
    assert code == 1
    line = next(line for line in out.splitlines() if "card.yaml" in line)
    assert re.match(r"templates/print/card\.yaml:\d+: front\.name: name reaches outside the safe area", line), line


# --------------------------------------------------------------------------- site.yaml's print block


@pytest.mark.parametrize(
    ("block", "trim", "crop"),
    [("print:\n  trim: us\n", (88.9, 50.8), False), ("print:\n  trim: [90, 50]\n  crop_marks: true\n", (90, 50), True)],
)
def test_trim_sizes_and_crop_marks(project: Path, block: str, trim: tuple[float, float], crop: bool) -> None:
    from pypdf import PdfReader

    site = project / "site.yaml"
    site.write_text(site.read_text() + block)
    assert main(["build", "-q"]) == 0 and main(["print", "-q", "max"]) == 0
    page = PdfReader(project / "public" / ".cardsite" / "print" / "max.pdf").pages[1]
    w, h = trim
    margin = BLEED + (6 if crop else 0)
    assert [round(float(v), 2) for v in page.trimbox] == pt_box(margin, margin, margin + w, margin + h)
    assert [round(float(v), 2) for v in page.bleedbox] == pt_box(
        margin - BLEED, margin - BLEED, margin + w + BLEED, margin + h + BLEED
    )
    assert [round(float(v), 2) for v in page.mediabox] == pt_box(0, 0, w + 2 * margin, h + 2 * margin)


def test_colours_are_cmyk_by_default_and_rgb_on_request(project: Path) -> None:
    from pypdf import PdfReader

    def operators() -> set[str]:
        assert main(["build", "-q"]) == 0 and main(["print", "-q", "max"]) == 0
        page = PdfReader(project / "public" / ".cardsite" / "print" / "max.pdf").pages[0]
        return set(re.findall(r"\b(k|K|rg|RG)\n", page.get_contents().get_data().decode("latin-1")))

    assert operators() <= {"k", "K"} and "k" in operators()
    site = project / "site.yaml"
    site.write_text(site.read_text() + "print:\n  colour: rgb\n")
    assert operators() <= {"rg", "RG"}


def test_a_site_that_prints_elsewhere_turns_the_artwork_off(project: Path, capsys, tmp_path) -> None:
    import email
    from email import policy

    write_card(project, "minsu-kim", {"given": "민수", "family": "김"})
    assert check(project, capsys)[0] == 1  # Noto Sans has no Hangul
    site = project / "site.yaml"
    site.write_text(site.read_text() + "print:\n  artwork: false\n")
    assert check(project, capsys)[0] == 0
    assert main(["build", "-q"]) == 0 and main(["notify", "-q", "--dry-run", str(tmp_path / "out")]) == 0
    raw = (tmp_path / "out" / "minsu-kim.print.eml").read_bytes()
    files = {p.get_filename() for p in email.message_from_bytes(raw, policy=policy.default).iter_attachments()}
    assert "card.pdf" not in files and "minsu-kim.ndef" in files
    assert main(["print", "minsu-kim"]) == 1
    assert "print.artwork: false" in capsys.readouterr().err


@pytest.mark.parametrize("level", ["M", "Q"])
def test_the_cheap_qr_size_check_agrees_with_encoding_every_url(level: str) -> None:
    from cardsite.render.artwork import MIN_MODULE_MM, module_mm, qr_modules
    from cardsite.render.printlayout import load_layout
    from cardsite.render.qr import symbol_size

    root = Path(__file__).resolve().parent.parent
    layout = load_layout(root / "templates", {}, "#0b5cad", root / "site.yaml")
    # Digits and capitals let qrcode switch to denser modes; a URL is never longer than in byte mode.
    for length in range(10, 150, 3):
        for url in (
            "https://c.example/" + "a" * length,
            "https://c.example/" + "1" * length,
            "HTTPS://C.EX/" + "A1" * length,
        ):
            exact = module_mm(layout, symbol_size(url, level)) >= MIN_MODULE_MM - 1e-9
            cheap = qr_modules(layout, url, level)
            assert exact == (cheap is None or module_mm(layout, cheap) >= MIN_MODULE_MM - 1e-9), url


def test_the_shipped_font_metrics_are_reportlabs_own() -> None:
    # check measures text with the metrics kept beside each font; they must be what reportlab reads.
    from cardsite.render.artwork import font_metrics, metrics_file
    from cardsite.render.printlayout import FONTS

    for path in FONTS.values():
        assert json.loads(metrics_file(path).read_bytes()) == font_metrics(path), (
            f"regenerate {metrics_file(path).name}: docs/print.md, 'Font metrics'"
        )


def test_checking_a_card_for_print_needs_no_pdf_library(project: Path) -> None:
    # A one-card rebuild checks the card against the layout; reportlab is for drawing only.
    code = (
        "import sys; from pathlib import Path\n"
        "from cardsite.cards.settings import load_settings\n"
        "from cardsite.build.engine import Source, load_one\n"
        "s = load_settings(Path('contacts'))\n"
        "card, _, _, problems = load_one(s, Source('jana-mueller', 'contacts/jana-mueller.yaml', '', [], ''))\n"
        "assert card is not None and not problems, problems\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('reportlab', 'pypdfium2')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
