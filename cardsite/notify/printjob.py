"""Build the messages notify sends: the print job for the print shop and the owner notice.

The print job is a contract with printer software (docs/print-job.md): its
subject, its X-Cardsite-* headers, the attachment names and card.json
(cardsite/schema/printjob.schema.json) change only with a new schema version.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from dataclasses import dataclass
from email import policy
from email.charset import Charset
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid
from typing import Any

from ..build.manifest import FIELD_KEYS
from ..cards.model import Name, source_url
from .strings import strings_for

SCHEMA_VERSION = 1
SCHEMA_ID = "https://cardsite.dev/schema/printjob.schema.json"

CREATED, UPDATED, RETIRED = "created", "updated", "retired"
#: Hex digits of the digest in a job id: 96 bits, so two different jobs of one card never share one.
JOB_DIGEST_CHARS = 24

#: NTAG213 user memory (144 bytes) less the NDEF TLV's type and length bytes and its terminator.
NTAG213_NDEF_BYTES = 144 - 3
#: NFC Forum URI RTD abbreviations; longer prefixes first so "https://www." wins over "https://".
URI_PREFIXES = ((b"https://www.", 0x02), (b"http://www.", 0x01), (b"https://", 0x04), (b"http://", 0x03))

#: Headers that hold addresses; MAIL_POLICY folds them itself (see _MailPolicy).
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})
#: RFC 5322's recommended line length, which SMTP's policy folds at.
MAX_LINE = 78
#: RFC 2047: an encoded word is at most 75 characters long.
ENCODED_WORD_MAX = 75
#: RFC 5322 atext: a word of a display name made of these needs neither quotes nor encoding.
PLAIN_WORD = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


class UnsafeHeader(ValueError):
    """A message's headers did not survive serialisation unchanged; it must not be sent."""


def _encoded_words(text: str) -> list[str]:
    """Return `text` as RFC 2047 encoded words of at most 75 characters each, split after a space if one fits."""
    utf8 = Charset("utf-8")
    words: list[str] = []
    chunk = ""
    for piece in re.findall(r"\S+\s*|\s+", text):
        # A word too long for one encoded word is split between characters.
        for part in [piece] if len(utf8.header_encode(piece)) <= ENCODED_WORD_MAX else piece:
            if chunk and len(utf8.header_encode(chunk + part)) > ENCODED_WORD_MAX:
                words.append(utf8.header_encode(chunk))
                chunk = ""
            chunk += part
    return [*words, utf8.header_encode(chunk)] if chunk else words


def _phrase_tokens(display_name: str) -> list[str]:
    """Return a display name as words to join by spaces: plain words as they are, runs of others encoded.

    A run of words that need encoding (':', ',', quotes, non-ASCII) becomes encoded words with its
    spaces inside; it meets plain words only at a space that every reader keeps. (Between two encoded
    words RFC 2047 drops the space and Python 3.11 keeps it, so the two would read differently.)
    """
    tokens: list[str] = []
    run: list[str] = []
    for word in display_name.split(" "):
        if word and PLAIN_WORD.fullmatch(word) and "=?" not in word and "?=" not in word:
            tokens += _encoded_words(" ".join(run)) if run else []
            tokens.append(word)
            run = []
        else:
            run.append(word)
    return tokens + (_encoded_words(" ".join(run)) if run else [])


def fold_address_header(name: str, addresses: tuple[Address, ...], linesep: str) -> str:
    """Write an address header, folding only between words and between addresses.

    Python 3.11 drops the quotes of a long display name when it folds one (CPython gh-80222), so
    'Eve: Head of X, Y <eve@example.ch>' came out as a group holding another address. Here the
    words of a name that need quotes go as RFC 2047 encoded words, which hold ':', ',' and '"'
    safely, and a line breaks only where a space was.
    """
    lines = [f"{name}:"]
    for number, address in enumerate(addresses, 1):
        shown = address.display_name
        tokens = [*_phrase_tokens(shown), f"<{address.addr_spec}>"] if shown else [address.addr_spec]
        tokens[-1] += "," if number < len(addresses) else ""
        for token in tokens:
            # A token longer than a line still goes on one line (under SES's 1,000), never split.
            if len(lines[-1]) + 1 + len(token) > MAX_LINE and lines[-1] != f"{name}:":
                lines.append("")
            lines[-1] += f" {token}"
    return linesep.join(lines) + linesep


