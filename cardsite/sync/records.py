"""The plain directory record every source returns, and the card fields a mapping may fill."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The flat card fields a source column or directory attribute can map to, and where each lives in a card.
FIELDS: dict[str, tuple[str, ...]] = {
    "given": ("name", "given"),
    "family": ("name", "family"),
    "additional": ("name", "additional"),
    "prefix": ("name", "prefix"),
    "suffix": ("name", "suffix"),
    "org": ("org",),
    "department": ("department",),
    "title": ("title",),
    "email": ("emails",),
    "phone": ("phones",),
    "mobile": ("phones",),
    "fax": ("phones",),
    "street": ("addresses",),
    "postal_code": ("addresses",),
    "locality": ("addresses",),
    "region": ("addresses",),
    "country": ("addresses",),
    "website": ("websites",),
    "note": ("note",),
    "lang": ("lang",),
    "id": (),
}
#: Top-level card fields that belong to the person unless site.yaml's sync.owns names them.
PERSON_OWNED = frozenset({"note", "photo", "social", "lang", "websites", "aliases", "notify_owner", "successor"})


@dataclass
class Record:
    """One person as a directory (or a spreadsheet row, or a vCard) describes them.

    `key` is the directory's stable identity of the entry (LDAP entryUUID, SCIM or Graph id, a row's
    e-mail): it is written into the card as `sync_id`, so a rename keeps the card. `where` names the
    entry for a person reading a message (a DN, a file and line).
    """

    key: str
    where: str
    values: dict[str, str | list[str]] = field(default_factory=dict)
    active: bool = True
    #: The directory reports the entry as deleted (Graph @removed); it is retired like a disabled one.
    removed: bool = False
    #: The entry lists only what changed (a Graph delta page): a field it does not name is left as it is.
    partial: bool = False


@dataclass
class Listing:
    """What one read of a source returned."""

    records: list[Record]
    #: True when the listing is the whole directory, so a synced card missing from it is gone.
    #: A delta read (Graph) lists only the changes since its token.
    complete: bool = True
    #: The attributes (columns) the source read: the fields a sync may overwrite follow from them.
    attributes: list[str] = field(default_factory=list)
    #: State to keep for the next run (a Graph delta link); saved only after the run succeeds.
    state: dict[str, str] = field(default_factory=dict)


@dataclass
class SourceConfig:
    """How to reach one directory: site.yaml's sync block with the command line's overrides and the secret."""

    source: str
    url: str = ""
    base_dn: str = ""
    bind_dn: str = ""
    filter: str = ""
    #: The password, bearer token or client secret, read from the environment, never from a file.
    secret: str = ""
    tenant_id: str = ""
    client_id: str = ""
    customer: str = "my_customer"
    subject: str = ""
    page_size: int = 500
    #: Attributes to read besides the source's usual ones: the keys of site.yaml's sync.mapping.
    attributes: list[str] = field(default_factory=list)
    #: What the last run kept (a Graph delta link).
    state: dict[str, str] = field(default_factory=dict)
