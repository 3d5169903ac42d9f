"""Screenshot the sample cards, mobile and desktop, light and dark, into docs/screenshots/.

    python docs/screenshots/shoot.py            # every sample card
    python docs/screenshots/shoot.py max zoe-leclerc

Builds the sample project into a temporary folder, serves it on 127.0.0.1 and drives Debian's
Chromium (/usr/bin/chromium) through Playwright. Needs `pip install -e '.[test]'`.
"""

from __future__ import annotations

import functools
import http.server
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

from cardsite.build.engine import build
from cardsite.cards.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
#: (name, viewport, device scale): a 390 px phone and a 1440 px desktop.
VIEWS = (("mobile", {"width": 390, "height": 844}, 2), ("desktop", {"width": 1440, "height": 900}, 1))
CARDS = ("jana-mueller", "max", "zoe-leclerc")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _save_small(png: bytes, target: Path) -> None:
    """Save a screenshot with a 256-colour palette: a third of the bytes in the repository, no visible change."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(target, optimize=True)


def shoot(cards: tuple[str, ...] | list[str]) -> list[Path]:
    """Build, serve and screenshot `cards`; return the files written."""
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "public"
        handler = functools.partial(QuietHandler, directory=str(out))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        build(load_settings(ROOT / "contacts", base_url=base), out)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM)
                for view, size, scale in VIEWS:
                    for scheme in ("light", "dark"):
                        context = browser.new_context(viewport=size, device_scale_factor=scale, color_scheme=scheme)
                        page = context.new_page()
                        for card in cards:
                            page.goto(f"{base}/{card}/")
                            target = HERE / f"{card}-{view}-{scheme}.png"
                            png = page.screenshot(full_page=view == "mobile")
                            _save_small(png, target)
                            written.append(target)
                        context.close()
                browser.close()
        finally:
            server.shutdown()
            server.server_close()
    return written


if __name__ == "__main__":
    for path in shoot(sys.argv[1:] or CARDS):
        print(path.relative_to(ROOT))
