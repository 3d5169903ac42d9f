"""Announce changed cards: a print job to the print inbox and a notice to each card's owner.

A card counts as changed when its printable content (the vCard bytes and the
URL) differs from its last accepted announcement. That state is kept in the
bucket at _cardsite/notify-state.json (or in a local --state file), never
taken from a git diff, so first pushes, force pushes and shallow clones need
no special case, a rerun sends only what is still due and a failed send is
retried on the next run. A card's state is saved soon after SES accepted its
message, so delivery is at least once: a run killed in between repeats that
message, with the same X-Cardsite-Job-Id, for the receiver to drop.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import getaddresses
from functools import partial
from pathlib import Path
from typing import Any

from .. import aws, progress
from ..build.manifest import SiteCard, SiteManifest, check_current, read_manifest
from ..build.printing import artwork_on, card_artwork, print_geometry
from ..cards.settings import Settings, owner_address_problem
from ..cards.validate import email_problem
from ..errors import Abort, display_path
from ..render.qr import png_from_svg
from ..render.wallet import WALLET_FILES
from .ledger import STATE_KEY, FileState, S3State, StateSaver, StateStore, empty_state, stop_on_signals
from .outbox import FolderOutbox, Outbox, SendError, SesOutbox, send_rate, ses_client
from .printjob import (
    CREATED,
    RETIRED,
    UPDATED,
    Job,
    changed_fields,
    header_text,
    make_job_id,
    owner_notice_message,
    print_job_message,
    to_bytes,
)

log = logging.getLogger(__name__)

#: Where messages go when no SES sender and print inbox are configured.
DEFAULT_OUTBOX = Path("mail-outbox")
#: Stand-ins for a dry run without mail settings; .invalid never resolves (RFC 2606).
DRY_SENDER = "cardsite@example.invalid"
DRY_INBOX = "print-inbox@example.invalid"


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class MailSettings:
    """Who sends, who receives print jobs, and the SES configuration set."""

    sender: Address | None
    print_inbox: tuple[Address, ...]
    configuration_set: str | None = None
    reply_to: Address | None = None
    #: Where owner notices may go (see settings.owner_address_problem).
    owner_domains: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        """Return whether SES can be used at all."""
        return self.sender is not None and bool(self.print_inbox)


def parse_address(value: str, what: str) -> Address:
    """Parse 'Name <addr>' or 'addr'; raise Abort when it is not exactly one e-mail address."""
    found = getaddresses([value])
    addr = found[0][1] if len(found) == 1 else ""
    if not addr or email_problem(addr):
        raise Abort(f"{what}: '{value}' is not an e-mail address (write name@example.ch or Name <name@example.ch>)")
    user, domain = addr.rsplit("@", 1)
    return Address(display_name=header_text(found[0][0]), username=user, domain=domain)


def mail_settings(settings: Settings, environ: Mapping[str, str]) -> MailSettings:
    """Read the notify block of site.yaml; CARDSITE_* environment variables override it."""
    conf: dict[str, Any] = settings.raw.get("notify") or {}

    def pick(env: str, key: str) -> str | None:
        return environ.get(env, "").strip() or conf.get(key) or None

    sender = pick("CARDSITE_MAIL_FROM", "sender")
    reply_to = pick("CARDSITE_MAIL_REPLY_TO", "reply_to")
    env_inbox = environ.get("CARDSITE_PRINT_INBOX", "").strip()
    inbox = [a.strip() for a in env_inbox.split(",") if a.strip()] if env_inbox else conf.get("print_inbox", [])
    if bool(sender) != bool(inbox):
        missing = "print_inbox (or CARDSITE_PRINT_INBOX)" if sender else "sender (or CARDSITE_MAIL_FROM)"
        raise Abort(f"notify settings in {display_path(settings.site_file)} are incomplete: set {missing} too")
    return MailSettings(
        sender=parse_address(sender, "notify sender") if sender else None,
        print_inbox=tuple(parse_address(a, "notify print_inbox") for a in inbox),
        configuration_set=pick("CARDSITE_SES_CONFIGURATION_SET", "configuration_set"),
        reply_to=parse_address(reply_to, "notify reply_to") if reply_to else None,
        owner_domains=settings.owner_domains,
    )


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class Change:
    """What one card needs: a print job (event) and/or an owner notice."""

    card_id: str
    event: str | None  # None: the print job was accepted before, only the owner notice is due
    card: SiteCard | None
    digest: str
    previous: dict[str, Any] | None
    owner: bool


def digest_of(vcf: bytes) -> str:
    """Return the hash that stands for a card's vCard bytes."""
    return hashlib.sha256(vcf).hexdigest()


