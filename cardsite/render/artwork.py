"""Draw a card's print artwork: one PDF, front and back, at trim size with a 3 mm bleed (docs/print.md).

Pure: the same layout, texts and QR modules give the same bytes (reportlab's invariant mode: no
creation date, fixed document ids). Fonts are embedded as subsets (reportlab embeds TrueType fonts
only as subsets). Text is measured with the very metrics it is drawn with, so what `check` accepts
is what is printed: a text too wide is set smaller, down to its slot's minimum, and never beyond
the safe area. reportlab draws characters one by one, without shaping, so scripts that need it
(right-to-left ones) are refused rather than printed wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .printlayout import BLEED_MM, FONTS, MIN_MODULE_MM, MM, SAFE_MM, SLUG_MM, Layout, TextSlot

if TYPE_CHECKING:
    import numpy as np
    from reportlab.pdfgen.canvas import Canvas

#: Font sizes are rounded down to this step (pt) when a text is set smaller to fit.
SIZE_STEP = 0.05
QUIET_ZONE = 4
#: The card field each text slot prints, for problems.
SLOT_FIELDS = {"name": "name", "title": "title", "department": "department", "company": "org", "url": "url"}
#: reportlab's font objects keep per-document state, so two renders at once (the preview's threads) take turns.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class CardTexts:
    """The texts printed on one card."""

    name: str
    title: str
    department: str
    company: str
    url: str  # the short URL printed on the back
    qr_url: str  # what the QR code holds

    @classmethod
    def from_fields(cls, fields: dict[str, Any], url_text: str, qr_url: str) -> CardTexts:
        """Return the texts of a card from its printable fields (as the manifest and card.json hold them)."""
        return cls(
            name=fields["name"]["full"],
            title=fields.get("title", ""),
            department=fields.get("department", ""),
            company=fields.get("org", ""),
            url=url_text,
            qr_url=qr_url,
        )

    def slot_text(self, slot: str) -> str:
        """Return the text a slot prints, composed to NFC so that accents are single characters."""
        return unicodedata.normalize("NFC", getattr(self, slot))


# --------------------------------------------------------------------------- fonts


@cache
def _font(path: Path) -> Any:
    """Return reportlab's TrueType font for `path`, registered under a name of its own."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    font = TTFont(path.stem, str(path))
    pdfmetrics.registerFont(font)
    return font


def font_metrics(path: Path) -> dict[str, Any]:
    """Return what the check measures text with, read from the font by reportlab: characters, widths, extent."""
    face = _font(path).face
    return {
        "font_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "ascent": face.ascent,
        "descent": face.descent,
        "default_width": face.defaultWidth,
        "glyphs": sorted(face.charToGlyph),
        "widths": {str(code): width for code, width in sorted(face.charWidths.items())},
    }


def metrics_file(path: Path) -> Path:
    """Return where a font's metrics are kept beside it (cardsite/fonts/*.metrics.json for the shipped ones)."""
    return path.with_name(f"{path.stem}.metrics.json")


