"""Validation: every mistake is reported at once, with file, line and field, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cardsite.cli import main


def write(project: Path, name: str, text: str | bytes) -> Path:
    path = project / "contacts" / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_sample_contacts_pass(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys)
    assert code == 0, out
    assert "5 cards OK" in out


def test_invalid_phone_reports_file_line_and_field(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        project,
        "jana.yaml",
        "name:\n  given: Jana\nphones:\n  - value: '+41 44 668 18 00'\n  - value: '+41 44 12'\n    type: cell\n",
    )
    code, out = check(capsys)
    assert code == 1
    assert "contacts/jana.yaml:5: phones[1]: '+41 44 12' is not a valid phone number" in out


def test_every_problem_is_reported_at_once(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "a.yaml", "name:\n  given: A\nemial: a@example.ch\n")
    write(project, "b.yaml", "name:\n  given: B\nwebsites:\n  - javascript:alert(1)\n")
    write(project, "c.yaml", "name:\n  given: C\nemails:\n  - value: not-an-address\n")
    code, out = check(capsys)
    assert code == 1
    assert "contacts/a.yaml:3: emial: unknown field 'emial'; did you mean 'emails'?" in out
    assert "contacts/b.yaml:4: websites[0]: 'javascript:alert(1)' is not a web address" in out
    assert "contacts/c.yaml:4: emails[0]: 'not-an-address' is not a valid e-mail address" in out
    assert "3 problem(s) found" in out


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.yaml", "name: [unclosed\n", "contacts/bad.yaml:2: invalid YAML"),
        ("empty.yaml", "", "contacts/empty.yaml:1: file is empty"),
        ("comments.yaml", "# only a comment\n", "contacts/comments.yaml:1: file is empty"),
        ("latin1.yaml", "name:\n  given: J\xfcrg\n".encode("latin-1"), "contacts/latin1.yaml:2: file is not UTF-8"),
        ("list.yaml", "- a\n- b\n", "contacts/list.yaml:1: expected a mapping"),
        ("type.yaml", "name:\n  given: 42\n", "contacts/type.yaml:2: name.given: expected text, got 42; put the value"),
        ("noname.yaml", "title: CEO\n", "contacts/noname.yaml:1: missing required field 'name'"),
        ("nogiven.yaml", "name:\n  prefix: Dr.\n", "contacts/nogiven.yaml:2: name: needs at least 'given' or 'family'"),
        ("dup.yaml", "name:\n  given: A\n  given: B\n", "contacts/dup.yaml:3: name.given: duplicate key"),
        (
            "kind.yaml",
            "name: {given: A}\nphones:\n  - {value: '+41446681800', type: mobile}\n",
            "phones[0].type: 'mobile' is not one of",
        ),
        ("Bad_Id.yaml", "name: {given: A}\n", "'Bad_Id' is not a valid card id"),
        ("with space.yaml", "name: {given: A}\n", "'with space' is not a valid card id"),
        ("assets.yaml", "name: {given: A}\n", "the id 'assets' is reserved"),
        (
            "ftp.yaml",
            "name: {given: A}\nsocial:\n  github: ftp://github.com/a\n",
            "ftp.yaml:3: social.github: 'ftp://github.com/a' is not a web",
        ),
        ("multi.yaml", 'name: {given: "A\\nB"}\n', "name.given: must be a single line"),
    ],
)
def test_bad_input_is_named(
    project: Path, capsys: pytest.CaptureFixture[str], name: str, content, expected: str
) -> None:
    write(project, name, content)
    code, out = check(capsys)
    assert code == 1
    assert expected in out
    assert "Traceback" not in out


def test_duplicate_ids_from_two_extensions(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "max.yml", "name: {given: Max}\n")
    code, out = check(capsys)
    assert code == 1
    assert "card id 'max' is also defined by contacts/max.yaml" in out


def test_url_too_long_for_ntag213(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_base = "https://" + "x" * 130 + ".example.ch"
    code, out = check(capsys, "--base-url", long_base)
    assert code == 1
    assert "NTAG213" in out


@pytest.mark.parametrize(("extra", "fits"), [(0, True), (1, False)])
def test_ntag213_limit_counts_the_nfc_marker(
    project: Path, capsys: pytest.CaptureFixture[str], extra: int, fits: bool
) -> None:
    # The tag holds the URL with its '?n' marker: 132 bytes after 'https://' in all, marker included.
    write(project, "max.yaml", "name: {given: Max}\n")
    for path in project.glob("contacts/*.yaml"):
        if path.name != "max.yaml":
            path.unlink()
    # A URL this long fits the tag but not the printed card's URL line: this site prints elsewhere.
    (project / "site.yaml").write_text((project / "site.yaml").read_text() + "print:\n  artwork: false\n")
    host = 132 - len("/max/?n") + extra
    labels = "x" * 60 + "." + "y" * 60 + "."
    base = "https://" + labels + "z" * (host - len(labels) - len(".ch")) + ".ch"
    code, out = check(capsys, "--base-url", base)
    assert (code == 0) == fits, out
    assert ("NTAG213" in out) != fits
    if not fits:
        assert f"{base}/max/?n" in out and "133 bytes" in out


def test_github_format(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "jana.yaml", "name:\n  given: Jana\nphones:\n  - value: '+41 44 12'\n")
    code = main(["check", "--format", "github"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.strip() == ("::error file=contacts/jana.yaml,line=4::phones[0]: '+41 44 12' is not a valid phone number")


def test_site_settings_are_checked(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text().replace('brand_color: "#0b5cad"', "brand_colour: red"))
    code, out = check(capsys)
    assert code == 1
    assert "site.yaml:" in out and "unknown field 'brand_colour'; did you mean 'brand_color'?" in out


def test_national_numbers_use_the_site_region(project: Path) -> None:
    from cardsite.build.engine import card_of
    from cardsite.build.engine import check as run_check
    from cardsite.cards.settings import load_settings

    write(project, "anna.yaml", "name: {given: Anna}\nphones:\n  - value: '044 668 18 00'\n")
    settings = load_settings(project / "contacts")
    sources = {s.id: s for s in run_check(settings)}
    assert card_of(settings, sources["anna"]).phones[0].e164 == "+41446681800"


def test_no_traceback_from_the_command_line(project: Path) -> None:
    write(project, "bad.yaml", "name: [\n")
    run = subprocess.run([sys.executable, "-m", "cardsite.cli", "check"], capture_output=True, text=True)
    assert run.returncode == 1
    assert "contacts/bad.yaml" in run.stderr
    assert "Traceback" not in run.stderr


def test_brand_colour_must_keep_the_button_readable(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text().replace('brand_color: "#0b5cad"', 'brand_color: "#ffd400"'))
    code, out = check(capsys)
    assert code == 1
    assert "site.yaml:" in out and "brand_color: white text on #ffd400 has a contrast of 1.4:1" in out


THREE_KINDS = """\
name:
  given: Jana
