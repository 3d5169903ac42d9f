"""Read one print-job e-mail and check it: card.json against the schema, every attachment against its sha256.

The print shop trusts nothing in a message it did not check: a job that fails any check is rejected with
the reason, never half-filed. The checks are those docs/print-job.md promises: version 1 offers the list
of attachments and the NDEF bytes in card.json; version 2 adds the `print` block with the sha256 and size
of every attachment and the press-ready `card.pdf`.
"""

from __future__ import annotations

import email
import hashlib
import json
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

from ..cards.model import source_url

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema" / "printjob.schema.json"
#: The card.json versions this inbox reads; any other is refused (docs/print-job.md: "refuse versions you do not know").
VERSIONS = (1, 2)
RETIRED = "retired"
PDF = "card.pdf"
#: Hex digits of the content key in journal keys and file names (64 bits: no two jobs of a card collide).
DIGEST_CHARS = 16


class JobRejected(Exception):
    """A message that is not a print job this inbox can print: its reason goes beside it in rejected/."""


@dataclass(frozen=True)
class PrintJob:
    """A checked print job: card.json parsed and as sent, and its attachments by file name."""

    card: dict[str, Any]
    card_json: bytes
    files: dict[str, bytes]
    content_key: str

    @property
    def card_id(self) -> str:
        """Return the card's permanent id."""
        return str(self.card["id"])

    @property
    def event(self) -> str:
        """Return created, updated or retired."""
        return str(self.card["event"])

    @property
    def key(self) -> str:
        """Return the journal key: a job with the same card and content is the same job, however often it comes."""
        return f"{self.card_id}.{self.content_key}"

    @property
    def ndef(self) -> bytes | None:
        """Return the NFC tag's bytes, which every live card's job carries."""
        return self.files.get(f"{self.card_id}.ndef")


@cache
def job_schema() -> dict[str, Any]:
    """Return the print-job schema, read from cardsite/schema/ (the contract notify writes to)."""
    return json.loads(SCHEMA_FILE.read_text("utf-8"))


def schema_problem(card: Any) -> str | None:
    """Return the first way `card` breaks the print-job schema, or None."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(job_schema()).iter_errors(card))
    if error is None:
        return None
    where = " → ".join(str(part) for part in error.absolute_path) or "the top level"
    return f"{where}: {error.message[:200]}"


def read_job(raw: bytes) -> PrintJob:
    """Parse and check one message; raise JobRejected saying what is wrong."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    if msg["X-Cardsite-Kind"] != "print-job":
        raise JobRejected(f"not a cardsite print job (X-Cardsite-Kind: {msg['X-Cardsite-Kind']!r})")
    files = attachments(msg)
    card_bytes = files.pop("card.json", None)
    if card_bytes is None:
        raise JobRejected("the message has no card.json attachment")
    card = parse_card(card_bytes)
    check_headers(msg, card)
    check_files(card, files)
    return PrintJob(card, card_bytes, files, content_key(card, files))


def attachments(msg: EmailMessage) -> dict[str, bytes]:
    """Return every attachment by file name; a name given twice makes the message ambiguous, so it is refused."""
    files: dict[str, bytes] = {}
    for part in msg.iter_attachments():
        name = part.get_filename()
        if not name:
            raise JobRejected("an attachment has no file name")
        if name in files:
            raise JobRejected(f"two attachments are named {name!r}")
        payload = part.get_payload(decode=True)
        files[name] = payload if isinstance(payload, bytes) else b""
    return files


