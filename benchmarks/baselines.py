"""The references a build is measured against, each run in its own process and timed from inside.

    python benchmarks/baselines.py floor BUILT_TREE EMPTY_FOLDER
    python benchmarks/baselines.py pillow PHOTO_FOLDER
    python benchmarks/baselines.py cardsite-photo PHOTO_FOLDER [LIMIT]

floor: the disk's floor. Reads every file of a built tree into memory first (not timed),
then creates the same folders and writes the same bytes into the same file names, as
plainly as Python can (open, write, close): what creating the build's files costs at least.

pillow: a plain Pillow pass over the photos (*.jpg) of the folder. Reads them first (not timed), then for each
one decodes it once in draft mode (JPEG's DCT scaling to the largest size needed), and
writes the outputs cardsite writes (cardsite/render/photo.py): the vCard's 256 px square
(quality 85, lower until it is under 40 KB) and the page's 112, 224 and 336 px squares as
JPEG (quality 82, optimised Huffman tables, baseline) and WebP (quality 80, method 2), with
LANCZOS.

cardsite-photo: the same photos (or the first LIMIT of them: a per-photo figure does not
need thousands) through cardsite.render.photo's own functions, in one process, as a
direct measure of cardsite's photo code without the rest of the build.

Each prints one JSON line: wall seconds, user and system CPU seconds of the timed part.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

#: The outputs of cardsite/render/photo.py, which a fair Pillow pass writes too.
VCARD_SIZE, VCARD_MAX_BYTES, VCARD_QUALITIES = 256, 40 * 1024, (85, 75, 65, 55, 45, 35)
WEB_SIZES, WEB_QUALITY, WEBP_QUALITY = (112, 224, 336), 82, 80


def _timed(work: Callable[[], int]) -> dict[str, float]:
    """Run `work`; return its wall time and CPU, and the count it returns."""
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    count = work()
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    return {
        "count": count,
        "seconds": round(wall, 3),
        "user": round(after.ru_utime - before.ru_utime, 3),
        "sys": round(after.ru_stime - before.ru_stime, 3),
    }


def floor(tree: Path, dest: Path) -> dict[str, float]:
    """Write the files of `tree` again under `dest` (which must not exist); return the timing."""
    folders, files = [], []
    for folder, _, names in os.walk(tree):
        rel = os.path.relpath(folder, tree)
        folders.append(rel)
        files += [(os.path.join(rel, n), Path(folder, n).read_bytes()) for n in names]

    def write() -> int:
        for rel in folders:
            os.mkdir(os.path.join(dest, rel)) if rel != "." else os.mkdir(dest)
        for rel, data in files:
            with open(os.path.join(dest, rel), "wb") as f:
                f.write(data)
        return len(files)

    result = _timed(write)
    result["folders"] = len(folders)
    result["bytes"] = sum(len(d) for _, d in files)
    return result


def _jpeg(image: object, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality, optimize=True, progressive=False)  # type: ignore[attr-defined]
    return buf.getvalue()


def squares(data: bytes) -> dict[str, bytes]:
    """Return every square of one photo, {name: bytes}, from one draft-mode decode."""
    from PIL import Image, ImageOps

    largest = max(VCARD_SIZE, *WEB_SIZES)
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (largest, largest))  # decode at 1/2, 1/4 or 1/8 scale where that suffices
        image = ImageOps.exif_transpose(image).convert("RGB")
    out: dict[str, bytes] = {}
    for size in (VCARD_SIZE, *WEB_SIZES):
        square = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)
        if size == VCARD_SIZE:
            for quality in VCARD_QUALITIES:
                out["vcard"] = _jpeg(square, quality)
                if len(out["vcard"]) <= VCARD_MAX_BYTES:
                    break
            continue
        out[f"{size}.jpg"] = _jpeg(square, WEB_QUALITY)
        buf = io.BytesIO()
        square.save(buf, format="WEBP", quality=WEBP_QUALITY, method=2)
        out[f"{size}.webp"] = buf.getvalue()
    return out


def pillow_pass(photos: list[bytes]) -> int:
    """Make every square of every photo; return the photo count."""
    for data in photos:
        squares(data)
    return len(photos)


def cardsite_photo_pass(photos: list[bytes]) -> int:
    """Make every output of every photo with cardsite's own functions; return the photo count."""
    from cardsite.render import photo

    for data in photos:
        photo.vcard_jpeg(data)
        for name in photo.WEB_SIZES:
            photo.web_photo(data, name)
    return len(photos)


def main(argv: list[str]) -> int:
    """Run one baseline and print its timing as JSON."""
    kind, args = argv[0], argv[1:]
    if kind == "floor":
        result = floor(Path(args[0]), Path(args[1]))
    elif kind in ("pillow", "cardsite-photo"):
        limit = int(args[1]) if len(args) > 1 else None
        photos = [p.read_bytes() for p in sorted(Path(args[0]).glob("*.jpg"))[:limit]]
        work = pillow_pass if kind == "pillow" else cardsite_photo_pass
        result = _timed(lambda: work(photos))
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
