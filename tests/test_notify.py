"""`build.py notify` against moto's server mode: messages are read back from the server and parsed
with the standard email package, exactly as a printer integration would."""

from __future__ import annotations

import base64
import email
import email.utils
import http.client
import http.server
import io
import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest

from cardsite import aws as cardsite_aws
from cardsite.cli import main
from cardsite.notify import outbox as outbox_module
from cardsite.notify.printjob import NTAG213_NDEF_BYTES, UnsafeHeader, ndef_uri_message, to_bytes
from cardsite.notify.strings import STRINGS

BUCKET = "cards-site"
SENDER = "cards@example.ch"
INBOX = "print-jobs@druckerei.example.ch"
SCHEMA = Path(__file__).resolve().parent.parent / "cardsite" / "schema" / "printjob.schema.json"


# --------------------------------------------------------------------------- fault-injecting proxy


class Faults:
    """What the proxy in front of moto does to SES sends, and what it saw."""

    def __init__(self) -> None:
        self.rate = 50.0
        self.throttle = 0
        self.reject: set[tuple[str, str]] = set()  # (card id, kind)
        self.send_times: list[float] = []
        self.lock = threading.Lock()


def _proxy_handler(upstream: str, faults: Faults) -> type[http.server.BaseHTTPRequestHandler]:
    host, port = upstream.removeprefix("http://").split(":")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                data = b""
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    data += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return data
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _reply(self, status: int, body: dict[str, Any], error_type: str | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.end_headers()
            self.wfile.write(data)

        def _forward(self) -> None:
            body = self._body()
            path = self.path
            # moto has no SES v2 GetAccount; answer it the way SES does, with a settable rate.
            if self.command == "GET" and path.startswith("/v2/email/account"):
                quota = {"MaxSendRate": faults.rate, "Max24HourSend": 50000.0, "SentLast24Hours": 0.0}
                return self._reply(200, {"SendQuota": quota, "SendingEnabled": True, "ProductionAccessEnabled": True})
            if self.command == "POST" and path.startswith("/v2/email/outbound-emails"):
                raw = base64.b64decode(json.loads(body)["Content"]["Raw"]["Data"])
                msg = email.message_from_bytes(raw, policy=policy.default)
                with faults.lock:
                    faults.send_times.append(time.monotonic())
                    if faults.throttle > 0:
                        faults.throttle -= 1
                        return self._reply(
                            429, {"message": "Maximum sending rate exceeded."}, "TooManyRequestsException"
                        )
                if (msg["X-Cardsite-Card-Id"], msg["X-Cardsite-Kind"]) in faults.reject:
                    return self._reply(400, {"message": "Email address is not verified."}, "MessageRejected")
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    return Handler


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def endpoint(aws: str, faults: Faults) -> Iterator[str]:
    """Return a loopback proxy in front of moto that can throttle or reject SES sends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(aws, faults))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(project: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Build the sample project, create the bucket, verify the sender, set the mail settings."""
    assert main(["build", "-q"]) == 0
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    boto3.client("ses", endpoint_url=endpoint).verify_email_identity(EmailAddress=SENDER)
    monkeypatch.setenv("CARDSITE_MAIL_FROM", f"Example Cards <{SENDER}>")
    monkeypatch.setenv("CARDSITE_PRINT_INBOX", INBOX)
    for name in ("GITHUB_SHA", "CARDSITE_BUCKET", "CARDSITE_SES_CONFIGURATION_SET", "CARDSITE_MAIL_REPLY_TO"):
        monkeypatch.delenv(name, raising=False)
    return project


def notify(endpoint: str, *args: str) -> int:
    return main(["notify", "-q", "--bucket", BUCKET, "--endpoint-url", endpoint, *args])


def sent(aws: str) -> list[EmailMessage]:
    """Return every message moto accepted, parsed as a printer integration would."""
    data = json.load(urllib.request.urlopen(f"{aws}/moto-api/data.json"))
    raw = data["ses"].get("RawMessage", [])
    return [email.message_from_bytes(m["raw_data"].encode(), policy=policy.default) for m in raw]


def print_jobs(messages: list[EmailMessage]) -> dict[str, EmailMessage]:
    return {m["X-Cardsite-Card-Id"]: m for m in messages if m["X-Cardsite-Kind"] == "print-job"}


def owner_notices(messages: list[EmailMessage]) -> dict[str, EmailMessage]:
    return {m["X-Cardsite-Card-Id"]: m for m in messages if m["X-Cardsite-Kind"] == "owner-notice"}


def attachments(msg: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename(): part.get_payload(decode=True) for part in msg.iter_attachments()}


def state(endpoint: str) -> dict[str, Any]:
    obj = boto3.client("s3", endpoint_url=endpoint).get_object(Bucket=BUCKET, Key="_cardsite/notify-state.json")
    return json.loads(obj["Body"].read())


def live_cards(project: Path) -> list[str]:
    """Return the ids of the sample's active cards (the ones with a built vCard)."""
    return sorted(p.parent.name for p in (project / "public").glob("*/*.vcf"))


def rebuild() -> None:
    assert main(["build", "-q"]) == 0


# --------------------------------------------------------------------------- the print job


def test_print_jobs_carry_everything_a_printer_needs(site: Path, endpoint: str, aws: str) -> None:
    import jsonschema
    import ndef
    import zxingcpp
    from PIL import Image

    boto3.client("s3", endpoint_url=endpoint).put_object(Bucket=BUCKET, Key="_cardsite/manifest.json", Body=b"{}")
    assert notify(endpoint) == 0

    messages = sent(aws)
    jobs = print_jobs(messages)
    assert sorted(jobs) == live_cards(site)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    for card_id, msg in jobs.items():
        assert msg["To"] == INBOX
        assert msg["X-Cardsite-Event"] == "created"
        assert re.fullmatch(rf"\[cardsite\] created: .+ \({card_id}\)", msg["Subject"])
        assert "created" in msg.get_body(("plain",)).get_content()
        files = attachments(msg)
        assert sorted(files) == sorted(["card.json", f"{card_id}.vcf", "qr.svg", "qr.png", f"{card_id}.ndef"])
        job = json.loads(files["card.json"])
        validator.validate(job)
        url = f"https://cards.example.ch/{card_id}/"
        assert (job["id"], job["event"], job["url"], job["vcf_url"]) == (card_id, "created", url, f"{url}{card_id}.vcf")
        assert files[f"{card_id}.vcf"] == (site / "public" / card_id / f"{card_id}.vcf").read_bytes()
        # The NDEF bytes, decoded by an independent decoder, give back the URL with the NFC marker
        # and fit an NTAG213; the QR code carries the QR marker.
        records = list(ndef.message_decoder(files[f"{card_id}.ndef"]))
        assert [r.iri for r in records] == [f"{url}?n"] == [job["nfc"]["uri"]]
        assert job["qr"]["url"] == f"{url}?q"
        assert bytes.fromhex(job["nfc"]["ndef_hex"]) == files[f"{card_id}.ndef"]
        assert len(files[f"{card_id}.ndef"]) <= NTAG213_NDEF_BYTES
        image = Image.open(io.BytesIO(files["qr.png"]))
        assert image.width >= 600
        assert [r.text for r in zxingcpp.read_barcodes(image)] == [f"{url}?q"]
        svg = files["qr.svg"].decode()
        size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg)[1])
        starts = [(int(x), int(y)) for x, y in re.findall(r"M(\d+) (\d+)", svg)]
        assert min(min(p) for p in starts) >= 4 and max(max(p) for p in starts) <= size - 5  # quiet zone

    jana = json.loads(attachments(jobs["jana-mueller"])["card.json"])
    assert jobs["jana-mueller"]["Subject"] == "[cardsite] created: Jana Müller (jana-mueller)"
    assert jana["fields"]["name"]["full"] == "Dr. Jana Sophie Müller, MSc ETH"
    assert "title" in jana["changed_fields"] and jana["commit"] is None

    # The state is in the bucket; the publish manifest next to it is untouched.
    saved = state(endpoint)
    assert sorted(saved["cards"]) == live_cards(site)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    assert s3.get_object(Bucket=BUCKET, Key="_cardsite/manifest.json")["Body"].read() == b"{}"


