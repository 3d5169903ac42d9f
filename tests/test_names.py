"""Names in the person's own order and direction: on the page, in the vCard, the print job and the notice."""

from __future__ import annotations

import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

import pytest
import vobject

from cardsite.cards.model import Name
from cardsite.cli import main

CARDS = {
    # Hangul: family first, written together, from the script alone.
    "minsu-kim": "name: {given: 민수, family: 김}\nemails: [{value: minsu.kim@example.ch}]\n",
    # Latin script: family first only because the card says so.
    "janos-nagy": (
        "name: {prefix: Dr., given: János, family: Nagy, order: family-first}\n"
        "emails: [{value: janos.nagy@example.ch}]\n"
    ),
    # Arabic: given first, as in the script, but right to left.
    "layla-haddad": "name: {given: ليلى, family: حداد}\nemails: [{value: layla.haddad@example.ch}]\n",
}
EXPECTED = {
    "minsu-kim": ("김민수", "ltr"),
    "janos-nagy": ("Dr. Nagy János", "ltr"),
    "layla-haddad": ("ليلى حداد", "rtl"),
}


@pytest.mark.parametrize(
    ("name", "full", "short"),
    [
        (
            Name(given="Jana", family="Müller", prefix="Dr.", suffix="MSc ETH"),
            "Dr. Jana Müller, MSc ETH",
            "Jana Müller",
        ),
        (Name(given="민수", family="김"), "김민수", "김민수"),
        (Name(given="伟", family="张"), "张伟", "张伟"),
        (Name(given="由紀", family="田中"), "田中由紀", "田中由紀"),
        (Name(given="ゆき", family="タナカ"), "タナカゆき", "タナカゆき"),
        (Name(given="민수", family="김", order="given-first"), "민수 김", "민수 김"),
        (
            Name(given="János", family="Nagy", additional="Péter", order="family-first"),
            "Nagy János Péter",
            "Nagy János",
        ),
        (Name(given="Văn An", family="Nguyễn", order="family-first"), "Nguyễn Văn An", "Nguyễn Văn An"),
        (Name(given="Wei", family="张"), "张 Wei", "张 Wei"),
        (Name(given="Zhang"), "Zhang", "Zhang"),
    ],
)
def test_the_order_follows_the_script_or_the_setting(name: Name, full: str, short: str) -> None:
    assert (name.full, name.short) == (full, short)


def test_direction_comes_from_the_name_not_its_prefix() -> None:
    assert Name(given="ليلى", family="حداد", prefix="Dr.").dir == "rtl"
    assert Name(given="נועה", family="כהן").dir == "rtl"
    assert Name(given="Jana", family="Müller").dir == "ltr"
    assert Name(given="김").dir == "ltr"


class Elements(HTMLParser):
    """Collect the text and attributes of the elements that show a name."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, tuple[dict[str, str | None], str]] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "meta" and attributes.get("property") == "og:title":
            self.found["og:title"] = (attributes, attributes.get("content") or "")
        elif tag in ("h1", "title", "strong") and tag not in self.found:
            self._open = tag
            self.found[tag] = (attributes, "")

    def handle_data(self, data: str) -> None:
        if self._open:
            attributes, text = self.found[self._open]
            self.found[self._open] = (attributes, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None


def elements(path: Path) -> dict[str, tuple[dict[str, str | None], str]]:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.found


@pytest.fixture
def built(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Noto Sans has no Hangul and the artwork sets no right-to-left text, so this site prints its cards
    # elsewhere (tests/test_artwork.py holds cards to the layout).
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + "print:\n  artwork: false\n", "utf-8")
    for card_id, text in CARDS.items():
        (project / "contacts" / f"{card_id}.yaml").write_text(text, encoding="utf-8")
    for name in ("CARDSITE_MAIL_FROM", "CARDSITE_PRINT_INBOX", "CARDSITE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["build", "-q"]) == 0
    return project / "public"


@pytest.mark.parametrize("card_id", sorted(CARDS))
def test_page_and_signature_show_the_name_in_order_and_direction(built: Path, card_id: str) -> None:
    full, direction = EXPECTED[card_id]
    page = elements(built / card_id / "index.html")
    h1_attributes, h1_text = page["h1"]
    assert (h1_text, h1_attributes.get("dir")) == (full, direction)
    assert page["title"][1].startswith(f"{full} – ")
    assert page["og:title"][1] == full
    strong_attributes, strong_text = elements(built / card_id / "signature.html")["strong"]
    assert (strong_text, strong_attributes.get("dir")) == (full, direction)


def test_vcard_fn_is_in_order_and_n_keeps_the_parts(built: Path) -> None:
    for card_id, (full, _) in EXPECTED.items():
        card = vobject.readOne((built / card_id / f"{card_id}.vcf").read_text(encoding="utf-8"))
        assert card.fn.value == full
    korean = vobject.readOne((built / "minsu-kim" / "minsu-kim.vcf").read_text(encoding="utf-8"))
    assert (korean.n.value.family, korean.n.value.given) == ("김", "민수")


def _message(path: Path) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())


def _card_json(path: Path) -> dict:
    part = next(p for p in _message(path).iter_attachments() if p.get_filename() == "card.json")
    return json.loads(part.get_content())


def test_print_job_and_owner_notice_use_the_persons_order(built: Path, project: Path) -> None:
    assert main(["notify", "-q", "--dry-run", "outbox"]) == 0
    outbox = project / "outbox"
    assert _message(outbox / "janos-nagy.print.eml")["Subject"] == "[cardsite] created: Nagy János (janos-nagy)"
    hungarian = _card_json(outbox / "janos-nagy.print.eml")
    assert hungarian["name"] == "Nagy János"
    assert hungarian["fields"]["name"]["full"] == "Dr. Nagy János"
    assert hungarian["fields"]["name"]["order"] == "family-first"
    korean = _card_json(outbox / "minsu-kim.print.eml")
    assert (korean["name"], korean["fields"]["name"]["full"]) == ("김민수", "김민수")
    assert "order" not in korean["fields"]["name"]  # the script decides; nothing new to announce
    notice = _message(outbox / "janos-nagy.owner.eml")
    assert notice["To"].addresses[0].display_name == "Dr. Nagy János"
    assert "Nagy János," in notice.get_body(("plain",)).get_content().splitlines()[0]


def test_a_misspelt_order_is_reported_with_its_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "contacts" / "typo.yaml").write_text(
        "name:\n  given: János\n  family: Nagy\n  order: family-frist\n", encoding="utf-8"
    )
    assert main(["check"]) == 1
    err = capsys.readouterr()
    report = err.out + err.err
    assert "contacts/typo.yaml:4: name.order: 'family-frist' is not one of" in report, report
    assert "Traceback" not in report


@pytest.mark.browser
def test_chromium_lays_out_an_arabic_name_right_to_left(built: Path, serve_dir, page) -> None:
    base = serve_dir(built)
    page.goto(f"{base}/layla-haddad/")
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "ليلى حداد"
    assert heading.evaluate("e => getComputedStyle(e).direction") == "rtl"
    page.goto(f"{base}/minsu-kim/")
    assert page.title().startswith("김민수 – ")
    assert page.get_by_role("heading", level=1).evaluate("e => getComputedStyle(e).direction") == "ltr"
