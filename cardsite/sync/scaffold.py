"""`build.py new ID`: one commented card, valid as written, to fill in."""

from __future__ import annotations

from pathlib import Path

from ..cards.load import check_id
from ..cards.settings import Settings
from ..errors import Abort, display_path
from .write import HEADER, gate

TEMPLATE = """\
{header}# A new card. Only name is required; uncomment what applies and delete the rest.
# The file name ({card_id}.yaml) is the card's permanent id and URL: it is printed on the card.
name:
  given: {given}
  family: {family}
# title: Head of Platform
# department: Platform Engineering
# emails:
#   - value: {card_id}@example.com
# phones:
#   - value: "+41 44 668 18 01"    # quote numbers; national ones use phone_region from site.yaml
#     type: work                   # work (default) | cell | home | fax
# websites:                        # http:// or https:// only; default: company.website
#   - https://www.example.com/team/{card_id}
# social:                          # network: profile URL
#   linkedin: https://www.linkedin.com/in/{card_id}
# note: |-
#   Office hours Tue–Thu.
# lang: en                         # page language: en | de | fr | it; default: default_language
# photo: photos/{card_id}.jpg      # JPEG, PNG or WebP under contacts/, at most 10 MB
"""


def scaffold(card_id: str, settings: Settings) -> Path:
    """Write contacts/<card_id>.yaml from the template; refuse a bad id or an existing file."""
    if reason := check_id(card_id):
        raise Abort(reason.replace(" (rename the file)", ""))
    path = settings.contacts_dir / f"{card_id}.yaml"
    if any(path.with_suffix(s).exists() for s in (".yaml", ".yml")):
        raise Abort(f"{display_path(path)} exists already; new never overwrites a card")
    words = [w.capitalize() for w in card_id.split("-") if w]
    given, family = (words[0], " ".join(words[1:])) if len(words) > 1 else (words[0], "Surname")
    text = TEMPLATE.format(header=HEADER, card_id=card_id, given=given, family=family)
    problems = gate(card_id, path, text, settings)
    if problems:  # the template is ours: a refusal here is a bug, not the user's mistake
        raise AssertionError("\n".join(problems))
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)
    return path
