"""How many modules a side the QR code of a URL of n bytes has, at each error-correction level, without qrcode.

The print check asks this of every live card (artwork.qr_modules); importing qrcode, and the Pillow it
imports, cost a one-card rebuild 30-45 ms. The table is qrcode's own answer (qr.symbol_size) for a text
of n bytes in byte mode, qrcode's longest encoding of any text, at n = 8, 12, ..., 396 bytes:
`tests/test_qr.py` checks it against qrcode, so a qrcode release that answers otherwise fails the
tests rather than the print.
"""

from __future__ import annotations

#: The byte lengths the table answers for: 8, 12, ..., 396.
LENGTHS = range(8, 400, 4)

# fmt: off
#: {level: ((modules a side, the most of LENGTHS' bytes that side holds), ...)}, smallest side first.
SIDES: dict[str, tuple[tuple[int, int], ...]] = {
    "M": (
        (21, 12), (25, 24), (29, 40), (33, 60), (37, 84), (41, 104), (45, 120), (49, 152),
        (53, 180), (57, 212), (61, 248), (65, 284), (69, 328), (73, 360), (77, 396),
    ),
    "Q": (
        (21, 8), (25, 20), (29, 32), (33, 44), (37, 60), (41, 72), (45, 84), (49, 108),
        (53, 128), (57, 148), (61, 176), (65, 200), (69, 240), (73, 256), (77, 292), (81, 320),
        (85, 364), (89, 392), (93, 396),
    ),
}
# fmt: on


def side_of(length: int, level: str) -> int:
    """Return how many modules a side a text of `length` bytes (one of LENGTHS) takes at `level`."""
    return next(side for side, most in SIDES[level] if length <= most)
