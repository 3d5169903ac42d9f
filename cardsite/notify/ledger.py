"""The notify ledger: what notify last announced per card, in the bucket under _cardsite/ or in a local file.

The code still says "state" (the stored file is notify-state.json, and its schema notify-state.schema.json);
docs/glossary.md calls it the ledger, so as not to confuse it with the build store.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from .. import aws
from ..build.output import write_if_changed
from ..errors import Abort, display_path

log = logging.getLogger(__name__)

#: Under the reserved prefix the CDN never serves; publish keeps _cardsite/manifest.json next to it.
STATE_KEY = f"{aws.RESERVED}notify-state.json"
STATE_VERSION = 1
UNSAVED = "the cards sent in this run will be announced once more on the next run"
#: Wait this many times the last save's duration before the next save (saving stays under ~1/10 of a run).
SAVE_COST_FACTOR = 10.0
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
#: How to get past a state file that cannot be read; the last sentence of that error.
RECOVER = (
    "To recover, put back the last good copy{how}, or delete the file: then every live card is announced"
    " once more (receivers can drop the repeats by X-Cardsite-Job-Id)."
)


def empty_state() -> dict[str, Any]:
    """Return the state of a site that has announced nothing yet."""
    return {"version": STATE_VERSION, "cards": {}}


def state_problem(state: Any) -> str | None:
    """Return the first thing in a parsed state that notify cannot use, or None."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    from ..cards.validate import fast_valid

    if fast_valid(state, "notify-state"):  # a twentieth of jsonschema's time; jsonschema writes the message
        return None
    schema = json.loads((SCHEMA_DIR / "notify-state.schema.json").read_text("utf-8"))
    error = best_match(Draft202012Validator(schema).iter_errors(state))
    if error is None:
        return None
    where = " → ".join(str(part) for part in error.absolute_path) or "the top level"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"{where}: {message}"


def parse_state(data: bytes, where: str, recover: str) -> dict[str, Any]:
    """Parse a state file; raise Abort naming the file and the fault rather than guess at one it does not understand."""
    try:
        state = json.loads(data)
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except ValueError as exc:
        problem = f"not JSON ({exc})"
    else:
        if isinstance(state, dict) and "version" in state and state["version"] != STATE_VERSION:
            raise Abort(f"{where} has state version {state['version']!r}; this cardsite reads {STATE_VERSION}")
        problem = state_problem(state)
        if problem is None:
            return state
    raise Abort(f"{where} is not a cardsite notify state file: {problem}. Nothing was sent. {recover}")


