"""Decide what publishing changes: compare the built site with the bucket by content and headers.

Everything here is pure (files in, plan out), so the rules can be read and
tested without S3. The AWS side lives in `publish.py`.

A bucket listing gives keys, sizes and ETags but no headers, so what was
uploaded is remembered in a manifest object under the reserved `_cardsite/`
prefix: per key a hash of the headers and, to recognise the content, either
nothing more when S3 answered the content's MD5 as ETag (single-part uploads
to an SSE-S3 bucket), or the sha256, size and ETag it answered. An entry is
trusted only while the listing confirms it, so an object removed or given other
bytes behind publish's back is uploaded again; headers changed in the bucket do
not show in a listing, and only `publish --verify` (object_drift) finds them.
Because MD5-checked entries hold no
content hash, a content-only edit leaves the manifest as it was: one card
edit costs the card's files, and no manifest upload.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path, PurePosixPath
from typing import Any

from ..aws import RESERVED
from ..build.output import object_headers
from ..cards.load import ID_PATTERN, RESERVED_IDS
from ..errors import Abort

log = logging.getLogger(__name__)

# Internal objects (manifest, notify state) live under aws.RESERVED; no card id can start with '_'.
MANIFEST = f"{RESERVED}manifest.json"
MANIFEST_VERSION = 1
#: Deletions allowed without --allow-deletes: this many, or this share of the bucket if larger.
DELETE_MIN = 10
DELETE_SHARE = 0.10
#: Past this many invalidation paths, one `/*` is cheaper and as good.
MAX_INVALIDATION_PATHS = 8


def content_hash(data: bytes, rel: str = "") -> str:
    """Return the sha256 of an object's bytes; of a wallet pass `rel`, the hash of what it is (see pass_identity)."""
    if rel.endswith(".pkpass"):
        from ..render.wallet import pass_identity

        # A pass signed again carries a new signing time and nothing else new: it is the same object.
        if identity := pass_identity(data):
            return identity
    return hashlib.sha256(data).hexdigest()


def md5_etag(data: bytes) -> str:
    """Return the ETag S3 gives a single-part, non-KMS upload of `data`: its quoted MD5."""
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def headers_hash(headers: dict[str, str]) -> str:
    """Return a short stable hash of an object's headers."""
    return hashlib.sha256(json.dumps(headers, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LocalFile:
    """One built file to publish, with the headers it is served with."""

    rel: str
    path: Path
    size: int
    sha256: str
    headers: dict[str, str]
    etag: str = ""

    @property
    def headers_hash(self) -> str:
        """Return the hash of this file's headers."""
        return headers_hash(self.headers)


#: In an entry's etag field: the object's content is checked against the listing's ETag (its MD5).
BY_MD5 = "md5"


@dataclass(frozen=True)
class Entry:
    """What the manifest remembers about one uploaded object."""

    sha256: str
    headers: str
    size: int
    etag: str

    @classmethod
    def uploaded(cls, f: LocalFile, etag: str) -> Entry:
        """Remember an upload; when S3 answered the MD5 as ETag, the listing alone vouches for the content."""
        if etag == f.etag:
            return cls("", f.headers_hash, -1, BY_MD5)
        return cls(f.sha256, f.headers_hash, f.size, etag)

    def matches(self, f: LocalFile, listed: Listed) -> bool:
        """Tell whether the bucket's object, as listed, is `f` with `f`'s headers."""
        if self.headers != f.headers_hash:
            return False
        if self.etag == BY_MD5:
            return (listed.size, listed.etag) == (f.size, f.etag)
        return (self.size, self.etag, self.sha256) == (listed.size, listed.etag, f.sha256)


@dataclass(frozen=True)
class Listed:
    """One key as the bucket listing shows it."""

    size: int
    etag: str


@dataclass
class Manifest:
    """The uploaded objects' hashes, plus CloudFront paths a failed run still owes."""

    entries: dict[str, Entry] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)

    def dump(self) -> bytes:
        """Serialise as gzip-compressed JSON (a 10,000-card site's manifest shrinks about 3x)."""
        doc = {
            "version": MANIFEST_VERSION,
            "objects": {k: [e.sha256, e.headers, e.size, e.etag] for k, e in sorted(self.entries.items())},
            "pending_invalidation": sorted(self.pending),
        }
        return gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), mtime=0)

    @classmethod
    def load(cls, data: bytes) -> Manifest:
        """Parse a manifest; an unreadable one counts as empty, so everything is checked again."""
        try:
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            doc = json.loads(data)
            if doc.get("version") != MANIFEST_VERSION:
                raise ValueError(f"version {doc.get('version')!r}")
            entries = {k: Entry(str(v[0]), str(v[1]), int(v[2]), str(v[3])) for k, v in doc["objects"].items()}
            return cls(entries, [str(p) for p in doc.get("pending_invalidation", [])])
        except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            log.warning("Ignoring unreadable manifest %s (%s); every object is compared again", MANIFEST, exc)
            return cls()


