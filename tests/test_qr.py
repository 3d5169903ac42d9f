"""QR codes: the fast mask choice gives exactly qrcode's own symbol, and the outputs decode."""

from __future__ import annotations

import io
import random
import re

import pytest
import qrcode
import qrcode.constants
import zxingcpp
from PIL import Image
from qrcode import util

from cardsite.render import qr

LEVELS = {"M": qrcode.constants.ERROR_CORRECT_M, "Q": qrcode.constants.ERROR_CORRECT_Q}
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


def varied_urls(count: int, seed: int = 8) -> list[str]:
    """Return card-like URLs of many lengths, with digit runs, upper case and non-ASCII text."""
    rng = random.Random(seed)
    urls = []
    for i in range(count):
        card_id = "".join(rng.choice(ID_CHARS) for _ in range(rng.randint(1, 40))).strip("-") or "a"
        base = rng.choice(("https://cards.example.ch", "http://localhost:8000", "https://c.example.com/team"))
        url = f"{base}/{card_id}/"
        kind = i % 6
        if kind == 1:
            url = url.upper()  # long alphanumeric runs take qrcode's alphanumeric mode
        elif kind == 2:
            url += "?ref=" + "".join(rng.choice("0123456789") for _ in range(rng.randint(20, 60)))  # numeric mode
        elif kind == 3:
            url += rng.choice(("zoë-müller", "Łukasz", "Nguyễn", "ﾃｽﾄ")) * rng.randint(1, 4)
        elif kind == 4:
            url += "#" + "".join(rng.choice(ID_CHARS) for _ in range(rng.randint(50, 400)))  # larger versions
        urls.append(url)
    return urls


def reference(url: str, level: str) -> tuple[qrcode.QRCode, list[list[bool]], int]:
    """Return qrcode's own code made with automatic mask selection, its matrix, and the mask it chose."""
    code = qrcode.QRCode(error_correction=LEVELS[level], border=qr.QUIET_ZONE)
    code.add_data(url.encode("utf-8"))
    code.make(fit=True)
    matrix = code.get_matrix()
    # make() does not keep its choice; asking again repeats it (and leaves test-mode modules behind).
    mask = code.best_mask_pattern()
    return code, matrix, mask


def reference_svg(matrix: list[list[bool]]) -> bytes:
    """Write the SVG render_svg has always written for this matrix: one path of runs of dark modules, row by row.

    The bytes must not change between releases, or every card's qr.svg is rewritten and re-uploaded.
    """
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                w = row[x:].index(False) if False in row[x:] else len(row) - x
                runs.append(f"M{x} {y}h{w}v1h-{w}z")
                x += w
            else:
                x += 1
    size = len(matrix)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"'
        f' shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>\n'
    ).encode("ascii")


def svg_matrix(svg: bytes) -> list[list[bool]]:
    """Rasterise our one-path SVG back to modules by reading its `Mx yhNv1h-Nz` runs."""
    text = svg.decode("ascii")
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', text).group(1))
    path = re.search(r' d="([^"]*)"', text).group(1)
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path)
    assert "".join(f"M{x} {y}h{w}v1h-{w}z" for x, y, w in runs) == path, "unexpected path syntax"
    matrix = [[False] * size for _ in range(size)]
    for x, y, w in runs:
        for col in range(int(x), int(x) + int(w)):
            matrix[int(y)][col] = True
    return matrix


@pytest.mark.parametrize("level", ["M", "Q"])
def test_mask_matrix_and_svg_bytes_match_qrcodes_automatic_choice(level: str) -> None:
    versions, masks = set(), set()
    for url in varied_urls(300):
        ref, ref_matrix, ref_mask = reference(url, level)
        ours = qr._code(url, level)
        assert ours.version == ref.version, url
        assert ours.data_cache == util.create_data(ref.version, ref.error_correction, ref.data_list), url
        assert ours.mask_pattern == ref_mask, url
        assert ours.get_matrix() == ref_matrix, url
        assert qr.render_svg(url, level) == reference_svg(ref_matrix), url
        versions.add(ours.version)
        masks.add(ours.mask_pattern)
    # The sample must exercise every mask and a spread of versions, or it proves little.
    assert masks == set(range(8))
    assert len(versions) >= 8 and min(versions) <= 3 and max(versions) >= 10


