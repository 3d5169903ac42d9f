"""Microsoft Entra ID through Microsoft Graph: /users/delta, so a daily run reads only what changed.

Plain httpx, not msgraph-sdk: two endpoints (the token and users/delta) do not need the SDK's
Kiota stack and its dozens of packages. The first run reads every user and keeps the
@odata.deltaLink in the state file; each later run reads only the changes since that link.
Tested against recorded responses in Microsoft's documented format, not a live tenant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import Abort
from ..records import Listing, Record, SourceConfig

LOGIN = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com/v1.0"
SELECT = [
    "id",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "jobTitle",
    "department",
    "companyName",
    "businessPhones",
    "mobilePhone",
    "faxNumber",
    "streetAddress",
    "postalCode",
    "city",
    "state",
    "country",
    "preferredLanguage",
    "accountEnabled",
]
#: The HTTP transport to use; the tests put an httpx.MockTransport with recorded responses here.
TRANSPORT: Any = None


def read(config: SourceConfig, base: Path) -> Listing:
    """Return the users (all of them on the first run, the changes after), and the next delta link."""
    import httpx

    if not (config.tenant_id and config.client_id and config.secret):
        raise Abort("the graph source needs tenant_id and client_id in site.yaml and the client secret in the env")
    with httpx.Client(transport=TRANSPORT, timeout=60) as http:
        token = _token(http, config)
        http.headers["Authorization"] = f"Bearer {token}"
        link = config.state.get("delta_link")
        try:
            users, delta = _pages(http, link or _first_url(config))
        except _Expired:
            link = None  # Graph forgot the token (410): start again from a full read
            users, delta = _pages(http, _first_url(config))
    records = [_record(u) for u in users]
    attributes = [a for a in SELECT if a not in ("id", "accountEnabled")]
    return Listing(records, complete=link is None, attributes=attributes, state={"delta_link": delta})


def _first_url(config: SourceConfig) -> str:
    url = f"{GRAPH}/users/delta?$select={','.join(SELECT)}&$top={config.page_size}"
    return url + (f"&$filter={config.filter}" if config.filter else "")


class _Expired(Exception):
    pass


def _token(http: Any, config: SourceConfig) -> str:
    import httpx

    url = f"{LOGIN}/{config.tenant_id}/oauth2/v2.0/token"
    form = {
        "client_id": config.client_id,
        "client_secret": config.secret,
        "scope": "https://graph.microsoft.com/.default",
        "grant_type": "client_credentials",
    }
    try:
        response = http.post(url, data=form)
    except httpx.HTTPError as exc:
        raise Abort(f"cannot reach Microsoft Entra ID ({LOGIN}): {exc}") from None
    body = _json(response)
    if response.status_code != 200 or "access_token" not in body:
        reason = str(body.get("error_description") or body.get("error") or response.status_code).split("\r\n")[0]
        raise Abort(f"Entra ID refused the client credentials of app {config.client_id}: {reason}")
    return str(body["access_token"])


def _pages(http: Any, url: str) -> tuple[list[dict[str, Any]], str]:
    import httpx

    users: list[dict[str, Any]] = []
    while True:
        try:
            response = http.get(url)
        except httpx.HTTPError as exc:
            raise Abort(f"cannot reach Microsoft Graph: {exc}") from None
        body = _json(response)
        if response.status_code == 410:
            raise _Expired
        if response.status_code != 200:
            error = body.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else error
            raise Abort(f"Microsoft Graph answered HTTP {response.status_code}: {message or 'no reason given'}")
        users += body.get("value", [])
        if "@odata.nextLink" in body:
            url = body["@odata.nextLink"]
        elif "@odata.deltaLink" in body:
            return users, body["@odata.deltaLink"]
        else:
            raise Abort("Microsoft Graph ended a delta read without a delta link")


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _record(user: dict[str, Any]) -> Record:
    removed = "@removed" in user
    # A delta page lists an updated user with the properties that changed; a null one was cleared.
    values = {k: ("" if v is None else v) for k, v in user.items() if k in SELECT and k not in ("id", "accountEnabled")}
    where = f"Entra ID user {user.get('mail') or user.get('displayName') or user['id']}"
    active = user.get("accountEnabled") is not False
    return Record(key=str(user["id"]), where=where, values=values, active=active, removed=removed, partial=True)
