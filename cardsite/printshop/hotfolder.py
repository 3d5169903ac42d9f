"""The hot folder: where checked jobs land for the press and the NFC encoder, each exactly once.

Every job is filed in steps, each made durable (fsync) before the next begins, and a write-ahead journal
(`.printshop/journal/`, one small file per job, so that recording a job costs the same at the
10,000th as at the first) says which step a job reached:

1. its files are written into `.printshop/staging/<key>/`, where no press looks;
2. the journal records the job as `filing`, with the names its files will have;
3. each staged file is renamed to its name in the hot folder (a rename within one file system is atomic);
4. the journal records the job as `filed`; only then is the mail moved to Done (inbox.py).

On start, a job left `filing` is finished: a staged file is renamed, a file no longer staged was renamed
already (and maybe taken by the press), so nothing is written twice. A job already `filed` is a
duplicate. A crash before step 2 leaves only staging files, which the redelivered mail writes again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..build.output import remove_leftovers, write_if_changed
from ..errors import Abort, display_path
from .job import RETIRED, PrintJob

STATE_DIR = ".printshop"
JOURNAL_VERSION = 1
STATES = ("filing", "filed")
NEEDS_LAYOUT = "needs-layout"
RECORDS = "records"
REJECTED = "rejected"
#: The test hook: the process kills itself (SIGKILL, as a power cut would stop it) when it reaches this step.
CRASH_ENV = "CARDSITE_PRINTSHOP_TEST_CRASH_AT"
CRASH_STEPS = ("staged", "journaled", "placed-one", "filed")


def crash_point(step: str) -> None:
    """Die here when the test hook names this step; a no-op otherwise."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` atomically (the one atomic write), then make it and its name survive a power cut."""
    write_if_changed(path, data)
    fsync_path(path)
    fsync_path(path.parent)


@dataclass(frozen=True)
class Filed:
    """Where one job went: its files, relative to the hot folder, and whether it had been filed before."""

    key: str
    kind: str  # press, needs-layout or records
    files: list[str]
    duplicate: bool = False


def job_files(job: PrintJob) -> tuple[str, list[tuple[str, bytes]]]:
    """Return where a job belongs and its files (relative name, bytes), the press's trigger (the PDF) last."""
    stem = f"{job.card_id}.{job.event}.{job.content_key}"
    if job.event == RETIRED:
        return RECORDS, [(f"{RECORDS}/{stem}.json", job.card_json)]
    ndef = job.ndef or b""
    if job.card["version"] >= 2 and "card.pdf" in job.files:
        return "press", [
            (f"{stem}.json", job.card_json),
            (f"{stem}.ndef", ndef),
            (f"{stem}.pdf", job.files["card.pdf"]),
        ]
    # Version 1, and a site that prints elsewhere, carry no artwork: a person lays the card out from the data,
    # so it never reaches the press.
    others = [(f"{NEEDS_LAYOUT}/{stem}.{n}", job.files[n]) for n in ("qr.svg", "qr.png") if n in job.files]
    vcf = job.files.get(f"{job.card_id}.vcf", b"")
    return NEEDS_LAYOUT, [
        (f"{NEEDS_LAYOUT}/{stem}.json", job.card_json),
        (f"{NEEDS_LAYOUT}/{stem}.ndef", ndef),
        (f"{NEEDS_LAYOUT}/{stem}.vcf", vcf),
        *others,
    ]


