"""LDAP: Active Directory or OpenLDAP, read with a paged search over a read-only bind (ldap3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import Abort
from ..records import Listing, Record, SourceConfig

#: The attributes asked for: the usual person attributes of OpenLDAP (inetOrgPerson) and Active Directory.
ATTRIBUTES = [
    "givenName",
    "sn",
    "cn",
    "displayName",
    "initials",
    "mail",
    "telephoneNumber",
    "mobile",
    "facsimileTelephoneNumber",
    "title",
    "department",
    "departmentNumber",
    "o",
    "company",
    "street",
    "streetAddress",
    "postalCode",
    "l",
    "st",
    "co",
    "preferredLanguage",
]
#: Stable identities: OpenLDAP's entryUUID and AD's objectGUID survive a rename and a move; a DN does not.
KEYS = ("entryUUID", "objectGUID")
#: What says an account is disabled: AD's userAccountControl bit 2, a ppolicy lock, a 389-DS/FreeIPA lock.
STATUS = ("userAccountControl", "pwdAccountLockedTime", "nsAccountLock")
DEFAULT_FILTER = "(|(objectClass=inetOrgPerson)(&(objectCategory=person)(objectClass=user)))"


def read(config: SourceConfig, base: Path) -> Listing:
    """Return every person under the base DN, one page at a time; the listing is complete."""
    if not config.url or not config.base_dn:
        raise Abort("the ldap source needs a url (ldap://HOST:PORT or ldaps://) and a base_dn")
    wanted = list(dict.fromkeys([*ATTRIBUTES, *config.attributes]))
    conn = _connect(config)
    try:
        records = _search(conn, config, wanted)
    finally:
        conn.unbind()
    # The directory owns what it holds: an attribute no entry has (AD's company on OpenLDAP) clears no card.
    held = list(dict.fromkeys(k for r in records for k in r.values))
    return Listing(records, complete=True, attributes=held)


def _connect(config: SourceConfig) -> Any:
    """Return a read-only connection, bound as config.bind_dn (anonymously without one)."""
    import ldap3
    from ldap3.core import exceptions as lx

    try:
        server = ldap3.Server(config.url, connect_timeout=10, get_info=ldap3.NONE)
        return ldap3.Connection(
            server,
            user=config.bind_dn or None,
            password=config.secret or None,
            # ldaps:// is TLS from the first byte (ldap3 reads the scheme); see docs/sync.md.
            auto_bind=ldap3.AUTO_BIND_NO_TLS,
            receive_timeout=60,
            read_only=True,
            raise_exceptions=True,
            # Range retrieval is for huge multi-valued attributes (AD's member); its scan of every
            # response costs a sync of 10,000 people over a second.
            auto_range=False,
            return_empty_attributes=False,
        )
    except lx.LDAPSocketOpenError as exc:
        raise Abort(f"cannot reach the LDAP server {config.url}: {exc}") from None
    except (lx.LDAPBindError, lx.LDAPInvalidCredentialsResult) as exc:
        who = config.bind_dn or "anonymous"
        raise Abort(f"the LDAP server {config.url} refused the bind as {who}: {exc}") from None
    except lx.LDAPException as exc:
        raise Abort(f"LDAP {config.url}: {exc}") from None


def _search(conn: Any, config: SourceConfig, wanted: list[str]) -> list[Record]:
    from ldap3.core import exceptions as lx

    ask = [*wanted, *KEYS, *STATUS]
    try:
        # Attributes the server's schema lacks (AD's on OpenLDAP) are left out by the server, not refused.
        entries = conn.extend.standard.paged_search(
            config.base_dn,
            config.filter or DEFAULT_FILTER,
            attributes=ask,
            paged_size=config.page_size,
            generator=True,
        )
        return [_record(e) for e in entries if e.get("type") == "searchResEntry"]
    except lx.LDAPInvalidFilterError as exc:
        raise Abort(f"the LDAP filter {config.filter!r} is not valid: {exc}") from None
    except lx.LDAPNoSuchObjectResult:
        raise Abort(f"the base DN {config.base_dn!r} does not exist on {config.url}") from None
    except lx.LDAPException as exc:
        raise Abort(f"the LDAP search under {config.base_dn!r} failed: {exc}") from None


def _record(entry: dict[str, Any]) -> Record:
    raw = {k: v for k, v in entry["attributes"].items() if v not in (None, [], "")}
    key = next((str(_first(raw[k])) for k in KEYS if k in raw), entry["dn"])
    values = {k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in raw.items()}
    for k in (*KEYS, *STATUS):
        values.pop(k, None)
    return Record(key=key, where=entry["dn"], values=values, active=_active(raw))


def _active(raw: dict[str, Any]) -> bool:
    control = _first(raw.get("userAccountControl"))
    if control not in (None, "") and int(control) & 2:  # ACCOUNTDISABLE
        return False
    if raw.get("pwdAccountLockedTime"):
        return False
    return str(_first(raw.get("nsAccountLock")) or "").lower() != "true"


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value
