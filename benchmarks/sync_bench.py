"""Time build.py sync against a real OpenLDAP server (Debian's slapd) holding 10,000 people.

    python benchmarks/sync_bench.py [--users 10000] [--runs 3]

Each run starts from an empty contacts/ folder and measures, in-process as `build.py sync` runs:
  1. the first sync (creates every card; target at most 20 s),
  2. a sync with nothing changed (target at most 3 s, and zero files written),
  3. a sync after one person's title changed in the directory (only that card's file is
     rewritten, and byte for byte nothing else moves).
It prints the median of the runs for each. Not a timed test: run it by hand (slapd and ldap-utils
installed, as .ci/run installs them). The server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "sync"))
sys.path.insert(0, str(ROOT))

import slapd as ldap_server  # noqa: E402

from cardsite.cli import main  # noqa: E402

GIVEN = ["Anna", "Jonas", "Léa", "Mateo", "Zoë", "Łukasz", "Sofia", "Noah", "Mia", "Elias"]
FAMILY = ["Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Wójcik", "Frei", "Brunner", "Gerber"]


def people(count: int) -> list[str]:
    out = []
    for i in range(count):
        given, family = GIVEN[i % 10], f"{FAMILY[(i // 10) % 10]}{i // 100}"
        attrs = {
            "mail": f"user{i}@example.ch",
            "title": ["Engineer", "Controller", "Designer", "Sales Manager"][i % 4],
            "departmentNumber": ["Platform", "Finance", "Design", "Sales"][i % 4],
            "telephoneNumber": f"+41 44 668 {10 + i // 100 % 90:02d} {i % 100:02d}",
        }
        out.append(ldap_server.person_ldif(f"u{i}", given, family, **attrs))
    return out


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.glob("*.yaml")}


#: CPU seconds of each timed sync, next to its wall time: on a shared machine the wall clock measures the neighbours.
CPU: list[float] = []


def timed_sync(args: list[str]) -> float:
    quiet = io.StringIO()
    start, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stderr(quiet):
        code = main(args)
    elapsed = time.perf_counter() - start
    CPU.append(time.process_time() - cpu)
    if code != 0:
        raise SystemExit(f"sync failed:\n{quiet.getvalue()[-2000:]}")
    return elapsed


def one_run(server: ldap_server.Slapd, workdir: Path, run: int) -> tuple[float, float, int, float, list[str]]:
    project = workdir / f"run{run}"
    (project / "contacts").mkdir(parents=True)
    shutil.copy(ROOT / "site.yaml", project / "site.yaml")
    shutil.copytree(ROOT / "templates", project / "templates")
    os.chdir(project)
    args = ["sync", "--source", "ldap", "--url", server.url, "--base-dn", ldap_server.PEOPLE]
    args += ["--bind-dn", ldap_server.READER]
    with open(project / "site.yaml", "a", encoding="utf-8") as f:
        f.write("sync:\n  page_size: 1000\n")
    first = timed_sync(args)
    before = snapshot(project / "contacts")
    unchanged = timed_sync(args)
    after = snapshot(project / "contacts")
    written = sum(1 for name in after if after[name] != before[name]) + len(set(after) ^ set(before))
    uid = f"u{run * 7 + 3}"
    server.modify(f"uid={uid},{ldap_server.PEOPLE}", title=[f"Head of Everything {run}"])
    one = timed_sync(args)
    final = snapshot(project / "contacts")
    moved = [name for name in final if final[name] != after.get(name)]
    server.modify(f"uid={uid},{ldap_server.PEOPLE}", title=["Engineer"])
    return first, unchanged, written, one, moved


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    if not ldap_server.available():
        raise SystemExit("slapd is not installed: apt-get install slapd ldap-utils")
    os.environ["CARDSITE_SYNC_PASSWORD"] = ldap_server.READER_PASSWORD
    with tempfile.TemporaryDirectory() as tmp:
        server = ldap_server.Slapd(Path(tmp) / "slapd")
        loaded = time.perf_counter()
        server.start(people(options.users))
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"slapd: {options.users} people loaded in {time.perf_counter() - loaded:.1f} s")
        try:
            results = [one_run(server, Path(tmp), run) for run in range(options.runs)]
        finally:
            os.chdir(ROOT)
            server.stop()
    for n, (first, unchanged, written, one, moved) in enumerate(results, 1):
        cpu = CPU[3 * (n - 1) : 3 * n]
        print(
            f"run {n}: first {first:.2f} s (cpu {cpu[0]:.2f}), unchanged {unchanged:.2f} s (cpu {cpu[1]:.2f},"
            f" {written} written), one change {one:.2f} s (cpu {cpu[2]:.2f}) {moved}"
        )
    med = [statistics.median(r[i] for r in results) for i in (0, 1, 3)]
    print(
        f"median of {options.runs}: first sync {med[0]:.2f} s (target <= 20 s), nothing changed {med[1]:.2f} s "
        f"(target <= 3 s), one attribute changed {med[2]:.2f} s"
    )
    cpu_med = [statistics.median(CPU[i::3]) for i in range(3)]
    print(f"median CPU seconds of the sync: first {cpu_med[0]:.2f}, unchanged {cpu_med[1]:.2f}, one {cpu_med[2]:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(
        f"files written with nothing changed: {[r[2] for r in results]}; files moved after one change: "
        f"{[len(r[4]) for r in results]}"
    )


if __name__ == "__main__":
    main_bench()
