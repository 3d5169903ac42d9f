"""The landing page's Lighthouse budget (issue 18): mobile, on a served build of the sample cards.

Lighthouse comes from tests/js's lock file like the other checkers, and drives Debian's Chromium.
Its performance score uses simulated throttling (a mid-range phone on a slow 4G link), so it
measures the page, not this machine's network; the page has no request to another host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CHROMIUM_ARGS, serving, skip_or_fail
from test_html_checkers import LIGHTHOUSE_JS, copy_project, js_tools

from cardsite.build.engine import build
from cardsite.cards.settings import load_settings

CHROMIUM = "/usr/bin/chromium"
#: The live sample cards: a full card with a photo, a minimal one, an English one, one with a Polish name.
CARDS = ("jana-mueller", "max", "zoe-leclerc", "lukasz-wojcik")
CATEGORIES = ("performance", "accessibility", "best-practices")
MIN_SCORE = 0.98


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = copy_project(tmp_path_factory.mktemp("lighthouse") / "project")
    out = root / "public"
    out.mkdir()
    with serving(out) as base:
        build(load_settings(root / "contacts", base_url=base), out)
        yield base


def lighthouse(url: str, report: Path) -> dict:
    js_tools()
    node = shutil.which("node")
    if not (node and LIGHTHOUSE_JS.is_file() and os.access(CHROMIUM, os.X_OK)):
        skip_or_fail("Lighthouse needs node, npm's lighthouse (tests/js) and /usr/bin/chromium")
    flags = " ".join(["--headless=new", *CHROMIUM_ARGS])
    command = [node, str(LIGHTHOUSE_JS), url, "--quiet", "--output=json", f"--output-path={report}"]
    command += [f"--only-categories={','.join(CATEGORIES)}", "--form-factor=mobile", f"--chrome-flags={flags}"]
    subprocess.run(command, env={**os.environ, "CHROME_PATH": CHROMIUM}, check=True, timeout=240)
    return json.loads(report.read_text("utf-8"))


@pytest.mark.browser
@pytest.mark.parametrize("card", CARDS)
def test_a_card_page_meets_the_lighthouse_budget(served: str, card: str, tmp_path: Path) -> None:
    result = lighthouse(f"{served}/{card}/", tmp_path / "report.json")
    scores = {name: result["categories"][name]["score"] for name in CATEGORIES}
    assert all(score >= MIN_SCORE for score in scores.values()), scores
    audits = result["audits"]
    shifts = audits["layout-shifts"].get("details", {}).get("items", [])
    assert audits["cumulative-layout-shift"]["numericValue"] == 0, [i["node"].get("selector") for i in shifts]
    # Nothing the page loads comes from another host.
    hosts = {r["url"].split("/")[2] for r in audits["network-requests"]["details"]["items"] if "://" in r["url"]}
    assert hosts == {served.split("/")[2]}, hosts
