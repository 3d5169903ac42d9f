"""Print artwork from the build's point of view: its checks, and the PDFs rendered when they are needed.

A PDF costs about 10 ms, fifty times a card's other outputs, so the build does not render
one per card. It checks every live card against the layout (so `check` and a pull request
catch a name that does not fit), and PDFs are rendered on demand, from the site manifest:
by `python build.py print`, by `notify` for the cards it announces, and by the preview's
/<id>/print. Each lands in public/.cardsite/print/<id>.pdf (never published) beside the key
of everything it was drawn from, so a card edit renders that card's PDF again, a layout edit
every one, and nothing else is drawn twice (docs/print.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Abort, Problem, ValidationError, display_path
from .fingerprint import code_digest, signature_of
from .output import STATE_DIR, write_if_changed

if TYPE_CHECKING:
    from ..cards.load import Document
    from ..cards.model import Card
    from ..cards.settings import Settings
    from ..render.artwork import CardTexts
    from ..render.printlayout import Layout
    from .manifest import SiteCard, SiteManifest

#: Where the PDFs are kept: under the dot folder, which publish never uploads and the preview never serves.
PRINT_DIR = f"{STATE_DIR}/print"
_WRITE = threading.Lock()


#: Layouts read in this process, by what they are read from: the preview keeps its process across edits.
_LAYOUTS: dict[tuple[Any, ...], Layout] = {}


def layout_of(settings: Settings) -> Layout:
    """Return the print layout of these settings, read again only when its files or settings changed."""
    from ..render.printlayout import layout_files, load_layout

    # Every card's check asks: the answer is kept with the settings, which every build reads anew. Across
    # settings, the files are compared by their metadata, so a long-lived process (the preview) sees every edit.
    # While the settings' checks are deferred, the build's stamp showed that the last successful build checked
    # this very layout (it lies under templates/ or in cardsite): a one-card rebuild skips its schema (0.1 s).
    checked = settings.pending_checks is None
    kept = settings.__dict__.get(f"_print_layout_{checked}")
    if kept is None:
        files = tuple(tuple(signature_of(path)) for path in layout_files(settings.templates_dir))
        key = (settings.templates_dir, settings.site_file, settings.digest, settings.brand_color, files, checked)
        if key not in _LAYOUTS:
            # site.yaml's print block comes from the settings, which read and checked it already.
            _LAYOUTS[key] = load_layout(
                settings.templates_dir, settings.raw, settings.brand_color, settings.site_file, check=checked
            )
        kept = settings.__dict__[f"_print_layout_{checked}"] = _LAYOUTS[key]
    return kept


def artwork_on(settings: Settings) -> bool:
    """Return whether this site draws print artwork (print.artwork in site.yaml, on by default)."""
    from ..render.printlayout import print_settings

    return print_settings(settings.raw)["artwork"]


def layout_problems(settings: Settings) -> list[Problem]:
    """Return the problems of the print layout; loading it here also loads the fonts before workers fork."""
    if not artwork_on(settings):
        return []
    try:
        layout_of(settings)
    except ValidationError as exc:
        return list(exc.problems)
    return []


def layout_digest(settings: Settings) -> str:
    """Return what every card's print check depends on besides the card: the layout, its settings and fonts."""
    if not artwork_on(settings):
        return "off"
    try:
        return layout_of(settings).digest
    except ValidationError:
        return ""  # reported by layout_problems; no card is valid against it


def qr_url(url: str) -> str:
    """Return what the printed QR code holds: the page URL with the QR code's source marker, as qr.svg does."""
    from ..cards.model import source_url

    return source_url(url, "qr")


def texts_of(fields: dict[str, Any], url: str) -> CardTexts:
    """Return the texts printed on a card with these printable fields and page URL."""
    from ..render.artwork import CardTexts

    return CardTexts.from_fields(fields, _short_url(url), qr_url(url))


def _short_url(url: str) -> str:
    """Return short_url(url) of a card's page (BASE/<id>/), working out the base's part once."""
    head, _, card_id = url.rstrip("/").rpartition("/")
    return f"{_short_base(head)}/{card_id}"


@cache
def _short_base(base: str) -> str:
    from ..cards.model import short_url

    return short_url(base + "/")


def print_problems(settings: Settings, doc: Document, card: Card) -> list[Problem]:
    """Return why a live card cannot be printed as the layout says: missing glyphs, text too wide, QR too small."""
    from ..render.artwork import card_problems

    if not artwork_on(settings):
        return []
    try:
        layout = layout_of(settings)
    except ValidationError:
        return []  # the layout's own problems are reported once, not per card
    # The fields the manifest would hold, without building them all (card_fields costs a millisecond).
    fields = {"name": {"full": card.name.full}, "title": card.title, "department": card.department, "org": card.org}
    texts = texts_of(fields, card.url)
    found = card_problems(layout, texts, settings.qr_error_correction)
    return [doc.problem(_field_path(doc, name, message), f"print: {message}") for name, message in found]