# --------------------------------------------------------------------------- local


def scan_site(out_dir: Path) -> dict[str, LocalFile]:
    """Hash every publishable file under `out_dir`; dot-paths (the build state) stay private."""
    files: dict[str, LocalFile] = {}
    for path in sorted(out_dir.rglob("*")):
        rel = path.relative_to(out_dir).as_posix()
        if any(part.startswith(".") for part in PurePosixPath(rel).parts) or not path.is_file():
            continue
        if rel.startswith(RESERVED):
            log.warning("Skipping %s: %s is reserved for cardsite's own objects", rel, RESERVED)
            continue
        data = path.read_bytes()
        headers = object_headers(rel)
        # A pass has no MD5 to trust: a signing time changes its bytes, not what it is (content_hash).
        etag = "" if rel.endswith(".pkpass") else md5_etag(data)
        files[rel] = LocalFile(rel, path, len(data), content_hash(data, rel), headers, etag)
    return files


# --------------------------------------------------------------------------- plan


@dataclass
class Plan:
    """What a publish does: upload `added` and `changed`, delete `deleted`, leave `unchanged`."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: Site objects the bucket held before (internal objects excluded), for the delete guard.
    remote_count: int = 0

    @property
    def uploads(self) -> list[str]:
        """Return every key to upload, sorted."""
        return sorted(self.added + self.changed)

    def phases(self, links: dict[str, set[str]] | None = None) -> list[list[str]]:
        """Return the uploads in safe order: each phase only after every file it links to went up.

        First everything that is not HTML (assets, vCards, QR codes, photos), then the pages, layer by
        layer along `links` ({page: pages it points to}): a renamed card's new page goes up before the
        redirect from its old id, a successor's page before the retired page that points to it.
        """
        uploads = self.uploads
        first = [rel for rel in uploads if not rel.endswith(".html")]
        pages = {rel for rel in uploads if rel.endswith(".html")}
        sorter: TopologicalSorter[str] = TopologicalSorter()
        for rel in pages:
            sorter.add(rel, *((links or {}).get(rel, set()) & pages))
        phases = [first]
        sorter.prepare()
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            phases.append(ready)
            sorter.done(*ready)
        return [phase for phase in phases if phase]

    @property
    def empty(self) -> bool:
        """Return True when the bucket already matches the site."""
        return not (self.added or self.changed or self.deleted)


def make_plan(
    local: dict[str, LocalFile], manifest: Manifest, listing: dict[str, Listed], drifted: Collection[str] = ()
) -> Plan:
    """Compare the built files with the bucket listing, trusting manifest entries the listing confirms.

    `drifted`: keys that `publish --verify` found to differ from the site, whatever the manifest says.
    """
    plan = Plan(remote_count=sum(1 for key in listing if not key.startswith(RESERVED)))
    for rel, f in local.items():
        _place(plan, rel, f, listing.get(rel), manifest.entries.get(rel), drifted)
    plan.deleted = sorted(key for key in listing if key not in local and not key.startswith(RESERVED))
    for names in (plan.added, plan.changed, plan.unchanged):
        names.sort()
    return plan


def _place(
    plan: Plan, rel: str, f: LocalFile, listed: Listed | None, entry: Entry | None, drifted: Collection[str]
) -> None:
    """File one built file under added (not in the bucket), unchanged (as the manifest and listing say) or changed."""
    if listed is None:
        plan.added.append(rel)
    elif entry is not None and entry.matches(f, listed) and rel not in drifted:
        plan.unchanged.append(rel)
    else:
        plan.changed.append(rel)


def object_drift(f: LocalFile, served: dict[str, str], extra: dict[str, str], sha256: str | None) -> str | None:
    """Return how the bucket's object differs from `f`, or None (what `publish --verify` checks).

    `served`: the headers S3 serves it with (of those publish sets); `extra`: anything else set on it
    by hand (user metadata, a redirect); `sha256`: its content's hash, or None when its ETag already
    showed it to be `f`'s bytes.
    """
    if sha256 is not None and sha256 != f.sha256:
        return "other bytes"
    for name in sorted(set(f.headers) | set(served)):
        if served.get(name) != f.headers.get(name):
            return f"{name} is {served.get(name)!r}, not {f.headers.get(name)!r}"
    if extra:
        return "also has " + ", ".join(f"{name}: {value!r}" for name, value in sorted(extra.items()))
    return None


def delete_limit(remote_count: int, allow_deletes: int | None) -> int:
    """Return how many deletions a run may make: --allow-deletes, else 10 or 10% of the bucket."""
    if allow_deletes is not None:
        return allow_deletes
    return max(DELETE_MIN, int(remote_count * DELETE_SHARE))


def check_deletions(plan: Plan, allow_deletes: int | None) -> None:
    """Refuse a plan that deletes more than allowed, before anything is changed."""
    limit = delete_limit(plan.remote_count, allow_deletes)
    if len(plan.deleted) > limit:
        shown = ", ".join(plan.deleted[:5]) + (", ..." if len(plan.deleted) > 5 else "")
        raise Abort(
            f"refusing to delete {len(plan.deleted)} of {plan.remote_count} objects (limit {limit}): {shown}; "
            f"nothing was changed. If that is intended, run again with --allow-deletes {len(plan.deleted)}"
        )


def card_of(rel: str) -> str | None:
    """Return the card id a key belongs to, or None for site-wide files."""
    top, sep, _ = rel.partition("/")
    return top if sep and top not in RESERVED_IDS and ID_PATTERN.fullmatch(top) else None


def invalidation_paths(keys: list[str]) -> list[str]:
    """Return the CloudFront paths to invalidate for changed and deleted keys.

    A card page is cached under `/id/` or `/id/index.html` depending on the
    edge function; `/id/*` covers both, plus the card's vCard and QR code, as
    one path (a wildcard is billed as one). The root page is `/` and
    `/index.html`. Other files are invalidated one by one; past
    MAX_INVALIDATION_PATHS everything collapses into `/*`.
    """
    whole_dirs = {card for rel in keys if (card := card_of(rel)) and rel == f"{card}/index.html"}
    paths = {f"/{card}/*" for card in whole_dirs}
    for rel in keys:
        if rel == "index.html":
            paths.update(("/", "/index.html"))
        elif card_of(rel) not in whole_dirs:
            paths.add(f"/{rel}")
    if len(paths) > MAX_INVALIDATION_PATHS:
        return ["/*"]
    return sorted(paths)


def merge_paths(paths: list[str], pending: list[str]) -> list[str]:
    """Add the paths a failed run still owes, collapsing to `/*` past the limit."""
    merged = sorted(set(paths) | set(pending))
    if "/*" in merged or len(merged) > MAX_INVALIDATION_PATHS:
        return ["/*"]
    return merged


def card_changes(plan: Plan, card_names: dict[str, str]) -> dict[str, list[str]]:
    """Return the cards this plan adds, changes and removes (`card_names`: the cards just built)."""
    added = {card for rel in plan.added if (card := card_of(rel)) in card_names and rel == f"{card}/index.html"}
    touched = {card for rel in plan.uploads if (card := card_of(rel)) in card_names}
    gone = {
        card
        for rel in plan.deleted
        if (card := card_of(rel)) and card not in card_names and rel == f"{card}/index.html"
    }
    return {"added": sorted(added), "changed": sorted(touched - added), "removed": sorted(gone)}


def plan_summary(plan: Plan) -> dict[str, Any]:
    """Return the plan's paths for the dry run and the JSON result."""
    return {
        "added": plan.added,
        "changed": plan.changed,
        "deleted": plan.deleted,
        "unchanged": len(plan.unchanged),
    }
