"""Encode a card's landing-page URL as a QR code for print and screen.

qrcode picks the mask by building the symbol eight times and scoring each with
the ISO 18004 penalty rules in pure Python; that was ~90% of a QR code's cost.
Here the eight candidates are derived from one placement of the data bits and
scored with the same rules on whole symbols held as Python integers (one bit per
module), so the result is the very symbol qrcode's automatic choice gives
(tests/test_qr.py checks this against qrcode over hundreds of URLs).
"""

from __future__ import annotations

import bisect
import io
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import chain
from typing import TYPE_CHECKING

import qrcode
import qrcode.constants
from qrcode import LUT, base, util
from qrcode.exceptions import DataOverflowError

if TYPE_CHECKING:
    import numpy as np

QUIET_ZONE = 4
_LEVELS = {"M": qrcode.constants.ERROR_CORRECT_M, "Q": qrcode.constants.ERROR_CORRECT_Q}
_MASKS = range(8)


def _pack(planes: np.ndarray) -> int:
    """Pack planes of 0/1 (each padded to whole bytes) into one integer, the first element the most significant bit."""
    import numpy as np

    return int.from_bytes(np.packbits(planes, axis=-1).tobytes(), "big")


@dataclass(frozen=True)
class _Layout:
    """Where one QR version puts its data, as qrcode lays it out in test mode, with the bit masks to score it.

    A symbol is scored as one integer holding two planes, its modules row by row, then column by column
    (the same line masks fit both, the symbol being square): a bitwise operation then covers every line
    of the symbol at once, where numpy spent most of its time in per-call overhead on arrays this small.
    """

    size: int
    order: np.ndarray  # (2, n * n) per module, row by row and column by column: its bit in the padded data stream
    stream_bytes: int  # the data stream padded with zero bytes, so that order's index for "no data" reads a 0
    template: int  # function modules in test mode (format and version areas light)
    masks: tuple[int, ...]  # mask pattern p over the data modules
    pairs: int  # modules i where i and i + 1 lie on one line
    windows: int  # modules i where i to i + 10 lie on one line
    blocks: int  # the top-left modules of the 2x2 blocks, in the row-by-row plane only


@cache
def _layout(version: int) -> _Layout:
    """Work out, once per version, which modules carry data and in what order."""
    import numpy as np

    code = _function_patterns(version)
    n = code.modules_count
    blank = code.modules
    template = np.array([[bool(m) for m in row] for row in blank], dtype=bool)
    data = np.flatnonzero([[m is None for m in row] for row in blank])
    rows, cols = np.divmod(data, n)
    masks = np.array([np.vectorize(util.mask_func(p))(rows, cols) for p in _MASKS], dtype=bool)
    rank = _data_ranks(code, data, masks[0])
    # Function modules, and data modules past the last codeword (qrcode leaves those 0), read the last padding bit.
    stream_bytes = len(data) // 8 + 2
    order = np.full(n * n, stream_bytes * 8 - 1)
    order[data] = rank

    def both(flat: np.ndarray) -> np.ndarray:
        return np.stack([flat, flat.reshape(n, n).T.ravel()])

    mask_planes = np.zeros((len(_MASKS), n * n), dtype=bool)
    mask_planes[:, data] = masks
    row, col = np.divmod(np.arange(n * n), n)
    return _Layout(
        size=n,
        order=both(order),
        stream_bytes=stream_bytes,
        template=_pack(both(template.ravel())),
        masks=tuple(_pack(both(plane)) for plane in mask_planes),
        pairs=_pack(np.stack([col < n - 1] * 2)),
        windows=_pack(np.stack([col < n - 10] * 2)),
        blocks=_pack(np.stack([(row < n - 1) & (col < n - 1), np.zeros(n * n, dtype=bool)])),
    )


def _function_patterns(version: int) -> qrcode.QRCode:
    """Return a QRCode of `version` whose modules hold only the function patterns: None where data goes."""
    code = qrcode.QRCode(version=version)
    n = code.modules_count = version * 4 + 17
    code.modules = [[None] * n for _ in range(n)]
    # The same steps as QRCode.makeImpl in test mode before map_data: what they leave unset carries data.
    code.setup_position_probe_pattern(0, 0)
    code.setup_position_probe_pattern(n - 7, 0)
    code.setup_position_probe_pattern(0, n - 7)
    code.setup_position_adjust_pattern()
    code.setup_timing_pattern()
    code.setup_type_info(True, 0)
    if version >= 7:
        code.setup_type_number(True)
    return code


