"""build.py new and build.py import: CSV (BOM, ';'), XLSX, and vCard files as iOS and Google Contacts write them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import vobject
import yaml

from cardsite.cli import main
from cardsite.sync.ids import propose_id, unique_id
from cardsite.sync.mapping import card_data, map_values

DATA = Path(__file__).resolve().parent / "sync"


def card(project: Path, card_id: str) -> dict:
    return yaml.safe_load((project / "contacts" / f"{card_id}.yaml").read_text("utf-8"))


@pytest.fixture
def empty(project: Path) -> Path:
    """The sample project without its cards."""
    shutil.rmtree(project / "contacts")
    (project / "contacts").mkdir()
    return project


GERMAN_CSV = (
    "Vorname;Nachname;E-Mail-Adresse;Telefon geschäftlich;Mobiltelefon;Abteilung;Position;PLZ;Ort\n"
    "Łukasz;Wójcik;;+41 44 668 18 20;;Engineering;Engineer;8001;Zürich\n"
    "Anna;Schmidt;anna.schmidt@example.ch;044 668 18 21;079 123 45 67;Vertrieb;Leiterin Vertrieb;;\n"
    "Bad;Phone;bad.phone@example.ch;12;;Vertrieb;Sachbearbeiter;;\n"
    "Anna;Schmidt;anna.schmidt2@example.ch;;;;;;\n"
)


def test_import_reads_a_german_excel_csv_with_bom_and_semicolons(empty: Path, capsys: pytest.CaptureFixture) -> None:
    path = empty / "people.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GERMAN_CSV.encode("utf-8"))
    assert main(["import", str(path)]) == 0
    err = capsys.readouterr().err
    lukasz = card(empty, "lukasz-wojcik")  # no e-mail: the transliterated name
    assert lukasz["name"] == {"given": "Łukasz", "family": "Wójcik"}
    assert lukasz["addresses"] == [{"postal_code": "8001", "locality": "Zürich"}]
    anna = card(empty, "anna-schmidt")  # the e-mail's local part
    assert anna["phones"] == [{"value": "044 668 18 21"}, {"value": "079 123 45 67", "type": "cell"}]
    assert (anna["department"], anna["title"]) == ("Vertrieb", "Leiterin Vertrieb")
    assert "anna-schmidt2" in {p.stem for p in (empty / "contacts").iterdir()}
    # A bad value is left out and reported with the row; the rest of the person still gets a card.
    assert "people.csv:4: phones: '12' is not a valid phone number" in err
    assert "phones" not in card(empty, "bad-phone")
    assert "4 created, 0 updated, 0 retired, 0 skipped or unchanged, 0 refused; 4 files written" in err
    text = (empty / "contacts" / "anna-schmidt.yaml").read_text("utf-8")
    assert text.startswith("# yaml-language-server: $schema=../cardsite/schema/contact.schema.json\n")
    assert '  - value: "044 668 18 21"\n' in text  # numbers in quotes, lists indented as the README writes them
    assert main(["check"]) == 0


def test_import_never_overwrites_without_update(project: Path, capsys: pytest.CaptureFixture) -> None:
    before = (project / "contacts" / "jana-mueller.yaml").read_bytes()
    path = project / "people.csv"
    path.write_text(
        "First name,Last name,Email,Job title\nJana,Müller,jana.mueller@example.ch,Chief Platform Officer\n"
    )
    assert main(["import", str(path)]) == 0
    assert "skipped contacts/jana-mueller.yaml" in capsys.readouterr().err
    assert (project / "contacts" / "jana-mueller.yaml").read_bytes() == before
    assert main(["import", "--update", str(path)]) == 0
    after = (project / "contacts" / "jana-mueller.yaml").read_text("utf-8")
    assert "title: Chief Platform Officer\n" in after
    # Only the title line moved: comments, quotes and key order are the person's.
    changed = [(a, b) for a, b in zip(before.decode().splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [("title: Head of Platform", "title: Chief Platform Officer")]


def test_import_reads_an_xlsx_workbook(empty: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Name", "E-Mail", "Phone", "Department", "ZIP", "City"])
    sheet.append(["Zoë Leclerc", "zoe.leclerc@example.ch", "+41 44 668 18 40", "Design", 8001, "Zürich"])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["Max Muster", "MAX@example.ch", 41446681841, "Finance", None, None])
    book.save(empty / "people.xlsx")
    assert main(["import", str(empty / "people.xlsx")]) == 0
    zoe = card(empty, "zoe-leclerc")
    assert zoe["name"] == {"given": "Zoë", "family": "Leclerc"}
    assert zoe["addresses"] == [{"postal_code": "8001", "locality": "Zürich"}]  # 8001, not 8001.0
    assert card(empty, "max")["department"] == "Finance"


@pytest.mark.parametrize("names", [["ios.vcf"], ["google.vcf"], ["v4.vcf"]])
def test_import_reads_multi_contact_vcf_files(empty: Path, names: list[str]) -> None:
    files = [str(DATA / n) for n in names]
    assert main(["import", *files]) == 0
    made = {p.stem: card(empty, p.stem) for p in (empty / "contacts").glob("*.yaml")}
    # The same people, read from the files by vobject, must each have their card with their name.
    expected = [c for f in files for c in vobject.readComponents(Path(f).read_text("utf-8"))]
    assert len(made) == len(expected)
    names_made = {(d["name"].get("given"), d["name"].get("family")) for d in made.values()}
    assert names_made == {(c.n.value.given, c.n.value.family) for c in expected}
    assert main(["check"]) == 0


def test_the_ios_contact_keeps_its_parts(empty: Path) -> None:
    assert main(["import", str(DATA / "ios.vcf"), str(DATA / "google.vcf")]) == 0
    jana = card(empty, "jana-mueller")
    assert jana["name"] == {"prefix": "Dr.", "given": "Jana", "additional": "Sophie", "family": "Müller"}
    assert (jana["org"], jana["department"], jana["title"]) == (
        "Example AG",
        "Platform Engineering",
        "Head of Platform",
    )
    assert jana["phones"] == [{"value": "+41 44 668 18 01"}, {"value": "+41 79 123 45 67", "type": "cell"}]
    assert jana["addresses"][0]["locality"] == "Zürich"
    assert card(empty, "lukasz-wojcik")["phones"] == [{"value": "+48 512 345 678", "type": "cell"}]
    assert card(empty, "zoe-leclerc")["websites"] == ["https://zoe.example.fr"]  # Google's https\:// unescaped


def test_a_file_that_is_not_a_vcard_is_a_clean_error(empty: Path, capsys: pytest.CaptureFixture) -> None:
    bad = empty / "bad.vcf"
    bad.write_text("BEGIN:VCARD\nVERSION:3.0\nN:Broken\n")  # never ends
    assert main(["import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: bad.vcf: not a readable vCard file") and "Traceback" not in err
    assert list((empty / "contacts").iterdir()) == []


def test_mapping_from_the_command_line_and_site_yaml(empty: Path) -> None:
    path = empty / "hr.csv"
    path.write_text("Rufname,Zuname,Job,Kostenstelle\nEva,Keller,Controllerin,4711\n")
    site = empty / "site.yaml"
    site.write_text(site.read_text("utf-8") + "sync:\n  mapping:\n    Job: title\n", "utf-8")
    assert main(["import", "--map", "Zuname=family", "--map", "Kostenstelle=ignore", str(path)]) == 0
    assert card(empty, "eva-keller") | {"sync_id": ""} == {
        "name": {"given": "Eva", "family": "Keller"},
        "title": "Controllerin",
        "sync_id": "",
    }
    assert main(["import", "--map", "Zuname", str(path)]) == 1


@pytest.mark.parametrize(
    ("email", "given", "family", "expected"),
    [
        ("", "Łukasz", "Wójcik", "lukasz-wojcik"),
        ("Jana.Mueller@example.ch", "Jana", "Müller", "jana-mueller"),
        ("", "Zoë", "Leclerc", "zoe-leclerc"),
        ("", "Ærøskøbing", "Straße", "aeroskobing-strasse"),
        ("", "张", "伟", "zhang-wei"),
        ("", "", "", ""),
    ],
)
def test_ids_come_from_the_mail_or_the_transliterated_name(email: str, given: str, family: str, expected: str) -> None:
    assert propose_id(email, given, family) == expected


def test_ids_are_made_unique_and_valid() -> None:
    taken = {"jana", "jana-2", "assets"}
    assert unique_id("jana", taken) == "jana-3"
    assert unique_id("assets", taken) == "assets-2"
    assert unique_id("", taken) == "person"
    assert "jana-3" in taken


def test_a_full_name_column_is_split() -> None:
    assert card_data(map_values({"Full name": "Anna Lena Berg"}, {}))["name"] == {
        "given": "Anna Lena",
        "family": "Berg",
    }


def test_new_scaffolds_a_commented_card_that_passes_check(empty: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["new", "anna-berg"]) == 0
    text = (empty / "contacts" / "anna-berg.yaml").read_text("utf-8")
    assert text.startswith("# yaml-language-server: $schema=../cardsite/schema/contact.schema.json\n")
    assert yaml.safe_load(text) == {"name": {"given": "Anna", "family": "Berg"}}
    assert "# emails:" in text
    assert main(["check"]) == 0
    assert main(["new", "anna-berg"]) == 1  # never overwrites
    assert main(["new", "Anna Berg"]) == 1
    assert "is not a valid card id" in capsys.readouterr().err


def test_owner_notices_go_only_to_a_company_address(empty: Path) -> None:
    path = empty / "people.csv"
    path.write_text(
        "Name,E-Mail,Work e-mail\nPia Roth,pia.roth@gmail.example,pia.roth@example.ch\nOle Sand,ole@gmail.example,\n",
        "utf-8",
    )
    assert main(["import", str(path)]) == 0
    pia = card(empty, "pia-roth")  # the company address goes first: owner notices use the first
    assert [e["value"] for e in pia["emails"]] == ["pia.roth@example.ch", "pia.roth@gmail.example"]
    assert "notify_owner" not in pia
    assert card(empty, "ole")["notify_owner"] is False  # no company address: the card notifies nobody
    assert main(["check"]) == 0
