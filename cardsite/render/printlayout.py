"""Read the print layout: the project's templates/print/card.yaml and site.yaml's print block.

The layout is the company designer's (docs/print.md); it is checked once against the trim it
will be printed at, so every part starts inside the safe area, 3 mm inside the trim. What depends
on a card's text (its width, its characters, the QR code's size) is checked per card in artwork.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cards.load import Document, read_yaml
from ..errors import Problem, ValidationError, display_path

MM = 72 / 25.4  # PDF points per millimetre
BLEED_MM = 3.0
SAFE_MM = 3.0
MIN_MODULE_MM = 0.6
#: Crop marks sit outside the bleed, in this much extra paper on every side.
SLUG_MM = 6.0
TRIMS = {"eu": (85.0, 55.0), "us": (88.9, 50.8)}
FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FONTS = {"regular": FONT_DIR / "NotoSans-Regular.ttf", "bold": FONT_DIR / "NotoSans-Bold.ttf"}
LAYOUT_FILE = Path("print") / "card.yaml"
BUILTIN_LAYOUT = Path(__file__).resolve().parent.parent.parent / "templates" / LAYOUT_FILE
#: The text slots and the card field each one prints.
FRONT_TEXTS = ("name", "title", "department", "company")


@dataclass(frozen=True)
class TextSlot:
    """Where one line of text goes, in mm from the trim's top-left corner, and how large it may be."""

    x: float
    y: float
    size: float
    min_size: float
    font: str
    colour: str
    width: float | None = None


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per layout read, as caches key it
class Layout:
    """Everything the artwork depends on besides the card: trim, colours, slots, fonts and logo."""

    trim: tuple[float, float]
    crop_marks: bool
    cmyk: bool
    colours: dict[str, str]
    texts: dict[str, TextSlot]
    qr: tuple[float, float, float]
    nfc: tuple[float, float, float, str]
    band: tuple[float, str] | None = None
    logo_box: tuple[float, float, float, float | None] | None = None
    logo: bytes | None = None
    fallback_font: Path | None = None
    #: Where the layout came from, for problems that name it.
    source: str = ""
    digest: str = field(default="", compare=False)

    @property
    def media(self) -> tuple[float, float]:
        """Return the page size in mm: the trim with its bleed, and the crop marks' margin when they are drawn."""
        margin = BLEED_MM + (SLUG_MM if self.crop_marks else 0.0)
        return self.trim[0] + 2 * margin, self.trim[1] + 2 * margin

    def box(self, x: float, y: float, width: float, height: float) -> tuple[float, float]:
        """Return the top-left corner of a box placed at (x, y); negative values place its right or bottom edge."""
        w, h = self.trim
        return (x if x >= 0 else w + x - width), (y if y >= 0 else h + y - height)

    def text_span(self, slot: TextSlot) -> tuple[float, float, bool]:
        """Return a text slot's left and right edge in mm and whether it is set flush right."""
        w = self.trim[0]
        right_aligned = slot.x < 0
        if right_aligned:
            right = w + slot.x
            left = max(SAFE_MM, right - slot.width) if slot.width else SAFE_MM
        else:
            left = slot.x
            right = min(w - SAFE_MM, left + slot.width) if slot.width else w - SAFE_MM
        return left, right, right_aligned


def print_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """Return site.yaml's print block with its defaults."""
    conf = raw.get("print") or {}
    return {
        "trim": conf.get("trim", "eu"),
        "crop_marks": bool(conf.get("crop_marks", False)),
        "colour": conf.get("colour", "cmyk"),
        "fallback_font": conf.get("fallback_font"),
        "artwork": bool(conf.get("artwork", True)),
    }


def layout_path(templates_dir: Path) -> Path:
    """Return the layout file: the project's templates/print/card.yaml, else cardsite's own."""
    path = templates_dir / LAYOUT_FILE
    return path if path.exists() or path.is_symlink() else BUILTIN_LAYOUT