class HotFolder:
    """The hot folder and its journal; one inbox at a time uses it (a lock file says so)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / STATE_DIR
        self.journal = self.state / "journal"
        self.staging = self.state / "staging"
        self._lock: IO[str] | None = None
        self.jobs: dict[str, dict[str, Any]] = {}
        #: The keys of the jobs open() found half-filed and finished.
        self.finished: list[str] = []

    def open(self) -> HotFolder:
        """Lock the folder, read the journal and finish whatever a crash left half-filed."""
        if self.root.exists() and not self.root.is_dir():
            raise Abort(f"hot folder {display_path(self.root)} is a file, not a folder")
        try:
            self.staging.mkdir(parents=True, exist_ok=True)
            self.journal.mkdir(exist_ok=True)
            self._lock = open(self.state / "lock", "a")  # noqa: SIM115 - held until close()
        except OSError as exc:
            raise Abort(f"cannot use hot folder {display_path(self.root)}: {exc.strerror} ({exc.filename})") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.close()
            raise Abort(f"another printshop inbox is using {display_path(self.root)}; run one at a time") from None
        self.jobs = self._load()
        self.finished = self.reconcile()
        return self

    def close(self) -> None:
        """Release the lock."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _load(self) -> dict[str, dict[str, Any]]:
        jobs = {}
        for path in sorted(self.journal.glob("*.json")):
            try:
                entry = json.loads(path.read_bytes())
            except ValueError:
                entry = None
            if not (
                isinstance(entry, dict) and entry.get("version") == JOURNAL_VERSION and entry.get("state") in STATES
            ):
                raise Abort(
                    f"{display_path(path)} is not a printshop journal entry (version {JOURNAL_VERSION}). It records"
                    " that a job was printed: put back a good copy; nothing was filed and no mail was moved."
                )
            jobs[path.name.removesuffix(".json")] = entry
        return jobs

    def _save(self, key: str) -> None:
        entry = {"version": JOURNAL_VERSION, **self.jobs[key]}
        write_durably(self.journal / f"{key}.json", json.dumps(entry, sort_keys=True).encode() + b"\n")

    def reconcile(self) -> list[str]:
        """Finish every job a crash left `filing`, drop staging files no journal entry needs; return their keys."""
        finished = [key for key, entry in self.jobs.items() if entry["state"] == "filing"]
        for key in finished:
            self._place(key, self.jobs[key])
        for leftover in self.staging.iterdir():
            if self.jobs.get(leftover.name, {}).get("state") != "filing":
                shutil.rmtree(leftover, ignore_errors=True)
        remove_leftovers(str(self.journal))  # an entry whose atomic write was cut short
        return finished

    def file(self, job: PrintJob) -> Filed:
        """File a checked job, unless a job with the same card and content was filed before."""
        entry = self.jobs.get(job.key)
        if entry is not None:
            return Filed(job.key, entry["kind"], entry["files"], duplicate=True)
        kind, files = job_files(job)
        stage = self.staging / job.key
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir()
        for rel, data in files:
            write_durably(stage / Path(rel).name, data)
        crash_point("staged")
        entry = {"state": "filing", "kind": kind, "files": [rel for rel, _ in files], "event": job.event}
        entry["filed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.jobs[job.key] = entry
        self._save(job.key)
        crash_point("journaled")
        self._place(job.key, entry)
        crash_point("filed")
        return Filed(job.key, kind, entry["files"])

    def _place(self, key: str, entry: dict[str, Any]) -> None:
        """Rename a job's staged files into the hot folder (those still staged), then journal it as filed."""
        folders = set()
        for rel in entry["files"]:
            staged, final = self.staging / key / Path(rel).name, self.root / rel
            if staged.exists():
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)
                folders.add(final.parent)
                crash_point("placed-one")
        for folder in folders:
            fsync_path(folder)
        entry["state"] = "filed"
        self._save(key)
        shutil.rmtree(self.staging / key, ignore_errors=True)

    def reject(self, raw: bytes, reason: str, card_id: str | None) -> Path:
        """Keep a rejected message and its reason side by side in rejected/; return the message's path."""
        name = f"{card_id or 'unknown'}.{hashlib.sha256(raw).hexdigest()[:16]}"
        eml = self.root / REJECTED / f"{name}.eml"
        eml.parent.mkdir(parents=True, exist_ok=True)
        write_durably(eml, raw)
        write_durably(eml.with_name(f"{name}.reason.txt"), f"{reason}\n".encode())
        return eml
