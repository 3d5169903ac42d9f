"""Measure `build.py stats` on a year of logs: 10,000 cards scanned three times a day, about 10 million lines.

    python benchmarks/stats_bench.py                  # generate once (cached), then 3 runs of each part
    python benchmarks/stats_bench.py --lines 1000000 --runs 1

It writes a year of hourly CloudFront standard log files (gzip, the documented 33 fields, `#Version`
and `#Fields`; 24 files a day) and a site manifest naming the cards, into benchmarks/results/stats/
(kept for the next run). Then, each in a fresh `python` process, as the command line runs it:
- the cold count: no running totals yet, every file read, the markdown report printed;
- a rerun after one new log file arrived: only that file read.
Figures are medians of --runs runs: wall time, CPU time (user + system, every thread) and the
process's peak memory (ru_maxrss). On a shared machine the wall time grows with the load and the
CPU time does not, so both are printed. Targets:
cold at most 60 s and 1 GB; the rerun at most 2 s. The exit status is 1 when one is missed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from cloudfront_logs import FIELDS, legacy_name  # noqa: E402

TARGETS = {"cold_s": 60.0, "cold_mb": 1024.0, "rerun_s": 2.0}
DIST = "E2BENCH0000001"
START = date(2025, 12, 1)
UAS = [
    "Mozilla/5.0%20(iPhone;%20CPU%20iPhone%20OS%2017_5%20like%20Mac%20OS%20X)%20AppleWebKit/605.1.15",
    "Mozilla/5.0%20(Linux;%20Android%2014;%20Pixel%208)%20AppleWebKit/537.36%20Chrome/126.0%20Mobile",
    "Mozilla/5.0%20(compatible;%20Googlebot/2.1;%20+http://www.google.com/bot.html)",
]
TAIL = "\t".join(["-", "Hit", "Zq7m1XbT3mJ0gF4rUuYVwQ1nA2bC3dE4fG5hI6jK7lM8==", "cards.example.ch", "https", "412",
                  "0.002", "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "Hit", "HTTP/2.0", "-", "-", "50123", "0.001",
                  "Hit", "text/html", "1748", "-", "-"])  # fmt: skip


def card_ids(cards: int) -> list[str]:
    return [f"card-{i:05d}" for i in range(cards)]


def write_manifest(site: Path, cards: int) -> None:
    """A site manifest (docs/manifest.md) naming the cards, one alias every 100 cards."""
    lines = []
    for i, card_id in enumerate(card_ids(cards)):
        record = {
            "url": f"https://cards.example.ch/{card_id}/", "name": f"Person {i}", "lang": "en", "status": "active",
            "successor": None, "aliases": [f"old-{i:05d}"] if i % 100 == 0 else [], "notify_owner": False,
            "fields": {}, "source": {"path": f"{card_id}.yaml", "sha256": "0" * 64},
            "files": {"index.html": {"sha256": "0" * 64, "size": 4000}},
        }  # fmt: skip
        lines.append(f'"{card_id}":{json.dumps(record)}')
    head = '{"manifest_version":1,"base_url":"https://cards.example.ch","default_language":"en",'
    head += '"qr_error_correction":"M","site":{"files":{}},"cards":{\n'
    (site / ".cardsite").mkdir(parents=True, exist_ok=True)
    (site / ".cardsite" / "site.json").write_text(head + ",\n".join(lines) + "\n}}\n", "utf-8")


def one_line(rng: random.Random, day: str, hour: int, ids: list[str]) -> str:
    card = rng.choice(ids)
    roll = rng.random()
    query, method, status, ua, referer = "-", "GET", "200", UAS[rng.random() < 0.4], "-"
    if roll < 0.70:
        path = f"/{card}/"
        query = rng.choices(("q", "n", "-", "w"), (40, 30, 25, 5))[0]
    elif roll < 0.85:
        path, referer = f"/{card}/{card}.vcf", f"https://cards.example.ch/{card}/?q"
    elif roll < 0.90:
        path = "/assets/style.0123abcd.css"
    elif roll < 0.93:
        path, ua = f"/{card}/", UAS[2]
    elif roll < 0.95:
        path, method = f"/{card}/", "HEAD"
    else:
        path, status = f"/missing-{rng.randrange(1000)}/", "404"
    ip = f"198.51.{rng.randrange(256)}.{rng.randrange(256)}"
    t = f"{hour:02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    values = (day, t, "ZRH55-P2", "2048", ip, method, "d1.cloudfront.net", path, status, referer, ua, query, TAIL)
    return "\t".join(values)


def write_file(path: Path, rng: random.Random, day: str, hour: int, ids: list[str], count: int) -> None:
    header = "#Version: 1.0\n#Fields: " + " ".join(FIELDS) + "\n"
    body = "\n".join(one_line(rng, day, hour, ids) for _ in range(count))
    path.write_bytes(gzip.compress((header + body + "\n").encode(), compresslevel=1, mtime=0))


def generate(folder: Path, lines: int, cards: int) -> None:
    """Write a year of hourly log files holding `lines` lines in all (skipped when already there)."""
    stamp = folder / "generated.json"
    want = {"lines": lines, "cards": cards, "version": 1}
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        return
    shutil.rmtree(folder, ignore_errors=True)
    logs = folder / "logs"
    logs.mkdir(parents=True)
    write_manifest(folder / "site", cards)
    rng, ids, files = random.Random(21), card_ids(cards), 365 * 24
    for n in range(files):
        day = (START + timedelta(days=n // 24)).isoformat()
        count = lines // files + (1 if n < lines % files else 0)
        write_file(logs / legacy_name(DIST, day, n % 24, f"{n:08x}"), rng, day, n % 24, ids, count)
    stamp.write_text(json.dumps(want))


def run_stats(folder: Path) -> tuple[float, float, float]:
    """Run `build.py stats` in a fresh process; return (seconds, peak MB so far, CPU seconds of that process)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    command = [sys.executable, str(ROOT / "build.py"), "stats", "--dir", str(folder / "logs"), "--out",
               str(folder / "site"), "--contacts", str(folder / "no-contacts"), "-q"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=folder)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss of the children is the largest child so far: a smaller later run would not show.
    return seconds, max(usage.ru_maxrss, before) / 1024, usage.ru_utime + usage.ru_stime - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=HERE / "results" / "stats")
    args = parser.parse_args()
    start = time.perf_counter()
    generate(args.folder, args.lines, args.cards)
    print(f"logs ready in {time.perf_counter() - start:.1f} s: {args.lines:,} lines, {args.cards:,} cards")
    state = args.folder / "logs" / "_cardsite"
    cold, peaks, rerun, cold_cpu, rerun_cpu = [], [], [], [], []
    for i in range(args.runs):
        shutil.rmtree(state, ignore_errors=True)
        for extra in (args.folder / "logs").glob("*.extra-*.gz"):
            extra.unlink()
        seconds, peak, cpu = run_stats(args.folder)
        cold.append(seconds)
        peaks.append(peak)
        cold_cpu.append(cpu)
        new = args.folder / "logs" / legacy_name(DIST, "2026-11-30", 23, f"extra-{i}")
        write_file(new, random.Random(i), "2026-11-30", 23, card_ids(args.cards), args.lines // (365 * 24))
        again, _, again_cpu = run_stats(args.folder)
        rerun.append(again)
        rerun_cpu.append(again_cpu)
        print(
            f"run {i + 1}: cold {seconds:.2f} s ({cpu:.1f} CPU s, peak {peak:.0f} MB so far),"
            f" one new file {again:.2f} s ({again_cpu:.2f} CPU s)",
            flush=True,
        )
    result = {"cold_s": statistics.median(cold), "cold_mb": max(peaks), "rerun_s": statistics.median(rerun)}
    result |= {"cold_cpu_s": statistics.median(cold_cpu), "rerun_cpu_s": statistics.median(rerun_cpu)}
    print(json.dumps({"runs": args.runs, "lines": args.lines, "cards": args.cards, **result}))
    missed = [name for name, limit in TARGETS.items() if result[name] > limit]
    for name in missed:
        print(f"MISSED {name}: {result[name]:.2f} > {TARGETS[name]}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
