"""Run a function over many cards on every core, when that pays."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

#: Below this many items, a process pool costs more than it saves.
PARALLEL_MIN = 200
#: How often a worker checks that the build that started it still runs.
PARENT_CHECK_SECONDS = 0.2


_shared: tuple[Callable[..., Any], tuple[Any, ...], list[Any]] | None = None


def parallel_map(
    func: Callable[..., Any], context: Any, items: list[Any], done: Callable[[], None] | None = None
) -> Iterable[Any]:
    """Apply func(*context, item) to items in order, on every core when it pays; call done() as each result arrives."""
    global _shared
    args = context if isinstance(context, tuple) else (context,)
    workers = min(os.cpu_count() or 1, 8)
    # Forking while other threads run (the preview's server and watcher) can leave a lock another thread held
    # locked forever in the child, and a worker waiting on it hangs the build: such a process stays serial.
    tick = done or _nothing
    if len(items) < PARALLEL_MIN or workers < 2 or threading.active_count() > 1:
        return [_ticked(func(*args, item), tick) for item in items]
    # Imported here: a build of a few cards never pays for loading them.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Forked workers inherit the context and the items; only indexes and results cross the pipe.
    _shared = (func, args, items)
    fork = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=fork, initializer=_adopted, initargs=(os.getpid(),))
    try:
        chunk = max(1, len(items) // (workers * 8))
        return [_ticked(result, tick) for result in pool.map(_call, range(len(items)), chunksize=chunk)]
    except BaseException:
        # A failed or interrupted build hands out no more work; the chunks under way finish.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown()
        _shared = None


def _nothing() -> None:
    pass


def _ticked(result: Any, tick: Callable[[], None]) -> Any:
    tick()
    return result


def _adopted(parent: int) -> None:
    """Prepare a worker: Ctrl-C is the parent's to handle, and the worker ends when the parent does."""
    # The terminal sends Ctrl-C to every process of the build; the parent stops the pool, which is all it takes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker waits on a pipe that its siblings also hold open, so a killed parent would leave it waiting forever.
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _call(index: int) -> Any:
    assert _shared is not None
    func, args, items = _shared
    return func(*args, items[index])
