"""The pure planner: directory records and the existing cards' data in, the list of changes out.

Nothing here reads a file or a network: `plan` is a function of its arguments, so every rule
(ownership, retirement, refusals, renames) is tested on plain data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..cards.settings import owner_address_problem
from ..cards.validate import email_problem, phone_problem, url_problem
from .ids import propose_id, unique_id
from .mapping import card_data, field_of, map_values
from .records import FIELDS, PERSON_OWNED, Record

#: A field's place in a card: ("title",) or ("name", "given").
Path = tuple[str, ...]
NAME_PARTS = ("prefix", "given", "additional", "family", "suffix")
LANGS = ("en", "de", "fr", "it")


@dataclass(frozen=True)
class Refusal:
    """A directory value left out of a card because `check` would refuse it."""

    where: str
    field: str
    value: str
    reason: str

    def format(self) -> str:
        """Render as one line naming the directory entry."""
        return f"{self.where}: {self.field}: {self.reason}"


@dataclass
class Change:
    """One card to create, update or retire; `values` maps each field's path to its new value (None removes it)."""

    kind: str  # "create" | "update" | "retire" | "skip"
    card_id: str
    where: str
    values: dict[Path, Any] = field(default_factory=dict)
    old: dict[Path, Any] = field(default_factory=dict)
    #: For a create: the whole card's data.
    data: dict[str, Any] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)

    @property
    def fields(self) -> list[str]:
        """Return the changed fields, as a person names them (name.given, title)."""
        return [".".join(p) for p in self.values]


@dataclass
class Options:
    """What the planner needs besides the records and the cards."""

    mapping: dict[str, str] = field(default_factory=dict)
    #: Top-level fields the directory owns; None: every mapped field but the person's own.
    owns: list[str] | None = None
    phone_region: str = "CH"
    #: Update existing cards (sync always; import only with --update).
    update: bool = True
    #: Retire synced cards missing from a complete listing.
    complete: bool = True
    #: Write the entry's key into a matched card as sync_id, so it follows the entry from now on (sync, not import).
    adopt: bool = True
    #: The domains owner notices may go to (Settings.owner_domains): a card's first address must be in one.
    owner_domains: tuple[str, ...] = ()


def owned_paths(attributes: list[str], options: Options) -> set[Path]:
    """Return the paths a sync may overwrite, from the attributes the source reads and the settings."""
    tops, parts = _filled(attributes, options.mapping)
    tops = set(options.owns) if options.owns is not None else tops - PERSON_OWNED
    paths: set[Path] = {(t,) for t in tops if t != "name"}
    if "name" in tops:
        paths |= {("name", p) for p in (parts or {"given", "family"})}
    return paths


def _filled(attributes: list[str], mapping: dict[str, str]) -> tuple[set[str], set[str]]:
    """Return the top-level card fields and the name parts that the attributes fill."""
    mapped = {field_of(a, mapping) for a in attributes} - {None}
    tops = {FIELDS[f][0] for f in mapped if FIELDS.get(f)}
    parts = {f for f in mapped if f in NAME_PARTS}
    if "fullname" in mapped:
        tops.add("name")
        parts |= {"given", "family"}
    return tops, parts


@dataclass
class _CardIndex:
    """The existing cards as the planner finds them: by sync_id, by e-mail address, and the ids taken."""

    cards: dict[str, dict[str, Any]]
    by_key: dict[str, str]
    by_mail: dict[str, str]
    taken: set[str]

    @classmethod
    def of(cls, cards: dict[str, dict[str, Any]]) -> _CardIndex:
        by_key = {str(d["sync_id"]): cid for cid, d in cards.items() if d.get("sync_id")}
        # A card nobody synced yet is adopted by its e-mail address; a synced one follows its entry alone.
        by_mail = {mail.lower(): cid for cid, d in cards.items() if not d.get("sync_id") for mail in _mails(d)}
        taken = set(cards) | {a for d in cards.values() for a in d.get("aliases") or ()}
        return cls(cards, by_key, by_mail, taken)

    def match(self, record: Record, values: dict[str, list[str]], data: dict[str, Any]) -> str | None:
        """Return the card a record is: by its key, else by an e-mail address, else by the id it names."""
        mails = [e["value"].lower() for e in data.get("emails", [])]
        card_id = self.by_key.get(record.key) or next((self.by_mail[m] for m in mails if m in self.by_mail), None)
        if card_id is None and values.get("id") and values["id"][0] in self.cards:
            card_id = values["id"][0]
        return card_id


