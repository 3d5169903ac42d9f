"""Cards run on every core, except where forking could hang the build."""

from __future__ import annotations

import os
import threading

from cardsite.parallel import PARALLEL_MIN, parallel_map


def _pid(offset: int, item: int) -> tuple[int, int]:
    return item + offset, os.getpid()


def test_results_keep_their_order_and_use_worker_processes() -> None:
    items = list(range(PARALLEL_MIN * 2))
    results = parallel_map(_pid, 1, items)
    assert [value for value, _ in results] == [i + 1 for i in items]
    if (os.cpu_count() or 1) > 1:
        assert os.getpid() not in {pid for _, pid in results}


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
