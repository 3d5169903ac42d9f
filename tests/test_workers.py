"""Cards run on every core, each in the same process step after step, except where forking could hang the build."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cardsite.build import workers


def _keep(offset: int, item: str) -> tuple[str, int]:
    workers.kept[item] = os.getpid()
    return item + str(offset), os.getpid()


def _recall(item: str) -> tuple[int | None, int]:
    return workers.kept.get(item), os.getpid()


def _fail(item: str) -> None:
    if item == "card-7":
        raise ValueError(f"bad {item}")


def _batch(offset: int, items: list[str]) -> list[tuple[str, int, int, int]]:
    # Each result names the process, the batch's size and its first item's owner, to check what one call was given.
    size = len({workers.owner(item, BATCH_POOL) for item in items})
    return [(item + str(offset), os.getpid(), len(items), size) for item in items]


BATCH_POOL = min(os.cpu_count() or 1, 8)

IN_A_FRESH_PROCESS = """
import os, sys
sys.path.insert(0, sys.argv[1])
from cardsite.build import workers
from test_workers import _keep, _recall
items = [f"card-{i}" for i in range(workers.PARALLEL_MIN * 2)]
with workers.pool(len(items)) as pool:
    first = pool.map(_keep, (1,), items, str)
    second = pool.map(_recall, (), items, str)
assert [value for value, _ in first] == [i + "1" for i in items], "results keep their order"
assert [pid for _, pid in first] == [pid for _, pid in second], "a card goes to the same worker in every step"
assert all(kept == pid for kept, pid in second), "the worker kept what the first step stored"
print(len({pid for _, pid in first}), os.getpid() in {pid for _, pid in first}, workers.kept == {})
"""


def test_each_card_stays_with_one_worker_that_keeps_what_it_loaded() -> None:
    # In a fresh interpreter: this one may run other threads (the browser fixture's), which keep it in-process.
    run = subprocess.run(
        [sys.executable, "-c", IN_A_FRESH_PROCESS, str(Path(__file__).parent)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    cores = min(os.cpu_count() or 1, 8)
    # This process takes a share itself, beside a worker for each other core.
    assert run.stdout.split() == [str(cores), "True", "True"]


BATCHES_IN_A_FRESH_PROCESS = """
import os, sys
sys.path.insert(0, sys.argv[1])
from cardsite.build import workers
from test_workers import _batch, _keep
items = [f"card-{i}" for i in range(workers.PARALLEL_MIN * 2 + 5)]
with workers.pool(len(items)) as pool:
    one = pool.map(_keep, (0,), items, str)
    results = pool.map(_batch, (7,), items, str, batch=8)
assert [value for value, *_ in results] == [i + "7" for i in items], "results keep their order"
assert [pid for _, pid, *_ in results] == [pid for _, pid in one], "a batch runs where its cards are kept"
assert max(n for _, _, n, _ in results) == 8 and min(n for _, _, n, _ in results) >= 1
assert {owners for *_, owners in results} == {1}, "a batch holds cards of one process only"
print(len({pid for _, pid, *_ in results}))
"""


def test_a_batched_step_gives_each_call_up_to_a_batch_of_one_process_cards_in_order() -> None:
    run = subprocess.run(
        [sys.executable, "-c", BATCHES_IN_A_FRESH_PROCESS, str(Path(__file__).parent)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(BATCH_POOL)]


def test_a_batched_step_in_process_counts_every_item_done() -> None:
    ticks: list[int] = []
    items = [f"card-{i}" for i in range(21)]
    results = workers.InProcess().map(_batch, (1,), items, str, lambda: ticks.append(1), batch=4)
    assert [value for value, *_ in results] == [i + "1" for i in items]
    assert [n for _, _, n, _ in results] == [4] * 20 + [1]
    assert len(ticks) == len(items)


def test_a_failing_step_raises_in_the_parent_with_the_workers_traceback() -> None:
    code = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from cardsite.build import workers\n"
        "from test_workers import _fail\n"
        "items = [f'card-{i}' for i in range(workers.PARALLEL_MIN * 2)]\n"
        "try:\n"
        "    with workers.pool(len(items)) as pool:\n"
        "        pool.map(_fail, (), items, str)\n"
        "except ValueError as exc:\n"
        "    print(exc, '|', 'In the build worker' in ''.join(getattr(exc, '__notes__', ['In the build worker'])))\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "bad card-7 | True"


def test_stays_in_process_while_other_threads_run() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    items = [f"card-{i}" for i in range(workers.PARALLEL_MIN * 2)]
    try:
        with workers.pool(len(items)) as pool:
            results = pool.map(_keep, (0,), items, str)
            assert workers.kept.keys() == set(items)
    finally:
        stop.set()
        thread.join()
    assert {pid for _, pid in results} == {os.getpid()}
    assert workers.kept == {}, "what a build kept is dropped when it ends"


@pytest.mark.parametrize("size", [2, 3, 8])
def test_owners_spread_the_cards_and_never_move_them(size: int) -> None:
    ids = [f"card-{i}" for i in range(1000)]
    owners = [workers.owner(i, size) for i in ids]
    assert owners == [workers.owner(i, size) for i in ids]
    counts = [owners.count(k) for k in range(size)]
    assert min(counts) > 1000 / size * 0.8, counts


def _threshold(item: str) -> tuple[int, int, int]:
    import gc

    return gc.get_threshold()


def test_only_the_young_generation_is_collected_in_every_process_of_a_build_and_as_before_after_it() -> None:
    import gc

    before = gc.get_threshold()
    items = [f"card-{i}" for i in range(workers.PARALLEL_MIN)]
    with workers.fewer_collections(), workers.pool(len(items)) as pool:
        seen = set(pool.map(_threshold, (), items, str))
        assert gc.get_threshold() == (max(before[0], workers.GC_YOUNG), *workers.GC_OLDER)
    assert seen == {(max(before[0], workers.GC_YOUNG), *workers.GC_OLDER)}
    assert gc.get_threshold() == before
