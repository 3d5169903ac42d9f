"""The IMAP side of the inbox: list the waiting messages, fetch one, move it to Done or Rejected."""

from __future__ import annotations

import imaplib
import ipaddress
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

from ..errors import Abort

INBOX = "INBOX"
DONE = "Done"
REJECTED = "Rejected"
TIMEOUT = 60


class MailboxError(Abort):
    """The server refused a command or went away: the message stays where it is, for the next poll."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect(url: str, user: str, password: str) -> imaplib.IMAP4:
    """Log in to `url` (imaps://HOST[:PORT]; imap:// only on this machine, where no password crosses a network)."""
    scheme, host, port = _server(url)
    where = f"{scheme}://{host}:{port}"
    try:
        imap = _open(scheme, host, port)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"cannot reach {where}: {exc}") from None
    try:
        imap.login(user, password)
    except imaplib.IMAP4.error as exc:
        imap.shutdown()
        raise Abort(f"{where} refused the login of {user!r}: {exc}") from None
    return imap


def _server(url: str) -> tuple[str, str, int]:
    """Return the scheme, host and port of an --imap-url; refuse one that is no server, or would leak the password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("imap", "imaps") or not host or parts.path not in ("", "/"):
        raise Abort(f"--imap-url {url!r}: give imaps://HOST[:PORT]")
    if parts.scheme == "imap" and not _loopback(host):
        raise Abort(f"--imap-url {url!r}: plain imap:// would send the password unencrypted; use imaps://")
    try:
        port = parts.port
    except ValueError:  # not a number, or beyond 65535
        raise Abort(f"--imap-url {url!r}: the port must be a number from 1 to 65535") from None
    return parts.scheme, host, port or (993 if parts.scheme == "imaps" else 143)


def _open(scheme: str, host: str, port: int) -> imaplib.IMAP4:
    if scheme == "imaps":
        return imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT)
    return imaplib.IMAP4(host, port, timeout=TIMEOUT)


def _ok(answer: tuple[str, list[object]], what: str) -> list[object]:
    kind, data = answer
    if kind != "OK":
        raise MailboxError(f"IMAP {what} failed: {data!r}")
    return data


class Mailbox:
    """A logged-in IMAP session with INBOX selected."""

    def __init__(self, imap: imaplib.IMAP4) -> None:
        self.imap = imap
        # Asked again after the login: imaplib keeps the greeting's list, and servers name MOVE only once logged in.
        data = _ok(imap.capability(), "CAPABILITY")
        capabilities = set(data[0].upper().split()) if data and isinstance(data[0], bytes) else set()
        self.can_move = b"MOVE" in capabilities
        self.can_uid_expunge = b"UIDPLUS" in capabilities

    def ensure_folders(self, *names: str) -> None:
        """Create the folders jobs are moved to, if the account lacks them."""
        for name in names:
            listed = _ok(self.imap.list('""', name), f"LIST {name}")
            if not [entry for entry in listed if entry]:
                _ok(self.imap.create(name), f"CREATE {name}")

    def waiting(self) -> list[bytes]:
        """Select INBOX and return the UIDs of its messages, oldest first."""
        _ok(self.imap.select(INBOX), "SELECT INBOX")
        # A message marked \\Deleted is on its way out (a COPY whose EXPUNGE was cut short): it is already in Done.
        data = _ok(self.imap.uid("SEARCH", None, "UNDELETED"), "UID SEARCH")
        return sorted(data[0].split(), key=int) if data and isinstance(data[0], bytes) else []

    def fetch(self, uid: bytes) -> bytes:
        """Return the raw message, without marking it seen."""
        data = _ok(self.imap.uid("FETCH", uid, "(BODY.PEEK[])"), f"UID FETCH {uid.decode()}")
        for item in data:
            if isinstance(item, tuple) and re.search(rb"\bBODY\[\]", item[0]):
                return bytes(item[1])
        raise MailboxError(f"IMAP UID FETCH {uid.decode()} returned no message (deleted meanwhile?)")

    def move(self, uid: bytes, folder: str) -> None:
        """Move a message to `folder`: MOVE where the server has it, else COPY, flag \\Deleted and expunge."""
        if self.can_move:
            _ok(self.imap.uid("MOVE", uid, folder), f"UID MOVE {uid.decode()} {folder}")
            return
        _ok(self.imap.uid("COPY", uid, folder), f"UID COPY {uid.decode()} {folder}")
        _ok(self.imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), f"UID STORE {uid.decode()}")
        if self.can_uid_expunge:
            _ok(self.imap.uid("EXPUNGE", uid), f"UID EXPUNGE {uid.decode()}")
        else:
            _ok(self.imap.expunge(), "EXPUNGE")


@contextmanager
def mailbox(url: str, user: str, password: str) -> Iterator[Mailbox]:
    """Yield a logged-in mailbox; log out at the end, however it ends."""
    imap = connect(url, user, password)
    try:
        yield Mailbox(imap)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"the IMAP connection failed: {exc}") from None
    finally:
        with suppress(OSError, imaplib.IMAP4.error):
            imap.logout()
