"""Generate a project of N full cards, 30 % with their own photo, as a company's real cards look.

    python benchmarks/realistic.py --cards 10000 --out DIR [--seed 1]

Every card is as full as the richest sample card (contacts/jana-mueller.yaml):
name with prefix and suffix, org, department, title, two e-mail addresses, three
phones, an address, a website, three social profiles, a note and a language.
30 % have a photo of their own (JPEG, 600-2,000 px a side, different pixels for
every card), 2 % are retired with an active successor, 2 % have an alias. The
site.yaml is the sample's (synth.SITE_YAML).

Card i depends only on (seed, i), so a smaller corpus is a prefix of a larger one.
The corpus is generated once per (N, seed) into benchmarks/cache/ (git-ignored;
CARDSITE_BENCH_CACHE moves it) and copied from there into DIR.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from synth import CITIES, DEPARTMENTS, FAMILY, GIVEN, SITE_YAML, STREETS, TITLES, slug  # noqa: E402

#: Bump when the cards or photos change, so no old cache is reused.
VERSION = 1
CACHE = Path(os.environ.get("CARDSITE_BENCH_CACHE", HERE / "cache"))
PHOTO_SHARE, RETIRED_SHARE, ALIAS_SHARE = 0.30, 0.02, 0.02
PHOTO_SIDES = (600, 2000)
#: Phone numbers are unique per card below this many cards.
MAX_CARDS = 1_000_000
LANGS = ("de", "en", "fr", "it")
NOTE = "Office hours Tue–Thu.\nAsk me about platform engineering, Kubernetes; and coffee."
#: What the runner needs to know about the corpus: written beside it as corpus.yaml.
INDEX = "corpus.yaml"


def _draw(i: int) -> float:
    """Return card i's fixed uniform draw in [0, 1) that decides its kind (photo, retired, alias)."""
    return random.Random(f"kind-{i}").random()


def is_retired(i: int) -> bool:
    """Return whether card i is retired (never card 0: a successor comes before its card)."""
    return i > 0 and _draw(i) < RETIRED_SHARE


def has_alias(i: int) -> bool:
    """Return whether card i has an alias (a former id); never a retired card."""
    return RETIRED_SHARE <= _draw(i) < RETIRED_SHARE + ALIAS_SHARE


def has_photo(i: int) -> bool:
    """Return whether card i has a photo: independent of being retired or aliased."""
    return random.Random(f"photo-{i}").random() < PHOTO_SHARE


def phones(i: int) -> list[dict[str, str]]:
    """Return three valid Swiss numbers (work, cell, fax), unique to card i below MAX_CARDS."""
    block, rest = divmod(i, 10_000)
    return [
        {"value": f"+41 44 {200 + block % 700:03d} {rest // 100:02d} {rest % 100:02d}", "type": "work"},
        {"value": f"079 {100 + block % 900:03d} {rest // 100:02d} {rest % 100:02d}", "type": "cell"},
        {"value": f"+41 43 {200 + block % 700:03d} {rest // 100:02d} {rest % 100:02d}", "type": "fax"},
    ]


def card_id(i: int, seed: int) -> str:
    """Return card i's id (its file name), from its name and number."""
    rng = random.Random(f"{seed}-{i}")
    return f"{slug(rng.choice(GIVEN))}-{slug(rng.choice(FAMILY))}-{i}"


def contact(i: int, seed: int, photos: bool = True) -> dict:
    """Return the YAML document of card i: every field filled (the photo only if `photos`)."""
    rng = random.Random(f"{seed}-{i}")
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    own = card_id(i, seed)
    local = f"{slug(given)}.{slug(family).replace('-', '')}{i}"
    postal, city, region = rng.choice(CITIES)
    doc: dict = {
        "name": {"prefix": "Dr.", "given": given, "additional": "Sophie", "family": family, "suffix": "MSc ETH"},
        "org": "Example AG",
        "department": rng.choice(DEPARTMENTS),
        "title": rng.choice(TITLES),
        "emails": [
            {"value": f"{local}@example.ch", "type": "work"},
            {"value": f"{local}@familie-{slug(family)}.ch", "type": "home"},
        ],
        "phones": phones(i),
        "addresses": [
            {
                "street": f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
                "postal_code": postal,
                "locality": city,
                "region": region,
                "country": "Switzerland",
                "type": "work",
            }
        ],
        "websites": [f"https://www.example.ch/team/{own}"],
        "social": {
            "linkedin": f"https://www.linkedin.com/in/{own}",
            "github": f"https://github.com/{slug(given)}{i}",
            "mastodon": f"https://mastodon.social/@u{i}",
        },
        "note": NOTE,
        "lang": LANGS[i % len(LANGS)],
    }
    if photos and has_photo(i):
        doc["photo"] = f"photos/{own}.jpg"
    if has_alias(i):
        doc["aliases"] = [f"former-{own}"]
    if is_retired(i):
        doc["active"] = False
        doc["successor"] = card_id(successor_of(i, seed), seed)
    return doc


