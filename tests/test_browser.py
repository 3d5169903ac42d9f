"""The landing page in a real headless Chromium: save, QR, in-app hint, no third-party requests."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cardsite.settings import load_settings
from cardsite.site import build

pytestmark = pytest.mark.browser


@pytest.fixture
def site(project: Path, serve_dir) -> str:
    out = project / "public"
    out.mkdir()
    base = serve_dir(out)
    build(load_settings(project / "contacts", base_url=base), out)
    return base


def decode_qr(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_save_contact_downloads_the_vcard(site: str, page, project: Path) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{site}/jana-mueller/")
    assert page.title() == "Dr. Jana Sophie Müller, MSc ETH – Example AG"
    with page.expect_download() as info:
        page.get_by_role("link", name="Kontakt speichern").click()
    download = info.value
    assert download.url == f"{site}/jana-mueller/jana-mueller.vcf"
    assert download.suggested_filename == "jana-mueller.vcf"
    assert Path(download.path()).read_bytes() == (project / "public/jana-mueller/jana-mueller.vcf").read_bytes()
    assert requests and all(url.startswith(site) or url.startswith("data:") for url in requests), requests


def test_qr_code_on_the_page_is_the_page_url(site: str, page) -> None:
    page.set_viewport_size({"width": 480, "height": 900})
    page.goto(f"{site}/zoe-leclerc/")
    img = page.locator("figure.qr img")
    img.scroll_into_view_if_needed()
    assert decode_qr(page.screenshot(full_page=True)) == [f"{site}/zoe-leclerc/"]
    assert decode_qr(img.screenshot()) == [f"{site}/zoe-leclerc/"]


def test_actions_are_tappable_links(site: str, page) -> None:
    page.goto(f"{site}/jana-mueller/")
    assert page.get_by_role("link", name="Anrufen Mobil +41 79 123 45 67").get_attribute("href") == "tel:+41791234567"
    mail = page.get_by_role("link", name="E-Mail schreiben an jana.mueller@example.ch")
    assert mail.get_attribute("href") == "mailto:jana.mueller@example.ch"
    maps = page.get_by_role("link", name="In Karten öffnen: Bahnhofstrasse 10, 8001 Zürich, ZH, Switzerland")
    assert maps.get_attribute("href").startswith("https://maps.apple.com/?q=Bahnhofstrasse+10")
    assert page.get_by_role("heading", level=1).inner_text() == "Dr. Jana Sophie Müller, MSc ETH"
    # Every link has an accessible name.
    names = page.locator("a").evaluate_all("els => els.map(e => (e.getAttribute('aria-label') || e.innerText).trim())")
    assert all(names)


def test_in_app_browser_hint(site: str, browser) -> None:
    instagram = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 Instagram 300.0.0.0 (iPhone14,5; iOS 17_0)"
    )
    for agent, visible in ((instagram, True), (None, False)):
        context = browser.new_context(user_agent=agent) if agent else browser.new_context()
        page = context.new_page()
        page.goto(f"{site}/max/")
        page.wait_for_load_state("load")
        assert page.locator("#inapp-hint").is_visible() is visible
        context.close()


def test_works_with_javascript_off(site: str, browser) -> None:
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{site}/lukasz-wojcik/")
    with page.expect_download() as info:
        page.get_by_role("link", name="Save contact").click()
    assert info.value.suggested_filename.endswith(".vcf")
    assert not page.locator("#inapp-hint").is_visible()
    context.close()


def test_unknown_path_gets_the_404_page_text(site: str, page, project: Path) -> None:
    page.goto(f"{site}/404.html")
    assert page.get_by_role("heading", level=1).inner_text() == "Karte nicht gefunden"
