"""build.py sync: ownership, retirement, renames, refusals, guards, dry run and summary, from a CSV source."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cardsite.cli import main
from cardsite.sync.plan import Options, plan
from cardsite.sync.records import Record

HEADER = "Employee ID,First name,Last name,Email,Job title,Department,Phone,Status\n"
ROWS = {
    "E1": "E1,Jana,Müller,jana.mueller@example.ch,Head of Platform,Platform Engineering,+41 44 668 18 01,active\n",
    "E2": "E2,Eva,Keller,eva.keller@example.ch,Controller,Finance,+41 44 668 18 50,active\n",
    "E3": "E3,Tom,Berger,tom.berger@example.ch,Engineer,Platform Engineering,,active\n",
}


def write_directory(project: Path, rows: dict[str, str], **changes: str) -> Path:
    path = project / "hr.csv"
    text = HEADER + "".join(rows.values())
    for old, new in changes.items():
        text = text.replace(old.replace("_", " "), new)
    path.write_text(text, "utf-8")
    return path


def card(project: Path, card_id: str) -> dict:
    return yaml.safe_load((project / "contacts" / f"{card_id}.yaml").read_text("utf-8"))


def sync(*extra: str) -> int:
    return main(["sync", "--source", "csv", "--url", "hr.csv", *extra])


def snapshot(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((project / "contacts").glob("*.yaml"))}


def test_a_first_sync_adopts_creates_and_keeps_what_the_person_owns(project: Path) -> None:
    write_directory(project, ROWS)
    before = (project / "contacts" / "jana-mueller.yaml").read_text("utf-8")
    assert sync() == 0
    after = (project / "contacts" / "jana-mueller.yaml").read_text("utf-8")
    # Jana's card existed: adopted by her e-mail. Her note, photo, social links, home address and comments stay.
    assert "sync_id: E1\n" in after
    for line in before.splitlines():
        if line.startswith(("note", "photo", "social", "  linkedin", "#", "  - value: jana@mueller-family.ch")):
            assert line in after.splitlines()
    assert card(project, "eva-keller")["title"] == "Controller"
    assert main(["check"]) == 0
    # A second sync with nothing changed writes nothing at all.
    files = snapshot(project)
    assert sync() == 0
    assert snapshot(project) == files


def test_a_changed_title_rewrites_that_line_of_that_file_only(project: Path) -> None:
    write_directory(project, ROWS)
    assert sync() == 0
    files = snapshot(project)
    write_directory(project, ROWS, Controller="Head of Controlling")
    assert sync() == 0
    now = snapshot(project)
    assert [name for name in files if files[name] != now[name]] == ["eva-keller.yaml"]
    old, new = files["eva-keller.yaml"].decode().splitlines(), now["eva-keller.yaml"].decode().splitlines()
    assert [(a, b) for a, b in zip(old, new, strict=True) if a != b] == [
        ("title: Controller", "title: Head of Controlling")
    ]


def test_a_comment_the_person_added_survives_an_update(project: Path) -> None:
    write_directory(project, ROWS)
    assert sync() == 0
    path = project / "contacts" / "tom-berger.yaml"
    path.write_text(path.read_text("utf-8").replace("title: Engineer\n", "title: Engineer  # since May\n"), "utf-8")
    write_directory(project, ROWS, Platform_Engineering="Platform")
    assert sync() == 0
    text = path.read_text("utf-8")
    assert "title: Engineer  # since May\n" in text and "department: Platform\n" in text


def test_gone_and_disabled_people_are_retired_never_deleted(project: Path, capsys: pytest.CaptureFixture) -> None:
    write_directory(project, ROWS)
    assert sync() == 0
    rows = {"E1": ROWS["E1"], "E2": ROWS["E2"].replace(",active", ",disabled")}  # E3 gone, E2 disabled
    write_directory(project, rows)
    assert sync() == 1  # two of three synced cards: more than the default share
    assert "would retire 2 of 3 synced cards" in capsys.readouterr().err
    assert card(project, "eva-keller").get("active", True) is True  # nothing was written
    assert sync("--allow-retire", "2") == 0
    assert card(project, "eva-keller")["active"] is False
    assert card(project, "tom-berger")["active"] is False
    assert (project / "contacts" / "tom-berger.yaml").exists()
    assert main(["check"]) == 0
    # Back in the directory: the card comes back.
    write_directory(project, ROWS)
    assert sync() == 0
    assert card(project, "tom-berger")["active"] is True


def test_a_rename_keeps_the_id(project: Path) -> None:
    write_directory(project, ROWS)
    assert sync() == 0
    write_directory(project, ROWS, **{"eva.keller@": "eva.huber@", ",Keller,": ",Huber,"})
    assert sync() == 0
    eva = card(project, "eva-keller")
    assert eva["name"]["family"] == "Huber" and eva["emails"] == [{"value": "eva.huber@example.ch"}]
    assert not (project / "contacts" / "eva-huber.yaml").exists()


def test_a_value_check_refuses_is_left_out_and_named(project: Path, capsys: pytest.CaptureFixture) -> None:
    write_directory(project, ROWS, **{"+41 44 668 18 50": "12345", "tom.berger@example.ch": "tom at example"})
    assert sync() == 0
    err = capsys.readouterr().err
    assert "hr.csv:3: phones: '12345' is not a valid phone number" in err
    assert "hr.csv:4: emails: 'tom at example' is not a valid e-mail address" in err
    assert "phones" not in card(project, "eva-keller")
    assert main(["check"]) == 0


def test_dry_run_prints_a_diff_and_writes_nothing(project: Path, capsys: pytest.CaptureFixture) -> None:
    write_directory(project, ROWS)
    files = snapshot(project)
    summary = project / "summary.md"
    assert sync("--dry-run", "--summary", str(summary)) == 0
    out = capsys.readouterr().out
    assert "--- /dev/null\n+++ b/contacts/eva-keller.yaml\n" in out
    assert "+++ b/contacts/jana-mueller.yaml\n" in out and "+sync_id: E1\n" in out
    assert snapshot(project) == files
    text = summary.read_text("utf-8")
    assert "### Added" in text and "- `eva-keller`" in text
    assert "\n2 created, 1 updated, 0 retired\n" in text
    assert "### Changed" in text and "- `jana-mueller`: " in text


def test_summary_names_the_changed_fields_and_escapes_directory_text(project: Path) -> None:
    write_directory(project, ROWS)
    assert sync() == 0
    write_directory(project, ROWS, Controller="[click](https://evil.example) @org/team")
    assert sync("--summary", "summary.md") == 0
    text = (project / "summary.md").read_text("utf-8")
    assert "- `eva-keller`: title" in text
    assert "Touches only directory-owned fields: yes" in text
    write_directory(project, ROWS, **{"E2,Eva": "E2,Eva\nE9,<b>x</b>,Y,x@y,,,"})
    assert sync("--summary", "summary.md") == 0
    text = (project / "summary.md").read_text("utf-8")
    assert "<b>" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "csv", "--url", "missing.csv"], "cannot read the CSV source missing.csv"),
        (["--source", "csv", "--url", "http://127.0.0.1:9/hr.csv"], "cannot reach the CSV source"),
        (["--source", "ldap", "--url", "ldap://127.0.0.1:9", "--base-dn", "dc=x"], "cannot reach the LDAP server"),
        (["--source", "scim", "--url", "http://127.0.0.1:9/"], "cannot reach the SCIM server"),
        ([], "no directory to sync from"),
    ],
)
def test_an_unreachable_source_is_a_clean_error_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    files = snapshot(project)
    assert main(["sync", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert snapshot(project) == files


def rec(key: str, **values: str) -> Record:
    return Record(key=key, where=f"entry {key}", values=values)


def test_the_planner_is_a_function_of_its_inputs() -> None:
    cards = {
        "jana": {"name": {"given": "Jana", "family": "Müller", "order": "given-first"}, "sync_id": "1", "note": "mine"},
        "old": {"name": {"given": "Old"}, "sync_id": "2"},
        "hand": {"name": {"given": "Hand"}},
    }
    records = [rec("1", givenName="Jana", sn="Meier", title="CTO"), rec("3", givenName="New", sn="Person")]
    changes = plan(records, cards, ["givenName", "sn", "title", "note"], Options())
    kinds = {(c.kind, c.card_id) for c in changes}
    assert kinds == {("update", "jana"), ("create", "new-person"), ("retire", "old")}  # 'hand' was never synced
    update = next(c for c in changes if c.kind == "update")
    assert update.values == {("name", "family"): "Meier", ("title",): "CTO"}  # note and name.order are the person's
    delta = plan(records[:1], cards, ["givenName"], Options(complete=False))
    assert {c.kind for c in delta} == {"skip"}  # a delta listing retires nobody, and givenName did not change


def test_the_planner_owns_only_what_site_yaml_says() -> None:
    cards = {"jana": {"name": {"given": "Jana"}, "title": "Mine", "sync_id": "1"}}
    changes = plan([rec("1", givenName="Jana", title="CTO")], cards, ["givenName", "title"], Options(owns=["name"]))
    assert changes[0].kind == "skip"


def test_a_csv_at_an_http_url(project: Path, serve_dir) -> None:
    folder = project / "export"
    folder.mkdir()
    write_directory(project, ROWS).rename(folder / "hr.csv")
    base = serve_dir(folder)
    assert main(["sync", "--source", "csv", "--url", f"{base}/hr.csv"]) == 0
    assert card(project, "eva-keller")["title"] == "Controller"
    assert main(["sync", "--source", "csv", "--url", f"{base}/missing.csv"]) == 1


def test_the_state_file_stays_next_to_site_yaml(project: Path, capsys: pytest.CaptureFixture) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + "sync:\n  source: csv\n  url: hr.csv\n  state_file: ../../x.json\n")
    assert main(["sync"]) == 1
    assert "sync.state_file" in capsys.readouterr().err
