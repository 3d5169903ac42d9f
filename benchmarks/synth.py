"""Generate a project of N synthetic, realistic and valid contact cards for benchmarks.

    python benchmarks/synth.py OUT --cards 1000 [--seed 1]

OUT gets contacts/, templates/ (a copy of the sample project's) and site.yaml.
The same seed gives byte-identical files. About a third of the cards are minimal
(a name), a third typical, a third use every field; names are often non-ASCII.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import unicodedata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

GIVEN = (
    "Jana", "Zoë", "Łukasz", "Anaïs", "Jürg", "Søren", "François", "Björn", "Ewa", "Luca", "Chloé",
    "Noé", "Mia", "Élodie", "Ömer", "José", "Renée", "Zoltán", "Małgorzata", "Niklas", "Aurélie",
    "Reto", "Beat", "Ursula", "Dmitrij", "Siân", "Ólafur", "Ines", "Matthias", "Ayşe",
)  # fmt: skip
FAMILY = (
    "Müller", "Leclerc", "Wójcik", "Schnyder", "Großmann", "Brändli", "Nguyễn", "Čapek", "Dvořák",
    "Kälin", "Gómez", "Rossi", "Bianchi", "Favre", "Meier", "Huber", "Gerber", "Ødegaard", "Çelik",
    "Zürcher", "Baumgartner", "O'Brien", "van der Berg", "Żak", "Lindqvist",
)  # fmt: skip
TITLES = (
    "Software Engineer", "Head of Platform", "Responsable des ventes Suisse romande", "Key Account Manager",
    "Leiterin Finanzen & Controlling", "Data Scientist", "CEO", "Projektleiter Bau", "UX Designer",
)  # fmt: skip
DEPARTMENTS = ("Platform Engineering", "Sales", "Finance", "Research & Development", "Marketing")
CITIES = (("8001", "Zürich", "ZH"), ("3011", "Bern", "BE"), ("1003", "Lausanne", "VD"), ("4051", "Basel", "BS"))
STREETS = ("Bahnhofstrasse", "Rue du Rhône", "Marktgasse", "Limmatquai", "Avenue de la Gare")
#: Letters NFKD does not decompose into ASCII.
TRANSLIT = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "đ": "d", "ı": "i", "æ": "ae", "œ": "oe", "'": ""})

SITE_YAML = """\
base_url: https://cards.example.ch
company:
  name: Example AG
  website: https://www.example.ch
  email: info@example.ch
  phone: "+41 44 668 18 00"
  address:
    street: Bahnhofstrasse 10
    postal_code: "8001"
    locality: Zürich
    country: Switzerland
brand_color: "#0b5cad"
default_language: de
phone_region: CH
noindex: true
qr_error_correction: M
"""


def slug(text: str) -> str:
    """Return `text` as lowercase ASCII words joined by '-'."""
    ascii_text = unicodedata.normalize("NFKD", text.lower().translate(TRANSLIT)).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text).split())


def work_phone(i: int) -> str:
    """Return a valid Zürich landline, unique for i below 10,000."""
    return f"+41 44 668 {i // 100 % 100:02d} {i % 100:02d}"


def mobile_phone(i: int) -> str:
    """Return a valid Swiss mobile number written nationally, as people do."""
    return f"079 {100 + i % 900} {i // 900 % 100:02d} {i % 100:02d}"


def contact(i: int, rng: random.Random) -> tuple[str, dict]:
    """Return the id and document of card number i."""
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    card_id = f"{slug(given)}-{slug(family)}-{i}"[:40].strip("-")
    doc: dict = {"name": {"given": given, "family": family}}
    kind = rng.random()
    if kind < 0.33:
        return card_id, doc
    local = f"{slug(given)}.{slug(family).replace('-', '')}{i}"
    doc["title"] = rng.choice(TITLES)
    doc["emails"] = [{"value": f"{local}@example.ch"}]
    doc["phones"] = [{"value": work_phone(i), "type": "work"}]
    doc["social"] = {"linkedin": f"https://www.linkedin.com/in/{card_id}"}
    doc["lang"] = rng.choice(("de", "en"))
    if kind < 0.66:
        return card_id, doc
    postal, city, region = rng.choice(CITIES)
    doc["name"].update(prefix="Dr.", additional="Sophie", suffix="MSc ETH")
    doc["department"] = rng.choice(DEPARTMENTS)
    doc["emails"].append({"value": f"{local}@familie-{slug(family)}.ch", "type": "home"})
    doc["phones"] += [{"value": mobile_phone(i), "type": "cell"}, {"value": work_phone(9999 - i), "type": "fax"}]
    doc["addresses"] = [
        {
            "street": f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
            "postal_code": postal,
            "locality": city,
            "region": region,
            "country": "Switzerland",
        }
    ]
    doc["websites"] = [f"https://www.example.ch/team/{card_id}"]
    doc["social"].update(github=f"https://github.com/{slug(given)}{i}", mastodon=f"https://mastodon.social/@u{i}")
    doc["note"] = "Office hours Tue–Thu.\nAsk me about platform engineering, Kubernetes; and coffee."
    return card_id, doc


def generate(folder: Path, cards: int, seed: int = 1) -> list[str]:
    """Write a project of `cards` contacts into `folder`; return the card ids."""
    rng = random.Random(seed)
    contacts = folder / "contacts"
    contacts.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "templates", folder / "templates", dirs_exist_ok=True)
    (folder / "site.yaml").write_text(SITE_YAML, "utf-8")
    ids = []
    for i in range(cards):
        card_id, doc = contact(i, rng)
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200)
        (contacts / f"{card_id}.yaml").write_text(text, "utf-8")
        ids.append(card_id)
    return ids


def main() -> int:
    """Generate a synthetic project from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="project folder to create")
    parser.add_argument("--cards", type=int, default=1000, help="number of cards (default: 1000, at most 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    args = parser.parse_args()
    if not 0 < args.cards <= 10_000:
        parser.error("--cards must be between 1 and 10000 (phone numbers are unique below that)")
    generate(args.out, args.cards, args.seed)
    print(f"Wrote {args.cards} cards into {args.out / 'contacts'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
