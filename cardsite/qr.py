"""Encode a card's landing-page URL as a QR code for print and screen."""

from __future__ import annotations

import io

import qrcode
import qrcode.constants

QUIET_ZONE = 4
_LEVELS = {"M": qrcode.constants.ERROR_CORRECT_M, "Q": qrcode.constants.ERROR_CORRECT_Q}


def _code(url: str, level: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=_LEVELS[level], border=QUIET_ZONE)
    code.add_data(url.encode("utf-8"))
    code.make(fit=True)
    return code


def render_svg(url: str, level: str = "M") -> bytes:
    """Return the QR code of `url` as a compact SVG: one path, quiet zone included."""
    matrix = _code(url, level).get_matrix()
    size = len(matrix)
    # qrcode's own SVG writes one square per module; runs of dark modules are ~3x smaller.
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"'
        f' shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>\n'
    )
    return svg.encode("ascii")


def render_png(url: str, level: str = "M", min_width: int = 600) -> bytes:
    """Return the QR code of `url` as a PNG at least `min_width` pixels wide, for print."""
    code = _code(url, level)
    modules = code.modules_count + 2 * QUIET_ZONE
    code.box_size = max(1, -(-min_width // modules))
    buf = io.BytesIO()
    code.make_image().save(buf, format="PNG")
    return buf.getvalue()