def plan(cards: list[SiteCard], vcards: Mapping[str, bytes], announced: Mapping[str, dict[str, Any]]) -> list[Change]:
    """Compare the cards with the last announcements; return what must be sent, in id order."""
    changes = []
    for card in cards:
        prev = announced.get(card.id)
        digest = digest_of(vcards[card.id])
        change = _card_change(card, prev, digest) if card.active else _retirement(card, prev)
        if change is not None:
            changes.append(change)
    changes += _removed(cards, announced)
    return sorted(changes, key=lambda c: c.card_id)


def _in_print(prev: dict[str, Any] | None) -> bool:
    """Tell whether a card's last announcement left it in print: announced, and not as retired."""
    return prev is not None and prev.get("event") != RETIRED


def _card_change(card: SiteCard, prev: dict[str, Any] | None, digest: str) -> Change | None:
    """Return what a live card needs: a print job when its content or URL changed, else perhaps the owner notice."""
    live = _in_print(prev)
    wants_owner = card.notify_owner and bool(card.owner_email)
    if not live or prev.get("vcf_sha256") != digest or prev.get("url") != card.url:
        return Change(card.id, UPDATED if live else CREATED, card, digest, prev, wants_owner)
    if wants_owner and prev.get("owner") != digest:
        return Change(card.id, None, card, digest, prev, True)
    return None


def _retirement(card: SiteCard, prev: dict[str, Any] | None) -> Change | None:
    """Return the retirement of a card marked inactive, unless it was announced retired already."""
    if _in_print(prev):
        return Change(card.id, RETIRED, card, prev.get("vcf_sha256", ""), prev, False)
    return None


def _removed(cards: list[SiteCard], announced: Mapping[str, dict[str, Any]]) -> list[Change]:
    """Return the retirement of every card in print that is no longer in the site."""
    present = {c.id for c in cards}
    # An old id listed in a live card's aliases still redirects to a card, so it is not retired.
    aliased = {alias for c in cards if c.active for alias in c.aliases}
    return [
        Change(card_id, RETIRED, None, prev.get("vcf_sha256", ""), prev, False)
        for card_id, prev in sorted(announced.items())
        if card_id not in present and card_id not in aliased and _in_print(prev)
    ]


def make_job(change: Change, built: BuiltSite, commit: str | None) -> Job:
    """Turn a change into the data both messages are built from, with its stable job id."""
    prev = change.previous or {}
    job = _job(change, built, commit)
    if change.event is None and prev.get("job_id"):
        # Only the owner notice is due: it belongs to the print job already accepted.
        return replace(job, job_id=prev["job_id"])
    return replace(job, job_id=make_job_id(job, prev.get("job_id") or prev.get("vcf_sha256", "")))


def _job(change: Change, built: BuiltSite, commit: str | None) -> Job:
    if change.event == RETIRED:
        return _retired_job(change, built, commit)
    return _card_job(change, built, commit)


def _retired_job(change: Change, built: BuiltSite, commit: str | None) -> Job:
    """Return the job of a retired card: what it said when last announced, and where its successor is."""
    prev = change.previous or {}
    card, site = change.card, built.site
    fields = card.fields if card else prev.get("fields", {})
    successor = card.successor if card else ""
    url = prev.get("url") or site.card_url(change.card_id)
    trim, bleed, module = print_geometry(built.settings, url, site.qr_error_correction)
    return Job(
        card_id=change.card_id,
        event=RETIRED,
        url=url,
        trim_mm=trim,
        bleed_mm=bleed,
        qr_module_mm=module,
        fields=fields,
        changed=[],
        commit=commit,
        qr_level=site.qr_error_correction,
        successor_url=site.card_url(successor) if successor else None,
        lang=fields.get("lang", site.default_language),
    )


