"""Measure build speed, memory, preview latency and publish requests at N cards, against the targets.

    python benchmarks/run.py                      # 1,000 and 10,000 cards, 3 runs each
    python benchmarks/run.py --cards 100000 --only cold --runs 1

For each N it generates N synthetic cards (benchmarks/synth.py) and measures, each
build in a fresh `python` process so peak memory is per run: the cold build (empty
output, no cache), a rebuild with nothing changed, a rebuild after one card edit,
a rebuild after a template edit; Hugo's cold build of the same cards
(benchmarks/hugo_site.py); the preview's save-to-served latency
(benchmarks/preview.py); and the requests publish sends to a moto server
(benchmarks/publish.py). Figures are medians. It prints a table and writes JSON to
benchmarks/results/ (or --json PATH); the exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import hugo_site  # noqa: E402
from measure import child_env  # noqa: E402
from synth import generate  # noqa: E402

#: Computed at import, so that compiling cardsite is never inside a timed command.
ENV = child_env()

#: "cold" is the cold and no-change builds alone, for very large N.
PARTS = ("build", "cold", "hugo", "preview", "publish")
#: The targets of issue 8, for 10,000 cards on the 2-core reference machine.
TARGET_CARDS = 10_000
COLD_MAX, COLD_HUGO_FACTOR = 10.0, 3.0
NOOP_MAX, EDIT_MAX, MEMORY_MAX_MB, PREVIEW_MAX = 0.3, 0.4, 300.0, 1.0

#: Runs one build in a fresh interpreter exactly as `python build.py build` does, and reports time and memory.
BUILD_CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from cardsite.cli import finish, main
status = main(["build", "--quiet", "--contacts", sys.argv[1], "--out", sys.argv[2]])
seconds = time.perf_counter() - started
rss = {who: resource.getrusage(getattr(resource, who)).ru_maxrss for who in ("RUSAGE_SELF", "RUSAGE_CHILDREN")}
print(json.dumps({"status": status, "in_process": seconds,
                  "rss_main_kb": rss["RUSAGE_SELF"], "rss_worker_kb": rss["RUSAGE_CHILDREN"]}), flush=True)
finish(status)
"""


def snapshot(out: Path) -> dict[str, tuple[int, int]]:
    """Return {file: (inode, mtime)} of everything under `out`, to see what a build really touched."""
    found: dict[str, tuple[int, int]] = {}
    stack = [(str(out), "")] if out.is_dir() else []
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, f"{prefix}{entry.name}/"))
                elif entry.is_file(follow_symlinks=False):
                    found[prefix + entry.name] = (entry.inode(), entry.stat(follow_symlinks=False).st_mtime_ns)
    return found


def build_once(project: Path, out: Path, own: str = "") -> dict[str, Any]:
    """Build `project` into `out` in a fresh process; return time, CPU, peak memory and files touched.

    Files touched outside the `own` folder (other than the untracked build state) count as foreign.
    """
    before = snapshot(out)
    cpu_before = os.times()
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", BUILD_CHILD, str(project / "contacts"), str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        env=ENV,
    )
    wall = time.perf_counter() - started
    cpu_after = os.times()
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"build failed:\n{proc.stderr}")
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    if child["status"] != 0:
        raise SystemExit(f"build failed:\n{proc.stderr}")
    after = snapshot(out)
    touched = sorted(rel for rel, sig in after.items() if before.get(rel) != sig)
    cpu = (cpu_after.children_user - cpu_before.children_user) + (
        cpu_after.children_system - cpu_before.children_system
    )
    return {
        "seconds": round(wall, 3),
        "in_process": round(child["in_process"], 3),
        "cpu_seconds": round(cpu, 2),
        "cores_used": round(cpu / wall, 2),
        "rss_main_mb": round(child["rss_main_kb"] / 1024, 1),
        "rss_worker_mb": round(child["rss_worker_kb"] / 1024, 1),
        "peak_mb": round(max(child["rss_main_kb"], child["rss_worker_kb"]) / 1024, 1),
        "files_touched": len(touched),
        "touched_sample": touched[:8],
        "foreign": [rel for rel in touched if own and not rel.startswith((f"{own}/", "."))],
        "removed": len(before.keys() - after.keys()),
    }


