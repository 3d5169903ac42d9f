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
#: The page shows the photo at 112 CSS pixels: 1x, 2x and 3x screens, each in WebP and, for older browsers, JPEG.
PHOTO_CSS_PX = 112
WEB_SIZES = {
    f"photo{tag}.{ext}": PHOTO_CSS_PX * scale
    for scale, tag in ((1, ""), (2, "@2x"), (3, "@3x"))
    for ext in ("jpg", "webp")
}


#: The largest square any output needs: every size is cut from one decode at about this size.
LARGEST = max(VCARD_SIZE, *WEB_SIZES.values())


# A card's outputs (the vCard's photo, six page images) are cut from one decode of its photo, at four sizes.
# The caches keep a card or two, each entry holding the photo's bytes as its key: the build empties them
# (forget) after each card with a photo.
@lru_cache(maxsize=2)
def _source(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        # A JPEG decodes at 1/2, 1/4 or 1/8 scale when that still covers LARGEST: a camera photo's 12 MP take
        # a tenth of the time.
        image.draft("RGB", (LARGEST, LARGEST))
        image = ImageOps.exif_transpose(image)
        return image.convert("RGB")  # drops alpha; JPEG has none


@lru_cache(maxsize=8)
def _square(data: bytes, size: int) -> Image.Image:
    if size < LARGEST:  # from the largest square, a third of the pixels to filter
        return _square(data, LARGEST).resize((size, size), Image.Resampling.LANCZOS)
    return ImageOps.fit(_source(data), (size, size), Image.Resampling.LANCZOS)


def forget() -> None:
    """Let go of the decoded photos kept for the card just rendered (up to 14 MB a process, held to the end)."""
    _source.cache_clear()
    _square.cache_clear()


def _clean(image: Image.Image) -> Image.Image:
    # A fresh image carries no EXIF, GPS, ICC or comments: nothing but pixels is written.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    return clean


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    _clean(image).save(buf, format="JPEG", quality=quality, optimize=True, progressive=False)
    return buf.getvalue()


def vcard_jpeg(data: bytes) -> bytes:
    """Return the photo for the vCard: square, 256 px, under 40 KB, no metadata."""
    image = _square(data, VCARD_SIZE)
    for quality in (85, 75, 65, 55, 45, 35):
        out = _jpeg(image, quality)
        if len(out) <= VCARD_MAX_BYTES:
            return out
    return out


def web_photo(data: bytes, name: str) -> bytes:
    """Return the page image `name` (photo.jpg, photo@2x.webp, ...): square, no metadata."""
    image = _square(data, WEB_SIZES[name])
    if not name.endswith(".webp"):
        return _jpeg(image, 82)
    buf = io.BytesIO()
    # method 2 of 6: a few per cent larger than method 4 at half its time (docs/performance.md).
    _clean(image).save(buf, format="WEBP", quality=80, method=2)
    return buf.getvalue()
