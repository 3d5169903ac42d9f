"""Check a card's photo with Pillow before anything is built from it: size, format, pixels, bombs."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
#: Far beyond any portrait, far below Pillow's own bomb limit (~179 MP).
MAX_PIXELS = 40_000_000
FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


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
