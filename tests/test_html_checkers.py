"""Every kind of page the build and the preview make, read by checkers nobody here wrote.

The Nu HTML Checker (npm `vnu-jar`, needs Java) runs once over all pages of a built sample site, in one JVM;
axe-core (npm `axe-core`) runs inside the real Chromium the browser tests drive. Both come from the
committed lock file in tests/js/: `npm ci --prefix tests/js`.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, SiteHandler, skip_or_fail

from cardsite.build.engine import build
from cardsite.cards.settings import load_settings
from cardsite.serve.preview import Preview

JS_TOOLS = ROOT / "tests" / "js" / "node_modules"
VNU_JAR = JS_TOOLS / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = JS_TOOLS / "axe-core" / "axe.min.js"
LIGHTHOUSE_JS = JS_TOOLS / "lighthouse" / "cli" / "index.js"
NPM_INSTALL = "npm ci --prefix tests/js --ignore-scripts --no-audit --no-fund"


@functools.cache
def js_tools() -> Path:
    """Install the checkers from tests/js's lock file on first use (npm reaches its registry), then return them."""
    # --ignore-scripts: vnu-jar's install script would download a Java runtime; the machine's own Java runs it.
    if not (VNU_JAR.is_file() and AXE_JS.is_file() and LIGHTHOUSE_JS.is_file()) and shutil.which("npm"):
        subprocess.run(NPM_INSTALL.split(), cwd=ROOT, capture_output=True, timeout=600, check=False)
    return JS_TOOLS


#: A retired card without a successor: its page shows the company's contact.
GONE_CARD = "name: {given: Gina, family: Gone}\nactive: false\n"
#: One page of every kind the build makes, by the path the site serves it at.
SITE_PAGES = {
    "card": "jana-mueller/index.html",
    "card-minimal": "max/index.html",
    "card-english": "zoe-leclerc/index.html",
    "retired": "hans-meier/index.html",
    "company-contact": "gina-gone/index.html",
    "alias": "jmueller/index.html",
    "directory": "index.html",
    "404": "404.html",
    "signature": "jana-mueller/signature.html",
    "signature-minimal": "max/signature.html",
}
#: The pages only the preview makes, by the path it serves them at while the contacts are valid or not.
PREVIEW_PAGES = {"preview-index": "/", "preview-error": "/max/"}
#: The old signature page, a bare fragment: proof that the checker really reports errors.
CANARY = "<table><tr><td><strong>Jana Müller</strong></td></tr></table>\n"


