"""vCard text: structure, escaping and folding, and a round trip through vobject."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
import vobject
from vcard_oracle import render_vcard as vobject_vcard

from cardsite.build.engine import card_of, check
from cardsite.cards.load import read_yaml
from cardsite.cards.model import Card, make_card
from cardsite.cards.settings import load_settings
from cardsite.render.photo import vcard_jpeg
from cardsite.render.vcard import card_uid, render_vcard


def cards(settings) -> dict[str, Card]:
    """Return every valid card of the project, by id: the check runs, then each card is loaded from its file."""
    return {source.id: card_of(settings, source) for source in check(settings)}


@pytest.fixture
def settings(project: Path):
    return load_settings(project / "contacts")


def card_from(project: Path, settings, card_id: str, text: str) -> Card:
    path = project / "contacts" / f"{card_id}.yaml"
    path.write_text(text, encoding="utf-8")
    doc, problems = read_yaml(path)
    assert doc is not None, problems
    card, problems = make_card(card_id, doc, settings)
    assert card is not None, problems
    return card


def parse(data: bytes) -> vobject.base.Component:
    cards = list(vobject.readComponents(data.decode("utf-8")))
    assert len(cards) == 1, "one contact per file"
    return cards[0]


def test_every_sample_card_round_trips(settings) -> None:
    for card in cards(settings).values():
        v = parse(render_vcard(card))
        assert v.version.value == "3.0"
        assert v.fn.value == card.name.fn
        n = v.n.value
        assert (n.family, n.given, n.additional, n.prefix, n.suffix) == (
            card.name.family,
            card.name.given,
            card.name.additional,
            card.name.prefix,
            card.name.suffix,
        )
        assert v.org.value == [card.org, card.department] if card.department else [card.org]
        assert [t.value for t in v.contents.get("tel", [])] == [p.e164 for p in card.phones]
        assert [e.value for e in v.contents.get("email", [])] == [e.value for e in card.emails]
        urls = [u.value for u in v.contents.get("url", [])]
        assert urls == [*card.websites, *(p.url for p in card.social)]
        social = {s.params["TYPE"][0]: s.value for s in v.contents.get("x-socialprofile", [])}
        assert social == {p.network: p.url for p in card.social}
        assert [a.value.city for a in v.contents.get("adr", [])] == [a.locality for a in card.addresses]
        assert v.uid.value == card_uid(card)
        if card.note:
            assert v.note.value == card.note


def test_full_card_fields(settings) -> None:
    card = cards(settings)["jana-mueller"]
    text = render_vcard(card).decode()
    assert "N:Müller;Jana;Sophie;Dr.;MSc ETH\r\n" in text
    # FN is free-form: a space before the suffix needs no escaping, which two readers showed as "\\,".
    assert "FN:Dr. Jana Sophie Müller MSc ETH\r\n" in text
    assert "ORG:Example AG;Platform Engineering\r\n" in text
    assert "TEL;TYPE=CELL,VOICE:+41791234567\r\n" in text
    assert "TEL;TYPE=WORK,FAX:+41446681899\r\n" in text
    assert "EMAIL;TYPE=INTERNET,HOME:jana@mueller-family.ch\r\n" in text
    assert "X-SOCIALPROFILE;TYPE=github:https://github.com/janamueller\r\n" in text
    assert "URL:https://github.com/janamueller\r\n" in text


def test_escaping_of_special_characters(project: Path, settings) -> None:
    card = card_from(
        project,
        settings,
        "esc",
        'name: {given: "Anna, Maria", family: "Back\\\\slash; Semi"}\n'
        'title: "R&D, Lead; Ops"\nnote: "line one\\nline two, with; all \\\\ of it"\n',
    )
    data = render_vcard(card)
    text = data.decode()
    assert "N:Back\\\\slash\\; Semi;Anna\\, Maria;;;\r\n" in text
    assert "TITLE:R&D\\, Lead\\; Ops\r\n" in text
    assert "NOTE:line one\\nline two\\, with\\; all \\\\ of it\r\n" in text
    v = parse(data)
    assert v.n.value.given == "Anna, Maria"
    assert v.n.value.family == "Back\\slash; Semi"
    assert v.note.value == "line one\nline two, with; all \\ of it"


def test_bytes_equal_a_plain_vobject_serialize(project: Path, settings) -> None:
    """render_vcard writes the text itself; the bytes must be those vobject's objects serialise to."""
    every = list(cards(settings).values())
    every.append(
        card_from(
            project,
            settings,
            "tricky",
            'name: {given: "Anna, Maria", family: "Back\\\\slash; Semi", prefix: "Dr.", suffix: "PhD"}\n'
            'title: "R&D, Lead; Ops: \\"quoted\\""\ndepartment: "Sales; Nord"\n'
            'note: "line one\\nline two, with; all \\\\ of it ' + "Zürich Genève Łódź " * 8 + '"\n'
            "addresses: [{street: 'Rue du Rhône 1; Étage 2', locality: 'Genève', postal_code: '1204', country: CH}]\n"
            "websites: ['https://example.org/a,b;c?q=1,2']\nsocial: {github: 'https://github.com/a;b,c'}\n",
        )
    )
    for card in every:
        photo = vcard_jpeg((settings.contacts_dir / card.photo).read_bytes()) if card.photo else None
        assert render_vcard(card, photo) == vobject_vcard(card, photo), card.id
    assert any(card.photo for card in every)


