"""build.py sync --source scim against a real SCIM 2.0 server (scim2-server from PyPI) on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cardsite.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent / "sync"))
from scimserver import TOKEN, ScimServer

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def user(login: str, given: str, family: str, **extra: object) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": login,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": f"{login}@example.ch", "type": "work", "primary": True}],
        "active": True,
        **extra,
    }


PEOPLE = [
    user("eva.keller", "Eva", "Keller", title="Controller", **{ENTERPRISE: {"department": "Finance"}}),
    user("tom.berger", "Tom", "Berger", phoneNumbers=[{"value": "+41 44 668 18 60", "type": "work"}]),
    user("ana.silva", "Ana", "Silva", preferredLanguage="fr-CH"),
    user("li.wei", "Li", "Wei", phoneNumbers=[{"value": "+41 79 555 12 34", "type": "mobile"}]),
    user("old.timer", "Old", "Timer", active=False),
]


@pytest.fixture
def scim(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ScimServer, object, list[str]]]:
    server = ScimServer()
    server.start()
    client = server.client()
    ids = [server.add(client, **p) for p in PEOPLE]
    monkeypatch.setenv("CARDSITE_SYNC_PASSWORD", TOKEN)
    yield server, client, ids
    server.stop()


def card(project: Path, card_id: str) -> dict:
    return yaml.safe_load((project / "contacts" / f"{card_id}.yaml").read_text("utf-8"))


def use_scim(project: Path, url: str, page_size: int = 2, extra: str = "") -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + f"sync:\n  source: scim\n  url: {url}\n  page_size: {page_size}\n{extra}")


def test_a_sync_pages_through_the_users(project: Path, scim: tuple) -> None:
    server, _, ids = scim
    use_scim(project, server.url, page_size=2)
    assert main(["sync"]) == 0
    assert card(project, "eva-keller") | {"sync_id": ids[0]} == card(project, "eva-keller")
    assert card(project, "eva-keller")["department"] == "Finance"
    assert card(project, "ana-silva")["lang"] == "fr"
    assert card(project, "li-wei")["phones"] == [{"value": "+41 79 555 12 34", "type": "cell"}]
    assert not (project / "contacts" / "old-timer.yaml").exists()  # disabled before it ever had a card
    assert main(["check"]) == 0


def test_a_deactivated_user_is_retired_and_a_new_title_updated(project: Path, scim: tuple) -> None:
    server, client, ids = scim
    use_scim(project, server.url)
    assert main(["sync"]) == 0
    server.replace(client, ids[1], **{**PEOPLE[1], "active": False})
    server.replace(client, ids[0], **{**PEOPLE[0], "title": "Head of Controlling"})
    assert main(["sync", "--summary", "summary.md"]) == 0
    assert card(project, "tom-berger")["active"] is False
    assert card(project, "eva-keller")["title"] == "Head of Controlling"
    summary = (project / "summary.md").read_text("utf-8")
    assert "- `eva-keller`: title" in summary and "### Retired (active: false)\n\n- `tom-berger`" in summary


def test_a_filter_selects_the_users(project: Path, scim: tuple) -> None:
    server, _, _ = scim
    use_scim(project, server.url)
    assert main(["sync", "--filter", 'userName sw "eva"']) == 0
    made = {p.stem for p in (project / "contacts").glob("*.yaml")}
    assert "eva-keller" in made and "tom-berger" not in made


def test_a_bad_token_or_filter_is_a_clean_error(
    project: Path, scim: tuple, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    server, _, _ = scim
    use_scim(project, server.url)
    files = sorted(p.read_bytes() for p in (project / "contacts").glob("*.yaml"))
    monkeypatch.setenv("CARDSITE_SYNC_PASSWORD", "wrong-token")
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert "refused the token" in err and "Traceback" not in err
    monkeypatch.setenv("CARDSITE_SYNC_PASSWORD", TOKEN)
    assert main(["sync", "--filter", "userName eq"]) == 1
    err = capsys.readouterr().err
    assert "filter" in err and "Traceback" not in err
    assert sorted(p.read_bytes() for p in (project / "contacts").glob("*.yaml")) == files
