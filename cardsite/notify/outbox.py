"""Deliver finished messages: through SES v2, paced to the account's rate, or into a folder of .eml files.

Throttling is retried by the client's own standard retry mode (see cardsite.aws), and by nothing
else here: a message is tried at most SEND_RETRIES + 1 times in all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from email.headerregistry import Address
from pathlib import Path
from typing import Any, Protocol

from .. import aws
from ..build.output import write_if_changed
from ..errors import Abort, display_path

log = logging.getLogger(__name__)

#: Retries per message, throttled ones included: botocore's standard mode backs off between them
#: (exponentially, with jitter, up to 20 s), so seven retries ride out about a minute of throttling.
SEND_RETRIES = 7


class SendError(Exception):
    """One message was not accepted; the others are still sent."""


class Outbox(Protocol):
    def send(self, name: str, data: bytes, sender: Address, recipients: list[Address], tags: dict[str, str]) -> str: ...


class FolderOutbox:
    """Write each message as an .eml file that a mail client opens (the dry run)."""

    def __init__(self, folder: Path):
        if folder.exists() and not folder.is_dir():
            raise Abort(f"{display_path(folder)} is a file, not a folder")
        self.folder = folder

    def send(self, name: str, data: bytes, sender: Address, recipients: list[Address], tags: dict[str, str]) -> str:
        """Write the message; return its path."""
        path = self.folder / f"{name}.eml"
        write_if_changed(path, data)
        return display_path(path)


class SesOutbox:
    """Send raw MIME through SES v2, paced to the account's send rate."""

    def __init__(
        self,
        client: Any,
        rate: float,
        configuration_set: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client
        self.interval = 1.0 / rate
        self.configuration_set = configuration_set
        self.sleep = sleep
        self.next_at = 0.0

    def _pace(self) -> None:
        now = time.monotonic()
        if now < self.next_at:
            self.sleep(self.next_at - now)

    def _call(self, params: dict[str, Any]) -> str:
        self._pace()
        try:
            return self.client.send_email(**params)["MessageId"]
        finally:
            # Counted from the answer, not the request: however the network delays one
            # request, SES never sees two sends closer together than its rate allows.
            self.next_at = time.monotonic() + self.interval

    def send(self, name: str, data: bytes, sender: Address, recipients: list[Address], tags: dict[str, str]) -> str:
        """Send the message; return SES's message id or raise SendError."""
        from botocore.exceptions import BotoCoreError, ClientError

        params: dict[str, Any] = {
            "FromEmailAddress": sender.addr_spec,
            "Destination": {"ToAddresses": [r.addr_spec for r in recipients]},
            "Content": {"Raw": {"Data": data}},
            "EmailTags": [{"Name": k, "Value": v} for k, v in tags.items()],
        }
        if self.configuration_set:
            params["ConfigurationSetName"] = self.configuration_set
        try:
            return self._call(params)
        except (ClientError, BotoCoreError) as exc:
            raise SendError(aws.explain(exc, "SendEmail", f"identity {sender.addr_spec}")) from exc


def ses_client(session: Any, endpoint_url: str | None) -> Any:
    """Return the SES v2 client messages are sent with: each message is tried up to SEND_RETRIES + 1 times."""
    return aws.make_client("sesv2", endpoint_url, session=session, max_attempts=SEND_RETRIES)


def send_rate(session: Any, endpoint_url: str | None) -> float:
    """Return the account's maximum messages per second (GetAccount, else GetSendQuota, else 1)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        rate = aws.make_client("sesv2", endpoint_url, session=session).get_account()["SendQuota"]["MaxSendRate"]
    except (ClientError, BotoCoreError, KeyError) as exc:
        log.debug("GetAccount failed (%s); trying GetSendQuota", exc)
        try:
            rate = aws.make_client("ses", endpoint_url, session=session).get_send_quota()["MaxSendRate"]
        except (ClientError, BotoCoreError, KeyError) as exc2:
            log.warning("Cannot read the SES send rate (%s); sending 1 message per second", exc2)
            rate = 1.0
    return float(rate) if rate and rate > 0 else 1.0