def _card_job(change: Change, built: BuiltSite, commit: str | None) -> Job:
    """Return the job of a live card, with its files as built and what changed since its last print job."""
    prev = change.previous or {}
    card, site = change.card, built.site
    assert card is not None
    pdf, (trim, bleed, module) = _print_files(built, card)
    live = change.event != CREATED and prev.get("event") != RETIRED and change.previous is not None
    event = change.event or prev.get("event", UPDATED)
    return Job(
        card_id=card.id,
        event=event,
        url=card.url,
        fields=card.fields,
        changed=changed_fields(prev.get("fields") if live else None, card.fields, prev.get("url", ""), card.url),
        commit=commit,
        qr_level=site.qr_error_correction,
        vcf=built.vcards[card.id],
        # The very files the build made and publish put online: no QR code is encoded again. The PNG,
        # for the print shop's software, is the built SVG drawn in pixels (600 px at least, docs/print-job.md).
        qr_svg=built.file(card, "qr.svg"),
        qr_png=png_from_svg(built.file(card, "qr.svg"), min_width=600),
        lang=card.lang,
        wallet=wallet_links(card),
        pdf=pdf,
        trim_mm=trim,
        bleed_mm=bleed,
        qr_module_mm=module,
    )


def _print_files(built: BuiltSite, card: SiteCard) -> tuple[bytes | None, tuple[tuple[float, float], float, float]]:
    """Return the card's print PDF (None when the site draws no artwork) and its trim, bleed and QR module in mm."""
    site = built.site
    # Drawn from the manifest's fields and URL, or taken from public/.cardsite/print/ when current.
    art = card_artwork(built.settings, built.out_dir, site, card) if artwork_on(built.settings) else None
    if art is not None:
        return art.pdf, (art.trim_mm, art.bleed_mm, art.qr_module_mm)
    return None, print_geometry(built.settings, card.url, site.qr_error_correction)


def wallet_links(card: SiteCard) -> dict[str, str]:
    """Return {kind: URL} of the card's wallet pass, Google Wallet page and background, those the build made."""
    found = {kind: name.format(id=card.id) for kind, name in WALLET_FILES.items()}
    return {kind: card.url + name for kind, name in found.items() if f"{card.id}/{name}" in card.files}


# --------------------------------------------------------------------------- announce


@dataclass
class NotifyReport:
    """What a run sent and what failed."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    #: The signal that stopped the run early, if one did.
    stopped_by: str | None = None
    #: How many changed cards were not looked at, because the run was stopped.
    skipped: int = 0

    def markdown(self, where: str) -> str:
        """Return the Markdown job summary: messages sent, cards skipped, messages failed."""
        lines = [f"### Notify: {len(self.sent)} sent, {self.skipped} skipped, {len(self.failed)} failed", ""]
        lines += ["| messages | count |", "|---|---:|", f"| sent {where} | {len(self.sent)} |"]
        lines += [f"| cards skipped (run stopped) | {self.skipped} |", f"| failed | {len(self.failed)} |", ""]
        # Only the failed message names (card id and kind), not the reasons a remote service gave.
        lines += [f"- Not sent: `{entry.split(':', 1)[0]}`" for entry in self.failed[:20]]
        return "\n".join(lines) + "\n"


def announce(
    changes: list[Change],
    make: Callable[[Change], Job],
    mail: MailSettings,
    outbox: Outbox,
    state: dict[str, Any],
    store: StateStore | None,
) -> NotifyReport:
    """Send every change; save each card's state soon after its message was accepted."""
    report = NotifyReport()
    saver = StateSaver(store, state)
    sender = mail.sender or Address(addr_spec=DRY_SENDER)
    inbox = list(mail.print_inbox) or [Address(addr_spec=DRY_INBOX)]

    def deliver(name: str, build: Callable[[], Any], to: list[Address], tags: dict[str, str]) -> bool:
        try:
            receipt = outbox.send(name, to_bytes(build()), sender, to, tags)
        except (SendError, ValueError) as exc:
            log.error("Not sent: %s: %s", name, exc)
            report.failed.append(f"{name}: {exc}")
            return False
        log.info("Delivered %s: %s", name, receipt)
        report.sent.append(name)
        return True

    def announce_one(change: Change) -> None:
        job = make(change)
        entry = dict(saver.state["cards"].get(change.card_id, {}))
        tags = {"cardsite-card": job.card_id, "cardsite-event": job.event}
        if change.event:
            build = partial(print_job_message, job, sender, inbox, mail.reply_to)
            if not deliver(f"{job.card_id}.print", build, inbox, tags):
                return
            entry = _accepted(change, job)
            saver.record(change.card_id, entry)
        if change.owner and change.card is not None:
            owner = _owner_address(change.card)
            build = partial(owner_notice_message, job, owner, sender, mail.reply_to)
            refused = owner_address_problem(owner.addr_spec, mail.owner_domains)
            if refused:
                log.error("Not sent: %s.owner: %s", job.card_id, refused)
                report.failed.append(f"{job.card_id}.owner: {refused}")
            elif deliver(f"{job.card_id}.owner", build, [owner], tags):
                saver.record(change.card_id, {**entry, "owner": change.digest})

    with stop_on_signals() as stop, progress.step("Announcing", len(changes), "cards") as bar:
        try:
            for change in changes:
                if stop:
                    report.stopped_by = stop["signal"]
                    break
                announce_one(change)
                bar.advance()
        finally:
            report.skipped = len(changes) - bar.done
            saver.save()
    return report