def dump_state(state: dict[str, Any]) -> bytes:
    """Serialise the state the same way every time, compactly: with indent, json falls back to
    its Python encoder, and at 10,000 cards a save took 0.48 s instead of 0.15 s."""
    return json.dumps(state, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class StateStore(Protocol):
    where: str

    def load(self) -> dict[str, Any]: ...

    def save(self, state: dict[str, Any], touched: set[str]) -> dict[str, Any]: ...


class FileState:
    """The state in a local file (--state FILE)."""

    def __init__(self, path: Path):
        self.path = path
        self.where = display_path(path)

    def load(self) -> dict[str, Any]:
        """Return the saved state, or an empty one when the file does not exist yet."""
        if not self.path.is_file():
            return empty_state()
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise Abort(f"cannot read {self.where}: {exc.strerror}; nothing was sent") from exc
        return parse_state(data, self.where, RECOVER.format(how=" from a backup"))

    def save(self, state: dict[str, Any], touched: set[str]) -> dict[str, Any]:
        """Write the state atomically."""
        try:
            write_if_changed(self.path, dump_state(state))
        except OSError as exc:
            raise Abort(f"cannot write {self.where}: {exc}; {UNSAVED}") from exc
        return state


class S3State:
    """The state in the bucket, under the prefix the CDN never serves; writes are conditional."""

    def __init__(self, client: Any, bucket: str, key: str):
        self.client, self.bucket, self.key = client, bucket, key
        self.where = f"s3://{bucket}/{key}"
        self.etag: str | None = None

    def _explain(self, exc: Exception, operation: str) -> str:
        return aws.explain(exc, operation, aws.s3_arn(self.bucket, self.key), bucket=self.bucket)

    def load(self) -> dict[str, Any]:
        """Return the saved state, or an empty one when there is none yet."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except (ClientError, BotoCoreError) as exc:
            if aws.error_code(exc) in ("NoSuchKey", "404"):
                self.etag = None
                return empty_state()
            raise Abort(f"cannot read {self.where}: {self._explain(exc, 'GetObject')}") from exc
        self.etag = resp["ETag"]
        how = f" (the bucket keeps versions: aws s3api list-object-versions --bucket {self.bucket} --prefix {self.key})"
        return parse_state(resp["Body"].read(), self.where, RECOVER.format(how=how))

    def save(self, state: dict[str, Any], touched: set[str]) -> dict[str, Any]:
        """Write the state unless another run wrote it since; then merge our cards into theirs."""
        from botocore.exceptions import BotoCoreError, ClientError

        for _ in range(3):
            condition = {"IfMatch": self.etag} if self.etag else {"IfNoneMatch": "*"}
            try:
                resp = self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=dump_state(state),
                    ContentType="application/json",
                    CacheControl="no-store",
                    **condition,
                )
            except (ClientError, BotoCoreError) as exc:
                if aws.error_code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise Abort(f"cannot write {self.where}: {self._explain(exc, 'PutObject')}; {UNSAVED}") from exc
                log.warning("%s was changed by another run; merging", self.where)
                theirs = self.load()
                theirs["cards"].update({i: state["cards"][i] for i in touched if i in state["cards"]})
                state = theirs
                continue
            self.etag = resp["ETag"]
            return state
        raise Abort(f"{self.where} keeps changing under this run; is another notify running?")


class StateSaver:
    """Save the state after each accepted message, in small batches only when saving is slow.

    A message SES accepted but the state does not yet hold is sent again by the next run, so the
    window between the two is kept short: a save starts as soon as the time since the last one is
    SAVE_COST_FACTOR times what that save took. A quick save (a local file, a small bucket state)
    follows every message; a slow one (a large state over a slow link) every few, keeping saving
    under a tenth of the run. Each save is atomic: a rename, or one conditional PUT.
    """

    def __init__(self, store: StateStore | None, state: dict[str, Any]):
        self.store, self.state = store, state
        self.touched: set[str] = set()
        self.last_end = self.last_cost = 0.0

    def record(self, card_id: str, entry: dict[str, Any]) -> None:
        """Remember a card's accepted announcement, and save when it is time."""
        self.state["cards"][card_id] = entry
        self.touched.add(card_id)
        if time.monotonic() - self.last_end >= SAVE_COST_FACTOR * self.last_cost:
            self.save()

    def save(self) -> None:
        """Write what was recorded since the last save, if anything."""
        if self.store is None or not self.touched:
            return
        start = time.monotonic()
        self.state = self.store.save(self.state, self.touched)
        self.touched.clear()
        self.last_end = time.monotonic()
        self.last_cost = self.last_end - start


@contextmanager
def stop_on_signals() -> Iterator[dict[str, str]]:
    """Turn SIGTERM and SIGINT into a request to stop after the message being sent; yield {'signal': name}.

    A second signal acts as usual (Ctrl-C twice interrupts at once; the state is still saved).
    """
    stop: dict[str, str] = {}
    previous: dict[int, Any] = {}

    def request_stop(signum: int, frame: object) -> None:
        stop["signal"] = signal.Signals(signum).name
        log.warning("%s: stopping after the message being sent, then saving the state", stop["signal"])
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set from the main thread
        return
    previous.update({sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)})
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