def edit_card(path: Path, run: int) -> None:
    """Give one card a new title, as a person editing it would."""
    doc = yaml.safe_load(path.read_text("utf-8"))
    doc["title"] = f"Benchmark edit {run}"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200), "utf-8")


def edit_template(templates: Path, run: int) -> None:
    """Change the page template visibly: every landing page changes."""
    base = templates / "base.html"
    text = base.read_text("utf-8").split("\n<!-- benchmark edit")[0]
    base.write_text(f"{text}\n<!-- benchmark edit {run} -->\n", "utf-8")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the medians of a scenario's runs, with every run kept."""
    keys = ("seconds", "in_process", "cpu_seconds", "cores_used", "peak_mb", "rss_main_mb", "rss_worker_mb")
    summary: dict[str, Any] = {k: round(statistics.median(r[k] for r in runs), 3) for k in keys}
    summary["files_touched"] = max(r["files_touched"] for r in runs)
    summary["seconds_runs"] = [r["seconds"] for r in runs]
    summary["runs"] = runs
    return summary


def measure_builds(project: Path, card_id: str, runs: int, cold_only: bool = False) -> dict[str, Any]:
    """Run the build scenarios `runs` times each (only cold and no-change if `cold_only`); return medians."""
    out = project / "public"
    results: dict[str, Any] = {}
    cold = []
    for _ in range(runs):
        hugo_site.set_aside(out, project.parent / "trash")  # not deleted: see hugo_site.SET_ASIDE_WHY
        cold.append(build_once(project, out))
    results["cold"] = summarise(cold)
    results["noop"] = summarise([build_once(project, out) for _ in range(runs)])
    if cold_only:
        return results
    card_runs = []
    for run in range(runs):
        edit_card(project / "contacts" / f"{card_id}.yaml", run)
        card_runs.append(build_once(project, out, own=card_id))
    results["card_edit"] = summarise(card_runs)
    # Only the edited card's own files (and the untracked build state) may change.
    results["card_edit"]["foreign_files"] = sorted({rel for r in card_runs for rel in r["foreign"]})
    base = project / "templates" / "base.html"
    original = base.read_text("utf-8")
    template_runs = []
    for run in range(runs):
        edit_template(project / "templates", run)
        template_runs.append(build_once(project, out))
    results["template_edit"] = summarise(template_runs)
    base.write_text(original, "utf-8")
    return results


def measure_preview(project: Path, card_id: str, runs: int) -> dict[str, Any]:
    """Time save-to-served in the running preview (benchmarks/preview.py)."""
    import preview

    latencies, first_build, _ = preview.measure(project, card_id, runs)
    return {
        "median": round(statistics.median(latencies), 3),
        "runs": [round(x, 3) for x in latencies],
        "first_build": round(first_build, 2),
    }