def _accepted(change: Change, job: Job) -> dict[str, Any]:
    """Return a card's state entry once its print job was accepted."""
    return {
        "event": job.event,
        "url": job.url,
        "vcf_sha256": change.digest,
        "fields": job.fields,
        "commit": job.commit,
        "job_id": job.job_id,
        "announced_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "owner": None if change.owner else change.digest,
    }


def _owner_address(card: SiteCard) -> Address:
    assert card.owner_email is not None  # plan() asks for a notice only when there is one
    user, domain = card.owner_email.rsplit("@", 1)
    return Address(display_name=header_text(card.name), username=user, domain=domain)


# --------------------------------------------------------------------------- command


@dataclass(frozen=True)
class BuiltSite:
    """The site a build made: its manifest and the vCards of its cards, read once."""

    out_dir: Path
    site: SiteManifest
    vcards: dict[str, bytes]
    #: site.yaml and the templates: the print layout the artwork is drawn with.
    settings: Settings

    def file(self, card: SiteCard, name: str) -> bytes:
        """Return one output of `card` as built; refuse one that is gone or changed since the build."""
        data = built_file(self.out_dir, card, name)
        if data is None:
            raise Abort(
                f"{display_path(self.out_dir / card.id / name)} is not the file the last build made: build again"
            )
        return data


def built_file(out_dir: Path, card: SiteCard, name: str) -> bytes | None:
    """Return one output of `card`, or None when the manifest does not list it or it is not there."""
    rel = f"{card.id}/{name}"
    if rel not in card.files or not (out_dir / rel).is_file():
        return None
    data = (out_dir / rel).read_bytes()
    if hashlib.sha256(data).hexdigest() != card.files[rel]["sha256"]:
        # Announcing other bytes than those published would print a card nobody checked.
        raise Abort(f"{display_path(out_dir / rel)} changed since the last build: build (and publish) again")
    return data


def load_cards(out_dir: Path) -> tuple[SiteManifest, list[SiteCard]]:
    """Return the manifest of the site built in `out_dir` and its cards, in id order."""
    if not out_dir.is_dir():
        raise Abort(f"{display_path(out_dir)} does not exist: run `python build.py` and publish before notify")
    site = read_manifest(out_dir)
    return site, [site.cards[card_id] for card_id in sorted(site.cards)]


def built_site(out_dir: Path, site: SiteManifest, cards: list[SiteCard], settings: Settings) -> BuiltSite:
    """Return the built site with the vCard of every live card; refuse when one is missing."""
    vcards, missing = {}, []
    for card in cards:
        vcf = built_file(out_dir, card, f"{card.id}.vcf")
        if vcf is not None:
            vcards[card.id] = vcf
        elif card.active:
            missing.append(card.id)
        else:
            vcards[card.id] = b""  # a retired card serves no vCard
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise Abort(
            f"{display_path(out_dir)} has no vCard for {shown}: build and publish first,"
            " so every announced link is live. Nothing was sent."
        )
    return BuiltSite(out_dir, site, vcards, settings)


