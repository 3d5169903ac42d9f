"""Time cardsite.render.qr.render_svg per call on card-like URLs (issue 8: ~0.3 ms per card or less).

    python benchmarks/qr_micro.py                 # 300 URLs, level M, median of 7 passes
    python benchmarks/qr_micro.py --level Q --runs 9 --profile

Each pass renders every URL once after a warm-up pass (so per-version layouts are
cached, as they are after the first few cards of a build); it prints the median and
the spread of the per-call times of the passes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cardsite.render import qr


def card_urls(count: int, seed: int = 1) -> list[str]:
    """Return `count` URLs like a card's landing page, with ids of 10 to 30 characters."""
    rng = random.Random(seed)
    chars = string.ascii_lowercase + string.digits + "-"
    slugs = ("".join(rng.choice(chars) for _ in range(rng.randint(10, 30))) for _ in range(count))
    return [f"https://cards.example.ch/{slug.strip('-') or 'a'}/" for slug in slugs]


def main() -> None:
    """Print the median time per render_svg call over several passes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--level", default="M", choices=("M", "Q"))
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one pass")
    args = parser.parse_args()
    urls = card_urls(args.count)
    for url in urls:
        qr.render_svg(url, args.level)
    per_call = []
    for _ in range(args.runs):
        started = time.perf_counter()
        for url in urls:
            qr.render_svg(url, args.level)
        per_call.append((time.perf_counter() - started) / len(urls) * 1000)
    print(
        f"render_svg level {args.level}: median {statistics.median(per_call):.3f} ms/call "
        f"(min {min(per_call):.3f}, max {max(per_call):.3f}, {args.runs} passes of {len(urls)} URLs)"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for url in urls:
            qr.render_svg(url, args.level)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
