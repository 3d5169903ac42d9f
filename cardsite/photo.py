"""Check and process card photos with Pillow: orient, strip metadata, crop square, shrink."""

from __future__ import annotations

import io
import warnings
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
#: Far beyond any portrait, far below Pillow's own bomb limit (~179 MP).
MAX_PIXELS = 40_000_000
FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
#: Android imports break on large embedded photos; ~256 px under ~40 KB imports everywhere.
VCARD_SIZE = 256
VCARD_MAX_BYTES = 40 * 1024
#: The page shows the photo at 96 CSS pixels: 1x and 2x screens.
WEB_SIZES = {"photo.jpg": 96, "photo@2x.jpg": 192}


def photo_problem(path: Path) -> str | None:
    """Return why `path` cannot be a card photo, or None."""
    if not path.is_file():
        return f"photo '{path.name}' not found"
    if path.stat().st_size > MAX_BYTES:
        return f"photo '{path.name}' is over 10 MB; export a smaller image"
    try:
        with warnings.catch_warnings():
            # Pillow only warns about a decompression bomb below its hard limit; refuse it outright.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.format not in FORMATS:
                    return f"photo '{path.name}' is {image.format}; use JPEG, PNG or WebP"
                if image.width * image.height > MAX_PIXELS:
                    return f"photo '{path.name}' has too many pixels ({image.width}×{image.height}); refused"
                image.verify()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        return f"photo '{path.name}' is a decompression bomb; refused"
    except UnidentifiedImageError:
        return f"photo '{path.name}' is not an image Pillow can read"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"photo '{path.name}' is damaged: {exc}"
    return None


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
