"""build.py sync --source ldap against a real OpenLDAP server (Debian's slapd) on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import skip_or_fail

from cardsite.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent / "sync"))
import slapd as ldap_server

PEOPLE = [
    ldap_server.person_ldif("jana", "Jana", "Müller", mail="jana.mueller@example.ch", title="Head of Platform"),
    ldap_server.person_ldif("eva", "Eva", "Keller", mail="eva.keller@example.ch", title="Controller"),
    ldap_server.person_ldif("tom", "Tom", "Berger", mail="tom.berger@example.ch", telephoneNumber="+41 44 668 18 60"),
    ldap_server.person_ldif("ana", "Ana", "Silva", mail="ana.silva@example.ch", departmentNumber="Sales"),
    ldap_server.person_ldif("li", "Li", "Wei", mail="li.wei@example.ch", mobile="+41 79 555 12 34"),
]


@pytest.fixture
def slapd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ldap_server.Slapd]:
    if not ldap_server.available():
        skip_or_fail("slapd is not installed (apt-get install slapd ldap-utils)")
    server = ldap_server.Slapd(tmp_path / "slapd")
    server.start(PEOPLE)
    monkeypatch.setenv("CARDSITE_SYNC_PASSWORD", ldap_server.READER_PASSWORD)
    yield server
    server.stop()


def sync(server: ldap_server.Slapd, *extra: str) -> int:
    args = ["sync", "--source", "ldap", "--url", server.url, "--base-dn", ldap_server.PEOPLE]
    return main([*args, "--bind-dn", ldap_server.READER, *extra])


def card(project: Path, card_id: str) -> dict:
    return yaml.safe_load((project / "contacts" / f"{card_id}.yaml").read_text("utf-8"))


def test_a_paged_search_reads_past_the_size_limit(project: Path, slapd: ldap_server.Slapd) -> None:
    import ldap3

    # The server gives the reader 3 entries without paging; the sync asks 2 a page and gets all 5.
    conn = ldap3.Connection(slapd.url, ldap_server.READER, ldap_server.READER_PASSWORD, auto_bind=True)
    conn.search(ldap_server.PEOPLE, "(objectClass=inetOrgPerson)", attributes=["uid"])
    assert len(conn.entries) == ldap_server.SIZE_LIMIT and conn.result["description"] == "sizeLimitExceeded"
    conn.unbind()
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + "sync:\n  page_size: 50\n", "utf-8")
    from cardsite.sync.records import SourceConfig
    from cardsite.sync.sources import ldap

    config = SourceConfig("ldap", slapd.url, ldap_server.PEOPLE, ldap_server.READER, "", ldap_server.READER_PASSWORD)
    config.page_size = 2
    assert len(ldap.read(config, project).records) == 5
    assert sync(slapd) == 0
    made = {p.stem for p in (project / "contacts").glob("*.yaml")}
    assert {"eva-keller", "tom-berger", "ana-silva", "li-wei"} <= made
    assert card(project, "ana-silva")["department"] == "Sales"
    assert card(project, "li-wei")["phones"] == [{"value": "+41 79 555 12 34", "type": "cell"}]
    assert card(project, "jana-mueller")["sync_id"]  # adopted by e-mail, keyed by entryUUID from now on
    assert main(["check"]) == 0


def test_a_changed_title_is_updated_with_the_cards_comments_kept(project: Path, slapd: ldap_server.Slapd) -> None:
    assert sync(slapd) == 0
    before = (project / "contacts" / "jana-mueller.yaml").read_text("utf-8")
    slapd.modify(f"uid=jana,{ldap_server.PEOPLE}", title=["Chief Technology Officer"])
    assert sync(slapd) == 0
    after = (project / "contacts" / "jana-mueller.yaml").read_text("utf-8")
    assert before.replace("title: Head of Platform\n", "title: Chief Technology Officer\n") == after
    assert [line for line in before.splitlines() if "#" in line] == [line for line in after.splitlines() if "#" in line]


def test_a_disabled_account_is_retired_and_a_rename_keeps_the_id(project: Path, slapd: ldap_server.Slapd) -> None:
    assert sync(slapd) == 0
    # A ppolicy lock disables Eva; Tom's mail and surname change (entryUUID stays).
    slapd.modify(f"uid=eva,{ldap_server.PEOPLE}", pwdAccountLockedTime=["000001010000Z"])
    slapd.modify(f"uid=tom,{ldap_server.PEOPLE}", mail=["tom.frei@example.ch"], sn=["Frei"])
    assert sync(slapd) == 0
    assert card(project, "eva-keller")["active"] is False
    tom = card(project, "tom-berger")
    assert tom["name"]["family"] == "Frei" and tom["emails"] == [{"value": "tom.frei@example.ch"}]
    assert main(["check"]) == 0


def test_bad_credentials_and_a_bad_filter_are_clean_errors(
    project: Path, slapd: ldap_server.Slapd, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    files = sorted(p.read_bytes() for p in (project / "contacts").glob("*.yaml"))
    monkeypatch.setenv("CARDSITE_SYNC_PASSWORD", "wrong")
    assert sync(slapd) == 1
    assert "refused the bind as cn=cards-reader" in capsys.readouterr().err
    monkeypatch.setenv("CARDSITE_SYNC_PASSWORD", ldap_server.READER_PASSWORD)
    assert sync(slapd, "--filter", "(objectClass=inetOrgPerson") == 1
    assert "the LDAP filter '(objectClass=inetOrgPerson' is not valid" in capsys.readouterr().err
    args = ["sync", "--source", "ldap", "--url", slapd.url, "--base-dn", "ou=nobody,dc=example,dc=ch"]
    assert main([*args, "--bind-dn", ldap_server.READER]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert sorted(p.read_bytes() for p in (project / "contacts").glob("*.yaml")) == files
