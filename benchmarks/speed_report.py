"""Medians, ratios, targets and tables of benchmarks/speed.py's figures."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The targets of issue 17 are set for this many cards on the 2-core machine.
TARGET_CARDS = 10_000
COLD_USER_HUGO, PHOTO_PILLOW, NOOP_HUGO, EDIT_HUGO = 2.0, 1.5, 0.05, 0.08
PREVIEW_MAX, MEMORY_MAX_MB, LINEAR_SLACK = 0.25, 300.0, 1.1
BUILDS = ("cold_bare", "cold", "noop", "title_edit", "name_edit_successor", "name_edit_alias")
EDITS = ("title_edit", "name_edit_successor", "name_edit_alias")
LABELS = {
    "cold_bare": "cold build, no photos",
    "cold": "cold build",
    "noop": "rebuild, nothing changed",
    "title_edit": "title edit",
    "name_edit_successor": "name edit, shown on a successor's page",
    "name_edit_alias": "name edit, shown on an alias page",
    "hugo": "Hugo cold build, comparable pages",
    "floor": "floor: create the same files",
}
KEYS = ("seconds", "user", "sys", "peak_tree_mb", "peak_tree_pss_mb", "peak_process_mb", "count")


def _cpu(run: dict[str, Any]) -> float:
    return run["user"] + run["sys"]


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the medians of the numeric figures, the worst of the file checks, and every run's wall time."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return {"error": runs[0]["error"], "runs": runs}
    out = {k: round(statistics.median(r[k] for r in good), 3) for k in KEYS if k in good[0]}
    for key in ("files_written", "files"):
        if key in good[0]:
            out[key] = max(r[key] for r in good)
    for key in ("same_bytes_site", "same_bytes_state", "stale", "bytes_changed"):
        if key in good[0]:
            out[key] = max(len(r[key]) for r in good)
            out[f"{key}_sample"] = sorted({x for r in good for x in r[key]})[:10]
    out["seconds_runs"] = [r["seconds"] for r in good]
    return out


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn a corpus's raw runs into medians, ratios to Hugo and to the floor, and CPU per photo."""
    fig: dict[str, Any] = {"raw": raw}
    for name, data in raw.items():
        fig[name] = _median_of(data["runs"]) if "runs" in data and isinstance(data["runs"][0], dict) else data
    hugo, floor = fig.get("hugo", {}), fig.get("floor", {})
    for name in BUILDS:
        s = fig.get(name)
        if not s or "error" in s:
            continue
        if hugo.get("seconds"):
            s["x_hugo_wall"] = round(s["seconds"] / hugo["seconds"], 3)
            s["x_hugo_user"] = round(s["user"] / hugo["user"], 3) if hugo["user"] else None
        if floor.get("seconds"):
            s["x_floor"] = round(s["seconds"] / floor["seconds"], 2)
    if "cold_bare" in raw and "pillow" in raw:
        fig["photos"] = _photo_costs(raw)
    return fig


def _photo_costs(raw: dict[str, Any]) -> dict[str, Any]:
    """CPU per photo: cardsite's (cold build with photos minus without, per round), its photo code alone, Pillow's."""
    pillow = [r for r in raw["pillow"]["runs"] if "error" not in r]
    count = pillow[0]["count"] if pillow else 0
    if not count:
        return {}
    pairs = zip(raw["cold"]["runs"], raw["cold_bare"]["runs"], strict=True)
    build = statistics.median(_cpu(a) - _cpu(b) for a, b in pairs)
    per_photo = {"photos": count, "build_ms": round(build / count * 1000, 2)}
    per_photo["pillow_ms"] = round(statistics.median(_cpu(r) for r in pillow) / count * 1000, 2)
    direct = [r for r in raw.get("cardsite_photo", {}).get("runs", []) if "error" not in r]
    if direct:
        per_photo["photo_code_ms"] = round(statistics.median(_cpu(r) / r["count"] for r in direct) * 1000, 2)
    per_photo["x_pillow"] = round(per_photo["build_ms"] / per_photo["pillow_ms"], 2)
    return per_photo


