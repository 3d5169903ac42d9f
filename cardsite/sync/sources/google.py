"""Google Workspace through the Admin SDK Directory API (users.list), with google-api-python-client.

A service account with domain-wide delegation reads the users as an admin it names (sync.subject),
with the read-only scope alone. Tested against recorded responses (HttpMockSequence) in the format
Google documents, not a live tenant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import Abort
from ..records import Listing, Record, SourceConfig

SCOPE = "https://www.googleapis.com/auth/admin.directory.user.readonly"
ATTRIBUTES = ["givenName", "familyName", "primaryEmail", "title", "department", "organization", "phone", "mobile"]
#: The HTTP object to use; the tests put a googleapiclient.http.HttpMockSequence here.
HTTP: Any = None


def read(config: SourceConfig, base: Path) -> Listing:
    """Return every user of the customer (suspended ones inactive), `page_size` a page; the listing is complete."""
    import httplib2
    from googleapiclient.discovery import build
    from googleapiclient.errors import HttpError

    service = build("admin", "directory_v1", http=HTTP or _authorized(config), static_discovery=True)
    records: list[Record] = []
    token = None
    try:
        while True:
            request = service.users().list(
                customer=config.customer or "my_customer",
                maxResults=config.page_size,
                orderBy="email",
                pageToken=token,
                query=config.filter or None,
                projection="full",
            )
            page = request.execute()
            records += [_record(u) for u in page.get("users", [])]
            token = page.get("nextPageToken")
            if not token:
                break
    except HttpError as exc:
        raise Abort(_explain(exc, config)) from None
    except (httplib2.HttpLib2Error, OSError) as exc:
        raise Abort(f"cannot reach the Google Admin SDK: {exc}") from None
    return Listing(records, complete=True, attributes=ATTRIBUTES)


def _authorized(config: SourceConfig) -> Any:
    import google_auth_httplib2
    from google.oauth2 import service_account

    if not config.secret or not config.subject:
        raise Abort(
            "the google source needs the service account's JSON key in the environment (sync.secret_env)"
            " and the admin it acts as in sync.subject"
        )
    try:
        info = json.loads(config.secret)
        credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    except (ValueError, KeyError) as exc:
        raise Abort(f"the service account key in the environment is not a Google JSON key: {exc}") from None
    return google_auth_httplib2.AuthorizedHttp(credentials.with_subject(config.subject))


def _explain(exc: Any, config: SourceConfig) -> str:
    status = int(getattr(exc, "status_code", 0) or exc.resp.status)
    reason = exc._get_reason() if hasattr(exc, "_get_reason") else str(exc)
    if status in (401, 403):
        return f"Google refused the service account ({status}: {reason}); check domain-wide delegation and {SCOPE}"
    if status == 400:
        return f"Google refused the query {config.filter!r} ({reason})"
    return f"the Google Admin SDK answered {status}: {reason}"


def _record(user: dict[str, Any]) -> Record:
    name = user.get("name") or {}
    org = _primary_org(user)
    values: dict[str, str | list[str]] = {
        "givenName": name.get("givenName", ""),
        "familyName": name.get("familyName", ""),
        "primaryEmail": user.get("primaryEmail", ""),
        "title": org.get("title", ""),
        "department": org.get("department", ""),
        "organization": org.get("name", ""),
        **_work_phones(user),
    }
    values = {k: v for k, v in values.items() if v}
    where = f"Google user {user.get('primaryEmail') or user['id']}"
    active = not user.get("suspended") and not user.get("archived")
    return Record(key=str(user["id"]), where=where, values=values, active=active)


def _primary_org(user: dict[str, Any]) -> dict[str, Any]:
    orgs = user.get("organizations") or []
    return next((o for o in orgs if o.get("primary")), orgs[0] if orgs else {})


def _work_phones(user: dict[str, Any]) -> dict[str, list[str]]:
    # A home number is the person's own, not the company's to print.
    phones: dict[str, list[str]] = {}
    for phone in user.get("phones") or []:
        kind = {"mobile": "mobile", "work_mobile": "mobile", "work_fax": "fax"}.get(phone.get("type", ""), "phone")
        if phone.get("type") != "home":
            phones.setdefault(kind, []).append(phone.get("value", ""))
    return phones