#: Pieces that vCard escaping, parameter quoting and folding must each get right.
_TRICKY = ["a", "Zoë", "Łódź", "€", "😀", "김민수", ",", ";", ":", "\\", " ", "\n", '"', "=", "Ǆ", "\u0301", "x" * 30]


@pytest.mark.parametrize("seed", range(40))
def test_direct_text_equals_vobject_on_generated_cards(project: Path, settings, seed: int) -> None:
    """Random mixes of the characters that escaping, quoting and folding must get right, in every text field."""
    import random

    rng = random.Random(seed)

    def text(pieces: int = 8) -> str:
        return "".join(rng.choice(_TRICKY) for _ in range(rng.randint(1, pieces))).strip() or "a"

    def one_line(pieces: int = 8) -> str:
        return text(pieces).replace("\n", " ").strip() or "a"

    card = {
        "name": {k: one_line(4) for k in ("prefix", "given", "additional", "family", "suffix") if rng.random() < 0.8},
        "org": one_line(),
        "title": one_line(12),
        "note": text(40),
        "addresses": [{"street": text(), "locality": one_line(), "postal_code": "8001", "country": "CH"}],
        "emails": [{"value": f"user{seed}@example.ch"}, {"value": "b@example.org", "type": "home"}],
        "phones": [{"value": "+41 44 668 18 01"}, {"value": "079 123 45 67", "type": "cell"}],
        "websites": [f"https://example.org/{seed}/a,b;c?x=1"],
        "social": {"github": f"https://github.com/u{seed}"},
    }
    if rng.random() < 0.5:
        card["department"] = one_line()
    card["name"].setdefault("given", "a")
    made = card_from(project, settings, f"gen-{seed}", json.dumps(card, ensure_ascii=False))
    assert render_vcard(made) == vobject_vcard(made)


def test_lines_are_crlf_and_folded_at_75_octets(project: Path, settings) -> None:
    note = "Zürich Genève Łódź " * 12 + "€" * 40
    card = card_from(project, settings, "fold", f"name: {{given: Zoë, family: Wójcik}}\nnote: '{note}'\n")
    data = render_vcard(card)
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines)
    assert len(lines) > 5
    for line in lines:
        assert len(line) <= 75, line
        line.decode("utf-8")  # a fold never splits a multi-byte character
    assert parse(data).note.value == note


def test_output_is_deterministic_and_uid_stable(project: Path, settings) -> None:
    card = card_from(project, settings, "same", "name: {given: Same}\n")
    assert render_vcard(card) == render_vcard(card)
    assert card_uid(card) == card_uid(card_from(project, settings, "same", "name: {given: Changed}\n"))
    other = load_settings(project / "contacts", base_url="https://other.example.ch")
    doc, _ = read_yaml(project / "contacts" / "same.yaml")
    moved, _ = make_card("same", doc, other)
    assert card_uid(moved) != card_uid(card)