def test_owner_notice_is_in_the_cards_language_with_link_and_inline_qr(site: Path, endpoint: str, aws: str) -> None:
    assert notify(endpoint) == 0
    notices = owner_notices(sent(aws))
    jana = notices["jana-mueller"]
    assert jana["To"].addresses[0].addr_spec == "jana.mueller@example.ch"
    assert jana["Subject"] == STRINGS["de"]["subject_created"]
    text = jana.get_body(("plain",)).get_content()
    assert "https://cards.example.ch/jana-mueller/" in text
    html = jana.get_body(("html",))
    cid = re.search(r'src="cid:([^"]+)"', html.get_content())[1]
    images = [p for p in jana.walk() if p.get_content_type() == "image/png"]
    assert [p["Content-ID"] for p in images] == [f"<{cid}>"]
    lukasz = notices["lukasz-wojcik"]
    assert lukasz["Subject"] == STRINGS["en"]["subject_created"]
    # A card without an e-mail address gets no notice.
    assert "max" not in notices


# --------------------------------------------------------------------------- change detection


def test_second_run_and_template_change_send_nothing(site: Path, endpoint: str, aws: str) -> None:
    assert notify(endpoint) == 0
    first = len(sent(aws))
    assert notify(endpoint) == 0
    card = site / "templates" / "card.html"
    card.write_text(card.read_text() + "\n<!-- restyled -->\n")
    rebuild()
    assert notify(endpoint) == 0
    assert len(sent(aws)) == first