def parse_card(data: bytes) -> dict[str, Any]:
    """Return card.json parsed and checked against the schema, in a version this inbox reads."""
    try:
        card = json.loads(data)
    except UnicodeDecodeError as exc:
        raise JobRejected(f"card.json is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise JobRejected(f"card.json is not JSON: {exc}") from None
    if isinstance(card, dict) and card.get("version") not in VERSIONS:
        known = " or ".join(map(str, VERSIONS))
        raise JobRejected(f"card.json version {card.get('version')!r} is not one this inbox reads ({known})")
    problem = schema_problem(card)
    if problem:
        raise JobRejected(f"card.json does not match printjob.schema.json: {problem}")
    return card


def check_headers(msg: EmailMessage, card: dict[str, Any]) -> None:
    """Refuse a message whose headers announce another card or event than its card.json."""
    for header, key in (("X-Cardsite-Card-Id", "id"), ("X-Cardsite-Event", "event"), ("X-Cardsite-Job-Id", "job_id")):
        if msg[header] is not None and str(msg[header]) != str(card.get(key)):
            raise JobRejected(f"header {header}: {str(msg[header])!r} differs from card.json {key}: {card.get(key)!r}")


def check_files(card: dict[str, Any], files: dict[str, bytes]) -> None:
    """Check the attachments against what card.json lists and, in version 2, against their sha256 and size."""
    listed = set(card["attachments"]) - {"card.json"}
    if set(files) != listed:
        extra, missing = sorted(set(files) - listed), sorted(listed - set(files))
        raise JobRejected(f"attachments differ from card.json: unlisted {extra}, missing {missing}")
    ndef_name = f"{card['id']}.ndef"
    expected_ndef = bytes.fromhex(card["nfc"]["ndef_hex"])
    if ndef_name in files and files[ndef_name] != expected_ndef:
        raise JobRejected(f"{ndef_name} differs from nfc.ndef_hex in card.json")
    # The tag opens the page with the NFC marker (?n); jobs sent before the markers carry the bare page URL.
    if card["nfc"]["uri"] not in (source_url(card["url"], "nfc"), card["url"]):
        raise JobRejected(f"nfc.uri {card['nfc']['uri']!r} is not the card's page {card['url']!r}")
    if card["version"] >= 2:
        check_print_block(card, files, expected_ndef)


def check_print_block(card: dict[str, Any], files: dict[str, bytes], expected_ndef: bytes) -> None:
    """Check version 2's `print` block: every attachment's digest and size, the PDF, the tag's bytes."""
    block = card.get("print")
    if block is None and card["event"] == RETIRED and not files:
        return  # nothing is printed and nothing attached: the block has nothing to vouch for
    if not isinstance(block, dict):
        raise JobRejected("card.json version 2 has no print block")
    _check_sums(block.get("attachments"), files)
    # A site that prints elsewhere (print.artwork: false) sends no PDF, and says so in print.attachments,
    # which was just checked against what the message carries: such a job needs layout, as version 1 does.
    if card["event"] != RETIRED and PDF in files and not files[PDF].startswith(b"%PDF-"):
        raise JobRejected(f"{PDF} of a {card['event']} job is not a PDF file")
    _check_print_nfc(card, block.get("nfc"), expected_ndef)


def _check_sums(sums: Any, files: dict[str, bytes]) -> None:
    """Check print.attachments: it lists exactly the files carried, each with its size and sha256."""
    if not isinstance(sums, dict) or set(sums) != set(files):
        listed = sorted(sums) if isinstance(sums, dict) else sums
        raise JobRejected(f"print.attachments lists {listed!r}, the message carries {sorted(files)}")
    for name, data in sorted(files.items()):
        entry = sums[name] if isinstance(sums[name], dict) else {}
        if entry.get("bytes") != len(data):
            raise JobRejected(f"{name}: {len(data)} bytes, print.attachments says {entry.get('bytes')!r}")
        if entry.get("sha256") != hashlib.sha256(data).hexdigest():
            raise JobRejected(f"{name}: its sha256 differs from print.attachments (changed on the way?)")


def _check_print_nfc(card: dict[str, Any], nfc: Any, expected_ndef: bytes) -> None:
    """Check print.nfc against the tag's bytes and URI; a retired card's job may leave it out."""
    if card["event"] == RETIRED and nfc is None:
        return
    if not isinstance(nfc, dict) or nfc.get("ndef_hex") != expected_ndef.hex():
        raise JobRejected("print.nfc.ndef_hex differs from nfc.ndef_hex (the bytes the tag gets)")
    if nfc.get("uri") != card["nfc"]["uri"]:
        raise JobRejected(f"print.nfc.uri {nfc.get('uri')!r} differs from nfc.uri {card['nfc']['uri']!r}")


def content_key(card: dict[str, Any], files: dict[str, bytes]) -> str:
    """Return the key that makes two deliveries the same job: a hash of card.json and the digest of each file.

    It covers card.json and every attachment, so anything that would print differently is a new job, and
    card.json holds the job id, which chains the card's previous job: a card that changes and changes back
    is printed again. The commit is left out, as in the job id: a repeat may come from a later run.
    """
    content = {k: v for k, v in card.items() if k != "commit"}
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    blob = json.dumps([content, sums], sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:DIGEST_CHARS]
