"""Rebuild only the cards whose files changed, when the stamp shows that nothing else did.

A full build reads the state of every card and looks at every card's folder, which at
10,000 cards costs more than rendering one card. When the stamp (stamp.py) shows that
the settings, the templates, cardsite's code, the output folder and every other contact
file are exactly as the last successful build left them, the changed cards are the only
inputs that moved. Each is loaded and checked as the full build would, planned and
rendered under the same rules (rules.py), and only its part of the build state is
read and rewritten. A change that other pages show (a card's name, language, status,
successor, aliases or photo) is left to the full build, which redoes those pages.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..cards.settings import Settings
from ..errors import Problem, ValidationError
from . import engine as site
from . import rules
from .fingerprint import code_digest, signature
from .manifest import manifest_current, update_manifest
from .output import disk_errors
from .store import read_cards, update_cards

#: Beyond this many changed cards, the full build's process pool is quicker than rebuilding one by one.
REBUILD_MAX = 20


@disk_errors
def rebuild_cards(settings: Settings, out_dir: Path, card_files: dict[str, str]) -> site.BuildReport | None:
    """Rebuild the cards {card id: file} alone; return None when the full build must decide instead."""
    if len(card_files) > REBUILD_MAX:
        return None
    built, entries = read_cards(out_dir, card_files)
    fixed = site.fixed_key(settings)
    if built.get("code") != code_digest() or built.get("fixed") != fixed or entries.keys() != card_files.keys():
        return None
    if not manifest_current(out_dir):
        return None

    sources: list[site.Source] = []
    problems: list[Problem] = []
    for card_id, file in card_files.items():
        st = os.lstat(file)
        if stat.S_ISLNK(st.st_mode):
            return None  # the full build refuses it, with every other problem
        source = site.Source(card_id, file, "", signature(st), "")
        card, digest, card_hash, found = site.load_one(settings, source)
        problems.extend(found)
        if card:
            site.attach(source, card, digest, card_hash, fixed)
        sources.append(source)
    if problems:
        # Every other card was valid in the last build and is unchanged; these are all the problems there are.
        raise ValidationError(problems)
    if any(source.meta != entries[source.id]["meta"] for source in sources):
        return None

    names = {source.id: source.name for source in sources}
    successors = {s.meta["successor"] for s in sources if s.meta["successor"]} - names.keys()
    names.update((card_id, entry["name"]) for card_id, entry in read_cards(out_dir, successors)[1].items())
    if not successors <= names.keys():
        return None
    plan = rules.new_plan(settings)
    for source in sources:
        successor = names[source.meta["successor"]] if source.meta["successor"] else ""
        rules.plan_card(settings, plan, source, successor, entries[source.id], f"{out_dir}/")
    pages = site.pages_for(settings, out_dir, names, sources, plan.todo) if plan.todo else None
    # The report names the cards rebuilt; the others are as the last build left them.
    report = site.BuildReport(cards={s.id: s.name for s in sources}, rendered=len(plan.todo))
    report.written = site.render_cards(pages, out_dir, sources, plan)
    update_manifest(settings, out_dir, sources, plan)
    update_cards(out_dir, {source.id: site.card_entry(source, plan, out_dir) for source in sources})
    return report