def test_changed_removed_and_retired_cards(site: Path, endpoint: str, aws: str, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
    assert notify(endpoint) == 0
    before = len(sent(aws))
    contacts = site / "contacts"
    path = contacts / "lukasz-wojcik.yaml"
    path.write_text(path.read_text().replace("Software Engineer", "Staff Engineer"))
    (contacts / "zoe-leclerc.yaml").unlink()
    max_card = contacts / "max.yaml"
    max_card.write_text(max_card.read_text() + "active: false\n")
    rebuild()
    assert notify(endpoint) == 0

    new = sent(aws)[before:]
    jobs = print_jobs(new)
    assert sorted(jobs) == ["lukasz-wojcik", "max", "zoe-leclerc"]
    lukasz = json.loads(attachments(jobs["lukasz-wojcik"])["card.json"])
    assert (lukasz["event"], lukasz["changed_fields"]) == ("updated", ["title"])
    assert lukasz["commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert jobs["lukasz-wojcik"]["Subject"] == "[cardsite] updated: Łukasz Wójcik (lukasz-wojcik)"
    for card_id in ("zoe-leclerc", "max"):
        msg = jobs[card_id]
        assert msg["X-Cardsite-Event"] == "retired"
        assert list(attachments(msg)) == ["card.json"]
        job = json.loads(attachments(msg)["card.json"])
        assert (job["event"], job["vcf_url"], job["url"]) == ("retired", None, f"https://cards.example.ch/{card_id}/")
        assert "Withdraw" in msg.get_body(("plain",)).get_content()
    assert sorted(owner_notices(new)) == ["lukasz-wojcik"]
    assert state(endpoint)["cards"]["zoe-leclerc"]["event"] == "retired"
    assert notify(endpoint) == 0
    assert len(sent(aws)) == before + len(new)


def job_ids(messages: list[EmailMessage]) -> dict[tuple[str, str], str]:
    """Return {(card id, kind): X-Cardsite-Job-Id}, checking that a print job's card.json says the same."""
    ids = {}
    for msg in messages:
        ids[(msg["X-Cardsite-Card-Id"], msg["X-Cardsite-Kind"])] = msg["X-Cardsite-Job-Id"]
        if msg["X-Cardsite-Kind"] == "print-job":
            assert json.loads(attachments(msg)["card.json"])["job_id"] == msg["X-Cardsite-Job-Id"]
    return ids


def test_every_job_has_a_stable_id_that_a_repeat_keeps(site: Path, endpoint: str, aws: str) -> None:
    def eml(folder: str) -> list[EmailMessage]:
        return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in (site / folder).iterdir()]

    assert notify(endpoint, "--dry-run", "one") == 0
    assert notify(endpoint, "--dry-run", "two") == 0
    first = job_ids(eml("one"))
    assert first == job_ids(eml("two")), "the same announcement, made again, has the same id"
    for (card_id, _), job_id in first.items():
        assert re.fullmatch(rf"{card_id}\.[0-9a-f]{{24}}", job_id)
        assert first[(card_id, "print-job")] == job_id, "an owner notice carries its print job's id"
    assert notify(endpoint) == 0
    assert job_ids(sent(aws)) == first, "the commit and the time are not part of it"
    assert state(endpoint)["cards"]["lukasz-wojcik"]["job_id"] == first[("lukasz-wojcik", "print-job")]

    path = site / "contacts" / "lukasz-wojcik.yaml"
    original = path.read_text()
    seen = [first[("lukasz-wojcik", "print-job")]]
    for text in (original.replace("Software Engineer", "Staff Engineer"), original):  # and back again
        path.write_text(text)
        rebuild()
        before = len(sent(aws))
        assert notify(endpoint) == 0
        seen.append(job_ids(sent(aws)[before:])[("lukasz-wojcik", "print-job")])
    assert len(set(seen)) == 3, "a card back at an earlier state is a new job"


# --------------------------------------------------------------------------- sending


def test_a_throttled_send_is_retried_and_not_lost(site: Path, endpoint: str, aws: str, faults: Faults) -> None:
    faults.throttle = 1
    assert notify(endpoint) == 0
    messages = sent(aws)
    assert len(faults.send_times) == len(messages) + 1
    assert sorted(print_jobs(messages)) == live_cards(site)


def test_throttling_past_botocore_default_attempts_is_retried(site, endpoint, aws, faults) -> None:
    faults.throttle = 4  # botocore's standard mode gives up after 3 attempts (2 retries) unless told otherwise
    assert notify(endpoint) == 0
    assert sorted(print_jobs(sent(aws))) == live_cards(site)


def test_a_throttled_message_is_tried_only_as_often_as_the_client_retries(site, endpoint, faults) -> None:
    # Before, SesOutbox looped six times around botocore's three tries: 18 requests for one message.
    faults.throttle = 100
    client = cardsite_aws.make_client("sesv2", endpoint, max_attempts=1)  # one retry
    box = outbox_module.SesOutbox(client, rate=50.0)
    sender = Address(addr_spec=SENDER)
    with pytest.raises(outbox_module.SendError, match=r"SendEmail on identity cards@example\.ch failed: TooMany"):
        box.send("jana-mueller.print", b"Subject: x\r\n\r\nx\r\n", sender, [Address(addr_spec=INBOX)], {})
    assert len(faults.send_times) == 2
    assert outbox_module.ses_client(None, endpoint).meta.config.retries == {
        "mode": "standard",
        "total_max_attempts": outbox_module.SEND_RETRIES + 1,
    }


def test_sends_are_paced_to_the_account_rate(site: Path, endpoint: str, faults: Faults) -> None:
    faults.rate = 8.0
    assert notify(endpoint) == 0
    gaps = [b - a for a, b in zip(faults.send_times, faults.send_times[1:], strict=False)]
    assert len(gaps) >= 3 and min(gaps) >= 1 / 8.0 - 0.01


def test_a_failed_message_is_reported_and_sent_next_run(site, endpoint, aws, faults, capsys) -> None:
    faults.reject = {("jana-mueller", "print-job"), ("lukasz-wojcik", "owner-notice")}
    assert notify(endpoint) == 1
    assert "jana-mueller.print" in capsys.readouterr().err
    first = sent(aws)
    assert sorted(print_jobs(first)) == [c for c in live_cards(site) if c != "jana-mueller"]
    assert "jana-mueller" not in owner_notices(first)  # no notice before the print shop knows
    saved = state(endpoint)["cards"]
    assert "jana-mueller" not in saved
    assert saved["lukasz-wojcik"]["owner"] is None

    faults.reject = set()
    assert notify(endpoint) == 0
    second = sent(aws)[len(first) :]
    assert sorted((m["X-Cardsite-Card-Id"], m["X-Cardsite-Kind"]) for m in second) == [
        ("jana-mueller", "owner-notice"),
        ("jana-mueller", "print-job"),
        ("lukasz-wojcik", "owner-notice"),
    ]
    assert notify(endpoint) == 0
    assert len(sent(aws)) == len(first) + len(second)


# --------------------------------------------------------------------------- header injection


def announce_eve(site: Path, endpoint: str, given: str) -> None:
    """Add a card eve (given name `given`, family name Doe, eve@example.ch), build and notify."""
    path = site / "contacts" / "eve.yaml"
    path.write_text(
        json.dumps({"name": {"given": given, "family": "Doe"}, "emails": [{"value": "eve@example.ch"}]}),
        encoding="utf-8",
    )
    rebuild()
    assert notify(endpoint) == 0


@pytest.mark.parametrize(
    "given",
    [
        "=?utf-8?q?Eve=0D=0ABcc:_evil@attacker.example?=",
        # U+2028 and NEL in a name are refused by `check` now (tests/test_hostile_input.py).
        'Eve" <evil@attacker.example>, "x',
    ],
)
def test_names_cannot_add_headers_or_recipients(site, endpoint, aws, given: str) -> None:
    announce_eve(site, endpoint, given)
    data = json.load(urllib.request.urlopen(f"{aws}/moto-api/data.json"))["ses"]["RawMessage"]
    recipients = {addr for m in data for _, addr in email.utils.getaddresses(m["destinations"])}
    assert "eve@example.ch" in recipients
    assert not any("attacker" in addr for addr in recipients)
    for msg in (print_jobs(sent(aws))["eve"], owner_notices(sent(aws))["eve"]):
        assert "Bcc" not in msg and "Cc" not in msg
        assert len(msg["To"].addresses) == 1
        assert len(msg.get_all("Subject")) == 1
    subject = print_jobs(sent(aws))["eve"]["Subject"]
    assert subject.startswith("[cardsite] created: ") and subject.endswith(" Doe (eve)")


@pytest.mark.parametrize(
    "given",
    [
        # Python 3.11 drops the quotes when folding (gh-80222): read as a group holding another address.
        "Verylongname Withcolon: Head of Platform Engineering, Zurich and Geneva Offices",
        'Eve "the boss": Head of Sales, Zurich, Geneva and Lausanne, Western Switzerland',
        "Dr. Jana Sophie Müller-Example: Head of Platform Engineering, Zürich",
    ],
)
def test_a_long_name_with_colon_and_comma_keeps_one_recipient(site, endpoint, aws, given: str) -> None:
    announce_eve(site, endpoint, given)
    notice = owner_notices(sent(aws))["eve"]
    to = notice["To"]
    assert [(g.display_name, len(g.addresses)) for g in to.groups] == [(None, 1)], str(to)
    assert " ".join(to.addresses[0].display_name.split()) == f"{given} Doe"
    assert to.addresses[0].addr_spec == "eve@example.ch"
    # The standard library's own reader agrees: one address, no group.
    assert email.utils.getaddresses([notice.get("To")])[0][1] == "eve@example.ch"


def test_a_fold_that_changes_an_address_is_refused() -> None:
    from email.headerregistry import Address

    msg = EmailMessage(policy=policy.SMTP)
    name = "Verylongname Withcolon: Head of Platform Engineering, Zurich Office and more"
    msg["To"] = Address(display_name=name, addr_spec="eve@example.ch")
    msg.set_content("x")
    with pytest.raises(UnsafeHeader, match="addresses changed"):
        to_bytes(msg, policy.SMTP)  # the standard library's fold (CPython gh-80222)
    parsed = email.message_from_bytes(to_bytes(msg), policy=policy.default)
    assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [(name, "eve@example.ch")]


def test_many_named_recipients_fold_into_short_lines_and_read_back_the_same() -> None:
    from email.headerregistry import Address

    from cardsite.notify.printjob import MAIL_POLICY

    names = ["Druckerei Muster AG", "Print: Zürich, Geneva", 'The "night" shift', "", "Ünïcödé Ñame " * 6]
    to = [Address(display_name=names[i % len(names)], addr_spec=f"print{i}@druckerei.example.ch") for i in range(50)]
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["To"] = to
    msg.set_content("x")
    data = to_bytes(msg)
    head = data.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert max(len(line) for line in head) <= 78
    parsed = email.message_from_bytes(data, policy=policy.default)["To"]
    assert [a.addr_spec for a in parsed.addresses] == [a.addr_spec for a in to]
    assert [" ".join(a.display_name.split()) for a in parsed.addresses] == [
        " ".join(a.display_name.split()) for a in to
    ]


def test_a_header_that_would_split_is_refused() -> None:
    msg = EmailMessage()
    msg["Subject"] = "=?utf-8?q?Eve=0D=0ABcc:_evil@attacker.example?="
    msg.set_content("x")
    with pytest.raises(UnsafeHeader):
        to_bytes(msg)


# --------------------------------------------------------------------------- defaults and errors


def test_dry_run_writes_eml_files_and_sends_nothing(site: Path, endpoint: str, aws: str) -> None:
    assert notify(endpoint, "--dry-run", "outbox") == 0
    files = sorted(p.name for p in (site / "outbox").iterdir())
    assert f"{live_cards(site)[0]}.print.eml" in files
    msg = email.message_from_bytes((site / "outbox" / "jana-mueller.print.eml").read_bytes(), policy=policy.default)
    assert msg["Subject"] == "[cardsite] created: Jana Müller (jana-mueller)"
    assert sent(aws) == []
    s3 = boto3.client("s3", endpoint_url=endpoint)
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_without_mail_settings_messages_go_to_a_folder(project: Path, monkeypatch) -> None:
    for name in ("CARDSITE_MAIL_FROM", "CARDSITE_PRINT_INBOX", "CARDSITE_BUCKET", "GITHUB_SHA"):
        monkeypatch.delenv(name, raising=False)
    rebuild()
    assert main(["notify", "-q", "--state", "state.json"]) == 0
    assert (project / "mail-outbox" / "jana-mueller.print.eml").is_file()
    assert not (project / "state.json").exists()  # nothing was sent, so nothing is remembered


def test_local_state_file(site: Path, endpoint: str, aws: str) -> None:
    assert main(["notify", "-q", "--state", "state.json", "--endpoint-url", endpoint]) == 0
    first = len(sent(aws))
    assert first > 0 and json.loads((site / "state.json").read_text())["version"] == 1
    assert main(["notify", "-q", "--state", "state.json", "--endpoint-url", endpoint]) == 0
    assert len(sent(aws)) == first


def test_user_errors_are_clean_messages(site: Path, endpoint: str, monkeypatch, capsys) -> None:
    monkeypatch.delenv("CARDSITE_PRINT_INBOX")
    assert notify(endpoint) == 1
    assert "set print_inbox" in capsys.readouterr().err
    monkeypatch.setenv("CARDSITE_PRINT_INBOX", "not an address")
    assert notify(endpoint) == 1
    assert "not an e-mail address" in capsys.readouterr().err
    monkeypatch.setenv("CARDSITE_PRINT_INBOX", INBOX)
    assert main(["notify", "-q", "--endpoint-url", endpoint]) == 1
    assert "--bucket" in capsys.readouterr().err
    assert notify(endpoint, "--out", "elsewhere") == 1
    assert "build" in capsys.readouterr().err
    boto3.client("s3", endpoint_url=endpoint).put_object(Bucket=BUCKET, Key="_cardsite/notify-state.json", Body=b"{")
    assert notify(endpoint) == 1
    assert "not a cardsite notify state" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"{", "not JSON"),
        (b"\xc3\x28 garbage", "not UTF-8 text"),
        (b'[{"version": 1, "cards": {}}]', "the top level: [{'version': 1, 'cards': {}}] is not of type 'object'"),
        (b'{"version": 1, "cards": []}', "cards: [] is not of type 'object'"),
        (b'{"version": 1, "cards": {"max": "created"}}', "cards → max: 'created' is not of type 'object'"),
        (b'{"version": 1, "cards": {"max": {"fields": "x"}}}', "cards → max → fields: 'x' is not of type 'object'"),
        (b'{"version": 1, "cards": {"max": {"event": "sent"}}}', "cards → max → event: 'sent' is not one of"),
        (b'{"version": 1, "cards": {"max": {"url": 7}}}', "cards → max → url: 7 is not of type 'string'"),
        (b'{"cards": {}}', "the top level: 'version' is a required property"),
    ],
)
def test_a_corrupt_state_file_is_a_clean_error_and_sends_nothing(site, endpoint, aws, capsys, content, what) -> None:
    (site / "state.json").write_bytes(content)
    assert main(["notify", "-q", "--state", "state.json", "--endpoint-url", endpoint]) == 1
    err = capsys.readouterr().err
    assert f"state.json is not a cardsite notify state file: {what}" in err
    assert "Nothing was sent" in err and "To recover" in err and "delete the file" in err
    assert "Traceback" not in err
    assert sent(aws) == []
    assert (site / "state.json").read_bytes() == content, "the file is left as it was, for a look"