@cache
def _metrics(path: Path) -> dict[str, Any]:
    # The shipped fonts' metrics are kept beside them, so a one-card check needs neither reportlab nor the
    # font parsed (75 ms of a one-card rebuild); tests/test_artwork.py keeps them equal to reportlab's reading.
    try:
        kept = json.loads(metrics_file(path).read_bytes())
        if kept["font_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest():
            return kept
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return font_metrics(path)


def font_extent(style: str) -> tuple[float, float]:
    """Return the ascent and descent (positive, in em) of the project font in `style`."""
    metrics = _metrics(FONTS[style])
    return metrics["ascent"] / 1000, -metrics["descent"] / 1000


@cache
def _chars(path: Path) -> tuple[frozenset[str], dict[str, int]]:
    """Return the characters a font has (the space too) and their advance widths: reportlab's own table."""
    metrics = _metrics(path)
    widths = {chr(int(code)): width for code, width in metrics["widths"].items()}
    widths.setdefault(" ", metrics["default_width"])
    return frozenset(chr(code) for code in metrics["glyphs"]) | {" "}, widths


def _runs(text: str, style: str, fallback: Path | None) -> list[tuple[Path, str]] | None:
    """Split `text` into runs of one font each, the project font first; None when a character has no glyph."""
    primary = FONTS[style]
    if set(text) <= _chars(primary)[0]:
        return [(primary, text)]  # nearly every name: one run, no character looked at twice
    paths = [primary] + ([fallback] if fallback else [])
    runs: list[tuple[Path, str]] = []
    for char in text:
        path = next((p for p in paths if char in _chars(p)[0]), None)
        if path is None:
            return None
        if runs and runs[-1][0] == path:
            runs[-1] = (path, runs[-1][1] + char)
        else:
            runs.append((path, char))
    return runs


def missing_glyphs(text: str, style: str, fallback: Path | None) -> list[str]:
    """Return the characters of `text` that neither the project font nor the fallback has, in order."""
    paths = [FONTS[style]] + ([fallback] if fallback else [])
    return list(dict.fromkeys(c for c in text if not any(c in _chars(p)[0] for p in paths)))


def _width(runs: list[tuple[Path, str]], size: float) -> float:
    """Return the width of `runs` at `size` pt, in pt: what reportlab's stringWidth gives, summed in one pass."""
    return sum(sum(map(_chars(path)[1].__getitem__, text)) for path, text in runs) * size / 1000


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class Fitted:
    """One line of text as it is set: its runs, its size and its left edge, in pt from the trim's left."""

    runs: list[tuple[Path, str]]
    size: float
    x: float
    baseline: float  # mm from the trim's top


def fit(layout: Layout, slot: TextSlot, text: str) -> tuple[Fitted | None, str | None]:
    """Set `text` in `slot`: at its size, else smaller down to its minimum; return it, or why it cannot be."""
    if not text:
        return None, None
    runs = _runs(text, slot.font, layout.fallback_font)
    unprintable = _script_problem(layout, slot, text, runs)
    if unprintable:
        return None, unprintable
    assert runs is not None  # a text whose characters some font lacks is unprintable
    left, right, flush_right = layout.text_span(slot)
    room = (right - left) * MM
    natural = _width(runs, 1.0)
    size = slot.size if natural * slot.size <= room else math.floor(room / natural / SIZE_STEP) * SIZE_STEP
    if size < slot.min_size - 1e-9:
        return None, _too_wide(layout, slot, text, natural, right - left)
    width = _width(runs, size)
    x = (right * MM - width) if flush_right else left * MM
    baseline = slot.y if slot.y >= 0 else layout.trim[1] + slot.y
    return Fitted(runs, size, x, baseline), None


def _script_problem(layout: Layout, slot: TextSlot, text: str, runs: list[tuple[Path, str]] | None) -> str | None:
    """Return why `text` cannot be set at all (`runs` None: a font lacks some of its characters), or None."""
    # Noto Sans has no right-to-left letters; only a fallback font can bring some.
    if (runs is None or len(runs) > 1) and any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        return "is written right to left, which the print artwork cannot set yet"
    if runs is None:
        shown = ", ".join(
            f"'{c}' (U+{ord(c):04X} {unicodedata.name(c, 'unnamed')})"
            for c in missing_glyphs(text, slot.font, layout.fallback_font)
        )
        return (
            f"has characters the print font (Noto Sans) lacks: {shown}; "
            "name a TrueType font that has them as print.fallback_font in site.yaml"
        )
    return None


def _too_wide(layout: Layout, slot: TextSlot, text: str, natural: float, room_mm: float) -> str:
    """Say how wide `text` is at its slot's smallest size (`natural`: its width at 1 pt), and what to do."""
    need = natural * slot.min_size / MM
    advice = "choose a shorter card id or base URL" if slot is layout.texts.get("url") else "shorten it"
    return (
        f"'{text}' does not fit on the printed card: at the smallest size the layout allows"
        f" ({slot.min_size:g} pt) it is {need:.1f} mm wide, and there are {room_mm:.1f} mm"
        f" ({layout.source}); {advice}"
    )


def module_mm(layout: Layout, modules: int) -> float:
    """Return the side of one QR module in mm: the layout's square over the symbol and its quiet zone."""
    return layout.qr[2] / (modules + 2 * QUIET_ZONE)


@lru_cache(maxsize=4096)
def _fit_problem(layout: Layout, slot_name: str, text: str) -> str | None:
    # Titles, departments and the company repeat across cards: each is measured once.
    return fit(layout, layout.texts[slot_name], text)[1]


@lru_cache(maxsize=16)
def _longest_qr_url(layout: Layout, level: str) -> int:
    """Return the most bytes a URL may have for its QR code to keep modules of MIN_MODULE_MM in the layout's square."""
    from .qr_sizes import LENGTHS, side_of

    # From the table of qrcode's answers: a card's check need not import qrcode (qr_sizes.py).
    fits = [n for n in LENGTHS if module_mm(layout, side_of(n, level)) >= MIN_MODULE_MM - 1e-9]
    return max(fits, default=0)


def qr_modules(layout: Layout, url: str, level: str) -> int | None:
    """Return the QR code's modules a side when they may be too small for the layout, else None (cheaply)."""
    # Byte mode is qrcode's longest encoding of a text (it switches mode only where that saves bits), so a URL
    # no longer than the longest that fits in byte mode fits too; only a longer one is encoded to know.
    if len(url.encode()) <= _longest_qr_url(layout, level):
        return None
    from .qr import symbol_size  # here: most cards never load qrcode for their check

    return symbol_size(url, level)


def card_problems(layout: Layout, texts: CardTexts, level: str) -> list[tuple[str, str]]:
    """Return (field, message) of everything that keeps this card from printing as the layout says."""
    problems = []
    with _LOCK:
        for slot_name in layout.texts:
            why = _fit_problem(layout, slot_name, texts.slot_text(slot_name))
            if why:
                problems.append((SLOT_FIELDS[slot_name], why))
    modules = qr_modules(layout, texts.qr_url, level)
    side = module_mm(layout, modules) if modules else MIN_MODULE_MM
    if modules and side < MIN_MODULE_MM - 1e-9:
        need = MIN_MODULE_MM * (modules + 2 * QUIET_ZONE)
        problems.append(
            (
                "url",
                f"the QR code of {texts.qr_url} has {modules} modules a side: at {MIN_MODULE_MM} mm each, with its"
                f" quiet zone, it needs {need:.1f} mm, and the layout's qr.size is {layout.qr[2]:g} mm; shorten the"
                " card id or enlarge the QR code in the layout",
            )
        )
    return problems


# --------------------------------------------------------------------------- drawing


def render_pdf(layout: Layout, texts: CardTexts, modules: np.ndarray) -> bytes:
    """Return the card's PDF: page 1 the front, page 2 the back; raise ValueError if it cannot be printed."""
    from reportlab.pdfgen.canvas import Canvas

    with _LOCK:
        buf = io.BytesIO()
        page_w, page_h = layout.media
        # Without initialFontName, reportlab would list Helvetica, a font it cannot embed.
        initial = _font(FONTS["regular"]).fontName
        canvas = Canvas(
            buf, pagesize=(page_w * MM, page_h * MM), invariant=1, pageCompression=1, initialFontName=initial
        )
        canvas.setTitle(texts.name)
        canvas.setCreator("cardsite")
        canvas.setProducer("cardsite")
        for draw in (_front, _back):
            _boxes(canvas, layout)
            draw(canvas, layout, texts, modules)
            if layout.crop_marks:
                _crop_marks(canvas, layout)
            canvas.showPage()
        canvas.save()
        return buf.getvalue()


class _Page:
    """Converts mm from the trim's top-left corner into PDF points from the page's bottom-left corner."""

    def __init__(self, layout: Layout):
        self.offset = (layout.media[0] - layout.trim[0]) / 2
        self.height = layout.media[1]

    def x(self, mm: float) -> float:
        return (self.offset + mm) * MM

    def y(self, mm: float) -> float:
        return (self.height - self.offset - mm) * MM


def _boxes(canvas: Canvas, layout: Layout) -> None:
    page = _Page(layout)
    w, h = layout.trim
    trim = (page.x(0), page.y(h), page.x(w), page.y(0))
    bleed = (page.x(-BLEED_MM), page.y(h + BLEED_MM), page.x(w + BLEED_MM), page.y(-BLEED_MM))
    canvas.setTrimBox(trim)
    canvas.setBleedBox(bleed)
    canvas.setArtBox(trim)


def _colour(canvas: Canvas, layout: Layout, hex_colour: str, stroke: bool = False) -> None:
    """Set a fill (or stroke) colour: DeviceCMYK converted without a profile, or RGB as given."""
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    if layout.cmyk:
        k = 1 - max(r, g, b)
        c, m, y = ((1 - v - k) / (1 - k) if k < 1 else 0.0 for v in (r, g, b))
        values = tuple(round(v, 4) for v in (c, m, y, k))
        (canvas.setStrokeColorCMYK if stroke else canvas.setFillColorCMYK)(*values)
    else:
        (canvas.setStrokeColorRGB if stroke else canvas.setFillColorRGB)(r, g, b)


def _text(canvas: Canvas, layout: Layout, slot: TextSlot, text: str) -> None:
    fitted, why = fit(layout, slot, text)
    if why:
        raise ValueError(why)
    if fitted is None:
        return
    page = _Page(layout)
    _colour(canvas, layout, layout.colours[slot.colour])
    x = page.x(0) + fitted.x
    for path, run in fitted.runs:
        font = _font(path)
        canvas.setFont(font.fontName, fitted.size)
        canvas.drawString(x, page.y(fitted.baseline), run)
        x += font.stringWidth(run, fitted.size)


def _front(canvas: Canvas, layout: Layout, texts: CardTexts, modules: np.ndarray) -> None:
    page = _Page(layout)
    h = layout.trim[1]
    if layout.band:
        width, colour = layout.band
        _colour(canvas, layout, layout.colours[colour])
        # From the bleed's edge, so a cut a little off the trim still shows no white sliver.
        canvas.rect(page.x(-BLEED_MM), page.y(h + BLEED_MM), (width + BLEED_MM) * MM, (h + 2 * BLEED_MM) * MM, 0, 1)
    if layout.logo_box:
        _logo(canvas, layout, texts.company)
    for name in ("name", "title", "department", "company"):
        _text(canvas, layout, layout.texts[name], texts.slot_text(name))


def _logo(canvas: Canvas, layout: Layout, company: str) -> None:
    """Draw the logo image scaled to its height; without one, the company name in the accent colour."""
    assert layout.logo_box is not None
    page = _Page(layout)
    x, y, height, max_width = layout.logo_box
    room = layout.trim[0] - SAFE_MM - (x if x >= 0 else SAFE_MM)
    max_width = min(max_width or room, room)
    if layout.logo:
        from reportlab.lib.utils import ImageReader

        image = ImageReader(io.BytesIO(layout.logo))
        iw, ih = image.getSize()
        width = min(height * iw / ih, max_width)
        drawn_h = width * ih / iw
        left, top = layout.box(x, y, width, height)
        canvas.drawImage(image, page.x(left), page.y(top + drawn_h), width * MM, drawn_h * MM, mask="auto")
        return
    slot = TextSlot(
        x=x, y=y + height * 0.8, size=height * MM * 0.8, min_size=0.1, font="bold", colour="accent", width=max_width
    )
    colours = layout.colours if "accent" in layout.colours else {**layout.colours, "accent": "#000000"}
    _text(canvas, Layout(**{**layout.__dict__, "colours": colours}), slot, unicodedata.normalize("NFC", company))


def _back(canvas: Canvas, layout: Layout, texts: CardTexts, modules: np.ndarray) -> None:
    _qr(canvas, layout, modules)
    _nfc_mark(canvas, layout)
    _text(canvas, layout, layout.texts["url"], texts.slot_text("url"))


def _qr(canvas: Canvas, layout: Layout, modules: np.ndarray) -> None:
    """Draw the QR code as one vector path, a rectangle per run of dark modules, on white."""
    page = _Page(layout)
    n = len(modules)
    side = module_mm(layout, n)
    if side < MIN_MODULE_MM - 1e-9:
        raise ValueError(f"QR modules of {side:.2f} mm are below {MIN_MODULE_MM} mm")
    size = layout.qr[2]
    left, top = layout.box(layout.qr[0], layout.qr[1], size, size)
    canvas.setFillColorRGB(1, 1, 1) if not layout.cmyk else canvas.setFillColorCMYK(0, 0, 0, 0)
    canvas.rect(page.x(left), page.y(top + size), size * MM, size * MM, 0, 1)
    if layout.cmyk:
        canvas.setFillColorCMYK(0, 0, 0, 1)  # black alone: four inks never register exactly on small modules
    else:
        canvas.setFillColorRGB(0, 0, 0)
    path = canvas.beginPath()
    for row in range(n):
        col = 0
        line = modules[row]
        while col < n:
            if not line[col]:
                col += 1
                continue
            start = col
            while col < n and line[col]:
                col += 1
            x0 = left + (QUIET_ZONE + start) * side
            y0 = top + (QUIET_ZONE + row + 1) * side
            path.rect(page.x(x0), page.y(y0), (col - start) * side * MM, side * MM)
    canvas.drawPath(path, stroke=0, fill=1)


def _nfc_mark(canvas: Canvas, layout: Layout) -> None:
    """Draw the tap mark: four arcs spreading to the right, as the contactless symbol does."""
    page = _Page(layout)
    x, y, size, colour = layout.nfc
    left, top = layout.box(x, y, size, size)
    _colour(canvas, layout, layout.colours[colour], stroke=True)
    weight = size / 11
    canvas.setLineWidth(weight * MM)
    canvas.setLineCap(1)
    # Arcs of ±30° about the box's left middle: the largest, of radius `size`, spans the box's height.
    cx, cy = left, top + size / 2
    for i in range(4):
        r = size * (0.22 + 0.24 * i)
        canvas.arc(page.x(cx - r), page.y(cy + r), page.x(cx + r), page.y(cy - r), startAng=-30, extent=60)


def _crop_marks(canvas: Canvas, layout: Layout) -> None:
    """Draw crop marks at the trim's corners, outside the bleed, in registration colour."""
    page = _Page(layout)
    w, h = layout.trim
    if layout.cmyk:
        canvas.setStrokeColorCMYK(1, 1, 1, 1)
    else:
        canvas.setStrokeColorRGB(0, 0, 0)
    canvas.setLineWidth(0.25)
    near, far = BLEED_MM + 1, BLEED_MM + SLUG_MM - 1
    for cx in (0, w):
        for cy in (0, h):
            out_x = -1 if cx == 0 else 1
            out_y = -1 if cy == 0 else 1
            canvas.line(page.x(cx + out_x * near), page.y(cy), page.x(cx + out_x * far), page.y(cy))
            canvas.line(page.x(cx), page.y(cy + out_y * near), page.x(cx), page.y(cy + out_y * far))
