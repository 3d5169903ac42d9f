"""Run one command and measure it: wall time, user and system CPU of the whole process tree, peak memory.

CPU comes from getrusage(RUSAGE_CHILDREN) around the command: it counts every process of
the tree that was waited for (a build's worker pool, Hugo's threads). Peak memory is sampled
from /proc every 50 ms: the sum of the resident memory of the command and all its
descendants (RSS, which counts pages shared after fork() once per process, so it is an
upper bound) and the sum of their proportional set sizes (PSS, shared pages split).
"""

from __future__ import annotations

import functools
import os
import resource
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
INTERVAL = 0.05
ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def child_env() -> dict[str, str]:
    """Return the environment of a measured command: this one, as a user's Python runs cardsite.

    A user's Python keeps compiled bytecode in __pycache__ after the first run, so every
    measured command finds it there: PYTHONDONTWRITEBYTECODE (set in some sandboxes and CI
    images) is dropped, and cardsite is compiled once here, at import of the benchmark (ENV),
    before anything is timed.
    Without the cache, each command spends about 0.1 s compiling cardsite's sources.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "cardsite"), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(ROOT)}


def _children() -> dict[int, list[int]]:
    """Return {parent pid: [child pids]} of every process now running."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _tree_memory(root: int) -> tuple[int, int]:
    """Return the summed RSS and PSS in bytes of `root` and its descendants."""
    tree = _children()
    rss = pss = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, ()))
        try:
            rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
                    break
        except (OSError, IndexError, ValueError):
            continue  # the process ended while being read
    return rss, pss


class PeakSampler(threading.Thread):
    """Sample the memory of a process tree until stopped; keep the peaks."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_rss, self.peak_pss = pid, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            rss, pss = _tree_memory(self.pid)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.done.wait(INTERVAL)


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `cmd` to its end; return its exit status, output, wall time, CPU of the tree and peak memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = PeakSampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "status": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
        "seconds": round(wall, 3),
        "user": round(after.ru_utime - before.ru_utime, 3),
        "sys": round(after.ru_stime - before.ru_stime, 3),
        "peak_tree_mb": round(sampler.peak_rss / 2**20, 1),
        "peak_tree_pss_mb": round(sampler.peak_pss / 2**20, 1),
    }