def commit_sha(project_dir: Path, environ: Mapping[str, str]) -> str | None:
    """Return the commit being published: $GITHUB_SHA, else git's HEAD, else None."""
    if environ.get("GITHUB_SHA"):
        return environ["GITHUB_SHA"]
    git = shutil.which("git")
    if git is None:
        return None
    done = subprocess.run(
        [git, "-C", str(project_dir), "rev-parse", "--verify", "-q", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    sha = done.stdout.strip() if done.returncode == 0 else ""
    return sha or None


def state_key(prefix: str) -> str:
    """Return the state's key under the bucket's key prefix."""
    return aws.key_prefix(prefix) + STATE_KEY


def _ledger(args: argparse.Namespace, session: Any) -> StateStore | None:
    """Return where the notify ledger is kept: --state FILE, else the bucket, else nowhere."""
    if args.state:
        return FileState(args.state)
    if args.bucket:
        return S3State(aws.make_client("s3", args.endpoint_url, session=session), args.bucket, state_key(args.prefix))
    return None


def _ses_outbox(session: Any, endpoint_url: str | None, mail: MailSettings, count: int) -> Outbox:
    """Return the SES outbox, paced to the account's send rate."""
    rate = send_rate(session, endpoint_url)
    log.info("Sending %d announcement(s) through SES at up to %g per second", count, rate)
    return SesOutbox(ses_client(session, endpoint_url), rate, mail.configuration_set)


def notify_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run `build.py notify`: detect changed cards, send (or write) their messages, save the state."""
    mail = mail_settings(settings, os.environ)
    # The manifest and the files it lists are what publish put online, so they are the printable content.
    site, cards = load_cards(args.out)
    check_current(settings, site)
    built = built_site(args.out, site, cards, settings)

    session = aws.new_session()
    store = _ledger(args, session)
    folder = _outbox_folder(args, mail, store)
    state = store.load() if store else empty_state()
    changes = plan(cards, built.vcards, state["cards"])
    if not changes:
        progress.summary("Nothing to announce: no card changed since the last announcement")
        progress.append_summary(NotifyReport().markdown("through SES"))
        return 0
    commit = commit_sha(settings.contacts_dir.resolve().parent, os.environ)
    outbox = FolderOutbox(folder) if folder is not None else _ses_outbox(session, args.endpoint_url, mail, len(changes))
    report = announce(
        changes,
        partial(make_job, built=built, commit=commit),
        mail,
        outbox,
        state,
        # A dry run reads the state to know what changed, but sent nothing, so it saves nothing.
        None if folder is not None else store,
    )
    return _outcome(report, len(changes), folder)


def _outbox_folder(args: argparse.Namespace, mail: MailSettings, store: StateStore | None) -> Path | None:
    """Return the folder messages are written to (a dry run, or no SES settings), or None to send them through SES."""
    folder = args.dry_run or (None if mail.configured else DEFAULT_OUTBOX)
    if folder is None and store is None:
        raise Abort("notify needs to remember what it announced: give --bucket (or CARDSITE_BUCKET) or --state FILE")
    if folder is not None and not args.dry_run:
        log.info("No SES sender and print inbox in site.yaml or the environment: writing messages to %s", folder)
    return folder


def _outcome(report: NotifyReport, count: int, folder: Path | None) -> int:
    """Summarise the run for the job's page and the log; return the exit code: 1 when stopped or a message failed."""
    where = f"to {display_path(folder)} (nothing was sent, the state is unchanged)" if folder else "through SES"
    progress.append_summary(report.markdown(f"to `{display_path(folder)}`" if folder else "through SES"))
    if report.stopped_by:
        # The one line a stopped run ends with: what was done and what was not.
        done = count - report.skipped
        log.error(
            "Error: stopped by %s after %d of %d cards: %d message(s) delivered %s and saved;"
            " the other %d cards are announced by the next run",
            report.stopped_by,
            done,
            count,
            len(report.sent),
            where,
            report.skipped,
        )
        return 1
    progress.summary(f"{len(report.sent)} message(s) delivered {where}")
    if report.failed:
        log.error(
            "Error: %d message(s) failed; their cards stay unannounced and are retried on the next run:\n  %s",
            len(report.failed),
            "\n  ".join(report.failed),
        )
        return 1
    return 0