def test_a_corrupt_state_in_the_bucket_says_how_to_get_the_last_good_copy(site, endpoint, aws, capsys) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.put_object(Bucket=BUCKET, Key="_cardsite/notify-state.json", Body=b'{"version": 1, "cards": {"max": 1}}')
    assert notify(endpoint) == 1
    err = capsys.readouterr().err
    assert f"s3://{BUCKET}/_cardsite/notify-state.json is not a cardsite notify state file: cards → max" in err
    assert f"aws s3api list-object-versions --bucket {BUCKET} --prefix _cardsite/notify-state.json" in err
    assert sent(aws) == [] and "Traceback" not in err


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("https://cards.example.ch/jana/", 0x04),
        ("http://cards.example.ch/jana/", 0x03),
        ("https://www.example.ch/jana/", 0x02),
        ("http://www.example.ch/jana/", 0x01),
        ("https://c.example/" + "a" * 40 + "/" + "b" * 70, 0x04),
    ],
)
def test_ndef_uri_record_uses_the_prefix_code(uri: str, code: int) -> None:
    import ndef

    data = ndef_uri_message(uri)
    assert data[4] == code
    assert [r.iri for r in ndef.message_decoder(data)] == [uri]
    assert len(data) <= NTAG213_NDEF_BYTES


