"""`build.py printshop`: poll the print inbox, file each checked job in the hot folder, move its mail.

A message leaves INBOX only after its job is filed (or its rejection written), so a crash at any point
leaves it there to be taken again; the hot folder's journal (hotfolder.py) makes that second pass file
nothing twice. See docs/printshop.md.
"""

from __future__ import annotations

import argparse
import email
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from email import policy
from pathlib import Path
from typing import TypeVar

from ..cards.load import ID_PATTERN
from ..errors import Abort, display_path
from .hotfolder import Filed, HotFolder
from .job import JobRejected, read_job
from .mailbox import DONE, REJECTED, Mailbox, MailboxError, mailbox

log = logging.getLogger("cardsite")

PASSWORD_ENV = "CARDSITE_PRINTSHOP_PASSWORD"
T = TypeVar("T")


def _card_id_hint(raw: bytes) -> str | None:
    """Return the card id a rejected message claims, if it is a safe file name, to name its files by."""
    claimed = str(email.message_from_bytes(raw, policy=policy.default)["X-Cardsite-Card-Id"] or "")
    return claimed if ID_PATTERN.fullmatch(claimed) else None


class HotFolderError(Abort):
    """The hot folder cannot be written (full, read-only): the message stays in INBOX for the next poll."""


def take(box: Mailbox, hot: HotFolder, uid: bytes) -> str:
    """Check one message, file its job (or its rejection), then move it; return what happened."""
    raw = box.fetch(uid)
    try:
        job = read_job(raw)
    except JobRejected as exc:
        reason = str(exc)
        where = _written(lambda: hot.reject(raw, reason, _card_id_hint(raw)))
        box.move(uid, REJECTED)
        log.warning("Rejected %s: %s", display_path(where), reason)
        return "rejected"
    filed: Filed = _written(lambda: hot.file(job))
    box.move(uid, DONE)
    if filed.duplicate:
        log.info("Duplicate of %s (%s %s), filed before: not printed again", filed.key, job.card_id, job.event)
        return "duplicate"
    log.info("Filed %s %s for %s: %s", job.card_id, job.event, filed.kind, ", ".join(filed.files))
    return filed.kind


def _written(step: Callable[[], T]) -> T:
    """Run a step that writes into the hot folder; a disk error becomes a message, and the mail stays put."""
    try:
        return step()
    except OSError as exc:
        where = display_path(Path(exc.filename)) if exc.filename else "the hot folder"
        raise HotFolderError(
            f"cannot write {where}: {exc.strerror}; the message stays in INBOX and is taken again next time"
        ) from None


def poll(url: str, user: str, password: str, hot: HotFolder) -> Counter[str]:
    """Take every message waiting in INBOX once; return how many went where."""
    outcomes: Counter[str] = Counter()
    with mailbox(url, user, password) as box:
        box.ensure_folders(DONE, REJECTED)
        for uid in box.waiting():
            outcomes[take(box, hot, uid)] += 1
    return outcomes


def summary(outcomes: Counter[str]) -> str:
    """Return one line saying what a poll did."""
    if not outcomes:
        return "No print job waiting"
    parts = [f"{n} {kind}" for kind, n in sorted(outcomes.items())]
    return f"{sum(outcomes.values())} message(s): {', '.join(parts)}"


def printshop_command(args: argparse.Namespace) -> int:
    """Run `build.py printshop`: one poll with --once, else one every --interval seconds until stopped."""
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise Abort(f"set the IMAP password in {PASSWORD_ENV}")
    if args.interval <= 0:
        raise Abort("--interval must be a positive number of seconds")
    hot = HotFolder(args.hot_folder).open()
    try:
        if hot.finished:
            log.info("Finished filing %d job(s) a stopped run left: %s", len(hot.finished), ", ".join(hot.finished))
        if args.once:
            log.info("%s", summary(poll(args.imap_url, args.user, password, hot)))
            return 0
        while True:
            try:
                log.info("%s", summary(poll(args.imap_url, args.user, password, hot)))
            except (MailboxError, HotFolderError) as exc:
                # The server (or the disk) may be back by the next poll; every message not moved is still waiting.
                log.error("Error: %s; trying again in %g s", exc, args.interval)
            time.sleep(args.interval)
    finally:
        hot.close()