def test_large_versions_match_qrcode() -> None:
    # Versions 7+ carry version information and many Reed-Solomon blocks.
    for length, level in ((300, "M"), (900, "Q"), (2000, "M")):
        url = "https://cards.example.ch/" + "x" * length
        ref, ref_matrix, ref_mask = reference(url, level)
        ours = qr._code(url, level)
        assert (ours.version, ours.mask_pattern) == (ref.version, ref_mask)
        assert ours.get_matrix() == ref_matrix
        assert qr.render_svg(url, level) == reference_svg(ref_matrix)


def test_too_long_url_fails_like_qrcode() -> None:
    with pytest.raises(qrcode.exceptions.DataOverflowError):
        qr.render_svg("https://cards.example.ch/" + "x" * 3000, "Q")


@pytest.mark.parametrize("level", ["M", "Q"])
def test_svg_draws_qrcodes_matrix(level: str) -> None:
    for url in varied_urls(40, seed=3):
        svg = qr.render_svg(url, level)
        assert svg.startswith(b"<svg ") and svg.endswith(b"</svg>\n")
        assert svg_matrix(svg) == reference(url, level)[1]


@pytest.mark.parametrize("level", ["M", "Q"])
@pytest.mark.parametrize("url", ["https://cards.example.ch/jana-mueller/", "https://cards.example.ch/zoë-ødegaard-42/"])
def test_png_decodes_to_the_url(level: str, url: str) -> None:
    png = qr.render_png(url, level, min_width=600)
    image = Image.open(io.BytesIO(png))
    assert image.width >= 600
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [url]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    assert results[0].ec_level == level


def test_png_is_qrcodes_own_image() -> None:
    for url in varied_urls(6, seed=5):
        ref, _, _ = reference(url, "Q")
        ref.make(fit=False)  # best_mask_pattern left test-mode modules; rebuild the real symbol
        ref.box_size = -(-600 // (ref.modules_count + 2 * qr.QUIET_ZONE))
        buf = io.BytesIO()
        ref.make_image().save(buf, format="PNG")
        assert qr.render_png(url, "Q", min_width=600) == buf.getvalue()


def test_svg_rasterised_decodes_to_the_url() -> None:
    url = "https://cards.example.ch/małgorzata-nguyen-7/"
    matrix = svg_matrix(qr.render_svg(url, "M"))
    scale = 8
    image = Image.new("L", (len(matrix) * scale, len(matrix) * scale), 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                image.paste(0, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [url]


@pytest.mark.parametrize("level", ["M", "Q"])
def test_the_png_drawn_from_the_built_svg_is_the_png_of_the_url(level: str) -> None:
    # notify attaches a PNG read back from the build's qr.svg: it must be the very PNG of the URL.
    for url in [
        "https://cards.example.ch/max/",
        "https://c.example/a-very-long-card-id-of-forty-chars-x/",
        "http://x/",
    ]:
        assert qr.png_from_svg(qr.render_svg(url, level), min_width=600) == qr.render_png(url, level, min_width=600)


def test_png_from_svg_refuses_what_is_not_a_cardsite_qr_code() -> None:
    with pytest.raises(ValueError):
        qr.png_from_svg(b"<svg xmlns='http://www.w3.org/2000/svg'/>")


@pytest.mark.parametrize("level", ["M", "Q"])
def test_the_print_checks_size_table_is_qrcodes_own_answer(level: str) -> None:
    from cardsite.render.qr import symbol_size
    from cardsite.render.qr_sizes import LENGTHS, side_of

    # qrcode's QRCode.best_fit, as make() picks the version, for a text of each length in byte mode.
    for n in LENGTHS:
        code = qrcode.QRCode(error_correction=getattr(qrcode.constants, f"ERROR_CORRECT_{level}"))
        code.add_data(b"h" * n)
        code.make(fit=True)
        assert side_of(n, level) == code.modules_count == symbol_size("h" * n, level), n
