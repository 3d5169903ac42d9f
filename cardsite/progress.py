"""Show how far a long step has come, on standard error only, so standard output stays clean.

The whole API::

    from cardsite import progress

    with progress.step("Uploading", total=len(keys), unit="objects",
                       interrupted="uploaded {done:,} of {total:,} objects; run publish again") as bar:
        for key in keys:
            put(key)
            bar.advance()          # or bar.advance(k) when k items are done at once

    progress.configure(quiet=True)        # --quiet: no progress at all (cli.main calls it once per run)
    progress.summary("Synced 12 cards")   # a command's final summary, on stderr even with --quiet
    progress.append_summary(markdown)     # ... and in Markdown to the GitHub job summary, when there is one

What it shows:

- Nothing for a step that ends within DELAY seconds (2 s; CARDSITE_PROGRESS_DELAY=SECONDS changes it,
  0 shows every step), for an empty step, or after configure(quiet=True).
- In a terminal (standard error is a TTY and TERM is not `dumb`): a tqdm bar with done/total, rate and
  time left; the bar is green unless NO_COLOR is set (https://no-color.org), then it has no escape code
  but the carriage return that redraws it.
- Anywhere else (a CI log, a pipe, a file): no bar and no escape codes, but a plain line such as
  ``Uploading: 4,001 of 40,002 objects (10 %), 1,310/s, 00:27 left`` whenever INTERVAL seconds *and*
  a tenth of the total have passed since the last one, whichever comes later. A step so writes at most
  12 lines: the first, ten more, and the one that says it is done.

Ctrl-C inside a step becomes `Interrupted`, a KeyboardInterrupt whose text is the step's `interrupted`
template filled in with `done` and `total`; the command line prints it as its one last line.
`advance` is meant for the thread that opened the step.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

#: Seconds a step runs before anything is shown.
DELAY = 2.0
#: Least seconds between two plain lines (and a tenth of the total must pass too).
INTERVAL = 5.0
#: The bar's colour in a terminal without NO_COLOR.
COLOUR = "green"

_quiet = False


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a step; its text says what was done and what was not."""


def configure(quiet: bool) -> None:
    """Silence (or allow) progress for the rest of the run; errors and summaries are not progress."""
    global _quiet
    _quiet = quiet


def interrupted(message: str) -> None:
    """Print the one line an interrupted command ends with, on a line of its own."""
    if _is_terminal(sys.stderr):
        # A bar interrupted while tqdm was drawing it is not wiped by tqdm: wipe it with spaces (no escape code).
        sys.stderr.write("\r" + " " * (_columns(sys.stderr) - 1) + "\r")
    print(message, file=sys.stderr, flush=True)


def summary(text: str) -> None:
    """Print a command's final summary to standard error; --quiet keeps it (it silences progress and details)."""
    print(text, file=sys.stderr)


def append_summary(markdown: str) -> None:
    """Append Markdown to $GITHUB_STEP_SUMMARY when running in GitHub Actions; do nothing elsewhere."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(markdown)


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get("CARDSITE_PROGRESS_DELAY", DELAY)))
    except ValueError:
        return DELAY


def _columns(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM", "") != "dumb"


class Step:
    """One step's count; shows itself once it has run for the delay (see the module's docstring)."""

    def __init__(self, label: str, total: int, unit: str, stream: IO[str], clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self.stream = stream
        self._clock = clock
        self._started = clock()
        shown = not _quiet and total > 0
        #: When the next line (or the bar) is due, in time and in items done.
        self._due, self._due_done = (self._started + _delay() if shown else math.inf), 0
        self._bar: Any = None  # the tqdm bar, made only once the step is shown
        self._lines = 0

    def advance(self, n: int = 1) -> None:
        """Count n more items done."""
        self.done += n
        if self._bar is not None:
            # Ctrl-C in the middle of tqdm's drawing can leave its lock half released (a RuntimeError instead of
            # the interrupt): the signal waits until the bar is drawn, then arrives as usual.
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self._bar.update(n)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            return
        if self.done >= self._due_done and (now := self._clock()) >= self._due:
            self._show(now)

    def _show(self, now: float) -> None:
        if self._lines == 0 and _is_terminal(self.stream):
            self._bar = self._make_bar(now)
            return
        self._line(f"{self.label}: {self.done:,} of {self.total:,} {self.unit} {self._rate(now)}")
        self._due, self._due_done = now + INTERVAL, self.done + math.ceil(self.total / 10)

    def _make_bar(self, now: float) -> Any:
        from tqdm import tqdm  # only for a step that is shown in a terminal

        # No monitor thread: a thread left running makes the next build in this process too wary to fork workers.
        tqdm.monitor_interval = 0
        bar = tqdm(
            total=self.total,
            initial=self.done,
            desc=self.label,
            unit=f" {self.unit}",
            file=self.stream,
            dynamic_ncols=True,
            colour=None if os.environ.get("NO_COLOR") else COLOUR,
        )
        bar.start_t -= now - self._started  # elapsed time and rate count from the step's start, not the bar's
        return bar

    def _rate(self, now: float) -> str:
        from tqdm import tqdm

        percent = min(100, 100 * self.done // self.total)
        elapsed = now - self._started
        if elapsed < 1:  # too soon for a rate that means anything
            return f"({percent} %)"
        rate = self.done / elapsed
        return f"({percent} %), {rate:,.0f}/s, {tqdm.format_interval((self.total - self.done) / rate)} left"

    def _line(self, text: str) -> None:
        self._lines += 1
        print(text, file=self.stream, flush=True)

    def close(self, finished: bool) -> None:
        """End the display: a finished step says so once; a stopped one leaves the last line to its error."""
        if self._bar is not None:
            self._bar.leave = finished  # an interrupted bar is wiped, so the error is the one last line
            self._bar.close()

        elif self._lines and finished:
            from tqdm import tqdm

            elapsed = self._clock() - self._started
            self._line(f"{self.label}: {self.done:,} {self.unit} done in {tqdm.format_interval(elapsed)}")


@contextmanager
def step(label: str, total: int, unit: str = "items", interrupted: str | None = None) -> Iterator[Step]:
    """Show the progress of `total` items of work under `label`; see the module's docstring."""
    bar = Step(label, total, unit, sys.stderr)
    finished = False
    try:
        yield bar
        finished = True
    except Interrupted:
        raise
    except KeyboardInterrupt as exc:
        if interrupted is None:
            raise
        raise Interrupted(interrupted.format(done=bar.done, total=total)) from exc
    finally:
        bar.close(finished)
