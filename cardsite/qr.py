"""Encode a card's landing-page URL as a QR code for print and screen.

qrcode picks the mask by building the symbol eight times and scoring each with
the ISO 18004 penalty rules in pure Python; that was ~90% of a QR code's cost.
Here the eight candidates are derived from one build with numpy and scored with
the same rules, then qrcode builds the chosen one: the result is the very
symbol qrcode's automatic choice gives (tests/test_qr.py checks this).
"""

from __future__ import annotations

import bisect
import io
from dataclasses import dataclass
from functools import cache
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
#: Finder-like pattern 1:1:3:1:1 with four light modules before or after it.
_FINDER_LIKE = ((1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0), (0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1))


@dataclass(frozen=True)
class _Layout:
    """Where one QR version puts its data, as qrcode lays it out in test mode."""

    template: np.ndarray  # (n, n) function modules; format and version areas light, data light
    data: np.ndarray  # flat indices of the data modules, row by row
    rank: np.ndarray  # for each data module, its position in qrcode's placement order
    masks: np.ndarray  # (8, len(data)) mask pattern p over the data modules


@cache
def _layout(version: int) -> _Layout:
    """Work out, once per version, which modules carry data and in what order."""
    import numpy as np

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
    blank = code.modules
    template = np.array([[bool(m) for m in row] for row in blank], dtype=bool)
    data = np.flatnonzero([[m is None for m in row] for row in blank])
    rows, cols = np.divmod(data, n)
    masks = np.array([np.vectorize(util.mask_func(p))(rows, cols) for p in _MASKS], dtype=bool)
    # Ask qrcode's own map_data where the k-th data bit goes: feed it the bits of k, one bit plane at a time.
    k = np.arange(-(-len(data) // 8) * 8)
    rank = np.zeros(len(data), dtype=np.int64)
    for plane in range(len(data).bit_length()):
        code.modules = [row[:] for row in blank]
        code.map_data(np.packbits((k >> plane) & 1).tolist(), 0)
        placed = np.array(code.modules, dtype=bool).ravel()[data] ^ masks[0]
        rank |= placed.astype(np.int64) << plane
    return _Layout(template, data, rank, masks)


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
        for i in range(max(map(len, group))):
            interleaved.extend(b[i] for b in group if i < len(b))
    return interleaved


def _runs_penalty(m: np.ndarray) -> np.ndarray:
    """Score runs of five or more same-colour modules along the last axis: length - 2 each."""

    same = m[..., 1:] == m[..., :-1]
    five = same[..., :-3] & same[..., 1:-2] & same[..., 2:-1] & same[..., 3:]
    starts = five.copy()
    starts[..., 1:] &= ~same[..., :-4]
    # A run of length L holds L - 4 windows of five and one start: (L - 4) + 2 = L - 2.
    return five.sum(axis=(1, 2)) + 2 * starts.sum(axis=(1, 2))


def _finder_penalty(m: np.ndarray) -> np.ndarray:
    """Count finder-like patterns along the last axis, 40 points each."""
    import numpy as np

    span = m.shape[-1] - 10
    light = ~m
    hits = np.zeros((*m.shape[:-1], span), dtype=bool)
    for pattern in _FINDER_LIKE:
        found = np.ones_like(hits)
        for offset, dark in enumerate(pattern):
            found &= (m if dark else light)[..., offset : offset + span]
        hits |= found
    return 40 * hits.sum(axis=(1, 2))


def _penalties(candidates: np.ndarray) -> list[int]:
    """Return qrcode's util.lost_point for each of the (k, n, n) candidate symbols."""

    n = candidates.shape[-1]
    transposed = candidates.transpose(0, 2, 1)
    scores = _runs_penalty(candidates) + _runs_penalty(transposed)
    block = candidates[:, :-1, :-1]
    uniform = (block == candidates[:, 1:, :-1]) & (block == candidates[:, :-1, 1:]) & (block == candidates[:, 1:, 1:])
    scores += 3 * uniform.sum(axis=(1, 2))
    scores += _finder_penalty(candidates) + _finder_penalty(transposed)
    dark = candidates.sum(axis=(1, 2))
    # The same float arithmetic as qrcode, so rounding at the 5% steps agrees.
    balance = [int(abs(float(d) / (n**2) * 100 - 50) / 5) * 10 for d in dark.tolist()]
    return [int(s) + b for s, b in zip(scores.tolist(), balance, strict=True)]


def _code(url: str, level: str) -> qrcode.QRCode:
    """Return qrcode's QRCode for `url`, made as make() with automatic mask would make it."""
    import numpy as np

    code = qrcode.QRCode(error_correction=_LEVELS[level], border=QUIET_ZONE)
    code.add_data(url.encode("utf-8"))
    payloads = _payloads(code.data_list)
    version = code.version = _best_fit(code.error_correction, payloads)
    layout = _layout(version)
    code.data_cache = _codewords(version, code.error_correction, payloads)
    bits = np.unpackbits(np.array(code.data_cache, dtype=np.uint8))
    unmasked = np.zeros(len(layout.data), dtype=bool)
    placed = layout.rank < len(bits)
    unmasked[placed] = bits[layout.rank[placed]]
    # All eight test-mode symbols qrcode's best_mask_pattern would build, built at once.
    candidates = np.repeat(layout.template.reshape(1, -1), len(_MASKS), axis=0)
    candidates[:, layout.data] = unmasked ^ layout.masks
    candidates = candidates.reshape(len(_MASKS), *layout.template.shape)
    scores = _penalties(candidates)
    # The first lowest score wins, as in qrcode.
    mask = scores.index(min(scores))
    code.mask_pattern = mask
    code.modules_count = layout.template.shape[0]
    code.modules = candidates[mask].tolist()
    code.setup_type_info(False, mask)
    if version >= 7:
        code.setup_type_number(False)
    return code


def matrix(url: str, level: str = "M") -> list[list[bool]]:
    """Return the modules of `url`'s QR code, quiet zone included."""
    return _code(url, level).get_matrix()


def render_svg(url: str, level: str = "M") -> bytes:
    """Return the QR code of `url` as a compact SVG: one path, quiet zone included."""
    import numpy as np

    modules = np.array(matrix(url, level), dtype=np.int8)
    size = len(modules)
    # qrcode's own SVG writes one square per module; runs of dark modules are ~3x smaller.
    padded = np.zeros((size, size + 2), dtype=np.int8)
    padded[:, 1:-1] = modules
    edges = np.diff(padded, axis=1)
    ys, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]
    runs = "".join(
        f"M{x} {y}h{w}v1h-{w}z" for y, x, w in zip(ys.tolist(), starts.tolist(), (ends - starts).tolist(), strict=True)
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"'
        f' shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{runs}"/></svg>\n'
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
