"""Run a build's per-card steps on every core, in workers that keep the cards they loaded.

A full build forks its workers once, before it reads any card, and gives each card to the same
worker in every step: the worker that loaded and checked a card keeps it (`kept`), renders its
outputs, then writes its line of the manifest. So a card is parsed once, never crosses a pipe,
and the parent holds only the cards' small summaries. Forking before the parent has read
anything keeps every worker as small as the interpreter and the libraries the steps use, which
the parent imports just before, once for all: a worker forked from a parent that held every
card counted that memory once more (docs/performance.md).

Builds of a few cards, and processes that run other threads (the preview's server and
watcher), run every step in the calling process instead, through the same interface.
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import signal
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

#: Below this many cards, worker processes cost more than they save.
PARALLEL_MIN = 200
#: How often a worker checks that the build that started it still runs.
PARENT_CHECK_SECONDS = 0.2
#: A worker reports its results at least this often, so that the progress bar moves.
REPORT_SECONDS = 0.1
#: The young generation's collection threshold during a build (see fewer_collections).
GC_YOUNG = 10_000
#: The older generations' thresholds during a build: high enough that only the young one is collected.
GC_OLDER = (1_000_000, 1_000_000)
#: How long a stopping build waits for its workers to finish the batch each has under way.
STOP_WAIT_SECONDS = 5.0

#: What this process's steps kept for the later steps of the same build: {card id: Card}.
kept: dict[str, Any] = {}


def _nothing() -> None:
    pass


class InProcess:
    """Run every step in this process, one card after another."""

    size = 1

    def map(
        self,
        func: Callable[..., Any],
        context: tuple[Any, ...],
        items: list[Any],
        key: Callable[[Any], str],
        done: Callable[[], None] | None = None,
        batch: int = 0,
    ) -> list[Any]:
        """Return [func(*context, item) for item in items]; call done() after each.

        With `batch`, func takes a list of up to that many items and returns their results, in order.
        """
        results: list[Any] = []
        tick = done or _nothing
        for part in _parts(items, batch):
            results.extend(_apply(func, context, part, batch))
            for _ in part:
                tick()
        return results


class Workers:
    """This process and forked workers, each fed the cards whose id hashes to it, step after step.

    The build's own process takes a share like the others (share 0), between reading the results the workers
    send: one process fewer to hold the interpreter and the libraries, and no core left waiting.
    """

    def __init__(self, size: int) -> None:
        import multiprocessing

        fork = multiprocessing.get_context("fork")
        self.size = size
        self._stop = fork.Event()
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        for _ in range(size - 1):
            mine, theirs = fork.Pipe()
            proc = fork.Process(target=_serve, args=(theirs, os.getpid(), self._stop), daemon=True)
            proc.start()
            theirs.close()
            self._conns.append(mine)
            self._procs.append(proc)

    def map(
        self,
        func: Callable[..., Any],
        context: tuple[Any, ...],
        items: list[Any],
        key: Callable[[Any], str],
        done: Callable[[], None] | None = None,
        batch: int = 0,
    ) -> list[Any]:
        """Return [func(*context, item) for item in items], each run by the worker that `key(item)` names.

        With `batch`, func takes a list of up to that many items, all of one worker, and returns their results.
        """
        shares: list[list[tuple[int, Any]]] = [[] for _ in range(self.size)]
        for index, item in enumerate(items):
            shares[owner(key(item), self.size)].append((index, item))
        results: list[Any] = [None] * len(items)
        tick = done or _nothing
        busy = set()
        for conn, share in zip(self._conns, shares[1:], strict=True):
            if share:
                conn.send((func, context, share, batch))
                busy.add(conn)
        for part in _parts(shares[0], batch):
            for index, result in _indexed(func, context, part, batch):
                results[index] = result
                tick()
            if busy:
                self._collect(busy, results, tick, timeout=0)  # a worker waits while its pipe is full
        while busy:
            self._collect(busy, results, tick, timeout=None)
        return results

    @staticmethod
    def _collect(busy: set[Any], results: list[Any], tick: Callable[[], None], timeout: float | None) -> None:
        """Take the results that the workers in `busy` sent; drop a worker from `busy` once it is done."""
        from multiprocessing.connection import wait

        for conn in wait(list(busy), timeout):
            kind, payload = _receive(conn)
            if kind == "done":
                busy.discard(conn)
                continue
            for index, result in payload:
                results[index] = result
                tick()

    def close(self, failed: bool) -> None:
        """End the workers; after a failure, let each finish only the batch it has under way."""
        if failed:
            self._stop.set()
        for conn in self._conns:
            with suppress(OSError):  # that worker is gone already
                conn.send(None)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for proc in self._procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self._conns:
            conn.close()
        kept.clear()


Pool = InProcess | Workers


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the young generation's collection every GC_YOUNG allocations instead of Python's 700, and no other."""
    # A build's allocations mostly live on (the cards the workers keep, the sources, the manifest lines), so each
    # collection examines survivors, and their growth sets off full collections, 0.1 s each at 10,000 cards:
    # measured at 10,000 cards, the collector's share fell from 1.3 s to 0.6 s. The older generations' collections
    # (13 in a 10,000-card build's two processes, 15-25 ms each) found nothing: a whole build leaves some 2,000
    # objects of cyclic garbage, which the young collections catch or the build's end frees. Garbage in cycles
    # waits at most a build longer. A one-card rebuild at 10,000 cards spent 25-40 ms collecting, 10 ms with these.
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG), *GC_OLDER)
    try:
        yield
    finally:
        gc.set_threshold(young, *older)