def layout_files(templates_dir: Path) -> list[Path]:
    """Return the files a layout is read from: the layout and the logo it may use."""
    path = layout_path(templates_dir)
    return [path, path.parent / "logo.png", path.parent / "logo.jpg"]


def load_layout(
    templates_dir: Path, site_raw: dict[str, Any], brand_color: str, site_file: Path, check: bool = True
) -> Layout:
    """Read and check the layout; raise ValidationError naming the file, line and field of every problem.

    `check=False` only for a layout a successful build checked, unchanged since: its schema, colours and
    placement are not checked again."""
    path = layout_path(templates_dir)
    if path.is_symlink():
        from ..cards.settings import link_problem

        raise ValidationError([link_problem(path)])
    doc, problems = read_yaml(path)
    if doc is None:
        raise ValidationError(problems)
    problems = _schema_problems(doc) if check else []
    if problems:
        raise ValidationError(problems)
    conf = print_settings(site_raw)
    layout = _layout(doc, conf, brand_color, site_file)
    problems = _colour_problems(doc, layout) + _placement_problems(doc, layout) if check else []
    if problems:
        raise ValidationError(problems)
    return layout


def _schema_problems(doc: Document) -> list[Problem]:
    """Check the layout against its schema (jsonschema: the layout is read once, not per card)."""
    from ..cards.validate import fast_valid

    if not isinstance(doc.data, dict):
        return [doc.problem((), "expected a mapping of the layout's parts (colours, front, back)")]
    if fast_valid(doc.data, "print-layout"):
        return []  # the compiled validator, as for cards: jsonschema loads only to explain a mistake
    from importlib import resources

    from jsonschema import Draft202012Validator

    text = resources.files("cardsite.schema").joinpath("print-layout.schema.json").read_text("utf-8")
    errors = Draft202012Validator(json.loads(text)).iter_errors(doc.data)
    return sorted({doc.problem(tuple(e.absolute_path), e.message) for e in errors})


def _layout(doc: Document, conf: dict[str, Any], brand_color: str, site_file: Path) -> Layout:
    data = doc.data
    front, back = data["front"], data["back"]
    colours = {name: brand_color if value == "brand" else value for name, value in data["colours"].items()}
    trim = TRIMS[conf["trim"]] if isinstance(conf["trim"], str) else (float(conf["trim"][0]), float(conf["trim"][1]))
    logo_box = logo = None
    if "logo" in front:
        entry = front["logo"]
        logo_box = (entry["x"], entry["y"], entry["height"], entry.get("max_width"))
        logo = _logo_bytes(doc.path.parent)
    fallback = None
    if conf["fallback_font"]:
        fallback = _fallback_font(site_file, conf["fallback_font"])
    texts = {name: TextSlot(**front[name]) for name in FRONT_TEXTS}
    texts["url"] = TextSlot(**back["url"])
    qr, nfc = back["qr"], back["nfc"]
    band = (front["band"]["width"], front["band"]["colour"]) if "band" in front else None
    layout = Layout(
        trim=trim,
        crop_marks=conf["crop_marks"],
        cmyk=conf["colour"] == "cmyk",
        colours=colours,
        texts=texts,
        qr=(qr["x"], qr["y"], qr["size"]),
        nfc=(nfc["x"], nfc["y"], nfc["size"], nfc["colour"]),
        band=band,
        logo_box=logo_box,
        logo=logo,
        fallback_font=fallback,
        source=doc.name,
    )
    return _with_digest(layout, doc.digest)


def _logo_bytes(folder: Path) -> bytes | None:
    for name in ("logo.png", "logo.jpg"):
        path = folder / name
        if path.is_symlink():
            from ..cards.settings import link_problem

            raise ValidationError([link_problem(path)])
        if path.is_file():
            return path.read_bytes()
    return None


def _fallback_font(site_file: Path, name: str) -> Path:
    path = site_file.parent / name
    if path.is_symlink() or not path.is_file():
        doc, _ = read_yaml(site_file)
        line = doc.line_of(("print", "fallback_font")) if doc else 1
        why = "is a symbolic link" if path.is_symlink() else "is not a file"
        raise ValidationError([Problem(display_path(site_file), line, "print.fallback_font", f"{name} {why}")])
    return path


