"""The landing page's design in the real Chromium at 320, 390 and 1440 px, light and dark."""

from __future__ import annotations

import io

import pytest

from cardsite.build.engine import build
from cardsite.cards.model import source_url
from cardsite.cards.settings import load_settings

pytestmark = pytest.mark.browser

WIDTHS = (320, 390, 1440)
SCHEMES = ("light", "dark")
#: Longer than any sample card: a name, title and address with long words, which must wrap, not overflow.
LONG_CARD = """\
name:
  prefix: Prof. Dr. Dr. h.c.
  given: Maximiliane-Friederike Anastasia
  family: von Hohenzollern-Sigmaringen-Wolkensteinberger
  suffix: MSc ETH, MBA, PhD
title: Oberbaustellenleitungsstellvertreterin für Donaudampfschifffahrtsgesellschaftskapitänsangelegenheiten
department: Internationale Verkehrsinfrastrukturplanungsabteilung
emails:
  - value: maximiliane-friederike.von-hohenzollern-sigmaringen@verwaltung.example.ch
phones:
  - value: "+41 44 668 18 02"
addresses:
  - street: Rheinfallstrassenunterführungsbaustellenzufahrtsweg 1234a
    postal_code: "8212"
    locality: Neuhausen am Rheinfall
    region: SH
    country: Switzerland
websites:
  - https://www.example.ch/team/maximiliane-friederike-anastasia-von-hohenzollern-sigmaringen
lang: de
"""
CARDS = ("jana-mueller", "lukasz-wojcik", "max", "zoe-leclerc", "long-one")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> str:
    import shutil

    from conftest import ROOT, serving

    root = tmp_path_factory.mktemp("landing") / "project"
    for folder in ("contacts", "templates"):
        shutil.copytree(ROOT / folder, root / folder)
    shutil.copy(ROOT / "site.yaml", root / "site.yaml")
    # The long card's name and title fit no printed card (check says so); this site prints elsewhere.
    (root / "site.yaml").write_text((root / "site.yaml").read_text("utf-8") + "print:\n  artwork: false\n", "utf-8")
    (root / "contacts" / "long-one.yaml").write_text(LONG_CARD, "utf-8")
    out = root / "public"
    out.mkdir()
    with serving(out) as base:
        build(load_settings(root / "contacts", base_url=base), out)
        yield base


def open_card(browser, site: str, card: str, width: int, scheme: str, **options):
    context = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme, **options)
    page = context.new_page()
    page.goto(f"{site}/{card}/")
    return context, page


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_no_card_overflows_sideways(site: str, browser, width: int, scheme: str) -> None:
    for card in CARDS:
        context, page = open_card(browser, site, card, width, scheme)
        page.locator("details.qr summary").click()  # with the QR code open too
        wide = page.evaluate(
            """() => [...document.querySelectorAll("body *")]
                .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
                .map((e) => e.tagName + "." + e.className)"""
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (card, wide)
        assert wide == [], card
        context.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_action_buttons_go_to_the_right_places(site: str, browser, width: int, scheme: str) -> None:
    context, page = open_card(browser, site, "jana-mueller", width, scheme)
    quick = page.get_by_role("navigation", name="Schnellaktionen")
    expected = {
        "Anrufen": "tel:+41446681801",  # the first phone of type work or cell
        "E-Mail": "mailto:jana.mueller@example.ch",
        "Route": "https://maps.apple.com/?q=Bahnhofstrasse+10%2C+8001+Z%C3%BCrich%2C+ZH%2C+Switzerland",
        "Website": "https://www.example.ch/team/jana-mueller",
    }
    for label, href in expected.items():
        link = quick.get_by_role("link", name=label, exact=True)
        assert link.is_visible() and link.get_attribute("href") == href, label
        box = link.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, (label, box)  # a thumb's target
    save = page.get_by_role("link", name="Kontakt speichern", exact=True)
    assert save.get_attribute("href") == "jana-mueller.vcf"
    # The colours follow the scheme: a dark page on a dark system, unless site.yaml says otherwise.
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(14, 17, 22)") == (scheme == "dark"), background
    context.close()


def test_share_uses_the_share_sheet_when_there_is_one(site: str, browser) -> None:
    context, page = open_card(browser, site, "zoe-leclerc", 390, "light")
    page.add_init_script("navigator.share = (data) => { window.shared = data; return Promise.resolve(); }")
    page.reload()
    page.get_by_role("button", name="Share").click()
    assert page.evaluate("window.shared") == {"title": "Zoë Leclerc", "url": f"{site}/zoe-leclerc/"}
    context.close()


def test_share_copies_the_link_without_a_share_sheet(site: str, browser) -> None:
    context, page = open_card(browser, site, "zoe-leclerc", 1440, "dark")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    assert page.evaluate("'share' in navigator") is False  # desktop Chromium on Linux has none
    page.get_by_role("button", name="Share").click()
    page.get_by_role("status").filter(has_text="Link copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == f"{site}/zoe-leclerc/"
    context.close()


@pytest.mark.parametrize("javascript", [True, False])
def test_the_qr_code_is_one_tap_away_and_decodes_to_the_card(site: str, browser, javascript: bool) -> None:
    import zxingcpp
    from PIL import Image

    context, page = open_card(browser, site, "max", 390, "dark", java_script_enabled=javascript)
    summary = page.get_by_text("Meinen QR-Code zeigen")
    assert summary.bounding_box()["y"] < 800, "the QR code's button is not on the first screen"
    img = page.locator("details.qr img")
    assert not img.is_visible()
    summary.click()
    assert img.is_visible()
    box = img.bounding_box()
    assert box["width"] >= 200, box  # big enough to scan from another phone
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(img.screenshot())))]
    assert found == [source_url(f"{site}/max/", "qr")], found  # the page URL with the QR code's marker
    assert page.locator("button.share").is_visible() is javascript  # without a script, no share button
    context.close()


def test_print_shows_the_person_and_details_without_the_buttons(site: str, browser) -> None:
    context, page = open_card(browser, site, "jana-mueller", 390, "dark")
    page.emulate_media(media="print")
    for selector in ("nav.quick", "a.save", "div.more", "footer"):
        assert not page.locator(selector).is_visible(), selector
    assert page.get_by_role("heading", level=1).is_visible() and page.locator("section.details").is_visible()
    # Printed on white, whatever the screen's scheme.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    context.close()