def copy_project(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copytree(ROOT / "contacts", root / "contacts")
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copy(ROOT / "site.yaml", root / "site.yaml")
    (root / "contacts" / "gina-gone.yaml").write_text(GONE_CARD, "utf-8")
    return root


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for_status(url: str, status: int, timeout: float = 15.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        got, body = fetch(url)
        if got == status or time.monotonic() > deadline:
            assert got == status, f"{url} answered {got}, not {status}"
            return body
        time.sleep(0.05)


@dataclass
class Site:
    root: Path
    out: Path
    base: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Build the sample site, with its directory and a retired card without successor, and serve it on loopback."""
    root = copy_project(tmp_path_factory.mktemp("checked") / "project")
    site_file = root / "site.yaml"
    site_file.write_text(site_file.read_text("utf-8") + "directory: true\n", "utf-8")
    out = root / "public"
    out.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SiteHandler, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    build(load_settings(root / "contacts", base_url=base), out)
    yield Site(root, out, base)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Preview]:
    """Run the preview of the sample project (no directory of its own, so it shows its index at /)."""
    root = copy_project(tmp_path_factory.mktemp("previewed") / "project")
    pv = Preview(load_settings(root / "contacts"), host="127.0.0.1", port=0)
    pv.start()
    assert pv.ready.wait(30), "the first build did not finish"
    yield pv
    pv.stop()


@contextlib.contextmanager
def broken(pv: Preview) -> Iterator[None]:
    """Make a card invalid until the block ends, and wait until the preview shows its error page."""
    card = pv.settings.contacts_dir / "max.yaml"
    good = card.read_text("utf-8")
    card.write_text(good + "emails:\n  - value: not-an-address\n", "utf-8")
    try:
        wait_for_status(pv.url + PREVIEW_PAGES["preview-error"], 500)
        yield
    finally:
        card.write_text(good, "utf-8")
        wait_for_status(pv.url + PREVIEW_PAGES["preview-error"], 200)


# --------------------------------------------------------------------------- Nu HTML Checker


@pytest.fixture(scope="module")
def vnu(site: Site, preview: Preview, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """Run the Nu HTML Checker once over every page kind; return its messages by page kind."""
    java = shutil.which("java")
    if java is None:
        skip_or_fail("java is not installed (apt-get install default-jre-headless)")
    if not (js_tools() / "vnu-jar" / "build" / "dist" / "vnu.jar").is_file():
        skip_or_fail(f"the Nu HTML Checker is not installed ({NPM_INSTALL})")
    files = {kind: site.out / rel for kind, rel in SITE_PAGES.items()}
    saved = tmp_path_factory.mktemp("preview-pages")
    files["preview-index"] = saved / "preview-index.html"
    files["preview-index"].write_bytes(wait_for_status(preview.url + PREVIEW_PAGES["preview-index"], 200))
    with broken(preview):
        files["preview-error"] = saved / "preview-error.html"
        files["preview-error"].write_bytes(fetch(preview.url + PREVIEW_PAGES["preview-error"])[1])
    files["canary"] = saved / "canary.html"
    files["canary"].write_text(CANARY, "utf-8")
    run = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--format", "json", "--exit-zero-always", *map(str, files.values())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    by_file: dict[str, list[dict]] = {str(path.resolve()): [] for path in files.values()}
    for message in json.loads(run.stderr)["messages"]:
        by_file.setdefault(str(Path(message["url"].removeprefix("file:")).resolve()), []).append(message)
    return {kind: by_file[str(path.resolve())] for kind, path in files.items()}


def errors(messages: list[dict]) -> list[str]:
    """Return the messages that make a page invalid: errors, fatal ones included, and pages that were not read."""
    return [
        f"line {m.get('lastLine', '?')}: {m['message']}"
        for m in messages
        if m["type"] in ("error", "non-document-error") or m.get("subType") == "fatal"
    ]


def test_the_nu_checker_reports_a_bare_fragment(vnu: dict[str, list[dict]]) -> None:
    found = errors(vnu["canary"])
    assert any("doctype" in message.lower() for message in found), found


@pytest.mark.parametrize("kind", [*SITE_PAGES, *PREVIEW_PAGES])
def test_every_page_kind_is_valid_html(vnu: dict[str, list[dict]], kind: str) -> None:
    assert errors(vnu[kind]) == []


# --------------------------------------------------------------------------- axe-core


def axe_violations(page) -> list[str]:
    """Run axe-core's default rules on the page as it is; return one line per violation."""
    if not (js_tools() / "axe-core" / "axe.min.js").is_file():
        skip_or_fail(f"axe-core is not installed ({NPM_INSTALL})")
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        """() => axe.run(document).then((r) => ({
            passes: r.passes.length,
            violations: r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.html).join(" | ")}`),
        }))"""
    )
    assert result["passes"] > 10, "axe-core checked next to nothing"
    return result["violations"]


@pytest.mark.browser
def test_axe_reports_a_label_that_drops_the_visible_text(page) -> None:
    page.set_content(
        '<!doctype html><html lang="en"><title>t</title><main><h1>t</h1>'
        '<a href="https://example.org/" aria-label="LinkedIn profile">linkedin.com/in/someone</a></main></html>'
    )
    assert any(v.startswith("label-content-name-mismatch") for v in axe_violations(page))


@pytest.mark.browser
@pytest.mark.parametrize("kind", [kind for kind in SITE_PAGES if kind != "alias"])
def test_every_page_kind_has_no_axe_violations(site: Site, page, kind: str) -> None:
    rel = SITE_PAGES[kind].removesuffix("index.html")
    response = page.goto(f"{site.base}/{rel}")
    assert response is not None and response.ok
    assert axe_violations(page) == []


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["card", "card-minimal", "card-english"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_card_with_its_qr_code_open_has_no_axe_violations_light_or_dark(
    site: Site, browser, kind: str, scheme: str
) -> None:
    # axe checks colour contrast in the scheme the page is shown in, so dark mode is checked as its own page.
    context = browser.new_context(color_scheme=scheme, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{site.base}/{SITE_PAGES[kind].removesuffix('index.html')}")
    page.locator("details.qr summary").click()
    assert page.locator("details.qr img").is_visible()
    assert axe_violations(page) == []
    context.close()


@pytest.mark.browser
def test_the_alias_page_has_no_axe_violations(site: Site, page) -> None:
    # The page redirects at once. A 204 answer to that navigation leaves the alias page open to be checked.
    redirected: list[str] = []
    page.route(
        f"{site.base}/jana-mueller/", lambda route: (redirected.append(route.request.url), route.fulfill(status=204))
    )
    page.goto(f"{site.base}/jmueller/")
    deadline = time.monotonic() + 10
    while not redirected and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert redirected == [f"{site.base}/jana-mueller/"], "the alias page did not redirect to its card"
    assert page.url == f"{site.base}/jmueller/"
    assert axe_violations(page) == []


@pytest.mark.browser
def test_the_preview_index_has_no_axe_violations(preview: Preview, page) -> None:
    page.goto(preview.url + PREVIEW_PAGES["preview-index"])
    assert axe_violations(page) == []


@pytest.mark.browser
def test_the_preview_error_page_has_no_axe_violations(preview: Preview, page) -> None:
    with broken(preview):
        page.goto(preview.url + PREVIEW_PAGES["preview-error"])
        assert axe_violations(page) == []
