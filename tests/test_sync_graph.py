"""build.py sync from Microsoft Entra ID (Microsoft Graph users/delta).

There is no local Graph server, so these tests replay responses recorded in the format Microsoft
documents (docs: "user: delta", "Get access on behalf of a user... client credentials") through an
httpx.MockTransport: the token endpoint, paging with @odata.nextLink, the @odata.deltaLink that the
next run starts from, an updated user listing only its changed property, a disabled account and a
deleted user (@removed). They are recordings, not a live tenant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from cardsite.cli import main
from cardsite.sync.sources import graph

TENANT, CLIENT, SECRET = "contoso.onmicrosoft.com", "6731de76-14a6-49ae-97bc-6eba6914391e", "client-secret"
NEXT = "https://graph.microsoft.com/v1.0/users/delta?$skiptoken=pqwSUjGYvb3jQpbwVAwEL7yuI3dU1LecfkkfLPtnIjsXoYQp"
DELTA1 = "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=oEcOySpF_hWYmTIUZBOIfPzcwisr_rPe8o9M54L45qE"
DELTA2 = "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=mS5DuRZGjVL-abreviated-2"
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#users(displayName,givenName,surname,mail,jobTitle)"

ADELE = {
    "businessPhones": ["+41 44 668 18 70"],
    "displayName": "Adele Vance",
    "givenName": "Adele",
    "jobTitle": "Retail Manager",
    "mail": "AdeleV@example.ch",
    "mobilePhone": None,
    "preferredLanguage": "en-US",
    "surname": "Vance",
    "department": "Retail",
    "accountEnabled": True,
    "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
}
ALEX = {
    "businessPhones": [],
    "displayName": "Alex Wilber",
    "givenName": "Alex",
    "jobTitle": "Marketing Assistant",
    "mail": "AlexW@example.ch",
    "mobilePhone": "+41 79 555 12 70",
    "preferredLanguage": "de-CH",
    "surname": "Wilber",
    "accountEnabled": True,
    "id": "5bde3e51-d13b-4db1-9948-fe4b109d11a7",
}
DIEGO = {
    "businessPhones": ["+41 44 668 18 71"],
    "displayName": "Diego Siciliani",
    "givenName": "Diego",
    "jobTitle": "HR Manager",
    "mail": "DiegoS@example.ch",
    "surname": "Siciliani",
    "accountEnabled": True,
    "id": "4782e723-f4f4-4af3-a76e-25e3bab0d896",
}
FIRST = [
    {"@odata.context": CONTEXT, "@odata.nextLink": NEXT, "value": [ADELE, ALEX]},
    {"@odata.context": CONTEXT, "@odata.deltaLink": DELTA1, "value": [DIEGO]},
]
#: The next day: Adele's title changed (only that property is listed), Alex was disabled, Diego deleted.
CHANGES = [
    {
        "@odata.context": CONTEXT,
        "@odata.deltaLink": DELTA2,
        "value": [
            {"jobTitle": "Head of Retail", "id": ADELE["id"]},
            {"accountEnabled": False, "id": ALEX["id"]},
            {"id": DIEGO["id"], "@removed": {"reason": "deleted"}},
        ],
    }
]


def tenant(pages: dict[str, dict], seen: list[str], secret: str = SECRET) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        seen.append(url)
        if request.url.host == "login.microsoftonline.com":
            assert request.url.path == f"/{TENANT}/oauth2/v2.0/token"
            form = parse_qs(request.content.decode())
            if form["client_secret"] != [secret]:
                return httpx.Response(
                    401,
                    json={
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1",
                    },
                )
            assert form["scope"] == ["https://graph.microsoft.com/.default"]
            return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ0eXAi"})
        assert request.headers["Authorization"] == "Bearer eyJ0eXAi"
        key = url if "token=" in url else "first"
        if key == "first":
            assert "$select=" in urlsplit(url).query or "%24select=" in url
        if key not in pages:
            return httpx.Response(410, json={"error": {"code": "syncStateNotFound", "message": "expired"}})
        return httpx.Response(200, json=pages[key])

    return handle


@pytest.fixture
def entra(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = project / "site.yaml"
    extra = f"sync:\n  source: graph\n  tenant_id: {TENANT}\n  client_id: {CLIENT}\n  secret_env: GRAPH_SECRET\n"
    site.write_text(site.read_text("utf-8") + extra, "utf-8")
    monkeypatch.setenv("GRAPH_SECRET", SECRET)
    return project


def use(monkeypatch: pytest.MonkeyPatch, pages: dict[str, dict], secret: str = SECRET) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(graph, "TRANSPORT", httpx.MockTransport(tenant(pages, seen, secret)))
    return seen


def card(project: Path, card_id: str) -> dict:
    return yaml.safe_load((project / "contacts" / f"{card_id}.yaml").read_text("utf-8"))


def test_the_first_run_pages_and_keeps_the_delta_link(entra: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = use(monkeypatch, {"first": FIRST[0], NEXT: FIRST[1]})
    assert main(["sync"]) == 0
    assert [u for u in seen if "graph" in u][1] == NEXT  # the second page came from @odata.nextLink
    adele = card(entra, "adelev")
    assert adele["name"] == {"given": "Adele", "family": "Vance"} and adele["lang"] == "en"
    assert adele["phones"] == [{"value": "+41 44 668 18 70"}]
    assert card(entra, "alexw")["phones"] == [{"value": "+41 79 555 12 70", "type": "cell"}]
    assert card(entra, "diegos")["title"] == "HR Manager"
    state = json.loads((entra / "sync-state.json").read_text())
    assert state == {"graph": {"delta_link": DELTA1}}
    assert main(["check"]) == 0


def test_the_next_run_reads_only_the_changes(entra: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, {"first": FIRST[0], NEXT: FIRST[1]})
    assert main(["sync"]) == 0
    before = (entra / "contacts" / "adelev.yaml").read_text("utf-8")
    seen = use(monkeypatch, {DELTA1: CHANGES[0]})
    assert main(["sync", "--allow-retire", "2"]) == 0
    assert [u for u in seen if "graph" in u] == [DELTA1]
    adele = (entra / "contacts" / "adelev.yaml").read_text("utf-8")
    # Only the title is in the delta: the rest of Adele's card (phones, name, department) stays.
    assert adele == before.replace("title: Retail Manager\n", "title: Head of Retail\n")
    assert card(entra, "alexw")["active"] is False
    assert card(entra, "diegos")["active"] is False  # deleted in Entra ID: retired, the file stays
    assert json.loads((entra / "sync-state.json").read_text()) == {"graph": {"delta_link": DELTA2}}
    assert main(["check"]) == 0


def test_an_expired_delta_link_falls_back_to_a_full_read(entra: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (entra / "sync-state.json").write_text(json.dumps({"graph": {"delta_link": DELTA2}}))
    seen = use(monkeypatch, {"first": FIRST[0], NEXT: FIRST[1]})
    assert main(["sync"]) == 0
    assert DELTA2 in seen and (entra / "contacts" / "diegos.yaml").exists()


def test_a_wrong_secret_is_a_clean_error(entra: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    use(monkeypatch, {"first": FIRST[0], NEXT: FIRST[1]}, secret="the-right-one")
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert f"Entra ID refused the client credentials of app {CLIENT}: AADSTS7000215: Invalid client secret" in err
    assert "Trace ID" not in err and not (entra / "sync-state.json").exists()


def test_a_dry_run_keeps_no_delta_link(entra: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, {"first": FIRST[0], NEXT: FIRST[1]})
    assert main(["sync", "--dry-run"]) == 0
    assert not (entra / "sync-state.json").exists() and not (entra / "contacts" / "adelev.yaml").exists()