class _MailPolicy(EmailPolicy):
    """SMTP's policy (CRLF, folding at 78), with address headers folded by fold_address_header."""

    def _addresses(self, name: str, value: Any) -> tuple[Address, ...] | None:
        if name.lower() not in ADDRESS_HEADERS or not hasattr(value, "groups"):
            return None
        if any(group.display_name is not None for group in value.groups):
            return None  # cardsite never writes groups; leave any to the email package
        addresses = tuple(value.addresses)
        return addresses if all(a.addr_spec.isascii() for a in addresses) else None

    def fold(self, name: str, value: Any) -> str:
        addresses = self._addresses(name, value)
        return super().fold(name, value) if addresses is None else fold_address_header(name, addresses, self.linesep)

    def fold_binary(self, name: str, value: Any) -> bytes:
        addresses = self._addresses(name, value)
        if addresses is None:
            return super().fold_binary(name, value)
        return fold_address_header(name, addresses, self.linesep).encode("ascii")


#: Lines of SES raw messages must stay under 1,000 characters; SMTP folds headers at 78.
MAIL_POLICY = _MailPolicy(linesep="\r\n", max_line_length=MAX_LINE)


# --------------------------------------------------------------------------- NFC


def ndef_uri_message(uri: str) -> bytes:
    """Return an NDEF message with one short URI record that abbreviates the scheme."""
    data = uri.encode("utf-8")
    code = 0x00
    for prefix, value in URI_PREFIXES:
        if data.startswith(prefix):
            code, data = value, data[len(prefix) :]
            break
    payload = bytes([code]) + data
    if len(payload) > 255:
        raise ValueError(f"URI of {len(data)} bytes is too long for a short NDEF record")
    # Header 0xD1: MB and ME (the only record), SR (1-byte length), TNF 1 (NFC Forum well-known type).
    message = bytes([0xD1, 1, len(payload)]) + b"U" + payload
    if len(message) > NTAG213_NDEF_BYTES:
        raise ValueError(f"NDEF message of {len(message)} bytes does not fit an NTAG213 ({NTAG213_NDEF_BYTES})")
    return message


# --------------------------------------------------------------------------- card.json


def display_name(fields: dict[str, Any]) -> str:
    """Return the short name a subject line shows: given and family name, in the person's order."""
    name = fields["name"]
    parts = {key: name.get(key, "") for key in ("given", "family", "order")}
    return Name(**parts).short or name.get("full", "")


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any], url_before: str, url_after: str) -> list[str]:
    """List the fields (and 'url') that differ from the last announcement; all set ones for a new card."""
    if before is None:
        return ["url", *(key for key in FIELD_KEYS if after.get(key))]
    changed = ["url"] if url_before != url_after else []
    return changed + [key for key in FIELD_KEYS if before.get(key) != after.get(key)]


@dataclass(frozen=True)
class Job:
    """One announcement about one card: everything both messages are built from."""

    card_id: str
    event: str
    url: str
    fields: dict[str, Any]
    changed: list[str]
    commit: str | None
    qr_level: str = "M"
    vcf: bytes | None = None
    #: The card's QR code as the build made it (qr.svg, qr.png), for the print shop and the owner notice.
    qr_svg: bytes = b""
    qr_png: bytes = b""
    successor_url: str | None = None
    lang: str = "en"
    #: Stable id of this announcement (see make_job_id); empty until make_job_id gave one.
    job_id: str = ""

    @property
    def name(self) -> str:
        """Return the person's short name."""
        return display_name(self.fields)

    @property
    def vcf_url(self) -> str | None:
        """Return the vCard download, which only a live card has."""
        return f"{self.url}{self.card_id}.vcf" if self.event != RETIRED else None