def _data_ranks(code: qrcode.QRCode, data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return, for each data module (`data`, row by row), which bit of the data stream qrcode places there.

    `mask` is the data modules of mask pattern 0, which map_data applies; `code` is left as it was.
    """
    import numpy as np

    blank = code.modules
    # Ask qrcode's own map_data where the k-th data bit goes: feed it the bits of k, one bit plane at a time.
    k = np.arange(-(-len(data) // 8) * 8)
    rank = np.zeros(len(data), dtype=np.int64)
    for plane in range(len(data).bit_length()):
        code.modules = [row[:] for row in blank]
        code.map_data(np.packbits((k >> plane) & 1).tolist(), 0)
        placed = np.array(code.modules, dtype=bool).ravel()[data] ^ mask
        rank |= placed.astype(np.int64) << plane
    code.modules = blank
    return rank


@cache
def _type_info(version: int, error_correction: int, mask: int) -> int:
    """Return the dark format (and version) information modules qrcode sets in the final symbol, row by row."""
    import numpy as np

    code = qrcode.QRCode(version=version, error_correction=error_correction)
    n = code.modules_count = version * 4 + 17
    code.modules = [[False] * n for _ in range(n)]
    code.setup_type_info(False, mask)
    if version >= 7:
        code.setup_type_number(False)
    return _pack(np.array(code.modules, dtype=bool).ravel())


class _Bits:
    """A bit buffer with qrcode's BitBuffer.put, holding the bits in one integer."""

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def put(self, num: int, length: int) -> None:
        """Append the low `length` bits of `num`, most significant first."""
        self.value = (self.value << length) | (num & ((1 << length) - 1))
        self.length += length


@cache
def _ec_table(ec_count: int) -> tuple[int, ...]:
    """Return, for every byte f, f times the generator polynomial (without its leading 1) as one integer."""
    generator = LUT.rsPoly_LUT[ec_count][1:]
    table = [0]
    for factor in range(1, 256):
        log_f = base.glog(factor)
        products = bytes(base.gexp(log_f + base.glog(g)) for g in generator)
        table.append(int.from_bytes(products, "big"))
    return tuple(table)


def _ec_bytes(block: list[int], ec_count: int) -> list[int]:
    """Return the Reed-Solomon check bytes of `block`: the remainder qrcode's Polynomial % computes."""
    table = _ec_table(ec_count)
    top = 8 * (ec_count - 1)
    keep = (1 << (8 * ec_count)) - 1
    register = 0
    # Polynomial long division as a shift register of ec_count bytes held in one integer.
    for byte in block:
        register = ((register << 8) & keep) ^ table[byte ^ (register >> top)]
    return list(register.to_bytes(ec_count, "big"))


def _payloads(data_list: list[util.QRData]) -> list[tuple[util.QRData, _Bits]]:
    """Return each segment with its encoded data bits (the same at every version)."""
    payloads = []
    for data in data_list:
        bits = _Bits()
        if data.mode == util.MODE_8BIT_BYTE:
            # What QRData.write puts, eight bits a byte, in one step: a URL is mostly such a chunk.
            bits.value, bits.length = int.from_bytes(data.data, "big"), 8 * len(data.data)
        else:
            data.write(bits)
        payloads.append((data, bits))
    return payloads


def _best_fit(error_correction: int, payloads: list[tuple[util.QRData, _Bits]]) -> int:
    """Return the smallest version that holds the data, as qrcode's QRCode.best_fit does."""
    start = 1
    while True:
        sizes = util.mode_sizes_for_version(start)
        needed = sum(4 + sizes[data.mode] + len(bits) for data, bits in payloads)
        version = bisect.bisect_left(util.BIT_LIMIT_TABLE[error_correction], needed, start)
        if version == 41:
            raise DataOverflowError()
        # A larger version may use longer length fields; then fit again from there.
        if util.mode_sizes_for_version(version) is sizes:
            return version
        start = version


def _codewords(version: int, error_correction: int, payloads: list[tuple[util.QRData, _Bits]]) -> list[int]:
    """Return what qrcode's util.create_data returns, with faster Reed-Solomon arithmetic."""
    buffer = _Bits()
    for data, bits in payloads:
        buffer.put(data.mode, 4)
        buffer.put(len(data), util.length_in_bits(data.mode, version))
        buffer.put(bits.value, len(bits))
    blocks = base.rs_blocks(version, error_correction)
    capacity = sum(block.data_count for block in blocks)
    # Terminator (up to four 0 bits), then 0s to a byte boundary, then the alternating pad bytes.
    buffer.put(0, min(capacity * 8 - len(buffer), 4))
    buffer.put(0, -len(buffer) % 8)
    written = list(buffer.value.to_bytes(len(buffer) // 8, "big"))
    pad = [util.PAD0, util.PAD1] * capacity
    stream = written + pad[: capacity - len(written)]
    dc, ec, offset = [], [], 0
    for block in blocks:
        dc.append(stream[offset : offset + block.data_count])
        ec.append(_ec_bytes(dc[-1], block.total_count - block.data_count))
        offset += block.data_count
    # Interleave: the i-th byte of every block in turn, data first, then check bytes.
    interleaved = []
    for group in (dc, ec):
        # zip stops at the shortest block; then the bytes only longer blocks have.
        shortest = min(map(len, group))
        interleaved.extend(chain.from_iterable(zip(*group, strict=False)))
        for i in range(shortest, max(map(len, group))):
            interleaved.extend(b[i] for b in group if i < len(b))
    return interleaved


def _penalty(layout: _Layout, m: int) -> int:
    """Return qrcode's util.lost_point for one test-mode symbol, `m` holding it row by row and column by column.

    Bit i of `m << k` is module i + k, so ANDing shifted copies tests a window of modules starting at each i.
    """
    same = ~(m ^ (m << 1)) & layout.pairs
    five = same & (same << 1) & (same << 2) & (same << 3)
    starts = five & ~(five >> 1)
    # A run of length L holds L - 4 windows of five and one start: (L - 4) + 2 = L - 2.
    score = five.bit_count() + 2 * starts.bit_count()
    light = ~m
    dark3 = m & (m << 1) & (m << 2)
    core = m & (light << 1) & (dark3 << 2) & (light << 5) & (m << 6)  # 1011101
    light2 = light & (light << 1)
    light4 = light2 & (light2 << 2)
    # 1011101 then four light (10111010000), or four light then 1011101 (00001011101).
    finders = ((core & (light4 << 7)) | (light4 & (core << 4))) & layout.windows
    score += 40 * finders.bit_count()
    n = layout.size
    blocks = same & (same << n) & ~(m ^ (m << n)) & layout.blocks
    score += 3 * blocks.bit_count()
    # Each plane holds every module once. The same float arithmetic as qrcode, so rounding at the 5% steps agrees.
    return score + int(abs(float(m.bit_count() // 2) / (n**2) * 100 - 50) / 5) * 10


def _make(url: str, level: str) -> tuple[qrcode.QRCode, np.ndarray]:
    """Return the QRCode for `url` with the version, codewords and mask make() would choose, and its (n, n) modules."""
    import numpy as np

    code = qrcode.QRCode(error_correction=_LEVELS[level], border=QUIET_ZONE)
    code.add_data(url.encode("utf-8"))
    payloads = _payloads(code.data_list)
    version = code.version = _best_fit(code.error_correction, payloads)
    layout = _layout(version)
    code.data_cache = _codewords(version, code.error_correction, payloads)
    stream = np.frombuffer(bytes(code.data_cache).ljust(layout.stream_bytes, b"\0"), dtype=np.uint8)
    data = _pack(np.unpackbits(stream)[layout.order])
    # Each mask's test-mode symbol as qrcode's best_mask_pattern builds it; the first lowest score wins.
    scores = [_penalty(layout, layout.template | (data ^ mask)) for mask in layout.masks]
    mask = code.mask_pattern = scores.index(min(scores))
    # Keep the row-by-row plane. Test mode left the format and version modules light; set the dark ones.
    n = layout.size
    plane_bytes = -(-n * n // 8)
    rows = (layout.template | (data ^ layout.masks[mask])) >> (8 * plane_bytes)
    symbol = rows | _type_info(version, code.error_correction, mask)
    symbol_bytes = np.frombuffer(symbol.to_bytes(plane_bytes, "big"), dtype=np.uint8)
    return code, np.unpackbits(symbol_bytes, count=n * n).view(bool).reshape(n, n)


def _code(url: str, level: str) -> qrcode.QRCode:
    """Return qrcode's QRCode for `url`, made as make() with automatic mask would make it."""
    code, modules = _make(url, level)
    code.modules_count = len(modules)
    code.modules = modules.tolist()
    return code


@cache
def _path_pieces(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the path text of a run of dark modules by its first column, and by its row and width."""
    import numpy as np

    heads = [f"M{x + QUIET_ZONE} " for x in range(n)]
    tails = [f"{y + QUIET_ZONE}h{w}v1h-{w}z" for y in range(n) for w in range(n + 1)]
    return np.array(heads, dtype=object), np.array(tails, dtype=object)


def render_svg(url: str, level: str = "M") -> bytes:
    """Return the QR code of `url` as a compact SVG: one path, quiet zone included."""
    import numpy as np

    modules = modules_of(url, level)
    n = len(modules)
    size = n + 2 * QUIET_ZONE
    # qrcode's own SVG writes one square per module; runs of dark modules are ~3x smaller.
    # Framed in light, every row changes colour an even number of times: at each run's start, then at its end.
    framed = np.zeros((n, n + 2), dtype=bool)
    framed[:, 1:-1] = modules
    ys, xs = np.nonzero(framed[:, 1:] != framed[:, :-1])
    starts, ends = xs[0::2], xs[1::2]
    # Formatting ~300 runs of numbers was a third of the time; the texts are looked up per version instead.
    heads, tails = _path_pieces(n)
    pieces = np.empty((len(starts), 2), dtype=object)
    pieces[:, 0] = heads[starts]
    pieces[:, 1] = tails[ys[0::2] * (n + 1) + ends - starts]
    runs = "".join(pieces.ravel().tolist())
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"'
        f' shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{runs}"/></svg>\n'
    )
    return svg.encode("ascii")


def symbol_size(url: str, level: str) -> int:
    """Return how many modules a side the QR code of `url` has, without drawing it (the version alone)."""
    code = qrcode.QRCode(error_correction=_LEVELS[level], border=QUIET_ZONE)
    code.add_data(url.encode("utf-8"))
    return _best_fit(code.error_correction, _payloads(code.data_list)) * 4 + 17


# A build renders each output for a batch of cards before the next (build/engine.py, STEP_BATCH: 32): the
# entries, a few kilobytes each, last from a card's QR code to its video-call backgrounds.
@lru_cache(maxsize=64)
def modules_of(url: str, level: str) -> np.ndarray:
    """Return the (n, n) dark modules of `url`'s QR code; the build's SVG and PNG of one card share one encoding."""
    modules = _make(url, level)[1]
    modules.setflags(write=False)
    return modules


def render_png(url: str, level: str = "M", min_width: int = 600) -> bytes:
    """Return the QR code of `url` as a PNG at least `min_width` pixels wide, for print.

    The pixels and the PNG are those of qrcode's own PIL image (a 1-bit image saved by Pillow), a third of the cost.
    """
    return _png(modules_of(url, level), min_width)


#: One run of dark modules in render_svg's path: "M<x> <y>h<width>v1h-<width>z".
_RUN = re.compile(rb"M(\d+) (\d+)h(\d+)v1h-\d+z")


def png_from_svg(svg: bytes, min_width: int = 600) -> bytes:
    """Return the PNG of a QR code that render_svg drew, read back from the SVG: no URL is encoded again.

    The print job needs a PNG only for the few cards it announces; the build writes the SVG alone.
    """
    import numpy as np

    found = re.search(rb'viewBox="0 0 (\d+) (\d+)"', svg)
    if found is None or found.group(1) != found.group(2):
        raise ValueError("not a QR code drawn by cardsite (no square viewBox)")
    n = int(found.group(1)) - 2 * QUIET_ZONE
    modules = np.zeros((n, n), dtype=bool)
    for x, y, width in _RUN.findall(svg):
        left = int(x) - QUIET_ZONE
        modules[int(y) - QUIET_ZONE, left : left + int(width)] = True
    return _png(modules, min_width)


def _png(modules: np.ndarray, min_width: int) -> bytes:
    """Draw `modules` with a quiet zone, each module a square of pixels, at least `min_width` wide."""
    import numpy as np
    from PIL import Image

    size = len(modules) + 2 * QUIET_ZONE
    box = max(1, -(-min_width // size))
    light = np.ones((size, size), dtype=bool)
    light[QUIET_ZONE:-QUIET_ZONE, QUIET_ZONE:-QUIET_ZONE] = ~modules
    buf = io.BytesIO()
    Image.fromarray(np.repeat(np.repeat(light, box, axis=0), box, axis=1)).save(buf, format="PNG")
    return buf.getvalue()