def test_every_language_block_has_every_string() -> None:
    from cardsite.cards.validate import validator

    languages = set(validator("contact").schema["$defs"]["lang"]["enum"])
    assert languages <= set(STRINGS), languages - set(STRINGS)
    for lang, words in STRINGS.items():
        assert set(words) == set(STRINGS["en"]), lang


def test_the_documented_reader_reads_a_print_job(project: Path, monkeypatch) -> None:
    import subprocess
    import sys

    for name in ("CARDSITE_MAIL_FROM", "CARDSITE_PRINT_INBOX", "CARDSITE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    rebuild()
    assert main(["notify", "-q", "--dry-run", "out"]) == 0
    doc = (Path(__file__).resolve().parent.parent / "docs" / "print-job.md").read_text()
    code = re.search(r"### Reading a print job.*?```python\n(.*?)```", doc, re.S)[1]
    (project / "read_job.py").write_text(code)
    done = subprocess.run(
        [sys.executable, "read_job.py", "out/jana-mueller.print.eml"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("created jana-mueller: reprint url, name")
    ndef_bytes = (project / "jana-mueller.ndef").read_bytes()
    assert ndef_bytes == ndef_uri_message("https://cards.example.ch/jana-mueller/?n")


def test_state_written_meanwhile_by_another_run_is_merged(aws: str) -> None:
    from cardsite.notify.ledger import S3State, dump_state

    s3 = boto3.client("s3", endpoint_url=aws)
    s3.create_bucket(Bucket=BUCKET)
    store = S3State(s3, BUCKET, "_cardsite/notify-state.json")
    ours = store.load()
    ours["cards"]["a"] = {"event": "created"}
    other = {"version": 1, "cards": {"b": {"event": "created"}}}
    s3.put_object(Bucket=BUCKET, Key="_cardsite/notify-state.json", Body=dump_state(other))
    merged = store.save(ours, {"a"})
    assert sorted(merged["cards"]) == ["a", "b"]
    assert sorted(S3State(s3, BUCKET, "_cardsite/notify-state.json").load()["cards"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("prefix", "why"),
    [("site/../other", "must be plain folder names"), ("_cardsite/x", "reserved for cardsite's own objects")],
)
def test_notify_refuses_the_prefixes_publish_refuses(site, endpoint, aws, capsys, prefix: str, why: str) -> None:
    # One rule for both commands: the ledger must sit under exactly the prefix publish writes to.
    assert notify(endpoint, "--prefix", prefix) == 1
    err = capsys.readouterr().err
    assert why in err and "Traceback" not in err
    assert sent(aws) == []
