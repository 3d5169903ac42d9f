"""Draw a card as a video-call background: 1920 × 1080, the person's details and QR code beside the face.

Zoom, Teams and Meet take 1920 × 1080. The face sits in the middle, so everything is drawn in one
side panel outside the middle third (x from 640 to 1280 stays clear). The app mirrors the self-view
for its user only; the others see the picture as drawn, so the text is drawn unmirrored. A QR code
read from a mirrored picture is the mirror image of a valid symbol, which ISO 18004 decoders (zxing,
ZBar) read too; tests/test_background.py decodes both. The design comes from the project's
templates/background/background.yaml (colours, side, QR size, an optional logo file).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Problem, ValidationError, display_path

if TYPE_CHECKING:
    from PIL import Image

    from ..cards.model import Card
    from ..cards.settings import Settings

WIDTH, HEIGHT = 1920, 1080
#: The middle third, where the face is: nothing is drawn there.
CLEAR = (WIDTH // 3, 2 * WIDTH // 3)
MARGIN = 96
PANEL = CLEAR[0] - 2 * MARGIN
FONTS = Path(__file__).resolve().parent.parent / "fonts"
DESIGN_FILE = "background.yaml"
DEFAULTS: dict[str, Any] = {"background": "#f4f6f8", "text": "#1a1a1a", "accent": "brand", "side": "left"}
DEFAULTS.update(qr_size=320, logo="")
#: The JPEG is for apps that refuse large uploads: it must stay under this size.
JPEG_MAX = 500 * 1024


def panel_box(side: str) -> tuple[int, int]:
    """Return the left and right x of the side panel that holds everything drawn."""
    return (MARGIN, CLEAR[0] - MARGIN) if side == "left" else (CLEAR[1] + MARGIN, WIDTH - MARGIN)


def _color(value: Any, brand: str) -> tuple[int, int, int]:
    text = brand if value == "brand" else str(value)
    return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def load_design(folder: Path) -> dict[str, Any]:
    """Read templates/background/background.yaml over the defaults; raise ValidationError naming each bad key."""
    from ..cards.load import read_yaml

    path = folder / DESIGN_FILE
    design = {**DEFAULTS, "_folder": folder}
    if not path.is_file():
        return design
    doc, problems = read_yaml(path)  # the same limits as any card: size, depth, no anchors
    if doc is None:
        raise ValidationError(problems)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ValidationError([Problem(display_path(path), 1, "", "the background design maps keys to values")])
    for key, value in data.items():
        reason = _design_problem(key, value, folder)
        if reason:
            problems.append(doc.problem((key,), reason))
        else:
            design[key] = value
    if problems:
        raise ValidationError(problems)
    return design


def _design_problem(key: Any, value: Any, folder: Path) -> str | None:
    if key not in DEFAULTS:
        return f"unknown key; the design's keys are {', '.join(DEFAULTS)}"
    if key in ("background", "text", "accent"):
        return None if value == "brand" or _hex_colour(value) else f"'{value}' is not a colour (#rrggbb or brand)"
    if key == "side":
        return None if value in ("left", "right") else f"'{value}' is not left or right"
    if key == "qr_size":
        return _qr_size_problem(value)
    return _logo_problem(value, folder)


def _hex_colour(value: Any) -> bool:
    """Tell whether `value` is a colour written #rrggbb."""
    if not isinstance(value, str) or len(value) != 7 or value[0] != "#":
        return False
    return all(c in "0123456789abcdefABCDEF" for c in value[1:])


def _qr_size_problem(value: Any) -> str | None:
    # YAML's true and false are ints to Python: they are no size.
    if isinstance(value, int) and not isinstance(value, bool) and 200 <= value <= PANEL:
        return None
    return f"the QR code's size must be a whole number from 200 to {PANEL} pixels"


def _logo_problem(value: Any, folder: Path) -> str | None:
    """Return why `value` does not name an image file in the design's folder, or None."""
    name = str(value)
    # A bare file name: no path may lead out of the folder, nor to a hidden file.
    if not name or "/" in name or name.startswith(".") or not (folder / name).is_file():
        return f"'{value}' is not an image file in {display_path(folder)}"
    return None


@lru_cache(maxsize=128)
def _font(bold: bool, size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(FONTS / ("NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf")), size)


def _fit(draw: Any, text: str, bold: bool, size: int, width: int) -> Any:
    """Return the font, at most `size` pixels, at which `text` fits in `width`."""
    while size > 16:
        font = _font(bold, size)
        if draw.textlength(text, font=font) <= width:
            return font
        size -= 2
    return _font(bold, size)