def _row(name: str, value: float | None, limit: float | None, unit: str, note: str = "") -> dict[str, Any]:
    if value is None or limit is None:
        return {"target": name, "value": value, "limit": limit, "unit": unit, "verdict": "not measured", "note": note}
    verdict = "met" if value <= limit else "missed"
    if verdict == "missed":
        note = f"{value - limit:.3g} {unit} over ({value / limit:.2f}x the limit){'; ' + note if note else ''}"
    return {"target": name, "value": value, "limit": round(limit, 3), "unit": unit, "verdict": verdict, "note": note}


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Check the realistic corpus's figures against issue 17's targets; one row per target."""
    fig = figures["corpora"].get("realistic")
    if not fig:
        return []
    hugo = fig.get("hugo", {})
    hugo_wall, hugo_user = hugo.get("seconds"), hugo.get("user")
    rows = [
        _row(
            "cold build, no photos: user CPU <= 2x Hugo's",
            fig["cold_bare"]["user"],
            hugo_user and COLD_USER_HUGO * hugo_user,
            "s",
            f"Hugo {hugo_user} s",
        )
    ]
    photos = fig.get("photos", {})
    pillow_ms = photos.get("pillow_ms")
    rows.append(
        _row(
            "CPU per photo <= 1.5x plain Pillow",
            photos.get("build_ms"),
            pillow_ms and PHOTO_PILLOW * pillow_ms,
            "ms",
            f"Pillow {pillow_ms} ms",
        )
    )
    rows.append(
        _row(
            "unchanged rebuild <= 0.05x Hugo wall",
            fig["noop"]["seconds"],
            hugo_wall and NOOP_HUGO * hugo_wall,
            "s",
            f"Hugo {hugo_wall} s",
        )
    )
    for name in EDITS:
        s = fig.get(name)
        if not s:
            continue
        rows.append(_row(f"{LABELS[name]} <= 0.08x Hugo wall", s["seconds"], hugo_wall and EDIT_HUGO * hugo_wall, "s"))
        rows.append(
            _row(
                f"{LABELS[name]}: no site file rewritten with the same bytes",
                s["same_bytes_site"],
                0,
                "files",
                ", ".join(s["same_bytes_site_sample"][:3]),
            )
        )
        rows.append(
            _row(
                f"{LABELS[name]}: every page showing it updated",
                s["stale"],
                0,
                "pages",
                ", ".join(s["stale_sample"][:3]),
            )
        )
    preview = fig.get("preview", {}).get("median")
    rows.append(_row("preview save -> served < 0.25 s", preview, PREVIEW_MAX, "s"))
    measured = [fig[name] for name in BUILDS if name in fig and "peak_tree_mb" in fig[name]]
    peak, pss = max(s["peak_tree_mb"] for s in measured), max(s["peak_tree_pss_mb"] for s in measured)
    note = f"PSS {pss} MB (pages shared after fork counted once)"
    rows.append(_row("peak memory (process tree RSS) <= 300 MB", peak, MEMORY_MAX_MB, "MB", note))
    rows.append(_linearity(figures.get("linearity")))
    for row in rows:
        row["applies"] = fig["cards"] == TARGET_CARDS
    return rows


def _linearity(rows: dict[str, Any] | None) -> dict[str, Any]:
    """Memory grows at most linearly (with 10 % slack) from the smallest to the largest size measured."""
    if not rows:
        return _row("peak memory linear to 100,000 cards", None, None, "x", "run with --linearity")
    (n0, small), (n1, large) = sorted(rows.items(), key=lambda kv: int(kv[0]))[:: len(rows) - 1]
    growth = round(large["peak_tree_mb"] / small["peak_tree_mb"], 2)
    note = f"{small['peak_tree_mb']} -> {large['peak_tree_mb']} MB"
    limit = int(n1) / int(n0) * LINEAR_SLACK
    return _row(f"peak memory linear from {n0} to {n1} cards (growth)", growth, limit, "x", note)


def uptime() -> str:
    """Return the load averages, which these figures depend on."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def machine() -> dict[str, Any]:
    """Describe the machine, the code measured and its load."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        # Outside a checkout (a `git archive` of another commit), the caller names the commit.
        "commit": git("rev-parse", "--short", "HEAD") or os.environ.get("CARDSITE_BENCH_COMMIT", "?"),
        # The code measured: the last commit that changed cardsite/ (a benchmark-only commit changes nothing).
        "cardsite_commit": git("log", "-1", "--format=%h %s", "--", "cardsite") or "see commit",
        "load_before": uptime(),
    }


def save(figures: dict[str, Any], path: Path) -> None:
    """Write the figures as JSON (after every corpus, so a failure late in a long run loses nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", "utf-8")


def _grid(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    return ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip() for row in (head, *rows)]


def _x(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}x"


def _scenario_rows(fig: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for name in (*BUILDS, "hugo", "floor"):
        s = fig.get(name)
        if not s or "error" in s:
            continue
        written = ""
        if "same_bytes_site" in s:
            written = f"{s['files_written']} ({s['same_bytes_site']} same bytes)"
        elif "files_written" in s:
            written = str(s["files_written"])
        rows.append(
            (
                fig["corpus"],
                fig["cards"],
                LABELS[name],
                f"{s['seconds']:.2f}",
                " ".join(f"{x:.2f}" for x in s["seconds_runs"]),
                f"{s['user']:.2f}",
                f"{s['sys']:.2f}",
                _x(s.get("x_hugo_wall")),
                _x(s.get("x_hugo_user")),
                _x(s.get("x_floor")),
                s.get("peak_tree_mb", ""),
                s.get("peak_tree_pss_mb", ""),
                written,
            )
        )
    if fig.get("preview"):
        p = fig["preview"]
        rows.append(
            (
                fig["corpus"],
                fig["cards"],
                "preview, save -> served",
                f"{p['median']:.2f}",
                " ".join(f"{x:.2f}" for x in p["runs"]),
                *[""] * 8,
            )
        )
    return rows


def render(figures: dict[str, Any]) -> str:
    """Return the figures as plain-text tables: scenarios, photo costs, targets."""
    m = figures["machine"]
    lines = [
        f"cardsite speed on {m['cpus']} CPUs, commit {m['commit']}, medians of {figures['runs']} runs",
        f"cardsite/ last changed in {m.get('cardsite_commit', '?')}",
        f"load before: {m['load_before']}",
        f"load after:  {m.get('load_after', '')}",
        "",
    ]
    head = (
        "corpus",
        "cards",
        "measurement",
        "wall s",
        "runs",
        "user s",
        "sys s",
        "/Hugo wall",
        "/Hugo user",
        "/floor",
        "peak MB",
        "PSS MB",
        "files written",
    )
    rows = [row for fig in figures["corpora"].values() for row in _scenario_rows(fig)]
    lines += _grid(head, rows)
    for fig in figures["corpora"].values():
        if fig.get("photos"):
            p = fig["photos"]
            lines += [
                "",
                f"CPU per photo ({fig['corpus']}, {p['photos']} photos): cardsite build {p['build_ms']} ms"
                " (cold build CPU with photos minus without), cardsite's photo code alone"
                f" {p.get('photo_code_ms', 'n/a')} ms, plain Pillow {p['pillow_ms']} ms: {p['x_pillow']}x Pillow",
            ]
    if figures.get("linearity"):
        lines += ["", "memory linearity (realistic cards, no photos, one cold build each):"]
        for n, r in figures["linearity"].items():
            lines.append(f"  {n} cards: peak {r['peak_tree_mb']} MB, {r['seconds']} s")
    if figures.get("targets"):
        applies = figures["targets"][0]["applies"]
        lines += ["", "targets of issue 17" + ("" if applies else f" (set for {TARGET_CARDS} cards)")]
        lines += _grid(
            ("target", "measured", "limit", "verdict", "note"),
            [
                (t["target"], f"{t['value']} {t['unit']}", t["limit"], t["verdict"], t["note"])
                for t in figures["targets"]
            ],
        )
    return "\n".join(lines)