emial: jana@example.ch
phones:
  - value: '+41 44 12'
emails:
  - value: not-an-address
"""


def test_a_schema_mistake_hides_no_other_problem(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A typo used to stop the card at the schema, so the bad number and address went unreported.
    write(project, "jana.yaml", THREE_KINDS)
    code, out = check(capsys)
    assert code == 1
    assert "contacts/jana.yaml:3: emial: unknown field 'emial'; did you mean 'emails'?" in out
    assert "contacts/jana.yaml:5: phones[0]: '+41 44 12' is not a valid phone number" in out
    assert "contacts/jana.yaml:7: emails[0]: 'not-an-address' is not a valid e-mail address" in out
    assert "3 problem(s) found" in out


def test_a_schema_mistake_hides_no_other_problem_in_annotations(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project, "jana.yaml", THREE_KINDS)
    assert main(["check", "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("::")[1] for line in lines] == [
        "error file=contacts/jana.yaml,line=3",
        "error file=contacts/jana.yaml,line=5",
        "error file=contacts/jana.yaml,line=7",
    ]


def test_the_preview_error_page_lists_every_problem(project: Path, tmp_path: Path) -> None:
    from cardsite.build.engine import build
    from cardsite.cards.settings import load_settings
    from cardsite.errors import ValidationError
    from cardsite.serve.preview import error_page

    write(project, "jana.yaml", THREE_KINDS)
    with pytest.raises(ValidationError) as caught:
        build(load_settings(project / "contacts"), tmp_path / "out")
    assert [(p.line, p.field) for p in caught.value.problems] == [(3, "emial"), (5, "phones[0]"), (7, "emails[0]")]
    page = error_page([p.format() for p in caught.value.problems]).decode()
    assert "3 problem(s) found" in page
    assert "contacts/jana.yaml:5: phones[0]: &#x27;+41 44 12&#x27; is not a valid phone number" in page


@pytest.mark.parametrize(
    ("field", "written", "meant"),
    [("phones", "mobile", "cell"), ("phones", "Fax", "fax"), ("phones", "wrok", "work"), ("emails", "private", "home")],
)
def test_an_allowed_value_is_suggested(
    project: Path, capsys: pytest.CaptureFixture[str], field: str, written: str, meant: str
) -> None:
    value = "'+41446681800'" if field == "phones" else "a@example.ch"
    write(project, "a.yaml", f"name: {{given: A}}\n{field}:\n  - {{value: {value}, type: {written}}}\n")
    code, out = check(capsys)
    assert code == 1
    assert f"contacts/a.yaml:3: {field}[0].type: '{written}' is not one of: " in out
    assert f"did you mean '{meant}'?" in out


def test_an_unrelated_value_gets_no_suggestion(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "a.yaml", "name: {given: A}\nlang: zz\n")
    code, out = check(capsys)
    assert code == 1
    assert "lang: 'zz' is not one of: en, de, fr, it\n" in out


def test_github_annotations_escape_the_file_name(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A file name is a pull request's to choose: unescaped, ',' and '::' would fake properties or a command.
    write(project, "x,line=1,title=ok::warning 100%.yaml", "name: {given: A}\n")
    assert main(["check", "--format", "github"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    prop, data = line.removeprefix("::error ").split("::", 1)
    assert prop == "file=contacts/x%2Cline=1%2Ctitle=ok%3A%3Awarning 100%25.yaml,line=1"
    assert data.startswith("'x,line=1,title=ok::warning 100%25' is not a valid card id")


def test_a_schema_mistake_in_site_yaml_hides_no_other_problem(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = project / "site.yaml"
    text = site.read_text().replace('brand_color: "#0b5cad"', "brand_colour: red")
    site.write_text(text.replace('phone: "+41 44 668 18 00"', 'phone: "+41 44 12"'))
    code, out = check(capsys)
    assert code == 1
    assert "unknown field 'brand_colour'; did you mean 'brand_color'?" in out
    assert "company.phone: '+41 44 12' is not a valid phone number" in out


@pytest.mark.parametrize(
    "given",
    ["contacts/jana.yaml", "./contacts//jana.yaml", "a/../contacts/jana.yaml", ".", "contacts/..", "..", "../x.yaml",
     "x/../../y.yaml", "..x/y.yaml", "{cwd}", "{cwd}/contacts/jana.yaml", "{cwd}/../elsewhere.yaml", "/etc/site.yaml"],
)  # fmt: skip
def test_a_file_is_named_below_the_working_folder_as_typed_else_in_full(
    given: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardsite.errors import display_path

    monkeypatch.chdir(tmp_path)
    path = Path(given.format(cwd=tmp_path))
    # What a problem's file name means: the path from the working folder when the file lies below it.
    absolute = Path(os.path.normpath(tmp_path / path))
    expected = (
        absolute.relative_to(tmp_path).as_posix()
        if absolute.is_relative_to(tmp_path) and absolute != tmp_path
        else path.as_posix()
    )
    assert display_path(path) == expected