def make_job_id(job: Job, previous: str) -> str:
    """Return a job's stable id: the card id and a digest of what it announces (`previous`: the last job's id).

    The same announcement made again (a rerun after a kill) gets the same id, so a receiver can
    drop the repeat. The previous job's id is part of the digest, so a card that goes back to an
    earlier state is a new job. The commit is left out: a rerun may come from a later one.
    """
    content = [job.event, job.url, job.fields, job.changed, job.successor_url, previous]
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False).encode() + b"\0" + (job.vcf or b"")
    return f"{job.card_id}.{hashlib.sha256(blob).hexdigest()[:JOB_DIGEST_CHARS]}"


def card_json(job: Job, attachment_names: list[str]) -> dict[str, Any]:
    """Return the machine-readable print job (validates against printjob.schema.json)."""
    ndef = ndef_uri_message(source_url(job.url, "nfc"))
    return {
        "schema": SCHEMA_ID,
        "version": SCHEMA_VERSION,
        "id": job.card_id,
        "job_id": job.job_id,
        "event": job.event,
        "name": job.name,
        "url": job.url,
        "vcf_url": job.vcf_url,
        "successor_url": job.successor_url,
        "fields": job.fields,
        "changed_fields": job.changed,
        "commit": job.commit,
        "nfc": {"uri": source_url(job.url, "nfc"), "ndef_hex": ndef.hex(), "ndef_bytes": len(ndef)},
        "qr": {"url": source_url(job.url, "qr"), "error_correction": job.qr_level},
        "attachments": attachment_names,
    }


def print_attachments(job: Job) -> list[tuple[str, str, bytes]]:
    """Return (filename, MIME type, bytes) of every attachment after card.json."""
    if job.event == RETIRED or job.vcf is None:
        return []
    return [
        (f"{job.card_id}.vcf", "text/vcard", job.vcf),
        ("qr.svg", "image/svg+xml", job.qr_svg),
        ("qr.png", "image/png", job.qr_png),
        (f"{job.card_id}.ndef", "application/octet-stream", ndef_uri_message(source_url(job.url, "nfc"))),
    ]


# --------------------------------------------------------------------------- messages


def header_text(text: str, limit: int = 200) -> str:
    """Return `text` safe for one header: no line breaks, control characters or encoded words."""
    # Line and paragraph separators and NEL end lines for some parsers; bidi controls disguise text.
    cleaned = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") else c
        for c in text
        if not ("\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069")
    )
    # The email package decodes a literal "=?charset?q?...?=" it is given and writes the
    # result back raw, CR/LF included, so the encoded-word syntax is broken up first.
    cleaned = cleaned.replace("=?", "= ?")
    return " ".join(cleaned.split())[:limit]


def _new_message(sender: Address, to: list[Address], subject: str, reply_to: Address | None) -> EmailMessage:
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = sender
    msg["To"] = to
    if reply_to is not None:
        msg["Reply-To"] = reply_to
    msg["Subject"] = header_text(subject, limit=300)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.domain)
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def _tag(msg: EmailMessage, job: Job, kind: str) -> None:
    msg["X-Cardsite-Card-Id"] = job.card_id
    msg["X-Cardsite-Job-Id"] = job.job_id
    msg["X-Cardsite-Event"] = job.event
    msg["X-Cardsite-Kind"] = kind


def print_job_message(job: Job, sender: Address, inbox: list[Address], reply_to: Address | None) -> EmailMessage:
    """Build the print job: a stable subject, a plain-text body and the print files."""
    msg = _new_message(sender, inbox, f"[cardsite] {job.event}: {header_text(job.name)} ({job.card_id})", reply_to)
    _tag(msg, job, "print-job")
    files = print_attachments(job)
    names = ["card.json", *(name for name, _, _ in files)]
    msg.set_content(print_job_text(job, names))
    data = json.dumps(card_json(job, names), ensure_ascii=False, indent=2).encode("utf-8")
    # Everything goes base64, so no line can outgrow SES's 1,000-character limit.
    msg.add_attachment(data, "application", "json", filename="card.json")
    for name, mime, blob in files:
        maintype, subtype = mime.split("/")
        msg.add_attachment(blob, maintype, subtype, filename=name)
    return msg


