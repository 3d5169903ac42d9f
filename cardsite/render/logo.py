"""The company logo of site.yaml's brand.logo: an SVG inlined after sanitising, or a raster image as an asset.

An SVG can carry scripts, event handlers, external references and entity bombs. It is parsed with
defusedxml (no DTDs, no entities, no external resources) and rebuilt from an allow-list of drawing
elements and attributes: anything not on the list is dropped, with its children. Ids get a prefix so
they cannot clash with the page's icons, and references may only point inside the logo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

#: Drawing elements a logo needs. No script, foreignObject, image, a, style, animate or use of other files.
ELEMENTS = frozenset(
    [
        "svg",
        "g",
        "path",
        "rect",
        "circle",
        "ellipse",
        "line",
        "polyline",
        "polygon",
        "text",
        "tspan",
        "defs",
        "linearGradient",
        "radialGradient",
        "stop",
        "clipPath",
        "mask",
        "title",
        "desc",
        "symbol",
        "use",
    ]
)
#: Geometry and presentation attributes; no event handlers, no style (it can load URLs), no external href.
ATTRIBUTES = frozenset(
    [
        "id",
        "d",
        "x",
        "y",
        "x1",
        "y1",
        "x2",
        "y2",
        "cx",
        "cy",
        "r",
        "rx",
        "ry",
        "fx",
        "fy",
        "width",
        "height",
        "points",
        "viewBox",
        "preserveAspectRatio",
        "transform",
        "fill",
        "fill-opacity",
        "fill-rule",
        "stroke",
        "stroke-width",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-opacity",
        "opacity",
        "clip-path",
        "clip-rule",
        "mask",
        "offset",
        "stop-color",
        "stop-opacity",
        "gradientUnits",
        "gradientTransform",
        "spreadMethod",
        "maskUnits",
        "clipPathUnits",
        "font-family",
        "font-size",
        "font-weight",
        "font-style",
        "text-anchor",
        "dominant-baseline",
        "letter-spacing",
        "href",
    ]
)
SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
#: A value may reference only an id inside the logo: url(#id) or, for href, #id.
URL_VALUE = re.compile(r"url\(\s*['\"]?([^)'\"]*)['\"]?\s*\)")
PREFIX = "logo-"


class LogoError(ValueError):
    """The logo file cannot be used; the message says why."""


@dataclass(frozen=True)
class RasterLogo:
    data: bytes
    suffix: str
    width: int
    height: int


def sanitise_svg(data: bytes, label: str) -> str:
    """Return the SVG in `data` rebuilt from the allow-list, as inline markup named `label`."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise LogoError(f"the SVG cannot be read: {exc}") from None
    if root.tag != SVG_NS + "svg":
        raise LogoError("the file is not an SVG image (its root element is not <svg> in the SVG namespace)")
    attrs = dict(root.attrib)
    if "viewBox" not in attrs and _number(attrs.get("width")) and _number(attrs.get("height")):
        root.set("viewBox", f"0 0 {_number(attrs['width'])} {_number(attrs['height'])}")
    for size in ("width", "height"):  # CSS sizes the logo
        root.attrib.pop(size, None)
    if "viewBox" not in root.attrib:
        raise LogoError("the SVG needs a viewBox (or width and height) so it can be scaled")
    head = f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label)}"'
    return head + _element(root, top=True)[4:]


def _number(value: str | None) -> str:
    match = re.fullmatch(r"\s*([0-9.]+)\s*(px)?\s*", value or "")
    return match.group(1) if match else ""


def _element(node, top: bool = False) -> str:  # type: ignore[no-untyped-def]
    tag = node.tag.removeprefix(SVG_NS)
    if tag not in ELEMENTS or node.tag == tag:  # not on the list, or not in the SVG namespace
        return ""
    inner = escape(node.text or "", quote=False) if tag in ("text", "tspan", "title", "desc") else ""
    for child in node:
        inner += _element(child)
        if tag in ("text", "tspan"):
            inner += escape(child.tail or "", quote=False)
    return f"<{tag}{_attributes(node, top)}>{inner}</{tag}>"


def _attributes(node, top: bool) -> str:  # type: ignore[no-untyped-def]
    """Return the allowed attributes as markup: ids prefixed, references out of the logo and the root's id left out."""
    parts = []
    for name, value in node.attrib.items():
        name = "href" if name == XLINK_HREF else name
        if name not in ATTRIBUTES or (top and name == "id"):
            continue
        value = _reference(name, value)
        if value is not None:
            parts.append(f' {name}="{escape(value)}"')
    return "".join(parts)


def _reference(name: str, value: str) -> str | None:
    """Return the attribute value with ids prefixed, or None when it points outside the logo."""
    if name == "id":
        return PREFIX + value
    if name == "href":
        return f"#{PREFIX}{value[1:]}" if value.startswith("#") else None
    targets = URL_VALUE.findall(value)
    if any(not t.startswith("#") for t in targets):
        return None
    return URL_VALUE.sub(lambda m: f"url(#{PREFIX}{m.group(1)[1:]})", value)


def raster_logo(path: Path, height: int) -> RasterLogo:
    """Check a PNG, JPEG or WebP logo and return it with its size scaled to `height` CSS pixels."""
    import io

    from PIL import Image, UnidentifiedImageError

    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind, (w, h) = image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise LogoError(f"the image cannot be read: {exc}") from None
    if kind not in ("PNG", "JPEG", "WEBP"):
        raise LogoError(f"a logo must be SVG, PNG, JPEG or WebP, not {kind}")
    return RasterLogo(data, path.suffix.lower(), max(1, round(w * height / h)), height)
