"""Measure how long the preview takes from saving a card to the browser showing it.

    python benchmarks/preview.py --cards 1000 [--runs 7] [--budget 1.0]
    python benchmarks/preview.py --project COPY --card ID   # e.g. a copy of benchmarks/realistic.py's corpus

Generates N synthetic cards (benchmarks/synth.py), or takes a project of your own (its card is
edited: give it a copy), runs `python build.py serve` in
its own process, opens one card in headless Chromium and saves that card with a new
title, alternately in place and by renaming a temporary file over it (as many
editors do). One run is the wall-clock time from just before the save to the
`load` event of the reloaded page that shows the new title. Prints every run, the
median, and the median rebuild time the server logged; exits 1 when the median is
over the budget.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import child_env
from synth import generate

ROOT = Path(__file__).resolve().parent.parent
#: Computed at import, so that compiling cardsite is never inside a timed command.
ENV = child_env()
CHROMIUM = "/usr/bin/chromium"
#: Runs in the page before its own scripts: remember when the page finished loading.
MARK_LOAD = "addEventListener('load', () => { window.__loadedAt = Date.now(); });"


def save(path: Path, title: str, by_rename: bool) -> None:
    """Give the card a new title, in place or by renaming a temporary file over it."""
    doc = yaml.safe_load(path.read_text("utf-8"))
    doc["title"] = title
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200)
    if by_rename:
        tmp = path.with_name(f".{path.name}.bench.tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
    else:
        path.write_text(text, "utf-8")


def measure(project: Path, card_id: str, runs: int) -> tuple[list[float], float, str]:
    """Serve `project`, edit one card `runs` times; return latencies, first-build time and the server log."""
    from playwright.sync_api import sync_playwright

    log_file = project / "serve.log"
    with log_file.open("w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "build.py"), "serve", "--port", "0"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=ENV,
            # A shell starts background jobs with Ctrl-C ignored, and the preview would inherit that.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            url = proc.stdout.readline().split()[-1].rstrip("/")
            urllib.request.urlopen(f"{url}/{card_id}/", timeout=600).read()  # waits for the first build
            first_build = time.perf_counter() - started
            latencies = []
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                page = browser.new_page()
                page.add_init_script(MARK_LOAD)
                page.goto(f"{url}/{card_id}/")
                for run in range(runs):
                    # Every save, the first too, comes after a pause, as a person's does: the page has loaded and
                    # the browser has finished starting up, which on two cores would otherwise slow the first run.
                    time.sleep(0.5)
                    title = f"Benchmark run {run} at {time.time_ns()}"
                    saved = time.time()
                    save(project / "contacts" / f"{card_id}.yaml", title, by_rename=run % 2 == 1)
                    page.locator("p.role", has_text=title).wait_for(timeout=30_000)
                    page.wait_for_load_state("load")
                    latencies.append(page.evaluate("window.__loadedAt") / 1000 - saved)
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()  # keep the error that brought us here; the log says why the preview hung
                proc.wait()
                print(f"the preview did not stop on Ctrl-C within 120 s; see {log_file}", file=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"the preview exited with status {proc.returncode}; see {log_file}")
    return latencies, first_build, log_file.read_text("utf-8")


def main() -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1000, help="number of synthetic cards (default: 1000)")
    parser.add_argument("--runs", type=int, default=7, help="edits to time (default: 7)")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds the median may take (default: 1.0)")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    parser.add_argument("--project", type=Path, help="serve this project instead (its card is edited: use a copy)")
    parser.add_argument("--card", help="the card of --project to edit; it must have a title")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is not installed (apt-get install chromium)")
    if args.project and not args.card:
        parser.error("--project needs --card")

    project = args.project or Path(tempfile.mkdtemp(prefix="cardsite-bench-preview-"))
    try:
        if args.project:
            card_id = args.card
            args.cards = sum(1 for _ in (project / "contacts").glob("*.yaml"))
        else:
            ids = generate(project, args.cards)
            card_id = ids[len(ids) // 2]
        latencies, first_build, log = measure(project, card_id, args.runs)
    finally:
        if not args.keep and not args.project:
            shutil.rmtree(project, ignore_errors=True)
    # The first "Built" line is the initial build; every later one is a rebuild after a save.
    builds = [float(s) for s in re.findall(r"^Built \d+ card\(s\), rendered \d+, in ([\d.]+) s$", log, re.M)][1:]

    print(f"Preview with {args.cards} cards: first build and serve {first_build:.2f} s")
    for run, seconds in enumerate(latencies):
        print(f"  run {run + 1}: save -> page shown {seconds:.3f} s ({'rename' if run % 2 else 'in place'})")
    median = statistics.median(latencies)
    print(f"Median save -> page shown: {median:.3f} s over {len(latencies)} runs (budget {args.budget:g} s)")
    if builds:
        print(f"Median rebuild inside the server: {statistics.median(builds):.3f} s over {len(builds)} rebuilds")
    return 0 if median < args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