def measure_publish(cards: int) -> dict[str, Any]:
    """Count publish requests against a moto server (benchmarks/publish.py), in its own process.

    moto keeps its state per process, so a second in-process run would meet the first one's bucket.
    """
    proc = subprocess.run(
        [sys.executable, str(HERE / "publish.py"), "--cards", str(cards), "--json"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed", "scenarios": []}
    return json.loads(proc.stdout)


def check_targets(n: int, fig: dict[str, Any]) -> list[dict[str, Any]]:
    """Compare the figures of N cards with the targets; return one row per target."""
    rows: list[dict[str, Any]] = []

    def target(name: str, value: float | None, limit: float, unit: str = "s") -> None:
        if value is None:
            return
        over = value - limit
        ratio = f" ({value / limit:.1f}x the limit)" if limit else ""
        verdict = "met" if over <= 0 else f"missed by {over:g} {unit}{ratio}"
        rows.append({"target": name, "value": value, "limit": limit, "unit": unit, "verdict": verdict})

    builds = fig.get("build")
    if builds:
        target("cold build <= 10 s", builds["cold"]["seconds"], COLD_MAX)
        if fig.get("hugo"):
            target("cold build <= 3x Hugo", builds["cold"]["seconds"], COLD_HUGO_FACTOR * fig["hugo"]["median"])
        target("no-change rebuild <= 0.3 s", builds["noop"]["seconds"], NOOP_MAX)
        target("no-change rebuild writes 0 files", builds["noop"]["files_touched"], 0, "files")
        if "card_edit" in builds:
            target("one-card rebuild <= 0.4 s", builds["card_edit"]["seconds"], EDIT_MAX)
            target("one-card rebuild writes only its files", len(builds["card_edit"]["foreign_files"]), 0, "files")
        peak = max(s["peak_mb"] for s in builds.values() if isinstance(s, dict) and "peak_mb" in s)
        target("peak memory <= 300 MB", peak, MEMORY_MAX_MB, "MB")
    if fig.get("preview"):
        target("preview save -> served < 1 s", fig["preview"]["median"], PREVIEW_MAX)
    if fig.get("publish", {}).get("scenarios"):
        by_name = {s["scenario"]: s for s in fig["publish"]["scenarios"]}
        edit, same = by_name.get("one card edited"), by_name.get("fresh rebuild, unchanged")
        if edit:
            target("publish after one edit: PUTs <= 3", edit["put"], 3, "PUT")
            # ListObjectsV2 returns at most 1,000 keys: one pass over the bucket takes this many requests.
            pages = -(-(edit["files"] + 1) // 1000)
            target("publish after one edit: listing passes <= 1", edit["list"] / pages, 1, "passes")
            target("publish after one edit: invalidations <= 1", edit["invalidations"], 1, "inval.")
            target("publish after one edit: paths <= 2", len(edit["invalidation_paths"]), 2, "paths")
        if same:
            target("publish unchanged: 0 PUTs", same["put"], 0, "PUT")
            target("publish unchanged: no invalidation", same["invalidations"], 0, "inval.")
    for row in rows:
        row["applies"] = n == TARGET_CARDS
    return rows


# --------------------------------------------------------------------------- report

SCENARIOS = (
    ("cold", "cold build"),
    ("noop", "rebuild, nothing changed"),
    ("card_edit", "rebuild, one card edited"),
    ("template_edit", "rebuild, template edited"),
)


def table(figures: dict[str, Any]) -> str:
    """Return the figures as plain-text tables."""
    lines = [f"cardsite benchmark on {figures['machine']['cpus']} CPUs; medians of {figures['runs']} runs"]
    head = ("cards", "measurement", "median", "runs", "cores", "peak MB", "files written")
    rows: list[tuple[Any, ...]] = []
    for n, fig in figures["results"].items():
        for key, label in SCENARIOS:
            if key not in fig.get("build", {}):
                continue
            s = fig["build"][key]
            runs = " ".join(f"{x:.2f}" for x in s["seconds_runs"])
            rows.append((n, label, f"{s['seconds']:.2f} s", runs, s["cores_used"], s["peak_mb"], s["files_touched"]))
        if fig.get("hugo"):
            h = fig["hugo"]
            runs = " ".join(f"{x:.2f}" for x in h["runs"])
            rows.append((n, "Hugo cold build (same cards)", f"{h['median']:.2f} s", runs, "", "", h["files"]))
        if fig.get("preview"):
            p = fig["preview"]
            runs = " ".join(f"{x:.2f}" for x in p["runs"])
            rows.append((n, "preview, save -> page served", f"{p['median']:.2f} s", runs, "", "", ""))
    if rows:
        lines += ["", *_grid(head, rows)]
    for n, fig in figures["results"].items():
        if fig.get("publish", {}).get("scenarios"):
            import publish

            lines += ["", publish.table(fig["publish"])]
        elif fig.get("publish"):
            lines += ["", f"publish at {n} cards failed: {fig['publish']['error']}"]
    for n, fig in figures["results"].items():
        if fig.get("targets"):
            note = "" if int(n) == TARGET_CARDS else " (the targets are set for 10,000 cards)"
            lines += ["", f"targets at {n} cards{note}"]
            rows = [(t["target"], f"{t['value']:g} {t['unit']}", t["verdict"]) for t in fig["targets"]]
            lines += _grid(("target", "measured", "verdict"), rows)
    return "\n".join(lines)


def _grid(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    return ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip() for row in (head, *rows)]


def machine() -> dict[str, Any]:
    """Describe the machine and its load, which the figures depend on."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "commit": commit.stdout.strip(),
    }


def save(figures: dict[str, Any], path: Path) -> None:
    """Write the figures as JSON (after every part, so a failure late in a long run loses nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", "utf-8")


def run(cards: list[int], runs: int, parts: set[str], path: Path) -> dict[str, Any]:
    """Measure every part for every N, saving to `path` as it goes; return all figures."""
    figures: dict[str, Any] = {"runs": runs, "machine": machine(), "results": {}}
    # Every N's files are deleted only at the very end: see hugo_site.SET_ASIDE_WHY.
    with tempfile.TemporaryDirectory(prefix="cardsite-bench-") as top:
        for n in cards:
            _measure(Path(top) / str(n), n, runs, parts, figures, path)
    figures["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    save(figures, path)
    return figures


def _measure(project: Path, n: int, runs: int, parts: set[str], figures: dict[str, Any], path: Path) -> None:
    """Measure every part for `n` cards generated into `project`."""
    fig: dict[str, Any] = {}
    figures["results"][str(n)] = fig
    project.mkdir()
    print(f"[{n} cards] generating", file=sys.stderr)
    ids = generate(project, n)
    card_id = ids[len(ids) // 2]
    if parts & {"build", "cold"}:
        print(f"[{n} cards] builds", file=sys.stderr)
        fig["build"] = measure_builds(project, card_id, runs, cold_only="build" not in parts)
        save(figures, path)
    if "hugo" in parts:
        print(f"[{n} cards] Hugo", file=sys.stderr)
        fig["hugo"] = hugo_site.measure(project, runs)
        save(figures, path)
    if "preview" in parts:
        print(f"[{n} cards] preview", file=sys.stderr)
        fig["preview"] = measure_preview(project, card_id, max(runs, 5))
        save(figures, path)
    if "publish" in parts:
        print(f"[{n} cards] publish", file=sys.stderr)
        fig["publish"] = measure_publish(n)
    fig["targets"] = check_targets(n, fig)
    save(figures, path)


def main() -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cards", type=int, nargs="+", default=[1000, 10_000], help="card counts (default: 1000 10000)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; medians are reported (default: 3)")
    parser.add_argument("--only", default="build,hugo,preview,publish", help=f"comma-separated of {', '.join(PARTS)}")
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="write the figures here (default: benchmarks/results/)"
    )
    parser.add_argument("--report", type=Path, nargs="+", metavar="JSON", help="only print the table of saved figures")
    args = parser.parse_args()
    if args.report:
        figures = json.loads(args.report[0].read_text("utf-8"))
        for extra in args.report[1:]:  # e.g. a separate 100,000-card run
            figures["results"].update(json.loads(extra.read_text("utf-8"))["results"])
        for n, fig in figures["results"].items():
            fig["targets"] = check_targets(int(n), fig)
        print(table(figures))
        return 0
    parts = set(args.only.split(","))
    if parts - set(PARTS) or args.runs < 1 or min(args.cards) < 1:
        parser.error(f"--only takes {', '.join(PARTS)}; --runs and --cards must be positive")
    path = args.json or HERE / "results" / time.strftime("%Y%m%d-%H%M%S.json")
    figures = run(args.cards, args.runs, parts, path)
    print(table(figures))
    print(f"\nFigures written to {path}")
    applicable = [t for fig in figures["results"].values() for t in fig["targets"] if t["applies"]]
    return 0 if all(t["verdict"] == "met" for t in applicable) else 1


if __name__ == "__main__":
    sys.exit(main())
