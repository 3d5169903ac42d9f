"""The reference print-shop inbox against a real IMAP server: Debian's dovecot, on a loopback port.

The messages are the real print jobs `notify --dry-run` writes, put into the mailbox with IMAP APPEND.
"""

from __future__ import annotations

import contextlib
import copy
import email
import grp
import hashlib
import imaplib
import io
import json
import multiprocessing
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, skip_or_fail

from cardsite.cli import main
from cardsite.printshop import job as job_module
from cardsite.printshop.hotfolder import CRASH_ENV, CRASH_STEPS, HotFolder
from cardsite.printshop.inbox import PASSWORD_ENV
from cardsite.printshop.mailbox import mailbox

USER, PASSWORD = "printshop", "s3cret-for-tests"


# --------------------------------------------------------------------------- a real dovecot


@dataclass
class Imap:
    """A dovecot and its one user; with `cafile`, it speaks only TLS (imaps://) with that certificate."""

    port: int
    conf: Path
    cafile: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.conf.parent / "dovecot.log"

    def start(self) -> None:
        dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.proc = subprocess.Popen([dovecot, "-F", "-c", str(self.conf)], start_new_session=True)
        deadline = time.monotonic() + 60  # the machine may be busy
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"dovecot stopped: {self.log.read_text() if self.log.exists() else ''}")
            try:
                with self.session():
                    return
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.1)
        pytest.fail(f"dovecot did not answer: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
            self.proc = None

    @property
    def url(self) -> str:
        return f"{'imaps' if self.cafile else 'imap'}://127.0.0.1:{self.port}"

    @contextlib.contextmanager
    def session(self) -> Iterator[imaplib.IMAP4]:
        if self.cafile:
            context = ssl.create_default_context(cafile=str(self.cafile))
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=10)
        else:
            imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(USER, PASSWORD)
        try:
            yield imap
        finally:
            imap.logout()

    def append(self, *messages: bytes) -> None:
        with self.session() as imap:
            for raw in messages:
                assert imap.append("INBOX", None, None, raw)[0] == "OK"

    def messages(self, folder: str) -> list[bytes]:
        with self.session() as imap:
            kind, _ = imap.select(folder, readonly=True)
            if kind != "OK":
                return []
            uids = imap.uid("SEARCH", None, "ALL")[1][0].split()
            return [imap.uid("FETCH", uid, "(BODY.PEEK[])")[1][0][1] for uid in uids]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dovecot_conf(run: Path, mail: Path, users: Path, port: int, tls: bool, capability: str) -> str:
    me = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        # Dovecot runs its login processes and mail access as no root: as root, use Debian's users for them.
        login, mail_user = (
            ("dovenull" if _user_exists("dovenull") else "nobody"),
            "mail_uid = nobody\nmail_gid = nogroup",
        )
    else:
        login, mail_user = me, ""
    ssl = f"ssl = required\nssl_cert = <{run}/cert.pem\nssl_key = <{run}/key.pem" if tls else "ssl = no"
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {run}/base
state_dir = {run}/state
log_path = {run}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain
auth_failure_delay = 0
{capability}
default_internal_user = {me}
default_internal_group = {grp.getgrgid(os.getgid()).gr_name}
default_login_user = {login}
{mail_user}
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {0 if tls else port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port if tls else 0}
  }}
}}
"""


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _self_signed_certificate(run: Path) -> Path:
    """Make a throwaway certificate for 127.0.0.1 with openssl; return it (it is its own CA)."""
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(run / "key.pem"), "-out", str(run / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    return run / "cert.pem"


def _dovecot(tmp_path: Path, tls: bool, capability: str = "") -> Iterator[Imap]:
    """Run Debian's dovecot on a free loopback port with a throwaway configuration and one user."""
    dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.access(dovecot, os.X_OK):
        skip_or_fail("Debian's dovecot is not installed (apt-get install dovecot-imapd)")
    run = tmp_path / "dovecot"
    run.mkdir()
    cafile = _self_signed_certificate(run) if tls else None
    # Mail is kept by a user that is not root (dovecot's rule), who must reach it: tmp_path is root's alone.
    mail = Path(tempfile.mkdtemp(prefix="cardsite-imap-"))
    if os.getuid() == 0:
        shutil.chown(mail, "nobody", "nogroup")
    (run / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port = _free_port()
    (run / "dovecot.conf").write_text(_dovecot_conf(run, mail, run / "users", port, tls, capability))
    server = Imap(port, run / "dovecot.conf", cafile)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(mail, ignore_errors=True)


@pytest.fixture
def imap(tmp_path: Path) -> Iterator[Imap]:
    """A dovecot on plain imap:// (which the inbox allows on loopback only)."""
    yield from _dovecot(tmp_path, tls=False)


@pytest.fixture
def imap_without_move(tmp_path: Path) -> Iterator[Imap]:
    """A dovecot that names neither MOVE nor UIDPLUS among its capabilities, as older servers do."""
    yield from _dovecot(tmp_path, tls=False, capability="imap_capability = IMAP4rev1 LITERAL+")


@pytest.fixture
def imaps(tmp_path: Path) -> Iterator[Imap]:
    """A dovecot that speaks only imaps://, with a self-signed certificate."""
    yield from _dovecot(tmp_path, tls=True)


# --------------------------------------------------------------------------- real print jobs


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Return real print jobs that notify wrote (--dry-run), by '<event>:<card id>'.

    A first run announces every sample card (created). A second one, from a state that says Jana was
    announced with another vCard and Hans Meier was announced and then removed, gives an update and a retirement.
    """
    root = tmp_path_factory.mktemp("project")
    for name in ("contacts", "templates"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "site.yaml", root / "site.yaml")
    found: dict[str, bytes] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for name in ("CARDSITE_MAIL_FROM", "CARDSITE_PRINT_INBOX", "CARDSITE_BUCKET", "GITHUB_SHA"):
            mp.delenv(name, raising=False)
        assert main(["build", "-q"]) == 0
        assert main(["notify", "-q", "--dry-run", "first"]) == 0
        created = {p.name.split(".")[0]: p.read_bytes() for p in (root / "first").glob("*.print.eml")}
        found |= {f"created:{card_id}": raw for card_id, raw in created.items()}
        jana = json.loads(_files(created["jana-mueller"])["card.json"])
        hans = {"given": "Hans", "family": "Meier", "additional": "", "prefix": "", "suffix": "", "full": "Hans Meier"}
        announced = {
            "jana-mueller": {"event": "created", "url": jana["url"], "vcf_sha256": "0" * 64, "fields": jana["fields"]},
            # The sample's Hans Meier is retired (active: false); say he was announced while he was live.
            "hans-meier": {
                "event": "created",
                "url": jana["url"].replace("jana-mueller", "hans-meier"),
                "vcf_sha256": "1" * 64,
                "fields": {"name": hans},
            },
        }
        announced["jana-mueller"]["job_id"] = jana["job_id"]
        (root / "state.json").write_text(json.dumps({"version": 1, "cards": announced}))
        assert main(["notify", "-q", "--dry-run", "second", "--state", "state.json"]) == 0
        found["updated:jana-mueller"] = (root / "second" / "jana-mueller.print.eml").read_bytes()
        found["retired:hans-meier"] = (root / "second" / "hans-meier.print.eml").read_bytes()
    assert {json.loads(_files(raw)["card.json"])["event"] for raw in found.values()} == {
        "created",
        "updated",
        "retired",
    }
    return found


def _message(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def _files(raw: bytes) -> dict[str, bytes]:
    return {p.get_filename(): p.get_payload(decode=True) for p in _message(raw).iter_attachments()}


def compose(raw: bytes, files: dict[str, bytes]) -> bytes:
    """Return the message `raw` with its attachments replaced by `files` (card.json first), headers kept."""
    old = _message(raw)
    new = EmailMessage(policy=policy.SMTP)
    for name, value in old.items():
        if not name.lower().startswith(("content-", "mime-version")):
            new[name] = value
    new.set_content(old.get_body(("plain",)).get_content())
    for name, data in files.items():
        new.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return new.as_bytes()


# --------------------------------------------------------------------------- V2 ADAPTER (until h-print lands)
# notify writes version-1 jobs on this branch. `as_v2` turns a real one into the version-2 job of the contract
# (issue 20: a `print` block and card.pdf), and `v2_schema` is printjob.schema.json as version 2 reads. Both
# step aside by themselves once notify writes version 2 and the schema knows it (h-print merged): then
# `as_v2` returns notify's own message, and this block up to END OF V2 ADAPTER can be deleted.

V2_PRINT_BLOCK = {
    "type": "object",
    "required": ["trim_mm", "bleed_mm", "qr_module_mm", "nfc", "attachments"],
    "properties": {
        "trim_mm": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        "bleed_mm": {"type": "number"},
        "qr_module_mm": {"type": "number"},
        "nfc": {"type": "object", "required": ["chip", "uri", "ndef_hex"]},
        "attachments": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["sha256", "bytes"],
                "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "bytes": {"type": "integer"}},
            },
        },
    },
}


def v2_schema() -> dict[str, Any]:
    schema = copy.deepcopy(json.loads(job_module.SCHEMA_FILE.read_text("utf-8")))
    schema["properties"]["version"] = {"enum": [1, 2]}
    schema["properties"].setdefault("print", V2_PRINT_BLOCK)
    return schema


def artwork() -> bytes:
    """Return a two-page PDF of 91 × 61 mm (85 × 55 mm and 3 mm bleed), made by Pillow, as a stand-in."""
    from PIL import Image

    size = (round(91 / 25.4 * 300), round(61 / 25.4 * 300))
    buf = io.BytesIO()
    front, back = Image.new("RGB", size, "white"), Image.new("RGB", size, "navy")
    front.save(buf, "PDF", resolution=300, save_all=True, append_images=[back])
    return buf.getvalue()


def as_v2(raw: bytes) -> bytes:
    files = _files(raw)
    card = json.loads(files.pop("card.json"))
    if card["version"] == 2:
        return raw  # notify's own version 2
    if card["event"] != "retired":
        files["card.pdf"] = artwork()
    card["version"] = 2
    card["attachments"] = ["card.json", *files]
    card["print"] = {
        "trim_mm": [85, 55],
        "bleed_mm": 3,
        "qr_module_mm": 0.6,
        "nfc": {"chip": "NTAG213", "uri": card["nfc"]["uri"], "ndef_hex": card["nfc"]["ndef_hex"]},
        "attachments": {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for n, d in files.items()},
    }
    return compose(raw, {"card.json": json.dumps(card, ensure_ascii=False).encode(), **files})


@pytest.fixture
def v2(jobs: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Return the jobs as version 2, with the inbox reading the version-2 schema."""
    if job_module.job_schema()["properties"]["version"].get("const") == 1:
        monkeypatch.setattr(job_module, "job_schema", v2_schema)
    return {key: as_v2(raw) for key, raw in jobs.items()}


# --------------------------------------------------------------------------- END OF V2 ADAPTER


def as_v1(raw: bytes) -> bytes:
    """Return a job as a cardsite before version 2 sent it: no print block, no card.pdf."""
    files = _files(raw)
    card = json.loads(files.pop("card.json"))
    if card["version"] == 1:
        return raw
    files.pop("card.pdf", None)
    del card["print"]
    card |= {"version": 1, "attachments": ["card.json", *files]}
    return compose(raw, {"card.json": json.dumps(card, ensure_ascii=False).encode(), **files})


@pytest.fixture
def v1(jobs: dict[str, bytes]) -> dict[str, bytes]:
    """Return the jobs as version 1, which the inbox still reads (and files as needing layout)."""
    return {key: as_v1(raw) for key, raw in jobs.items()}


def printshop(imap: Imap, hot: Path, *extra: str) -> int:
    os.environ[PASSWORD_ENV] = PASSWORD
    try:
        return main(["printshop", "--imap-url", imap.url, "--user", USER, "--hot-folder", str(hot), "--once", *extra])
    finally:
        del os.environ[PASSWORD_ENV]


def card_of(raw: bytes) -> dict[str, Any]:
    return json.loads(_files(raw)["card.json"])


def hot_files(hot: Path) -> set[str]:
    return {p.relative_to(hot).as_posix() for p in hot.rglob("*") if p.is_file() and ".printshop" not in p.parts}


def journal(hot: Path) -> dict[str, Any]:
    entries = (hot / ".printshop" / "journal").glob("*.json")
    return {p.name.removesuffix(".json"): json.loads(p.read_text()) for p in entries}


# --------------------------------------------------------------------------- a good job


def test_good_jobs_reach_the_hot_folder_and_their_mail_moves_to_done(imap: Imap, tmp_path: Path, v2, v1) -> None:
    import ndef

    press, layout, retired = v2["created:jana-mueller"], v1["created:max"], v2["retired:hans-meier"]
    imap.append(press, layout, retired)
    hot = tmp_path / "hot"
    assert printshop(imap, hot) == 0

    jana, maxi, hans = card_of(press), card_of(layout), card_of(retired)
    keys = sorted(journal(hot))
    stems = {key.split(".")[0]: key.replace(".", f".{entry['event']}.") for key, entry in journal(hot).items()}
    assert hot_files(hot) == {
        f"{stems['jana-mueller']}.pdf",
        f"{stems['jana-mueller']}.json",
        f"{stems['jana-mueller']}.ndef",
        *(f"needs-layout/{stems['max']}.{ext}" for ext in ("json", "ndef", "vcf", "qr.svg", "qr.png")),
        f"records/{stems['hans-meier']}.json",
    }
    # The press gets the very bytes that were sent; the encoder's tag opens the card's page (ndeflib reads it).
    files = _files(press)
    assert (hot / f"{stems['jana-mueller']}.pdf").read_bytes() == files["card.pdf"]
    assert (hot / f"{stems['jana-mueller']}.json").read_bytes() == files["card.json"]
    tag = (hot / f"{stems['jana-mueller']}.ndef").read_bytes()
    assert [r.iri for r in ndef.message_decoder(tag)] == [f"{jana['url']}?n"]
    assert (hot / "needs-layout" / f"{stems['max']}.vcf").read_bytes() == _files(layout)["max.vcf"]
    assert json.loads((hot / "records" / f"{stems['hans-meier']}.json").read_bytes())["event"] == "retired"
    assert {card["id"] for card in (jana, maxi, hans)} == {k.split(".")[0] for k in keys}
    assert all(entry["state"] == "filed" for entry in journal(hot).values())
    assert imap.messages("INBOX") == []
    assert sorted(card_of(m)["id"] for m in imap.messages("Done")) == ["hans-meier", "jana-mueller", "max"]
    assert not list((hot / ".printshop" / "staging").iterdir())


def without_artwork(raw: bytes) -> bytes:
    """Return a version-2 job as a site with print.artwork: false sends it: no card.pdf, and none listed."""
    files = _files(raw)
    card = json.loads(files.pop("card.json"))
    files.pop("card.pdf")
    card["attachments"] = ["card.json", *files]
    card["print"]["attachments"].pop("card.pdf")
    return compose(raw, {"card.json": json.dumps(card, ensure_ascii=False).encode(), **files})


def test_a_job_from_a_site_that_prints_elsewhere_needs_layout(imap: Imap, tmp_path: Path, v2) -> None:
    imap.append(without_artwork(v2["created:jana-mueller"]))
    hot = tmp_path / "hot"
    assert printshop(imap, hot) == 0
    filed = hot_files(hot)
    assert filed and all(f.startswith("needs-layout/jana-mueller.created.") for f in filed), filed
    assert not any(f.endswith(".pdf") for f in filed)
    assert [card_of(m)["id"] for m in imap.messages("Done")] == ["jana-mueller"]


# --------------------------------------------------------------------------- rejected


def _tampered(v2: dict[str, bytes], v1: dict[str, bytes]) -> dict[str, tuple[bytes, str]]:
    """Return bad messages by name, each with a phrase its reason must hold."""
    good = v2["created:jana-mueller"]
    files = _files(good)
    card = json.loads(files["card.json"])
    pdf = bytearray(files["card.pdf"])
    pdf[len(pdf) // 2] ^= 0x01  # one bit, same size: only the sha256 can tell
    v1_files = _files(v1["created:zoe-leclerc"])
    v1_files["zoe-leclerc.ndef"] = v1_files["zoe-leclerc.ndef"][:-1] + b"x"
    version_3 = json.dumps({**card, "version": 3}).encode()
    elsewhere = json.dumps(
        {**card, "nfc": {**card["nfc"], "uri": "https://cards.example.org/jana-mueller/?n"}}
    ).encode()
    other_print = {**card["print"], "nfc": {**card["print"]["nfc"], "uri": card["url"]}}
    other_tag = json.dumps({**card, "print": other_print}).encode()
    other_id = _message(good)
    other_id.replace_header("X-Cardsite-Card-Id", "max")
    return {
        "pdf changed on the way": (compose(good, {**files, "card.pdf": bytes(pdf)}), "card.pdf: its sha256 differs"),
        "qr.png swapped": (compose(good, {**files, "qr.png": _files(v2["created:max"])["qr.png"]}), "qr.png: "),
        "pdf missing": (compose(good, {k: v for k, v in files.items() if k != "card.pdf"}), "missing ['card.pdf']"),
        "file added": (compose(good, {**files, "evil.sh": b"rm -rf /"}), "unlisted ['evil.sh']"),
        "v1 tag bytes changed": (compose(v1["created:zoe-leclerc"], v1_files), "differs from nfc.ndef_hex"),
        "unknown version": (
            compose(good, {**files, "card.json": version_3}),
            "version 3 is not one this inbox reads (1 or 2)",
        ),
        "tag opens another site": (compose(good, {**files, "card.json": elsewhere}), "is not the card's page"),
        "print block names another tag": (compose(good, {**files, "card.json": other_tag}), "print.nfc.uri "),
        "header names another card": (other_id.as_bytes(), "X-Cardsite-Card-Id: 'max' differs"),
        "not a print job": (b"From: a@example.org\r\nSubject: hello\r\n\r\nhi\r\n", "not a cardsite print job"),
    }


def test_a_tampered_or_broken_job_is_rejected_with_its_reason_and_nothing_printed(imap: Imap, tmp_path, v2, v1) -> None:
    bad = _tampered(v2, v1)
    imap.append(*(raw for raw, _ in bad.values()), v2["created:max"])
    hot = tmp_path / "hot"
    assert printshop(imap, hot) == 0

    assert [card_of(m)["id"] for m in imap.messages("Done")] == ["max"]
    assert len(imap.messages("Rejected")) == len(bad)
    reasons = sorted(p.read_text() for p in (hot / "rejected").glob("*.reason.txt"))
    assert len(reasons) == len(bad) == len(list((hot / "rejected").glob("*.eml")))
    for name, (_, phrase) in bad.items():
        assert any(phrase in reason for reason in reasons), f"{name}: no reason says {phrase!r}: {reasons}"
    # Only max's job was filed; every rejected message is kept beside its reason, named by the card it claims.
    assert {f.split(".")[0] for f in hot_files(hot) if not f.startswith("rejected/")} == {"max"}
    assert {p.name.split(".")[0] for p in (hot / "rejected").glob("*.eml")} == {
        "jana-mueller",
        "zoe-leclerc",
        "max",
        "unknown",
    }
    assert imap.messages("INBOX") == []


# --------------------------------------------------------------------------- duplicates


def test_a_job_delivered_twice_is_printed_once_and_a_new_job_of_the_card_again(imap: Imap, tmp_path: Path, v2) -> None:
    created = v2["created:jana-mueller"]
    imap.append(created, created)
    hot = tmp_path / "hot"
    assert printshop(imap, hot) == 0
    first = hot_files(hot)
    assert len(first) == 3 and len(journal(hot)) == 1

    # The press takes the files; a third copy comes later, and then the card's next job.
    for name in first:
        (hot / name).unlink()
    imap.append(created, v2["updated:jana-mueller"])
    assert printshop(imap, hot) == 0
    assert {f.split(".")[1] for f in hot_files(hot)} == {"updated"}, "the repeat was not printed again"
    assert len(hot_files(hot)) == 3 and len(journal(hot)) == 2
    assert len(imap.messages("Done")) == 4 and imap.messages("INBOX") == []


def test_a_second_copy_that_differs_only_in_its_commit_is_the_same_job(imap: Imap, tmp_path: Path, v2) -> None:
    raw = v2["created:jana-mueller"]
    files = _files(raw)
    card = json.loads(files["card.json"])
    later = compose(raw, {**files, "card.json": json.dumps({**card, "commit": "f" * 40}).encode()})
    imap.append(raw, later)
    hot = tmp_path / "hot"
    assert printshop(imap, hot) == 0
    assert len(journal(hot)) == 1 and len(hot_files(hot)) == 3


# --------------------------------------------------------------------------- moving mail


def test_mail_is_moved_with_move_where_the_server_has_it(imap: Imap) -> None:
    with mailbox(imap.url, USER, PASSWORD) as box:
        assert box.can_move and box.can_uid_expunge  # dovecot names them only after the login


def test_a_server_without_move_gets_copy_store_and_expunge(imap_without_move: Imap, tmp_path: Path, v2) -> None:
    imap = imap_without_move
    with mailbox(imap.url, USER, PASSWORD) as box:
        assert not box.can_move and not box.can_uid_expunge
    imap.append(v2["created:jana-mueller"], v2["created:jana-mueller"], b"Subject: spam\r\n\r\nhi\r\n")
    hot = tmp_path / "hot"
    assert printshop(imap, hot) == 0
    assert imap.messages("INBOX") == [], "copied, flagged \\Deleted and expunged"
    assert len(imap.messages("Done")) == 2 and len(imap.messages("Rejected")) == 1
    assert len(journal(hot)) == 1 and len(hot_files(hot)) == 3 + 2  # the job, and the rejected mail with its reason


# --------------------------------------------------------------------------- killed in the middle


def _run_killable(imap: Imap, hot: Path, crash_at: str | None) -> int:
    """Run the inbox in a forked process (it inherits the v2 adapter), dying at `crash_at`; return its exit code."""

    def child() -> None:
        if crash_at:
            os.environ[CRASH_ENV] = crash_at
        os._exit(printshop(imap, hot, "-q"))

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(120)
    return proc.exitcode


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_killed_at_any_step_and_restarted_every_job_is_filed_exactly_once(imap: Imap, tmp_path, v2, v1, step) -> None:
    messages = [v2["created:jana-mueller"], v1["created:max"], v2["retired:hans-meier"], v2["created:zoe-leclerc"]]
    imap.append(*messages)
    hot = tmp_path / "hot"
    assert _run_killable(imap, hot, step) == -signal.SIGKILL
    assert len(imap.messages("INBOX")) == len(messages), "the first message was stopped before its mail moved"

    # The press and the encoder take whatever reached the hot folder before the crash.
    taken = hot_files(hot)
    for name in taken:
        (hot / name).unlink()
    assert _run_killable(imap, hot, None) == 0

    after = hot_files(hot)
    assert not taken & after, f"filed twice: {sorted(taken & after)}"
    expected = {f"{card_of(m)['id']}.{card_of(m)['event']}" for m in messages}
    filed = taken | after
    assert {".".join(f.split("/")[-1].split(".")[:2]) for f in filed} == expected
    assert len(filed) == 3 + 5 + 1 + 3, sorted(filed)  # press: pdf json ndef; needs layout: 5 files; records: 1
    assert imap.messages("INBOX") == [] and len(imap.messages("Done")) == len(messages)
    assert len(journal(hot)) == len(messages) and all(e["state"] == "filed" for e in journal(hot).values())
    assert not list((hot / ".printshop" / "staging").iterdir())


# --------------------------------------------------------------------------- user errors


def test_user_errors_are_clean_messages(imap: Imap, tmp_path: Path, v2, capsys, monkeypatch) -> None:
    hot = tmp_path / "hot"
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert main(["printshop", "--imap-url", imap.url, "--user", USER, "--hot-folder", str(hot), "--once"]) == 1
    assert f"set the IMAP password in {PASSWORD_ENV}" in capsys.readouterr().err

    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    assert main(["printshop", "--imap-url", imap.url, "--user", USER, "--hot-folder", str(hot), "--once"]) == 1
    assert f"refused the login of '{USER}'" in capsys.readouterr().err

    args = ["--user", USER, "--hot-folder", str(hot), "--once"]
    assert main(["printshop", "--imap-url", "imap://mail.example.org", *args]) == 1
    assert "would send the password unencrypted; use imaps://" in capsys.readouterr().err
    for port in ("abc", "99999"):
        assert main(["printshop", "--imap-url", f"imaps://mail.example.org:{port}", *args]) == 1
        err = capsys.readouterr().err
        assert "the port must be a number from 1 to 65535" in err and "Traceback" not in err

    imap.append(v2["created:jana-mueller"])
    (hot / ".printshop" / "journal").mkdir(parents=True, exist_ok=True)
    (hot / ".printshop" / "journal" / "max.0123456789abcdef.json").write_text("{not json")
    assert printshop(imap, hot) == 1
    err = capsys.readouterr().err
    assert "max.0123456789abcdef.json is not a printshop journal entry" in err and "Traceback" not in err
    assert len(imap.messages("INBOX")) == 1, "a journal it cannot read moves no mail"


def test_a_second_inbox_on_the_same_hot_folder_is_refused(imap: Imap, tmp_path: Path, v2, capsys) -> None:
    hot = tmp_path / "hot"
    imap.append(v2["created:jana-mueller"])
    first = HotFolder(hot).open()
    try:
        assert printshop(imap, hot) == 1
        assert "another printshop inbox is using" in capsys.readouterr().err
        assert len(imap.messages("INBOX")) == 1 and hot_files(hot) == set()
    finally:
        first.close()
    assert printshop(imap, hot) == 0 and len(hot_files(hot)) == 3


def test_a_hot_folder_it_cannot_write_keeps_the_mail_in_the_inbox(imap: Imap, tmp_path: Path, capsys) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    (hot / "rejected").write_text("a file where the folder of rejected messages belongs")
    imap.append(b"From: a@example.org\r\nSubject: not a job\r\n\r\nhi\r\n")
    assert printshop(imap, hot) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "the message stays in INBOX" in err and "Traceback" not in err
    assert len(imap.messages("INBOX")) == 1 and imap.messages("Rejected") == []

    (hot / "rejected").unlink()
    assert printshop(imap, hot) == 0
    assert imap.messages("INBOX") == [] and len(imap.messages("Rejected")) == 1


# --------------------------------------------------------------------------- the command, as a print shop runs it


def _wait_for(condition, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"the inbox stopped before {what}: {proc.stderr.read()}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_the_command_rides_out_a_server_that_goes_away(imap: Imap, tmp_path: Path, v1) -> None:
    hot = tmp_path / "hot"
    cmd = [sys.executable, str(ROOT / "build.py"), "printshop", "--imap-url", imap.url, "--user", USER]
    cmd += ["--hot-folder", str(hot), "--interval", "0.2"]
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        imap.append(v1["created:max"])
        _wait_for(lambda: len(imap.messages("Done")) == 1, "the first job was taken", proc)
        imap.stop()
        time.sleep(1.5)  # polls that find no server
        imap.start()
        imap.append(v1["created:zoe-leclerc"])
        _wait_for(lambda: len(imap.messages("Done")) == 2, "the job sent after the outage was taken", proc)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "Error: cannot reach imap://127.0.0.1:" in err and "trying again in 0.2 s" in err
    assert proc.returncode == 130 and "Traceback" not in err
    assert len(journal(hot)) == 2 and imap.messages("INBOX") == []


def test_the_command_polls_over_imaps_until_stopped(imaps: Imap, tmp_path: Path, v1, capsys, monkeypatch) -> None:
    hot = tmp_path / "hot"
    args = ["printshop", "--imap-url", imaps.url, "--user", USER, "--hot-folder", str(hot)]
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert main([*args, "--once"]) == 1, "a certificate nobody vouches for is refused"
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err

    # The print shop's own CA, as OpenSSL reads it; the inbox runs as a program, polling every 0.2 s.
    env = {**os.environ, "SSL_CERT_FILE": str(imaps.cafile)}
    cmd = [sys.executable, str(ROOT / "build.py"), *args, "--interval", "0.2"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        imaps.append(v1["created:max"])
        _wait_for(lambda: len(imaps.messages("Done")) == 1, "the first job was taken", proc)
        imaps.append(v1["retired:hans-meier"], v1["created:max"])  # later mail, and a repeat
        _wait_for(lambda: len(imaps.messages("Done")) == 3, "the later mail was taken", proc)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Interrupted." in err and "Traceback" not in err
    assert {f.split("/")[0] for f in hot_files(hot)} == {"needs-layout", "records"}
    assert len(hot_files(hot)) == 5 + 1 and imaps.messages("INBOX") == []
    assert len(journal(hot)) == 2, "the repeat of max's job was not filed again"