def test_company_defaults_fill_a_minimal_card(settings) -> None:
    card = cards(settings)["max"]
    v = parse(render_vcard(card))
    assert v.org.value == ["Example AG"]
    assert v.adr.value.street == "Bahnhofstrasse 10"
    assert v.url.value == "https://www.example.ch"


def test_surrounding_spaces_and_a_final_newline_are_not_printed(project: Path, settings) -> None:
    # `title: >` folds the lines and keeps a final newline; quotes keep spaces.
    card = card_from(
        project,
        settings,
        "spaces",
        'name: {given: "  Jana ", family: "Müller\\n"}\ntitle: >\n  Head of\n  Platform\nemails: [{value: " jana@example.ch "}]\n',
    )
    assert (card.name.given, card.name.family, card.title) == ("Jana", "Müller", "Head of Platform")
    text = render_vcard(card).decode()
    assert "TITLE:Head of Platform\r\n" in text and "N:Müller;Jana;;;\r\n" in text
    assert "EMAIL;TYPE=INTERNET,WORK,PREF:jana@example.ch\r\n" in text


def raw_lines(data: bytes) -> list[vobject.base.ContentLine]:
    """Read content lines with vobject's own parser, but not its text unescaping.

    vobject reads every property it does not know as text, so it would cut an unescaped URL at a
    comma; a URL is a uri value (RFC 2426 §3.6.8, §5), whose text is the link as written.
    """
    logical = vobject.base.getLogicalLines(io.StringIO(data.decode("utf-8")))
    return [vobject.base.textLineToContentLine(line, n) for line, n in logical]


URIS = [
    "https://example.org/a,b;c",
    "https://maps.example.org/?q=47.37,8.54;z=12&lang=de#map",
    "https://example.org/~user/(x)!*+@:$=/%C3%A4?a=1,2",
    "https://例え.jp/パス;v=1",
    "https://www.example.org/" + "segment,with;specials/" * 5 + "end",
]
SOCIAL = {"github": "https://github.com/a,b", "mastodon": "https://mastodon.social/@x;y"}


def test_uris_are_written_unescaped(project: Path, settings) -> None:
    text = json.dumps({"name": {"given": "Uri"}, "websites": URIS, "social": SOCIAL})
    data = render_vcard(card_from(project, settings, "uris", text))
    lines = raw_lines(data)
    assert [line.value for line in lines if line.name == "URL"] == [*URIS, *SOCIAL.values()]
    social = {line.params["TYPE"][0]: line.value for line in lines if line.name == "X-SOCIALPROFILE"}
    assert social == SOCIAL
    for physical in data.split(b"\r\n"):
        assert len(physical) <= 75, physical
    # Read as vobject reads them by default, links without a comma come back whole, ';' included.
    read = [u.value for u in parse(data).contents["url"]]
    assert [got for got, uri in zip(read[: len(URIS)], URIS, strict=True) if "," not in uri] == [
        uri for uri in URIS if "," not in uri
    ]


def test_a_uri_with_a_line_break_cannot_add_a_property(settings) -> None:
    """The link checks refuse such URLs; the vCard writer still never lets one end its line."""
    card = cards(settings)["max"]
    bad = "https://example.org/a\r\nEMAIL:x@example.org\u2028b c\x00"
    lines = raw_lines(render_vcard(dataclasses.replace(card, websites=(bad,))))
    assert [line.value for line in lines if line.name == "URL"] == [
        "https://example.org/a%0D%0AEMAIL:x@example.org%E2%80%A8b%20c%00"
    ]
    assert not [line for line in lines if line.name == "EMAIL"]


def test_every_email_says_internet_and_keeps_work_or_home(settings) -> None:
    for card in (c for c in cards(settings).values() if c.emails):
        for email, line in zip(card.emails, parse(render_vcard(card)).contents["email"], strict=True):
            types = [t.upper() for t in line.params["TYPE"]]
            assert types[:2] == ["INTERNET", email.type.upper()], types
