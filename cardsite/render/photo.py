"""Card photos for the vCard and the page, with Pillow: orient, strip metadata, crop square, shrink.

The photo was checked with the card (cards/photo.py) before it gets here.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageOps

#: Android imports break on large embedded photos; ~256 px under ~40 KB imports everywhere.
VCARD_SIZE = 256
VCARD_MAX_BYTES = 40 * 1024
#: The page shows the photo at 96 CSS pixels: 1x and 2x screens.
WEB_SIZES = {"photo.jpg": 96, "photo@2x.jpg": 192}


@lru_cache(maxsize=64)
def _square(data: bytes, size: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image = ImageOps.exif_transpose(image)
        image = image.convert("RGB")  # drops alpha; JPEG has none
        return ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    # A fresh image carries no EXIF, GPS, ICC or comments: nothing but pixels is written.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    clean.save(buf, format="JPEG", quality=quality, optimize=True, progressive=False)
    return buf.getvalue()


def vcard_jpeg(data: bytes) -> bytes:
    """Return the photo for the vCard: square, 256 px, under 40 KB, no metadata."""
    image = _square(data, VCARD_SIZE)
    for quality in (85, 75, 65, 55, 45, 35):
        out = _jpeg(image, quality)
        if len(out) <= VCARD_MAX_BYTES:
            return out
    return out


def web_jpeg(data: bytes, name: str) -> bytes:
    """Return the page image `name` (photo.jpg or photo@2x.jpg): square, no metadata."""
    return _jpeg(_square(data, WEB_SIZES[name]), 82)
