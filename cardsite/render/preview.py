"""The card's Open Graph image (og.jpg, 1200x630): name, title and company on the brand's colours, with the logo.

Chat apps (Slack, Teams, LinkedIn, iMessage) show it when the card's link is pasted. It is made per card,
so it is made cheaply: the background, with the brand gradient, the white panel and the logo, is drawn
once per build and copied; per card only the text is drawn, and the JPEG encoder runs without its
optional optimisation pass. The fonts are the project's Noto Sans, so every machine draws the same pixels.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from ..cards.model import Card
    from .pages import Pages

SIZE = (1200, 630)
FONTS = Path(__file__).resolve().parent.parent / "fonts"
PANEL = (48, 48, 1152, 582)
LEFT, RIGHT = 112, 1088
LOGO_BOX = (LEFT, 96, 560, 64)  # x, y, max width, height
TEXT = (26, 26, 26)
MUTED = (85, 85, 85)
QUALITY = 85


@cache
def font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / ("NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf")), size)


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@cache
def background(color: str, accent: str, logo: bytes | None) -> Image.Image:
    """Return the shared background: a diagonal gradient from the brand colour to the accent, a panel, the logo."""
    a, b = _rgb(color), _rgb(accent)
    # A 2x2 image stretched bilinearly is a smooth diagonal gradient, at no per-pixel cost in Python.
    corners = Image.new("RGB", (2, 2))
    middle = tuple((x + y) // 2 for x, y in zip(a, b, strict=True))
    corners.putdata([a, middle, middle, b])
    image = corners.resize(SIZE, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(PANEL, radius=36, fill=(255, 255, 255))
    if logo:
        with Image.open(io.BytesIO(logo)) as mark:
            mark = mark.convert("RGBA")
            x, y, width, height = LOGO_BOX
            mark.thumbnail((width, height), Image.Resampling.LANCZOS)
            image.paste(mark, (x, y + (height - mark.height) // 2), mark)
    return image


def logo_png(pages: Pages) -> bytes | None:
    """Return the site's logo as image bytes Pillow reads: the raster logo, or the SVG drawn by resvg."""
    if pages.logo_image:
        return pages.assets[pages.logo_image["name"]].data
    if not str(pages.logo):
        return None
    return _svg_png(str(pages.logo))


@cache
def _svg_png(svg: str) -> bytes:
    import resvg_py

    fonts = [str(FONTS / "NotoSans-Regular.ttf"), str(FONTS / "NotoSans-Bold.ttf")]
    return bytes(
        resvg_py.svg_to_bytes(
            svg_string=svg,
            height=LOGO_BOX[3] * 2,
            skip_system_fonts=True,
            font_files=fonts,
            font_family="Noto Sans",
            sans_serif_family="Noto Sans",
        )
    )


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break `text` into lines no wider than `width`; a word wider than a line is cut between letters."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if face.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        full, current = _cut(word, face, width)
        lines += full
    return [*lines, current] if current else lines


def _cut(word: str, face: ImageFont.FreeTypeFont, width: int) -> tuple[list[str], str]:
    """Cut a word wider than `width` between letters: the full lines, and the rest that starts the next line."""
    lines = []
    while len(word) > 1 and face.getlength(word) > width:
        cut = max([i for i in range(1, len(word)) if face.getlength(word[:i]) <= width] or [1])
        lines.append(word[:cut])
        word = word[cut:]
    return lines, word


def _fit(text: str, bold: bool, sizes: tuple[int, ...], max_lines: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """Return the largest of `sizes` at which `text` fits in `max_lines` lines, and its lines (cut at the last)."""
    width = RIGHT - LEFT
    for size in sizes:
        lines = wrap(text, font(bold, size), width)
        if len(lines) <= max_lines:
            return font(bold, size), lines
    return font(bold, sizes[-1]), [*lines[: max_lines - 1], lines[max_lines - 1] + "…"]


def render_preview(pages: Pages, card: Card) -> bytes:
    """Return the card's Open Graph image as JPEG bytes."""
    brand = pages.settings.brand
    image = background(pages.settings.brand_color, brand["accent"], logo_png(pages)).copy()
    draw = ImageDraw.Draw(image)
    y = 196
    face, lines = _fit(card.name.full, True, (76, 64, 54), 2)
    for line in lines:
        draw.text((LEFT, y), line, font=face, fill=TEXT)
        y += round(face.size * 1.22)
    y += 12
    org = (card.org, 36, _rgb(pages.settings.brand_color), 1)
    for text, size, color, max_lines in ((card.title, 40, MUTED, 2), org):
        if text:
            face, lines = _fit(text, False, (size, size - 6), max_lines)
            for line in lines:
                draw.text((LEFT, y), line, font=face, fill=color)
                y += round(face.size * 1.3)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=QUALITY)
    return buf.getvalue()
