"""SCIM 2.0 (RFC 7644): GET /Users with paging and a filter, through scim2-client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import Abort
from ..records import Listing, Record, SourceConfig

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def read(config: SourceConfig, base: Path, transport: Any = None) -> Listing:
    """Return every user the filter selects, `page_size` a request; complete unless a filter narrows it."""
    from httpx2 import Client
    from scim2_client import SCIMClientException
    from scim2_models.exceptions import SCIMException

    if not config.url:
        raise Abort("the scim source needs a url: the SCIM base URL, e.g. https://idp.example.com/scim/v2/")
    _check_filter(config)
    headers = {"Authorization": f"Bearer {config.secret}"} if config.secret else {}
    try:
        with Client(base_url=config.url, headers=headers, timeout=60, transport=transport) as http:
            records = _users(http, config)
    except (SCIMClientException, SCIMException) as exc:
        raise Abort(_explain(config, exc)) from None
    attributes = list(dict.fromkeys(k for r in records for k in r.values))
    # A filtered listing is still the whole set the company chose: who leaves it is gone from the cards.
    return Listing(records, complete=True, attributes=attributes)


def _check_filter(config: SourceConfig) -> None:
    """Refuse a filter that is no SCIM filter before asking the server anything."""
    from pydantic import ValidationError
    from scim2_models import SearchRequest

    try:
        SearchRequest(filter=config.filter or None)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"] if exc.errors() else str(exc)
        raise Abort(f"the SCIM filter {config.filter!r} is not valid: {reason}") from None


def _users(http: Any, config: SourceConfig) -> list[Record]:
    """Return the users the filter selects, asking for one page after the other until the total is reached."""
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_models import SearchRequest

    scim = SyncSCIMClient(http)
    scim.discover()
    model = scim.get_resource_model("User")
    records: list[Record] = []
    start = 1
    while True:
        request = SearchRequest(start_index=start, count=config.page_size, filter=config.filter or None)
        page = scim.query(model, query_parameters=request)
        resources = page.resources or []
        records += [_record(user.model_dump()) for user in resources]
        start += len(resources)
        if not resources or start > (page.total_results or 0):
            return records


def _explain(config: SourceConfig, exc: Exception) -> str:
    from scim2_client import RequestNetworkException
    from scim2_models.exceptions import ForbiddenException, InvalidFilterException, UnauthorizedException

    text = f"{exc} {' '.join(getattr(exc, '__notes__', []))}".strip()
    if isinstance(exc, RequestNetworkException):
        return f"cannot reach the SCIM server {config.url}: {text}"
    if isinstance(exc, UnauthorizedException | ForbiddenException):
        return f"the SCIM server {config.url} refused the token ({text}); set CARDSITE_SYNC_PASSWORD"
    if isinstance(exc, InvalidFilterException) or "filter" in text.lower():
        return f"the SCIM server refused the filter {config.filter!r}: {text}"
    return f"the SCIM server {config.url} answered with an error: {text}"


def _record(user: dict[str, Any]) -> Record:
    values: dict[str, str | list[str]] = {
        **_names(user),
        "title": user.get("title", ""),
        "preferredLanguage": user.get("preferredLanguage", ""),
    }
    if not (values["givenName"] or values["familyName"]):
        values["displayName"] = user.get("displayName", "")
    values["email"] = _work_emails(user)
    values |= _phones(user)
    values |= _work_address(user)
    enterprise = user.get(ENTERPRISE) or {}
    values["department"] = enterprise.get("department", "")
    values["organization"] = enterprise.get("organization", "")
    values = {k: v for k, v in values.items() if v}
    where = f"SCIM user {user.get('userName') or user['id']}"
    return Record(key=str(user["id"]), where=where, values=values, active=user.get("active") is not False)


def _names(user: dict[str, Any]) -> dict[str, str]:
    name = user.get("name") or {}
    parts = ("givenName", "familyName", "middleName", "honorificPrefix", "honorificSuffix")
    return {part: name.get(part, "") for part in parts}


def _work_emails(user: dict[str, Any]) -> list[str]:
    emails = sorted(user.get("emails") or [], key=lambda e: (not e.get("primary"), e.get("type") != "work"))
    return [e["value"] for e in emails if e.get("value") and e.get("type") in (None, "work")]


def _phones(user: dict[str, Any]) -> dict[str, list[str]]:
    phones: dict[str, list[str]] = {}
    for phone in user.get("phoneNumbers") or []:
        kind = {"mobile": "mobile", "fax": "fax"}.get(phone.get("type", ""), "phone")
        phones.setdefault(kind, []).append(phone.get("value", ""))
    return phones


def _work_address(user: dict[str, Any]) -> dict[str, str]:
    address = next((a for a in user.get("addresses") or [] if a.get("type") in (None, "work")), {})
    return {key: address.get(key, "") for key in ("streetAddress", "postalCode", "locality", "region", "country")}