def print_job_text(job: Job, attachment_names: list[str]) -> str:
    """Return the print job's body for the people at the print shop."""
    lines = [f"Card: {job.name} ({job.card_id})", f"Event: {job.event}", f"Page: {job.url}", f"Job: {job.job_id}"]
    if job.event == RETIRED:
        lines += [
            "",
            "This card was retired. Withdraw printed cards and NFC tags that point to the page above;",
            "do not print it again.",
        ]
        if job.successor_url:
            lines.append(f"It is replaced by: {job.successor_url}")
    else:
        lines += [f"vCard: {job.vcf_url}", f"Changed: {', '.join(job.changed) or '(vCard only)'}"]
    lines += [f"Commit: {job.commit or 'unknown'}", "", "Attached: " + ", ".join(attachment_names)]
    lines += [f"card.json is the machine-readable job (schema version {SCHEMA_VERSION})."]
    return "\n".join(lines) + "\n"


def owner_notice_message(job: Job, owner: Address, sender: Address, reply_to: Address | None) -> EmailMessage:
    """Build the owner notice in the card's language, with the link and an inline QR code."""
    words = strings_for(job.lang)
    org = job.fields.get("org", "")
    values = {"name": job.name, "org": org, "url": job.url, "vcf_url": job.vcf_url or ""}
    kind = "created" if job.event == CREATED else "updated"
    msg = _new_message(sender, [owner], words[f"subject_{kind}"], reply_to)
    _tag(msg, job, "owner-notice")
    text = [
        words["greeting"].format(**values),
        "",
        words[f"intro_{kind}"].format(**values),
        job.url,
        "",
        words["share"],
        words["vcard"].format(**values),
        "",
        "-- ",
        words["footer"],
    ]
    msg.set_content("\n".join(text) + "\n")
    cid = make_msgid(domain=sender.domain)
    esc = {k: html.escape(v) for k, v in values.items()}
    link = f'<a href="{esc["vcf_url"]}">{esc["vcf_url"]}</a>'
    vcard_line = html.escape(words["vcard"].format(**{**values, "vcf_url": "\0"})).replace("\0", link)
    body = (
        f'<!doctype html><html lang="{html.escape(job.lang)}"><meta charset="utf-8"><body>'
        f"<p>{html.escape(words['greeting'].format(**values))}</p>"
        f"<p>{html.escape(words[f'intro_{kind}'].format(**values))}<br>"
        f'<a href="{esc["url"]}">{esc["url"]}</a></p>'
        f'<p><img src="cid:{cid[1:-1]}" width="200" height="200" alt="{html.escape(words["qr_alt"])}"></p>'
        f"<p>{html.escape(words['share'])}<br>{vcard_line}</p>"
        f'<p style="color:#666;font-size:smaller">{html.escape(words["footer"])}</p>'
        "</body></html>\n"
    )
    msg.add_alternative(body, subtype="html")
    msg.get_payload()[1].add_related(job.qr_png, "image", "png", cid=cid, filename="qr.png")
    return msg


def _recipients(msg: EmailMessage) -> dict[str, list[tuple[str | None, str, str]]]:
    """Return every address header as (group, display name without spaces, address) triples."""
    found = {}
    for name in ADDRESS_HEADERS:
        for value in msg.get_all(name, []):
            found.setdefault(name, []).extend(
                (group.display_name, "".join(a.display_name.split()), a.addr_spec)
                for group in value.groups
                for a in group.addresses
            )
    return found


def to_bytes(msg: EmailMessage, mail_policy: EmailPolicy = MAIL_POLICY) -> bytes:
    """Serialise `msg` with CRLF line ends; refuse it when a header was split or added, or an address changed.

    The message is read back as a receiver reads it. Display names are compared without their spaces,
    because Python 3.11 reads a space between two encoded words that RFC 2047 says to drop.
    """
    data = msg.as_bytes(policy=mail_policy)
    parsed = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
    if sorted(k.lower() for k in parsed) != sorted(k.lower() for k in msg):
        raise UnsafeHeader(f"headers changed when written: {sorted(parsed.keys())}")
    if _recipients(parsed) != _recipients(msg):
        shown = {k: [str(v) for v in parsed.get_all(k, [])] for k in ADDRESS_HEADERS if k in parsed}
        raise UnsafeHeader(f"addresses changed when written: {shown}")
    return data