def plan(
    records: list[Record], cards: dict[str, dict[str, Any]], attributes: list[str], options: Options
) -> list[Change]:
    """Return the changes that bring `cards` (id -> data) in line with `records`, in a stable order."""
    index = _CardIndex.of(cards)
    owned = owned_paths(attributes, options)
    known = _known_values(cards)
    changes, seen = [], set()
    for record in records:
        values = map_values(record.values, options.mapping)
        data, refused = clean(card_data(values), record.where, options.phone_region, known)
        card_id = index.match(record, values, data)
        if card_id is not None:
            seen.add(card_id)
            change = _existing(card_id, cards[card_id], record, (data, refused), owned, options)
        elif not record.active or record.removed:
            continue
        else:
            change = _create(record, _owner_first(data, options.owner_domains), values, index.taken)
        change.refused = refused
        changes.append(change)
    if options.complete:
        changes += _missing(cards, set(index.by_key.values()) - seen)
    return changes


def _missing(cards: dict[str, dict[str, Any]], gone: set[str]) -> list[Change]:
    """Retire each synced card a complete listing no longer has, unless it is retired already."""
    return [
        Change("retire", card_id, f"sync_id {cards[card_id]['sync_id']}", {("active",): False})
        for card_id in sorted(gone)
        if cards[card_id].get("active", True) is not False
    ]


def _existing(
    card_id: str,
    card: dict[str, Any],
    record: Record,
    clean_data: tuple[dict[str, Any], list[Refusal]],
    owned: set[Path],
    options: Options,
) -> Change:
    data, refused = clean_data
    if record.partial:
        owned = owned & owned_paths(list(record.values), options)
    if not record.active or record.removed:
        return _retire(card_id, card, record)
    if not options.update:
        return Change("skip", card_id, record.where)
    values = {**_owned_changes(card, data, refused, owned, options), **_sync_changes(card, record, options)}
    old = {path: _get(card, path) for path in values}
    return Change("update" if values else "skip", card_id, record.where, values, old)


def _retire(card_id: str, card: dict[str, Any], record: Record) -> Change:
    if card.get("active", True) is False:
        return Change("skip", card_id, record.where)
    return Change("retire", card_id, record.where, {("active",): False}, {("active",): card.get("active")})


def _owned_changes(
    card: dict[str, Any], data: dict[str, Any], refused: list[Refusal], owned: set[Path], options: Options
) -> dict[Path, Any]:
    """Return the directory's new value of each owned field that differs from the card's."""
    values: dict[Path, Any] = {}
    # A value the directory holds but `check` refuses leaves the card's own value alone, as does a missing name.
    kept = {r.field.split(".")[0] for r in refused} | ({"name"} if "name" not in data else set())
    for path in sorted(owned):
        new, old = _directory_value(data, card, path, options), _get(card, path)
        if path[0] not in kept and _normal(new) != _normal(old):
            values[path] = new
    return values


def _directory_value(data: dict[str, Any], card: dict[str, Any], path: Path, options: Options) -> Any:
    """Return the directory's value of a field as the card would hold it: the person's home entries kept."""
    new = _get(data, path)
    if path in (("emails",), ("phones",)):
        new = _with_private(new, _get(card, path))
    if path == ("emails",) and new:
        new = _owner_first({"emails": new}, options.owner_domains)["emails"]
    return new


def _sync_changes(card: dict[str, Any], record: Record, options: Options) -> dict[Path, Any]:
    """Return the fields the sync keeps for itself: the entry's key, and a returning person's card active again."""
    values: dict[Path, Any] = {}
    if options.adopt and str(card.get("sync_id", "")) != record.key:
        values[("sync_id",)] = record.key
    if card.get("active", True) is False and "successor" not in card:
        values[("active",)] = True  # back in the directory: a returning person's card comes back
    return values


def _create(record: Record, data: dict[str, Any], values: dict[str, list[str]], taken: set[str]) -> Change:
    name = data.get("name", {})
    wanted = values.get("id", [""])[0] or propose_id(
        data.get("emails", [{}])[0].get("value", ""), name.get("given", ""), name.get("family", "")
    )
    card_id = unique_id(propose_id("", wanted, "") if wanted else "", taken)
    data = {**data, "sync_id": record.key}
    if "name" not in data:
        return Change("refuse", card_id, record.where, refused=[Refusal(record.where, "name", "", "has no name")])
    return Change("create", card_id, record.where, data=data)