def _lines(draw: Any, text: str, bold: bool, size: int, width: int) -> tuple[Any, list[str]]:
    """Return a font and `text` in at most two lines that fit `width`: shrunk to three quarters, then wrapped."""
    font = _fit(draw, text, bold, size, width)
    if font.size >= size * 3 // 4 or " " not in text:
        return font, [text]
    words, first = text.split(), ""
    while words and draw.textlength(f"{first} {words[0]}".strip(), font=_font(bold, size * 3 // 4)) <= width:
        first = f"{first} {words.pop(0)}".strip()
    rest = " ".join(words)
    if not first or not rest:
        return font, [text]
    font = _fit(draw, rest, bold, size * 3 // 4, width)
    return _font(bold, min(font.size, size * 3 // 4)), [first, rest]


@lru_cache(maxsize=4096)
def _drawable(char: str, bold: bool) -> bool:
    """Tell whether the project font has a glyph for `char`: a missing one would be drawn as its box."""
    font = _font(bold, 40)
    mask = font.getmask(char)
    box = font.getmask("\U0010fffd")  # a private-use code point: the font's "missing glyph" box
    return char.isspace() or (mask.size, bytes(mask)) != (box.size, bytes(box))


def drawable(text: str, bold: bool = False) -> bool:
    """Tell whether every character of `text` is in the project font (Noto Sans: Latin, Greek, Cyrillic)."""
    return all(_drawable(char, bold) for char in text)


def _qr_image(url: str, level: str, size: int) -> Image.Image:
    import numpy as np
    from PIL import Image

    from .qr import QUIET_ZONE, modules_of

    modules = modules_of(url, level)
    n = len(modules) + 2 * QUIET_ZONE
    light = np.ones((n, n), dtype=bool)
    light[QUIET_ZONE:-QUIET_ZONE, QUIET_ZONE:-QUIET_ZONE] = ~modules
    box = max(1, size // n)
    return Image.fromarray(np.repeat(np.repeat(light, box, axis=0), box, axis=1)).convert("RGB")


def draw_background(card: Card, settings: Settings, design: dict[str, Any], qr_url: str) -> Image.Image:
    """Return the background of `card` as an image; everything lies in the panel of `design['side']`."""
    from PIL import Image, ImageDraw

    brand = settings.brand_color
    image = Image.new("RGB", (WIDTH, HEIGHT), _color(design["background"], brand))
    draw = ImageDraw.Draw(image)
    left = panel_box(design["side"])[0]
    accent, ink = _color(design["accent"], brand), _color(design["text"], brand)
    draw.rectangle((left, MARGIN, left + 12, MARGIN + 96), fill=accent)
    _draw_masthead(image, draw, design, left, accent, card.org or settings.company.get("name", ""))
    _draw_details(draw, card, left, MARGIN + 200, ink)
    qr = _qr_image(qr_url, settings.qr_error_correction, design["qr_size"])
    image.paste(qr, (left, HEIGHT - MARGIN - qr.height))
    return image


def _draw_masthead(image: Image.Image, draw: Any, design: dict[str, Any], left: int, accent: Any, company: str) -> None:
    """Draw the design's logo at the top of the panel, else the company's name in the accent colour."""
    from PIL import Image

    if design["logo"]:
        with Image.open(design["_folder"] / design["logo"]) as logo:
            logo = logo.convert("RGBA")
            logo.thumbnail((PANEL - 32, 96))
            image.paste(logo, (left + 32, MARGIN), logo)
    elif company:
        draw.text((left + 32, MARGIN + 8), company, font=_fit(draw, company, True, 56, PANEL - 32), fill=accent)


def _draw_details(draw: Any, card: Card, left: int, y: int, ink: Any) -> None:
    """Draw the name, title and department from `y` down, each in at most two lines; leave out what the font lacks."""
    # A name the font cannot draw (Chinese, Arabic, ...) would show as boxes: the card's address stands in for it.
    name = card.name.full if drawable(card.name.full, True) else card.url.split("://", 1)[-1].rstrip("/")
    texts = [(name, True, 72), (card.title, False, 44), (card.department, False, 34)]
    for text, bold, size in [(t, b, z) for t, b, z in texts if drawable(t, b)]:
        font, lines = _lines(draw, text, bold, size, PANEL) if text else (None, [])
        for line in lines:
            draw.text((left, y), line, font=font, fill=ink)
            y += int(font.size * 1.35)
        y += 12 if lines else 0


def render_background(card: Card, settings: Settings, design: dict[str, Any], qr_url: str) -> dict[str, bytes]:
    """Return the background as {"png": ..., "jpg": ...}; the PNG and JPEG rules of one card share one drawing."""
    key = (card, settings.digest, repr(sorted(design.items())), qr_url)
    if _last and _last[0] == key:
        return _last[1]
    image = draw_background(card, settings, design, qr_url)
    png, jpg = io.BytesIO(), io.BytesIO()
    # Flat colours: a low zlib level is a third of the time of the default for a few percent more bytes.
    image.save(png, format="PNG", compress_level=3)
    image.save(jpg, format="JPEG", quality=88, optimize=True)
    result = {"png": png.getvalue(), "jpg": jpg.getvalue()}
    _last[:] = [key, result]
    return result


_last: list[Any] = []