def _with_digest(layout: Layout, layout_digest: str) -> Layout:
    """Give the layout the hash of everything that can change the artwork: settings, template, logo, fonts."""
    h = hashlib.sha256(layout_digest.encode() + b"\0")
    plain = {k: v for k, v in layout.__dict__.items() if k not in ("logo", "digest", "fallback_font", "source")}
    h.update(json.dumps(plain, sort_keys=True, default=repr).encode() + b"\0")
    for blob in (layout.logo or b"", *(p.read_bytes() for p in (*FONTS.values(), layout.fallback_font) if p)):
        h.update(hashlib.sha256(blob).digest())
    object.__setattr__(layout, "digest", h.hexdigest())
    return layout


def _colour_problems(doc: Document, layout: Layout) -> list[Problem]:
    problems = []
    named = [("front", "band", "colour"), ("back", "nfc", "colour")]
    named += [("front", n, "colour") for n in FRONT_TEXTS] + [("back", "url", "colour")]
    for path in named:
        value: Any = doc.data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and value not in layout.colours:
            known = ", ".join(sorted(layout.colours)) or "none"
            problems.append(doc.problem(path, f"colour '{value}' is not one of the colours: {known}"))
    return problems


def _placement_problems(doc: Document, layout: Layout) -> list[Problem]:
    """Refuse parts that start outside the safe area at their largest size, or a text whose minimum is its size."""
    problems = []
    for name, slot in layout.texts.items():
        problems += _text_problems(doc, layout, name, slot)
    for path, (x, y, size) in _square_parts(layout).items():
        if _box_outside(layout, path[1], x, y, size):
            problems.append(doc.problem(path, _outside(path[1], layout)))
    return problems


def _text_problems(doc: Document, layout: Layout, name: str, slot: TextSlot) -> list[Problem]:
    """Check one text slot: its sizes, and its line at full size against the safe area."""
    from .artwork import font_extent

    w, h = layout.trim
    side = "back" if name == "url" else "front"
    left, right, _ = layout.text_span(slot)
    ascent, descent = font_extent(slot.font)
    baseline = slot.y if slot.y >= 0 else h + slot.y
    top, bottom = baseline - ascent * slot.size / MM, baseline + descent * slot.size / MM
    problems = []
    if slot.min_size > slot.size:
        why = f"min_size {slot.min_size} is above size {slot.size}"
        problems.append(doc.problem((side, name, "min_size"), why))
    if left < SAFE_MM or right > w - SAFE_MM or right - left < 5 or top < SAFE_MM or bottom > h - SAFE_MM:
        problems.append(doc.problem((side, name), _outside(name, layout)))
    return problems


def _square_parts(layout: Layout) -> dict[tuple[str, str], tuple[float, float, float]]:
    """Return the QR code, the NFC mark and the logo (if any) by their place in the layout: x, y and size."""
    parts = {("back", "qr"): layout.qr[:3], ("back", "nfc"): layout.nfc[:3]}
    if layout.logo_box:
        parts[("front", "logo")] = layout.logo_box[:3]
    return parts


def _box_outside(layout: Layout, part: str, x: float, y: float, size: float) -> bool:
    """Tell whether a square part placed at (x, y) reaches outside the area it must stay in."""
    w, h = layout.trim
    left, top = layout.box(x, y, size, size)
    # A QR code's quiet zone may reach into the margin; its modules may not (checked per card).
    margin = 0.0 if part == "qr" else SAFE_MM
    width = size if part != "logo" else 0.0  # a logo's width follows the image
    return left < margin or top < margin or left + width > w - margin or top + size > h - margin


def _outside(part: str, layout: Layout) -> str:
    w, h = layout.trim
    return (
        f"{part} reaches outside the safe area ({SAFE_MM:g} mm inside the {w:g} × {h:g} mm trim) at its full size;"
        " move it inward or make it smaller"
    )
