"""Owner notices go only to the company's own domains: `check` refuses a card aimed elsewhere, and so
does `notify`, which sends such a card's owner nothing even when the card got past a check."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from cardsite.cards.settings import load_settings
from cardsite.cli import main
from cardsite.notify.announce import MailSettings, announce, built_site, load_cards, make_job, plan
from cardsite.notify.ledger import empty_state
from cardsite.notify.outbox import FolderOutbox


def card(project: Path, address: str, extra: str = "") -> Path:
    path = project / "contacts" / "eve.yaml"
    path.write_text(f"name:\n  given: Eve\n  family: Doe\nemails:\n  - value: {address}\n{extra}", "utf-8")
    return path


def check(capsys) -> tuple[int, str]:
    code = main(["check"])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(
    "address",
    ["eve@attacker.example", "eve@evilexample.ch", "eve@example.ch.attacker.example", "eve@example.com"],
)
def test_check_refuses_an_owner_address_outside_the_company(project: Path, capsys, address: str) -> None:
    card(project, address)
    code, out = check(capsys)
    assert code == 1
    assert "contacts/eve.yaml:5: emails[0]: owner notices go only to the company's domains (example.ch;" in out
    assert f"not to '{address}'" in out and "notify_owner: false" in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("address", "extra"),
    [
        ("eve@example.ch", ""),
        ("eve@zh.example.ch", ""),  # a subdomain of the company's
        ("eve@EXAMPLE.CH", ""),
        ("eve@attacker.example", "notify_owner: false\n"),
        ("eve@attacker.example", "active: false\n"),  # a retired card gets no notice
        ("eve@example.ch", "  - value: eve@home.example\n    type: home\n"),  # only the first one is the owner's
    ],
)
def test_company_addresses_and_cards_without_notices_pass(project: Path, capsys, address: str, extra: str) -> None:
    card(project, address, extra)
    code, out = check(capsys)
    assert code == 0, out


def test_owner_domains_in_site_yaml_replace_the_company_default(project: Path, capsys) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + "notify:\n  owner_domains: [partner.example]\n", "utf-8")
    card(project, "eve@partner.example")
    code, out = check(capsys)
    assert code == 1
    assert "eve.yaml" not in out, "the listed domain is allowed"
    assert "emails[0]: owner notices go only to the company's domains (partner.example;" in out
    assert "not to 'jana.mueller@example.ch'" in out, "the default no longer applies"
    site.write_text(site.read_text("utf-8").replace("[partner.example]", "[Partner.example]"), "utf-8")
    code, out = check(capsys)
    assert code == 1 and "site.yaml" in out and "owner_domains[0]" in out


def test_notify_refuses_and_sends_nothing(project: Path, capsys, monkeypatch) -> None:
    for name in ("CARDSITE_MAIL_FROM", "CARDSITE_PRINT_INBOX", "CARDSITE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["build", "-q"]) == 0
    card(project, "eve@attacker.example")
    assert main(["notify", "-q", "--dry-run", "out"]) == 1
    out = capsys.readouterr().err
    assert "contacts/eve.yaml:5: emails[0]: owner notices go only to the company's domains" in out
    assert not (project / "out").exists()


def test_notify_itself_sends_no_owner_notice_outside_the_domains(project: Path, monkeypatch) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + "notify:\n  owner_domains: [example.ch, attacker.example]\n", "utf-8")
    card(project, "eve@attacker.example")
    assert main(["build", "-q"]) == 0
    site, cards = load_cards(project / "public")  # the build let the card past the check
    built = built_site(project / "public", site, cards, load_settings(project / "contacts"))
    changes = [c for c in plan(cards, built.vcards, {}) if c.card_id in ("eve", "jana-mueller")]
    mail = MailSettings(sender=None, print_inbox=(), owner_domains=("example.ch",))
    make = lambda change: make_job(change, built=built, commit=None)  # noqa: E731
    report = announce(changes, make, mail, FolderOutbox(project / "out"), empty_state(), None)
    assert sorted(p.name for p in (project / "out").iterdir()) == [
        "eve.print.eml",
        "jana-mueller.owner.eml",
        "jana-mueller.print.eml",
    ]
    assert len(report.failed) == 1
    assert report.failed[0].startswith("eve.owner: owner notices go only to the company's domains (example.ch;")
    assert "not to 'eve@attacker.example'" in report.failed[0]
    notice = email.message_from_bytes((project / "out/jana-mueller.owner.eml").read_bytes(), policy=policy.default)
    assert notice["To"].addresses[0].addr_spec == "jana.mueller@example.ch"