def _field_path(doc: Document, name: str, message: str) -> tuple[str, ...]:
    """Return the card field a print problem belongs to; for the name, the part holding the characters."""
    data = doc.data if isinstance(doc.data, dict) else {}
    chars = set(re.findall(r"'(.)' \(U\+", message))
    if name == "name" and chars and isinstance(data.get("name"), dict):
        for part, value in data["name"].items():
            if isinstance(value, str) and chars & set(unicodedata.normalize("NFC", value)):
                return ("name", part)
    if name == "url":
        return ()
    return (name,)


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Artwork:
    """One card's print PDF and what the print job says about it."""

    pdf: bytes
    trim_mm: tuple[float, float]
    bleed_mm: float
    qr_module_mm: float
    #: Whether this call drew it (False: taken from the cache).
    rendered: bool = False


def artwork_key(layout: Layout, site: SiteManifest, texts: CardTexts) -> str:
    """Return the key of everything a card's PDF is drawn from: the layout, the code, its texts and QR code."""
    blob = json.dumps([layout.digest, code_digest(), texts.__dict__, site.qr_error_correction], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def card_artwork(settings: Settings, out_dir: Path, site: SiteManifest, card: SiteCard) -> Artwork:
    """Return a live card's PDF, from public/.cardsite/print/ when its key is current, else drawn and kept there."""
    from ..render.printlayout import BLEED_MM

    if not artwork_on(settings):
        raise Abort("this site draws no print artwork (print.artwork: false in site.yaml)")
    layout = layout_of(settings)
    texts = texts_of(card.fields, card.url)
    trim, bleed, side = print_geometry(settings, card.url, site.qr_error_correction)
    key = artwork_key(layout, site, texts)
    pdf_path, key_path = out_dir / PRINT_DIR / f"{card.id}.pdf", out_dir / PRINT_DIR / f"{card.id}.key"
    with _WRITE:
        try:
            if key_path.read_text() == key:
                return Artwork(pdf_path.read_bytes(), trim, bleed, side)
        except OSError:
            pass
        from ..render.artwork import render_pdf
        from ..render.qr import modules_of

        try:
            pdf = render_pdf(layout, texts, modules_of(texts.qr_url, site.qr_error_correction))
        except ValueError as exc:
            raise Abort(f"card {card.id} cannot be printed: {exc}; run `python build.py check`") from exc
        # The PDF first, then its key: a run stopped in between draws it again next time.
        write_if_changed(pdf_path, pdf)
        write_if_changed(key_path, key.encode())
    return Artwork(pdf, trim, BLEED_MM, side, rendered=True)


def print_geometry(settings: Settings, url: str, level: str) -> tuple[tuple[float, float], float, float]:
    """Return the trim (mm), the bleed (mm) and the QR module (mm) the card at `url` is printed with."""
    from ..render.artwork import module_mm
    from ..render.printlayout import BLEED_MM
    from ..render.qr import symbol_size

    layout = layout_of(settings)
    return layout.trim, BLEED_MM, round(module_mm(layout, symbol_size(qr_url(url), level)), 4)


def live_card(site: SiteManifest, card_id: str) -> SiteCard:
    """Return the manifest's live card `card_id`; refuse an unknown or retired one."""
    card = site.cards.get(card_id)
    if card is None:
        raise Abort(f"no card '{card_id}' in the built site: check the id, or build first")
    if not card.active:
        raise Abort(f"card '{card_id}' is retired: it is not printed")
    return card


def print_cards(
    settings: Settings, out_dir: Path, site: SiteManifest, ids: list[str], proofs: Path | None
) -> tuple[list[str], int]:
    """Render the PDFs of `ids` (every live card when empty), and PNG proofs into `proofs`; return those drawn."""
    chosen = _chosen(site, ids)
    drawn = []
    for card in chosen:
        art = card_artwork(settings, out_dir, site, card)
        if art.rendered:
            drawn.append(card.id)
        if proofs is not None:
            from ..render.proof import proof_png

            write_if_changed(proofs / f"{card.id}.png", proof_png(art.pdf))
    return drawn, len(chosen)


def _chosen(site: SiteManifest, ids: list[str]) -> list[SiteCard]:
    """Return the live cards `ids`, saying which are retired; every live card when `ids` is empty."""
    if not ids:
        return [c for _, c in sorted(site.cards.items()) if c.active]
    retired = [i for i in ids if i in site.cards and not site.cards[i].active]
    for card_id in retired:
        logging.getLogger("cardsite").warning("Card '%s' is retired: it is not printed", card_id)
    return [live_card(site, i) for i in ids if i not in retired]


def print_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run `build.py print [IDS] [--proofs DIR]`: render what is not current, from the built site's manifest."""
    import time

    from .manifest import check_current, read_manifest

    site = read_manifest(args.out)
    check_current(settings, site)
    started = time.perf_counter()
    drawn, total = print_cards(settings, args.out, site, args.ids, args.proofs)
    took = (time.perf_counter() - started) * 1000
    logging.getLogger("cardsite").info(
        "Print PDFs of %d card(s) in %s: %d drawn (%.0f ms), %d current%s",
        total,
        display_path(args.out / PRINT_DIR),
        len(drawn),
        took,
        total - len(drawn),
        f"; proofs in {display_path(args.proofs)}" if args.proofs else "",
    )
    return 0
