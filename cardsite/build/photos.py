"""Make a card photo's outputs: the vCard's JPEG, kept by the photo's hash, and the page's sizes.

A card's vCard embeds its photo as a small JPEG (render/photo.py), and the vCard depends on
the whole card: a new title renders it again. Making that JPEG again from the unchanged photo
(decoding, cropping, shrinking, encoding) was 29 ms of a 0.45 s one-card rebuild. So each JPEG
made is kept in the output folder's .cardsite/photos/, named by cardsite's code and the photo's
SHA-256, and a later render of any card with the same photo takes it from there. The full
build removes the ones no card embeds any more. Everything else about the vCard is rendered
as before, and its bytes are the same either way.

A card's outputs are cut from one decode of its photo, which render/photo.py keeps until
release(): the engine calls it after each card with a photo, so no process holds images to its end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from .fingerprint import code_digest
from .output import PHOTO_CACHE, remove_leftovers, write_atomic

#: A JPEG starts with SOI and ends with EOI: a file without both was not written whole by us.
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"


def kept_name(digest: str) -> str:
    """Return the file name of the vCard photo made from the photo with SHA-256 `digest` by this cardsite."""
    # The code digest covers cardsite's own code and the installed Pillow: a new recipe never finds an old JPEG.
    return f"{code_digest()[:16]}-{digest}.jpg"


#: Whether this process decoded a photo since the last release(): otherwise there is nothing to let go.
_decoded = [False]


def web_photo(photo: bytes, name: str) -> bytes:
    """Return the page image `name` (photo.jpg, photo@2x.webp, ...) of the card photo `photo`."""
    from ..render import photo as cut

    _decoded[0] = True
    return cut.web_photo(photo, name)


def release() -> None:
    """Let go of the decoded photo of the card just rendered."""
    if _decoded[0]:
        from ..render.photo import forget

        forget()
        _decoded[0] = False


def vcard_photo(out_dir: Path | None, photo: bytes) -> bytes:
    """Return the vCard's JPEG of the card photo `photo`: kept in `out_dir`, or made and kept there."""
    # Hashed here, from the bytes the JPEG is made of, not taken from the card: a photo replaced since the card
    # was loaded must never leave its JPEG under the old photo's name.
    digest = hashlib.sha256(photo).hexdigest()
    path = None if out_dir is None else out_dir / PHOTO_CACHE / kept_name(digest)
    if path is not None and path.is_file():
        kept = path.read_bytes()
        if kept.startswith(JPEG_START) and kept.endswith(JPEG_END):
            return kept
    from ..render.photo import vcard_jpeg  # loaded only when a JPEG is to be made

    _decoded[0] = True
    made = vcard_jpeg(photo)
    if path is not None:
        write_atomic(path, made)
    return made


def prune(out_dir: Path, digests: Iterable[str]) -> list[str]:
    """Remove the kept photos of any photo but `digests` (the SHA-256 of every photo a vCard embeds); return them."""
    folder = out_dir / PHOTO_CACHE
    if not folder.is_dir():
        return []
    remove_leftovers(str(folder))  # a killed build's half-written ones; a running build's stay (dot names)
    keep = {kept_name(d) for d in digests}
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and p.name not in keep)
    for name in names:
        (folder / name).unlink(missing_ok=True)
    return names