@contextmanager
def pool(cards: int, shared: tuple[str, ...] = ()) -> Iterator[Pool]:
    """Return the pool for a build of `cards` cards: worker processes when that pays and is safe.

    `shared`: the modules the steps will use, imported before forking any worker: once, not once a process.
    Run it under fewer_collections(), set before the fork so that the workers inherit it.
    """
    workers = min(os.cpu_count() or 1, 8)
    # Forking while other threads run can leave a lock another thread held locked forever in the child, and a
    # worker waiting on it hangs the build: such a process keeps to itself.
    if cards < PARALLEL_MIN or workers < 2 or threading.active_count() > 1:
        try:
            yield InProcess()
        finally:
            kept.clear()
        return
    for name in shared:
        importlib.import_module(name)  # code, not data: the workers stay as small as forking early keeps them
    # What exists now lives as long as the build: no process's collector examines it again (nor, in a worker,
    # writes to its pages, which then stay shared), as the gc module's documentation advises before a fork.
    gc.freeze()
    try:
        running = Workers(workers)
        failed = True
        try:
            yield running
            failed = False
        finally:
            running.close(failed)
    finally:
        gc.unfreeze()  # also when a fork fails: nothing stays frozen past the build


def owner(card_id: str, size: int) -> int:
    """Return which of `size` workers handles the card `card_id`, the same one in every step of a build."""
    return zlib.crc32(card_id.encode()) % size


def _receive(conn: Any) -> tuple[str, Any]:
    try:
        kind, payload = conn.recv()
    except EOFError:
        raise RuntimeError("a build worker ended unexpectedly (killed, or out of memory)") from None
    if kind == "error":
        error, text = payload
        error.add_note(f"In the build worker:\n{text}")
        raise error
    return kind, payload


def _serve(conn: Any, parent: int, stop: Any) -> None:
    """Run in a worker: take steps from the parent until it sends None or ends."""
    # The terminal sends Ctrl-C to every process of the build; the parent stops the workers, which is all it takes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A killed parent never sends None, and its pipe may stay open in a sibling: watch the parent itself.
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    while (message := _next(conn)) is not None:
        func, context, share, batch = message
        try:
            _run(conn, func, context, share, batch, stop)
        except BaseException as exc:  # every failure goes back to the parent, which raises it
            conn.send(("error", (_picklable(exc), traceback.format_exc())))
            continue
        conn.send(("done", None))
    os._exit(0)  # the parent collects what it needs; skipping interpreter teardown saves the worker's exit time


def _next(conn: Any) -> Any:
    try:
        return conn.recv()
    except EOFError:  # the parent is gone
        os._exit(1)


def _run(
    conn: Any, func: Callable[..., Any], context: tuple[Any, ...], share: list[tuple[int, Any]], batch: int, stop: Any
) -> None:
    report: list[tuple[int, Any]] = []
    sent = time.monotonic()
    for part in _parts(share, batch):
        if stop.is_set():
            return  # a failed or interrupted build hands out no more work
        report.extend(_indexed(func, context, part, batch))
        if time.monotonic() - sent >= REPORT_SECONDS:
            conn.send(("results", report))
            report, sent = [], time.monotonic()
    if report:
        conn.send(("results", report))


def _parts(items: list[Any], batch: int) -> Iterator[list[Any]]:
    """Yield `items` in lists of `batch` (one by one without a batch)."""
    size = batch or 1
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _apply(func: Callable[..., Any], context: tuple[Any, ...], part: list[Any], batch: int) -> list[Any]:
    """Return the results of `part`: of one call in a batch, else of the one item's call."""
    return func(*context, part) if batch else [func(*context, part[0])]


def _indexed(
    func: Callable[..., Any], context: tuple[Any, ...], part: list[tuple[int, Any]], batch: int
) -> list[tuple[int, Any]]:
    """Return (index, result) of each (index, item) of a share's `part`."""
    results = _apply(func, context, [item for _, item in part], batch)
    return list(zip([index for index, _ in part], results, strict=True))


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.dumps(exc)
    except Exception:  # any exception that cannot travel is reported by its text
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)
