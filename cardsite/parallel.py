"""Run a function over many cards on every core, when that pays."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

#: Below this many items, a process pool costs more than it saves.
PARALLEL_MIN = 200


_shared: tuple[Callable[..., Any], tuple[Any, ...], list[Any]] | None = None


def parallel_map(func: Callable[..., Any], context: Any, items: list[Any]) -> Iterable[Any]:
    """Apply func(*context, item) to items in order, on every core when it pays."""
    global _shared
    args = context if isinstance(context, tuple) else (context,)
    workers = min(os.cpu_count() or 1, 8)
    # Forking while other threads run (the preview's server and watcher) can leave a lock another thread held
    # locked forever in the child, and a worker waiting on it hangs the build: such a process stays serial.
    if len(items) < PARALLEL_MIN or workers < 2 or threading.active_count() > 1:
        return [func(*args, item) for item in items]
    # Imported here: a build of a few cards never pays for loading them.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Forked workers inherit the context and the items; only indexes and results cross the pipe.
    _shared = (func, args, items)
    try:
        chunk = max(1, len(items) // (workers * 8))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_call, range(len(items)), chunksize=chunk))
    finally:
        _shared = None


def _call(index: int) -> Any:
    assert _shared is not None
    func, args, items = _shared
    return func(*args, items[index])
