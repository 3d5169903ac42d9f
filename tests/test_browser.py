"""The landing page in a real headless Chromium: save, QR, in-app hint, no third-party requests."""

from __future__ import annotations

import functools
import http.server
import io
import re
import threading
from pathlib import Path

import pytest

from cardsite.build.engine import build
from cardsite.cards.settings import load_settings

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
    # The printed code carries the QR marker (docs/print-job.md); the page is the same without it.
    assert decode_qr(page.screenshot(full_page=True)) == [f"{site}/zoe-leclerc/?q"]
    assert decode_qr(img.screenshot()) == [f"{site}/zoe-leclerc/?q"]


def test_actions_are_tappable_links(site: str, page) -> None:
    page.goto(f"{site}/jana-mueller/")
    # Each accessible name starts with the link's visible text (WCAG 2.5.3); axe checks it on every page kind.
    call = page.get_by_role("link", name="Mobil +41 79 123 45 67", exact=True)
    assert call.get_attribute("href") == "tel:+41791234567"
    mail = page.get_by_role("link", name="E-Mail jana.mueller@example.ch", exact=True)
    assert mail.get_attribute("href") == "mailto:jana.mueller@example.ch"
    maps = page.get_by_role(
        "link", name="Adresse Bahnhofstrasse 10, 8001 Zürich, ZH, Switzerland (In Karten öffnen)", exact=True
    )
    assert maps.get_attribute("href").startswith("https://maps.apple.com/?q=Bahnhofstrasse+10")
    linkedin = page.get_by_role("link", name="LinkedIn linkedin.com/in/jana-mueller-example", exact=True)
    assert linkedin.get_attribute("href") == "https://www.linkedin.com/in/jana-mueller-example"
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


class PlainHandler(http.server.SimpleHTTPRequestHandler):
    """Serve files as Python's own server does: "text/html" with no charset."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_404_page_speaks_every_language(site: str, page, project: Path) -> None:
    import yaml

    catalogs = {p.stem: yaml.safe_load(p.read_text("utf-8")) for p in (project / "templates" / "locale").glob("*.yaml")}
    page.goto(f"{site}/404.html")
    assert page.locator("html").get_attribute("lang") == "de"  # default_language in site.yaml
    assert page.get_by_role("heading", level=1).inner_text() == catalogs["de"]["not_found_title"]
    for lang in catalogs.keys() - {"de"}:
        text = page.locator(f'main [lang="{lang}"]').inner_text()
        assert catalogs[lang]["not_found_title"] in text and catalogs[lang]["not_found_text"] in text, lang


def test_an_alias_stays_on_the_host_that_serves_it(project: Path, serve_dir, page) -> None:
    # Built for production, served from here: the redirect must not leave for the production host.
    out = project / "public"
    out.mkdir()
    base = serve_dir(out)
    build(load_settings(project / "contacts"), out)
    left: list[str] = []
    page.route("https://cards.example.ch/**", lambda route: (left.append(route.request.url), route.abort()))
    page.goto(f"{base}/jmueller/")
    page.wait_for_url(f"{base}/jana-mueller/", timeout=5000)
    assert page.get_by_role("heading", level=1).inner_text() == "Dr. Jana Sophie Müller, MSc ETH"
    assert left == []
    canonical = (out / "jmueller" / "index.html").read_text("utf-8")
    assert '<link rel="canonical" href="https://cards.example.ch/jana-mueller/">' in canonical


def test_the_signature_is_a_complete_document_even_without_a_charset_header(project: Path, page) -> None:
    out = project / "public"
    build(load_settings(project / "contacts"), out)
    # A plain server sends "text/html" with no charset, as many do: the page itself must say UTF-8.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(PlainHandler, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        response = page.goto(f"http://127.0.0.1:{server.server_address[1]}/jana-mueller/signature.html")
        assert response is not None and response.headers["content-type"] == "text/html"
        document = page.evaluate(
            """() => ({doctype: document.doctype && document.doctype.name, mode: document.compatMode,
                       charset: document.characterSet, lang: document.documentElement.lang})"""
        )
        assert document == {"doctype": "html", "mode": "CSS1Compat", "charset": "UTF-8", "lang": "de"}
        assert page.title() == "E-Mail-Signatur – Dr. Jana Sophie Müller, MSc ETH"
        assert page.locator("table strong").inner_text() == "Dr. Jana Sophie Müller, MSc ETH"
        assert page.locator("script, style, link[rel=stylesheet]").count() == 0
    finally:
        server.shutdown()
        server.server_close()


def test_copying_the_signature_gives_mail_programs_a_self_contained_table(site: str, page) -> None:
    # What Chromium puts on the clipboard is what Outlook or Gmail receives when the signature is pasted.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{site}/jana-mueller/signature.html")
    copied = page.evaluate(
        """async () => {
            const range = document.createRange();
            range.selectNode(document.querySelector("table"));
            getSelection().removeAllRanges();
            getSelection().addRange(range);
            document.execCommand("copy");
            const [item] = await navigator.clipboard.read();
            return await (await item.getType("text/html")).text();
        }"""
    )
    assert "Dr. Jana Sophie Müller, MSc ETH" in copied and "border-left: 3px solid" in copied
    assert not re.search(r"<(script|style|link)\b|\bclass=", copied), copied
    urls = re.findall(r'(?:href|src)="([^"]*)"', copied)
    assert urls and all(re.match(r"(https?://|mailto:|tel:)", url) for url in urls), urls
    assert f'src="{site}/jana-mueller/photo@2x.jpg"' in copied
