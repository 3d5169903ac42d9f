"""build.py sync from Google Workspace (Admin SDK Directory API, users.list).

No local server exists, so these tests replay responses recorded in the format Google documents
(admin#directory#users) through googleapiclient's own HttpMockSequence: two pages joined by
nextPageToken, a suspended user, a refused service account and a refused query. They are
recordings, not a live tenant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from googleapiclient.http import HttpMockSequence

from cardsite.cli import main
from cardsite.sync.sources import google


def user(uid: str, given: str, family: str, mail: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "admin#directory#user",
        "id": uid,
        "etag": '"abc"',
        "primaryEmail": mail,
        "name": {"givenName": given, "familyName": family, "fullName": f"{given} {family}"},
        "isAdmin": False,
        "suspended": False,
        "archived": False,
        "emails": [{"address": mail, "primary": True}],
        "customerId": "C03az79cb",
        "orgUnitPath": "/",
        **extra,
    }


LIZ = user(
    "101202303404505606707",
    "Liz",
    "Smith",
    "liz@example.ch",
    organizations=[{"title": "Head of Sales", "department": "Sales", "primary": True, "customType": ""}],
    phones=[{"value": "+41 44 668 18 80", "type": "work"}, {"value": "+41 79 555 12 80", "type": "mobile"}],
)
RAJ = user("108802303404505606799", "Raj", "Patel", "raj@example.ch")
MIA = user("103302303404505606733", "Mia", "Rossi", "mia@example.ch", suspended=True)


def page(users: list[dict[str, Any]], token: str | None = None) -> str:
    body: dict[str, Any] = {"kind": "admin#directory#users", "etag": '"p"', "users": users}
    if token:
        body["nextPageToken"] = token
    return json.dumps(body)


class Recorded(HttpMockSequence):
    """HttpMockSequence that also keeps the URIs asked for."""

    def __init__(self, responses: list[tuple[dict[str, str], str]]):
        super().__init__(responses)
        self.uris: list[str] = []

    def request(self, uri: str, *args: Any, **kwargs: Any) -> Any:
        self.uris.append(uri)
        return super().request(uri, *args, **kwargs)


@pytest.fixture
def workspace(project: Path) -> Path:
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + "sync:\n  source: google\n  page_size: 2\n", "utf-8")
    return project


def card(project: Path, card_id: str) -> dict:
    return yaml.safe_load((project / "contacts" / f"{card_id}.yaml").read_text("utf-8"))


def test_users_are_read_page_by_page_and_a_suspended_one_retired(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = Recorded([({"status": "200"}, page([LIZ, RAJ], "NEXT-PAGE-1")), ({"status": "200"}, page([MIA]))])
    monkeypatch.setattr(google, "HTTP", http)
    assert main(["sync"]) == 0
    assert "pageToken=NEXT-PAGE-1" in http.uris[1] and "maxResults=2" in http.uris[0]
    liz = card(workspace, "liz")
    assert (liz["title"], liz["department"]) == ("Head of Sales", "Sales")
    assert liz["phones"] == [{"value": "+41 44 668 18 80"}, {"value": "+41 79 555 12 80", "type": "cell"}]
    assert not (workspace / "contacts" / "mia.yaml").exists()  # suspended before she had a card
    # Raj is suspended the next day.
    raj = {**RAJ, "suspended": True}
    monkeypatch.setattr(google, "HTTP", Recorded([({"status": "200"}, page([LIZ, raj, MIA]))]))
    assert main(["sync"]) == 0
    assert card(workspace, "raj")["active"] is False
    assert main(["check"]) == 0


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("403", "Not Authorized to access this resource/api", "Google refused the service account (403"),
        ("400", "Invalid Input: query", "Google refused the query"),
    ],
)
def test_a_refused_request_is_a_clean_error(
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    status: str,
    message: str,
    expected: str,
) -> None:
    error = json.dumps({"error": {"code": int(status), "message": message, "errors": [{"message": message}]}})
    monkeypatch.setattr(google, "HTTP", Recorded([({"status": status}, error)]))
    files = sorted(p.read_bytes() for p in (workspace / "contacts").glob("*.yaml"))
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert expected in err and message in err and "Traceback" not in err
    assert sorted(p.read_bytes() for p in (workspace / "contacts").glob("*.yaml")) == files


def test_without_a_key_the_source_says_what_it_needs(workspace: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["sync"]) == 1
    assert "needs the service account's JSON key" in capsys.readouterr().err
