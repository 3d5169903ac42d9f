"""Cards run on every core, except where forking could hang the build."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from cardsite.build.parallel import PARALLEL_MIN, parallel_map


def _pid(offset: int, item: int) -> tuple[int, int]:
    return item + offset, os.getpid()


def test_results_keep_their_order_and_use_worker_processes() -> None:
    # In a fresh interpreter: this one may run other threads (the browser fixture's), which keep it serial.
    code = (
        "import os, sys\n"
        "from cardsite.build.parallel import PARALLEL_MIN, parallel_map\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_parallel import _pid\n"
        "items = list(range(PARALLEL_MIN * 2))\n"
        "results = parallel_map(_pid, 1, items)\n"
        "assert [value for value, _ in results] == [i + 1 for i in items]\n"
        "print(os.getpid() in {pid for _, pid in results})\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ("False" if (os.cpu_count() or 1) > 1 else "True")


def test_stays_in_process_while_other_threads_run() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        results = parallel_map(_pid, 0, list(range(PARALLEL_MIN * 2)))
    finally:
        stop.set()
        thread.join()
    assert {pid for _, pid in results} == {os.getpid()}