def successor_of(i: int, seed: int) -> int:
    """Return the number of retired card i's successor: an earlier card that is still active."""
    rng = random.Random(f"successor-{seed}-{i}")
    while True:
        j = rng.randrange(i)
        if not is_retired(j):
            return j


def photo(i: int, seed: int) -> bytes:
    """Return card i's photo: a JPEG of 600-2,000 px a side whose pixels no other card has.

    Gradients, shapes and noise: cheap to make, and with the detail that makes decoding
    and encoding cost what a real photo costs (a flat image would flatter both).
    """
    rng = np.random.default_rng([seed, i, VERSION])
    width, height = (int(x) for x in rng.integers(PHOTO_SIDES[0], PHOTO_SIDES[1] + 1, size=2))
    corners = rng.uniform(0, 255, size=(3, 3)).astype(np.float32)
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    pixels = corners[0] + (corners[1] - corners[0]) * x + (corners[2] - corners[0]) * y
    pixels += rng.integers(-12, 13, size=(height, width, 3), dtype=np.int8)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 9))):
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, size=2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, size=2))
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def _photo_file(i: int, seed: int) -> Path:
    """Return card i's photo in the shared pool, generating it on first use (smaller N reuse it)."""
    path = CACHE / f"photos-v{VERSION}-s{seed}" / f"{i}.jpg"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(photo(i, seed))
        tmp.replace(path)
    return path


def cached(cards: int, seed: int = 1, photos: bool = True) -> Path:
    """Return the cached project of `cards` cards for `seed`, generating it if it is not there yet.

    Without `photos` the cards are the same but none has a photo: to tell the photos' cost apart.
    """
    folder = CACHE / f"realistic-v{VERSION}-n{cards}-s{seed}{'' if photos else '-nophoto'}"
    if (folder / INDEX).is_file():
        return folder
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "contacts" / "photos").mkdir(parents=True)
    ids = []
    for i in range(cards):
        doc = contact(i, seed, photos)
        ids.append(card_id(i, seed))
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200)
        (tmp / "contacts" / f"{ids[-1]}.yaml").write_text(text, "utf-8")
        if "photo" in doc:
            _link_or_copy(_photo_file(i, seed), tmp / "contacts" / doc["photo"])
    (tmp / "site.yaml").write_text(SITE_YAML, "utf-8")
    index = _index(cards, seed, ids, photos)
    (tmp / INDEX).write_text(yaml.safe_dump(index, sort_keys=False), "utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Hard-link a photo (never edited, so sharing it is safe), or copy it across disks."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _index(cards: int, seed: int, ids: list[str], photos: bool) -> dict:
    """Describe the corpus: the cards the runner edits and the counts of each kind."""
    retired = [i for i in range(cards) if is_retired(i)]
    successors = sorted({successor_of(i, seed) for i in retired})
    aliased = [i for i in range(cards) if has_alias(i)]
    shown = set(successors)
    plain = [i for i in range(cards) if not (is_retired(i) or has_alias(i) or i in shown)]
    return {
        "cards": cards,
        "seed": seed,
        "version": VERSION,
        "photos": sum(has_photo(i) for i in range(cards)) if photos else 0,
        "retired": len(retired),
        "aliased": len(aliased),
        # A card no other page shows (for the title edit), and one a successor page shows (for the name edit).
        "plain_card": ids[plain[len(plain) // 2]] if plain else ids[0],
        "shown_card": ids[successors[len(successors) // 2]] if successors else ids[0],
        "aliased_card": ids[aliased[len(aliased) // 2]] if aliased else "",
        "photo_cards": [ids[i] for i in range(cards) if has_photo(i)] if photos else [],
    }


def generate(out: Path, cards: int, seed: int = 1, photos: bool = True) -> dict:
    """Write a project of `cards` full cards into `out` (from the cache); return its index."""
    source = cached(cards, seed, photos)
    out.mkdir(parents=True, exist_ok=True)

    # Copied, never hard-linked: a benchmark edits the YAML in place, and a link made or removed
    # anywhere else changes a shared photo's ctime, which a build rightly takes for a changed input
    # (a 10,000-card "nothing changed" rebuild once redid every photo for that reason).
    shutil.copytree(source, out, copy_function=shutil.copyfile, dirs_exist_ok=True)
    shutil.copytree(ROOT / "templates", out / "templates", dirs_exist_ok=True)
    return yaml.safe_load((out / INDEX).read_text("utf-8"))


def main() -> int:
    """Generate a realistic project from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000, help="number of cards (default: 10000)")
    parser.add_argument("--out", type=Path, required=True, help="project folder to create")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--no-photos", action="store_true", help="the same cards without their photos")
    args = parser.parse_args()
    if not 0 < args.cards <= MAX_CARDS:
        parser.error(f"--cards must be between 1 and {MAX_CARDS} (phone numbers are unique below that)")
    index = generate(args.out, args.cards, args.seed, photos=not args.no_photos)
    print(
        f"Wrote {args.cards} cards into {args.out / 'contacts'}: {index['photos']} with a photo,"
        f" {index['retired']} retired, {index['aliased']} with an alias"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
