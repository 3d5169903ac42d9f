"""Say which outputs each card has, which inputs each depends on, and which must be rendered.

The dependencies are spelled out once, in RULES: a template change re-renders every
page, a card change re-renders that card only, and the QR code, which depends on the
URL alone, is re-encoded only when the URL moves. The engine's full build and its
rebuild of a few cards (engine.py) both plan with these functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cards.settings import Settings
from .fingerprint import signature_of
from .output import mtime_ns, remove_leftovers

if TYPE_CHECKING:
    from ..cards.model import Card
    from ..render.pages import Pages
    from .engine import Source


@dataclass(frozen=True)
class Rule:
    """One output of a card, the inputs it depends on, which cards get it, and how to make it."""

    path: str
    depends: tuple[str, ...]
    when: str
    render: Callable[[Pages, Card], bytes]
    #: A shared input that must be non-empty for any card to get this output (signing material, an opt-in).
    needs: str = ""


# The renderers import their libraries on first use: a build with nothing to render never loads them.


def _photo(pages: Pages, card: Card) -> bytes:
    return (pages.settings.contacts_dir / card.photo).read_bytes()


def _vcard(pages: Pages, card: Card) -> bytes:
    from ..render.vcard import render_vcard
    from .photos import vcard_photo

    return render_vcard(card, vcard_photo(pages.out_dir, _photo(pages, card)) if card.photo else None)


def _qr(pages: Pages, card: Card) -> bytes:
    from ..cards.model import source_url
    from ..render.qr import render_svg

    return render_svg(source_url(card.url, "qr"), pages.settings.qr_error_correction)


def _web_photo(name: str) -> Callable[[Pages, Card], bytes]:
    def render(pages: Pages, card: Card) -> bytes:
        from .photos import web_photo

        return web_photo(_photo(pages, card), name)

    return render


def _preview(pages: Pages, card: Card) -> bytes:
    from ..render.preview import render_preview

    return render_preview(pages, card)


#: The page's photo sizes, 1x to 3x in JPEG and WebP (render/photo.py WEB_SIZES; the template lists them too).
WEB_PHOTOS = tuple(f"photo{tag}.{ext}" for tag in ("", "@2x", "@3x") for ext in ("jpg", "webp"))


def _pkpass(pages: Pages, card: Card) -> bytes:
    from ..cards.model import source_url
    from ..render.wallet import render_pkpass

    labels, out_dir = pages.catalogs[card.lang], pages.out_dir
    try:
        previous = (out_dir / card.id / f"{card.id}.pkpass").read_bytes() if out_dir else None
    except OSError:
        previous = None
    return render_pkpass(card, pages.settings, pages.wallet["apple"], source_url(card.url, "wallet"), labels, previous)


def _google_wallet(pages: Pages, card: Card) -> bytes:
    from ..cards.model import source_url
    from ..render.gwallet import save_page

    labels = pages.catalogs[card.lang]
    return save_page(card, pages.settings, pages.wallet["google"], source_url(card.url, "wallet"), labels)


def _background(name: str) -> Callable[[Pages, Card], bytes]:
    def render(pages: Pages, card: Card) -> bytes:
        from ..cards.model import source_url
        from ..render.background import render_background

        design = pages.wallet["background"]
        return render_background(card, pages.settings, design, source_url(card.url, "qr"))[name]

    return render


#: What a card's wallet outputs and its signature page (which links them) depend on besides the card.
WALLET = ("apple", "google", "background")

RULES = (
    Rule("{id}/{id}.vcf", ("card",), "active", _vcard),
    Rule("{id}/qr.svg", ("url", "qr"), "always", _qr),
    *(Rule(f"{{id}}/{name}", ("photo",), "photo", _web_photo(name)) for name in WEB_PHOTOS),
    Rule("{id}/og.jpg", ("card", "site", "templates"), "preview", _preview),
    Rule("{id}/signature.html", ("card", "site", "templates", *WALLET), "active", lambda p, c: p.render_signature(c)),
    # Signed or costly: built only with signing material in the environment or when site.yaml asks (docs/wallet.md).
    Rule("{id}/{id}.pkpass", ("card", "site", "locale", "apple"), "active", _pkpass, needs="apple"),
    Rule("{id}/google-wallet.html", ("card", "site", "locale", "google"), "active", _google_wallet, needs="google"),
    Rule(
        "{id}/background.png", ("card", "site", "url", "background"), "active", _background("png"), needs="background"
    ),
    Rule(
        "{id}/background.jpg", ("card", "site", "url", "background"), "active", _background("jpg"), needs="background"
    ),
    Rule("{id}/index.html", ("card", "site", "templates", "successor"), "always", lambda p, c: p.render_card(c)),
)
#: Which cards get an output, decided from the small summary kept in the build state and the site's settings.
WHEN: dict[str, Callable[[dict[str, Any], Settings], bool]] = {
    "always": lambda meta, site: True,
    "active": lambda meta, site: meta["active"],
    "photo": lambda meta, site: meta["active"] and bool(meta["photo"]),
    # The Open Graph image costs milliseconds a card (docs/performance.md): brand.preview_image turns it off.
    "preview": lambda meta, site: meta["active"] and site.brand["preview_image"],
}


def short_hash(*parts: str) -> str:
    """Return a short hash of `parts`, for input keys."""
    # 80 bits tell changed from unchanged with room to spare, and keep the state file small.
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


@dataclass
class Plan:
    """Which outputs every card has, under which input keys, and which must be rendered."""

    #: The inputs every card's pages share (settings, templates, QR level), and their hash.
    shared: dict[str, str]
    shared_key: str
    keys: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    todo: dict[str, list[str]] = field(default_factory=dict)
    dirs: dict[str, int] = field(default_factory=dict)
    #: {card id: {output: signature}} of the outputs found as the last build left them, and of those written.
    files: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    site_key: str = ""
    site_current: bool = False
    site_outputs: dict[str, str] = field(default_factory=dict)
    site_files: dict[str, list[int]] = field(default_factory=dict)


def new_plan(settings: Settings) -> Plan:
    """Return an empty plan for building with these settings."""
    from .signing import wallet_inputs

    shared = {"site": settings.digest, "templates": settings.templates_digest, "qr": settings.qr_error_correction}
    shared.update(wallet_inputs(settings))
    return Plan(shared, short_hash(*shared.values()))


def plan_all(settings: Settings, sources: list[Source], state: dict[str, Any], out_dir: Path) -> Plan:
    """Decide, from input keys and the outputs' signatures, what to render for every card and the site's own pages."""
    by_id = {s.id: s for s in sources}
    root = f"{out_dir}/"
    plan = new_plan(settings)
    for source in sources:
        successor = by_id[source.meta["successor"]].name if source.meta["successor"] else ""
        plan_card(settings, plan, source, successor, state["cards"].get(source.id, {}), root)
    # Every meta is built in one key order (site.attach), so its repr is as stable as sorted JSON, and cheaper.
    plan.site_key = short_hash(plan.shared_key, repr([(s.id, s.meta) for s in sources]))
    old_site = state["site"]
    plan.site_outputs, plan.site_files = old_site.get("outputs", {}), old_site.get("files", {})
    for folder in {rel.rpartition("/")[0] for rel in plan.site_outputs} - {""}:
        remove_leftovers(root + folder)  # assets and redirects; build() cleans the top
    plan.site_current = old_site.get("inputs") == plan.site_key and as_left(root, plan.site_outputs, plan.site_files)
    return plan


def as_left(root: str, outputs: dict[str, str], files: dict[str, list[int]]) -> bool:
    """Return whether every output is the very file the last build left, by the signature it recorded."""
    # A build that stopped halfway, a full disk or a hand edit gives a file a new inode or ctime, whatever its
    # mtime or folder: such a file is rendered again rather than trusted.
    return outputs.keys() == files.keys() and all(signature_of(root + rel) == sig for rel, sig in files.items())


def plan_card(settings: Settings, plan: Plan, source: Source, successor: str, old: dict[str, Any], root: str) -> None:
    """Add one card's input key and outputs to `plan`, and to its to-do list the outputs not current."""
    meta = source.meta
    plan.keys[source.id] = key = short_hash(source.key, source.card_hash, meta["photo"], successor, plan.shared_key)
    if _as_left(plan, source.id, key, old, root):
        return
    card_inputs = {**plan.shared, "card": source.card_hash, "url": settings.card_url(source.id)}
    card_inputs.update(photo=meta["photo"], successor=successor)
    found, old_outputs = old.get("files", {}), old.get("outputs", {})
    mine: dict[str, str] = {}
    current: dict[str, list[int]] = {}
    plan.outputs[source.id], plan.files[source.id] = mine, current
    for rule in RULES:
        if WHEN[rule.when](meta, settings) and (not rule.needs or plan.shared[rule.needs]):
            rel = rule.path.format(id=source.id)
            mine[rel] = short_hash(rule.path, *(card_inputs[d] for d in rule.depends))
            if old_outputs.get(rel) == mine[rel] and rel in found and signature_of(root + rel) == found[rel]:
                current[rel] = found[rel]
            else:
                plan.todo.setdefault(source.id, []).append(rule.path)


def _as_left(plan: Plan, card_id: str, key: str, old: dict[str, Any], root: str) -> bool:
    """Return whether the card's inputs and its folder are as the last build left them, and if so plan it so."""
    folder, found = root + card_id, old.get("files", {})
    dir_time = mtime_ns(folder)
    if old.get("dir") != dir_time:
        if dir_time != -1:
            remove_leftovers(folder)  # a file came or went since the last build: perhaps a killed build's
        return False
    if old.get("inputs") != key or not as_left(root, old["outputs"], found):
        return False
    plan.outputs[card_id], plan.dirs[card_id], plan.files[card_id] = old["outputs"], old["dir"], found
    return True