def _get(data: dict[str, Any], path: Path) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _owner_first(data: dict[str, Any], domains: tuple[str, ...]) -> dict[str, Any]:
    """Put a company address first, as owner notices go to the first; with none, a new card notifies nobody."""
    emails = data.get("emails")
    if not emails:
        return data
    ours = [e for e in emails if not owner_address_problem(e["value"], domains)]
    if not ours:
        return {**data, "notify_owner": False}
    return {**data, "emails": [*ours, *(e for e in emails if e not in ours)]}


def _with_private(new: list[dict[str, Any]] | None, old: Any) -> list[dict[str, Any]] | None:
    """Return the directory's entries, then the card's home ones: a private address or number is the person's."""
    new = new or []
    values = {i["value"] for i in new}
    merged = [*new, *(i for i in _home_entries(old) if i.get("value") not in values)]
    return merged or None


def _home_entries(items: Any) -> list[dict[str, Any]]:
    return [i for i in items or [] if isinstance(i, dict) and i.get("type") == "home"]


def _normal(value: Any) -> Any:
    """Return a value as it means: `type: work` is every e-mail's, phone's and address's default."""
    if isinstance(value, list):
        return [{k: v for k, v in i.items() if (k, v) != ("type", "work")} if isinstance(i, dict) else i for i in value]
    return value


def _mails(card: dict[str, Any]) -> list[str]:
    emails = card.get("emails") or []
    return [e["value"] for e in emails if isinstance(e, dict) and isinstance(e.get("value"), str)]


def _known_values(cards: dict[str, dict[str, Any]]) -> frozenset[str]:
    """Return the e-mail addresses, phone numbers and links the cards hold: `check` passed them already."""
    found = set()
    for card in cards.values():
        for key in ("emails", "phones"):
            found.update(
                i["value"] for i in card.get(key) or () if isinstance(i, dict) and isinstance(i.get("value"), str)
            )
        found.update(w for w in card.get("websites") or () if isinstance(w, str))
    return frozenset(found)


#: clean's `keep(field, value, reason)`: notes the refusal when there is a reason, and says whether the value stays.
_Keep = Callable[[str, str, "str | None"], bool]


def clean(
    data: dict[str, Any], where: str, region: str, known: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], list[Refusal]]:
    """Drop each value `check` would refuse from a record's card data; return what is left and why each went.

    A value in `known` is on a card already, so it passed `check` there: a sync with nothing changed
    checks no phone number again.
    """
    refused: list[Refusal] = []

    def keep(name: str, value: str, reason: str | None) -> bool:
        if reason:
            refused.append(Refusal(where, name, value, reason))
        return reason is None

    out = dict(data)
    _clean_lists(out, keep, region, known)
    _clean_texts(out, keep)
    return out, refused


def _clean_lists(out: dict[str, Any], keep: _Keep, region: str, known: frozenset[str]) -> None:
    """Drop from `out` the e-mail addresses, phone numbers and links `check` would refuse."""
    for key, check, inner in (
        ("emails", email_problem, "value"),
        ("phones", lambda v: phone_problem(v, region), "value"),
        ("websites", url_problem, None),
    ):
        items = [i for i in out.get(key, []) if (v := i[inner] if inner else i) in known or keep(key, v, check(v))]
        _set_or_drop(out, key, items)


def _clean_texts(out: dict[str, Any], keep: _Keep) -> None:
    """Drop from `out` a language cardsite has no texts for, and each line of text `check` would refuse."""
    if "lang" in out and not keep("lang", out["lang"], _lang_reason(out["lang"])):
        del out["lang"]
    for key in ("org", "department", "title"):
        if key in out and not keep(key, out[key], _line_reason(out[key])):
            del out[key]
    if "name" in out:
        _set_or_drop(out, "name", {k: v for k, v in out["name"].items() if keep(f"name.{k}", v, _line_reason(v))})


def _set_or_drop(out: dict[str, Any], key: str, value: Any) -> None:
    # A list or name with nothing left in it is no field: the card keeps none rather than an empty one.
    if value:
        out[key] = value
    else:
        out.pop(key, None)


def _lang_reason(value: str) -> str | None:
    if value in LANGS:
        return None
    return f"'{value}' is not one of: {', '.join(LANGS)}"


def _line_reason(value: str) -> str | None:
    if len(value) > 200:
        return f"is too long ({len(value)} characters, at most 200)"
    if not value.isprintable():
        return "contains a line break or control character"
    return None
