"""Hostile card input: alias bombs, deep nesting, huge files, lying links, control characters, trailing newlines.

Each case is the attack itself, run through the real loader, checks and command line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ada_url
import idna
import pytest

from cardsite.cards.load import MAX_DEPTH, MAX_FILE_BYTES, format_path, read_yaml
from cardsite.cards.model import make_card, short_url
from cardsite.cards.settings import load_settings
from cardsite.cards.validate import describe_character, url_problem
from cardsite.cli import main
from cardsite.errors import Problem, shown
from cardsite.publish.plan import card_of

ROOT = Path(__file__).resolve().parent.parent


def write(project: Path, name: str, text: str | bytes) -> Path:
    path = project / "contacts" / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


# --------------------------------------------------------------------------- YAML


def alias_bomb(levels: int = 9) -> str:
    """Return the 'billion laughs' in YAML: a few hundred bytes that expand to 9**levels strings."""
    lines = ["name: {given: A}", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "bomb.yaml", alias_bomb())
    start = time.perf_counter()
    code, out = check(capsys)
    assert time.perf_counter() - start < 5  # it used to take minutes and gigabytes
    assert code == 1
    assert "contacts/bomb.yaml:2: YAML anchor '&l0' is not allowed: write the value out in full" in out
    assert "contacts/bomb.yaml:3: YAML alias '*l0' is not allowed" in out
    assert "Traceback" not in out


def test_an_alias_bomb_in_site_yaml_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text() + alias_bomb().replace("name: {given: A}\n", ""))
    code, out = check(capsys)
    assert code == 1
    assert "site.yaml:" in out and "YAML anchor '&l0' is not allowed" in out


@pytest.mark.parametrize(
    "text",
    [
        "name: {given: A}\nbase: &b {given: B}\n",  # an anchor with no alias is refused too
        "name: &n {given: A}\nnote: *n\n",
        "name: {given: A}\nx: &x {a: 1}\ny:\n  <<: *x\n",  # a merge key is an alias as well
        "name: {given: A}\naliases: [&a x, *a]\n",
        '{"name":&n {"given": "A"}, "note": *n}\n',
        "name: {given: A}\nnote: !!str &t text\n",
        "&top\nname: {given: A}\n",
    ],
)
def test_anchors_and_aliases_are_refused(text: str) -> None:
    doc, problems = read_yaml(Path("contacts/a.yaml"), text.encode())
    assert doc is None
    assert problems and all("is not allowed: write the value out in full" in p.message for p in problems)


def test_ampersands_and_stars_in_text_are_no_anchors() -> None:
    doc, problems = read_yaml(Path("a.yaml"), b"name: {given: A}\ndepartment: R&D *\ntitle: '&x *y'\n")
    assert problems == []
    assert doc.data["department"] == "R&D *"


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (
            "block maps",
            "name: {given: A}\nnote:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(400)) + " x: 1\n",
        ),
        ("flow lists", "name: {given: A}\nnote: " + "[" * 950 + "]" * 950 + "\n"),
        ("flow maps", "name: {given: A}\nnote: " + "{a: " * 950 + "}" * 950 + "\n"),
        ("block lists", "- " * 950 + "x\n"),
        ("past libyaml's limit", "name: {given: A}\nnote: " + "[" * 5000 + "]" * 5000 + "\n"),
    ],
)
def test_deep_nesting_is_a_clean_error(project: Path, capsys: pytest.CaptureFixture[str], kind: str, text: str) -> None:
    # 950 levels used to end in a RecursionError traceback.
    write(project, "deep.yaml", text)
    code, out = check(capsys)
    assert code == 1
    assert "contacts/deep.yaml:" in out
    assert f"nested more than {MAX_DEPTH} levels deep" in out or "exceeded maximum nesting depth" in out
    assert "Traceback" not in out


#: Plain, quoted and block scalars of every tag SafeLoader resolves, and texts that start like one.
# fmt: off
SCALARS = (
    "yes", "No", "TRUE", "off", "y", "n", "null", "Null", "~", "", "nothing", "Norway", "offline", "true-ish",
    "0", "-1", "+12", "0x1F", "0o17", "1_000", "3.14", "-.5", ".inf", "-.Inf", ".NaN", "1e3", "6.02e+23",
    "2026-12-03", "2026-12-03T14:00:00Z", "2026-12-03 14:00:00.5 +01:00", "190:20:30", "+41 44 123 45 67",
    "'yes'", '"12"', "'2026-12-03'", "|\n  12\n", ">\n  true\n", "=", "<<", "a: b", "R&D", "ß", "日本",
)
# fmt: on


@pytest.mark.parametrize("scalar", SCALARS)
def test_scalars_are_read_as_pyyaml_reads_them(scalar: str) -> None:
    # cards/load.py resolves tags from its own table (a shortcut for speed): it must agree with PyYAML's.
    import yaml

    text = f"value: {scalar}\nlist: [{scalar if not scalar.startswith(('|', '>')) else 'x'}]\n"
    doc, problems = read_yaml(Path("a.yaml"), text.encode())
    try:
        expected = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # '=' (a tag no constructor takes) and 'a: b' (a mapping in a mapping's value)
        assert doc is None and problems
        return
    assert problems == [] and doc is not None
    assert repr(doc.data) == repr(expected)  # repr tells True from 1 and 1.0, and nan equals nan


def test_nesting_up_to_the_limit_is_read() -> None:
    text = "name: {given: A}\nnote: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    doc, problems = read_yaml(Path("a.yaml"), text.encode())
    assert problems == [] and doc is not None


def test_the_deep_nesting_error_from_the_command_line_has_no_traceback(project: Path) -> None:
    write(project, "deep.yaml", "name: {given: A}\nnote: " + "[" * 950 + "]" * 950 + "\n")
    run = subprocess.run([sys.executable, "-m", "cardsite.cli", "check"], capture_output=True, text=True)
    assert run.returncode == 1
    assert "contacts/deep.yaml:2: the data is nested more than" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_file_over_the_size_cap_is_refused_unread(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "big.yaml", "name: {given: A}\nnote: '" + "x" * MAX_FILE_BYTES + "'\n")
    code, out = check(capsys)
    assert code == 1
    assert "contacts/big.yaml:1: file is larger than 256 KiB, the most cardsite reads" in out


def test_a_file_just_under_the_cap_is_read() -> None:
    head = b"name: {given: A}\n# "
    doc, problems = read_yaml(Path("a.yaml"), head + b"x" * (MAX_FILE_BYTES - len(head) - 1) + b"\n")
    assert problems == [] and doc is not None


# --------------------------------------------------------------------------- links


#: Links whose text (what urlsplit reads and the page shows) and target (what a browser opens) differ, or that
#: cannot be written into a vCard's unescaped URI value.
SPOOFS = {
    "backslash before @": "https://evil.example\\@www.linkedin.com/in/x",
    "slash and backslash": "https:/\\evil.example/in/x",
    "backslash as slash": "https://www.linkedin.com\\in\\x",
    "user info": "https://www.linkedin.com@evil.example/in/x",
    "user and password": "https://user:pass@www.linkedin.com/in/x",
    "empty user info": "https://@www.linkedin.com/in/x",
    "tab in the host": "https://www.linked\tin.com/in/x",
    "newline in the path": "https://www.linkedin.com/in/x\nhttps://evil.example",
    "space": "https://www.linkedin.com/in/jana mueller",
    "fullwidth host": "https://ｅｖｉｌ.example/in/x",
    "fullwidth dot": "https://www.linkedin。com/in/x",
    "percent-encoded host": "https://ev%69l.example/in/x",
    "hex IPv4 host": "https://0x7f.1/in/x",
    "short IPv4 host": "https://127.1/in/x",
    "zero-width space": "https://www.linked\u200bin.com/in/x",
    "right-to-left override": "https://www.linkedin.com/in/\u202ex",
    "soft hyphen": "https://www.linked\u00adin.com/in/x",
    "invalid IDNA": "https://www.exa_mple\u00e9.com/",
    "NUL": "https://www.linkedin.com/\x00x",
    "no host": "https:///in/x",
}


@pytest.mark.parametrize("url", list(SPOOFS.values()), ids=list(SPOOFS))
def test_a_link_that_lies_is_refused(url: str) -> None:
    assert url_problem(url) is not None


@pytest.mark.parametrize("url", list(SPOOFS.values()), ids=list(SPOOFS))
def test_a_link_that_lies_is_reported_with_file_line_and_field(
    project: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    write(project, "a.yaml", f"name: {{given: A}}\nsocial:\n  linkedin: {json.dumps(url)}\n")
    code, out = check(capsys)
    assert code == 1
    assert "contacts/a.yaml:3: social.linkedin: " in out
    assert "\x1b" not in out and "\u202e" not in out and "\x00" not in out


#: Links that must stay accepted: each opens exactly the host its text shows.
HONEST = [
    "https://www.linkedin.com/in/jana-mueller-example",
    "https://mastodon.social/@janamueller",
    "https://www.example.ch/team?who=jana@example.ch#top",
    "http://example.ch:8080/a,b;c",
    "https://WWW.Example.CH/Team",
    "https://bücher.example/zürich",
    "https://xn--bcher-kva.example/",
    "https://de.wikipedia.org/wiki/Z%C3%BCrich",
    "https://127.0.0.1/x",
    "https://[2001:db8::1]/x",
]


@pytest.mark.parametrize("url", HONEST)
def test_an_honest_link_is_accepted_and_shows_the_host_browsers_open(url: str) -> None:
    assert url_problem(url) is None
    shown_host = urlsplit(url).hostname or ""
    whatwg_host = ada_url.parse_url(url)["hostname"].strip("[]")
    assert shown_host.encode("idna").decode() == whatwg_host
    assert short_url(url).removeprefix("www.").startswith(shown_host.removeprefix("www."))


# --------------------------------------------------------------------------- control characters

CONTROLS = {
    "NUL": "\x00",
    "ESC": "\x1b[31m",
    "VT": "\x0b",
    "FF": "\x0c",
    "CR": "\r",
    "DEL": "\x7f",
    "NEL": "\x85",
    "CSI": "\x9b",
    "LINE SEPARATOR": "\u2028",
    "PARAGRAPH SEPARATOR": "\u2029",
    "RLO": "\u202e",
    "LRE": "\u202a",
    "RLI": "\u2067",
    "PDI": "\u2069",
}
MULTI_LINE = {"note", "addresses[0].street"}


def _text_fields(data: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(data, str):
        return [path]
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    return [found for key, value in items for found in _text_fields(value, (*path, key))]


def _with(data: Any, path: tuple, insert: str) -> Any:
    copied = json.loads(json.dumps(data))
    target = copied
    for part in path[:-1]:
        target = target[part]
    value = target[path[-1]]
    # In the middle: at either end, stripping would remove the whitespace ones (VT, NEL...) harmlessly.
    middle = len(value) // 2
    target[path[-1]] = value[:middle] + insert + value[middle:]
    return copied


def _full_card(project: Path) -> dict[str, Any]:
    doc, _ = read_yaml(project / "contacts" / "jana-mueller.yaml")
    data = doc.data
    data.pop("photo")  # a path with a control character is no file; the photo check would only add noise
    return data


def _problems(project: Path, data: dict[str, Any]) -> list[Problem]:
    # JSON is YAML: one key a line, so every field has a line of its own.
    text = json.dumps(data, indent=1, ensure_ascii=True)
    path = write(project, "jana.yaml", text)
    doc, problems = read_yaml(path)
    assert doc is not None, problems
    card, problems = make_card("jana", doc, load_settings(project / "contacts"))
    assert card is None
    return problems


@pytest.mark.parametrize("char", list(CONTROLS.values()), ids=list(CONTROLS))
def test_a_control_character_is_refused_in_every_field(project: Path, char: str) -> None:
    # They used to go raw into the vCard and the page.
    data = _full_card(project)
    fields = _text_fields(data)
    assert len(fields) >= 20
    clean, _ = read_yaml(write(project, "jana.yaml", json.dumps(data, indent=1)))
    for path in fields:
        problems = _problems(project, _with(data, path, char))
        # A value of the wrong kind besides (an enum, an id) may add the schema's problem for the same field.
        assert {p.field for p in problems} == {format_path(path)}, (path, problems)
        (problem,) = [p for p in problems if "control character" in p.message or p.message == "must be a single line"]
        assert problem.line == clean.line_of(path) > 1
        assert problem.message in (
            f"contains the control character {describe_character(char[0])}",
            "must be a single line",
        )


@pytest.mark.parametrize("char", ["\t", "\n"], ids=["TAB", "LF"])
def test_tabs_and_line_breaks_only_in_multi_line_fields(project: Path, char: str) -> None:
    data = _full_card(project)
    for path in _text_fields(data):
        field = format_path(path)
        changed = _with(data, path, char)
        if field in MULTI_LINE:
            text = json.dumps(changed, indent=1)
            doc, _ = read_yaml(write(project, "jana.yaml", text))
            card, problems = make_card("jana", doc, load_settings(project / "contacts"))
            assert problems == [] and card is not None, field
        else:
            problems = _problems(project, changed)
            assert {p.field for p in problems} == {field}
            expected = "must be a single line" if char == "\n" else "contains the control character U+0009 (TAB)"
            assert any(p.message.startswith(expected) for p in problems), problems


@pytest.mark.parametrize("given", ["Eve\u2028Bcc: evil@attacker.example", "Eve\u0085Bcc: evil@attacker.example"])
def test_a_name_that_would_split_a_mail_header_never_reaches_notify(
    project: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    # Python's e-mail headers treat U+2028 and NEL as line breaks; the card is refused before any mail.
    write(project, "eve.yaml", json.dumps({"name": {"given": given, "family": "Doe"}}))
    code, out = check(capsys)
    assert code == 1
    assert f"contacts/eve.yaml:1: name.given: contains the control character {describe_character(given[3])}" in out


def test_check_prints_what_the_user_wrote_without_running_it(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An ESC sequence used to recolour (or clear) the terminal of whoever ran `check`.
    write(
        project, "a.yaml", 'name: {given: "\\e[2J\\e[31mA\\u202e"}\nsocial:\n  "git\\e[0mhub": https://github.com/a\n'
    )
    code, out = check(capsys)
    assert code == 1
    assert "\x1b" not in out and "\u202e" not in out
    assert "contacts/a.yaml:1: name.given: contains the control character U+001B (ESC)" in out
    assert "social.git\\x1b[0mhub: 'git\\x1b[0mhub' is not a valid name" in out


def test_file_names_are_printed_safely(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "a\x1b[31m.yaml", "name: {given: A}\n")
    code, out = check(capsys)
    assert code == 1
    assert "\x1b" not in out
    assert "contacts/a\\x1b[31m.yaml:1: 'a\\x1b[31m' is not a valid card id" in out


def test_shown_keeps_printable_text() -> None:
    assert shown("Zürich – 東京 ☕") == "Zürich – 東京 ☕"
    assert shown("a\x1bb\u202ec\nd") == "a\\x1bb\\u202ec\\nd"


# --------------------------------------------------------------------------- full matches


def test_a_file_name_with_a_trailing_newline_is_no_card(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `$` matched before the final newline: 'max\n' became a second card whose QR code resolves to 'max'.
    write(project, "max\n.yaml", "name: {given: Max}\n")
    code, out = check(capsys)
    assert code == 1
    assert "contacts/max\\n.yaml:1: 'max\\n' is not a valid card id" in out


def test_a_key_with_a_trailing_newline_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Values are stripped before they are checked, keys are not: 'github\n' made a vCard vobject cannot read.
    write(project, "a.yaml", 'name: {given: A}\nsocial:\n  "github\\n": https://github.com/a\n')
    code, out = check(capsys)
    assert code == 1
    assert "contacts/a.yaml:3: social.github\\n: 'github\\n' is not a valid name" in out


def test_every_schema_pattern_refuses_a_final_newline() -> None:
    # jsonschema tests a pattern with re.search, whose `$` also matches before a final newline.
    samples = ["ab", "jmueller", "CH", "#0b5cad", "photos/a.jpg", "cards@example.ch", "cardsite", "example.ch"]
    for name in ("contact", "site"):
        text = (ROOT / "cardsite" / "schema" / f"{name}.schema.json").read_text()
        patterns = [json.loads(p) for p in re.findall(r'"pattern": ("(?:[^"\\]|\\.)*")', text)]
        assert len(patterns) >= 4
        for pattern in patterns:
            matching = [sample for sample in samples if re.search(pattern, sample)]
            assert matching, pattern
            assert not [sample for sample in matching if re.search(pattern, sample + "\n")], pattern


def test_publish_reads_card_ids_by_the_one_rule() -> None:
    assert card_of("max/index.html") == "max"
    assert card_of("max\n/index.html") is None
    assert card_of("assets/site.css") is None


def test_the_reference_parser_reads_every_host_as_chromium_does(page) -> None:
    # ada stands in for the browser in the check; here the real one confirms each reading, the spoofs too.
    urls = [*SPOOFS.values(), *HONEST]
    hosts = page.evaluate(
        "urls => urls.map(u => { try { return new URL(u).hostname } catch (e) { return null } })", urls
    )
    for url, chromium in zip(urls, hosts, strict=True):
        try:
            ada = ada_url.parse_url(url)["hostname"]
        except ValueError:
            ada = None
        assert ada == chromium, url
    # The attack of issue 15: the page showed linkedin.com, the browser went to evil.example.
    spoof = SPOOFS["backslash before @"]
    assert urlsplit(spoof).hostname == "www.linkedin.com"
    assert hosts[0] == "evil.example"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "website: https://www.example.ch",
            "website: https://evil.example\\@www.example.ch",
            "company.website: 'https://evil.example\\@www.example.ch' contains a backslash",
        ),
        ("name: Example AG", 'name: "Example\\x85AG"', "company.name: contains the control character U+0085 (NEL)"),
        ("phone_region: CH", 'phone_region: "CH\\n"', "phone_region: 'CH\\n' does not have the expected form"),
        ('brand_color: "#0b5cad"', 'brand_color: "#0b5cad\\n"', "brand_color: '#0b5cad\\n' does not have the"),
    ],
    ids=["link", "control character", "region with a final newline", "colour with a final newline"],
)
def test_site_yaml_is_checked_like_a_card(
    project: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    site = project / "site.yaml"
    assert old in site.read_text()
    site.write_text(site.read_text().replace(old, new))
    code, out = check(capsys)
    assert code == 1
    assert "site.yaml:" in out and expected in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # The ASCII form as the idna package (IDNA 2008) writes it: Cyrillic і and а among Latin letters.
        ("https://www.l\u0456nkedin.com/in/x", idna.encode("l\u0456nkedin.com").decode() + "/in/x"),
        ("https://\u0430pple.example/x", idna.encode("\u0430pple.example").decode() + "/x"),
        ("https://www.müller.ch/team", "müller.ch/team"),  # one script: shown as written
        ("https://東京の会社.jp/", "東京の会社.jp"),  # kanji and hiragana together are one writing
        ("https://www.linkedin.com/in/x", "linkedin.com/in/x"),
    ],
)
def test_link_text_shows_a_mixed_script_host_in_its_ascii_form(url: str, shown: str) -> None:
    assert short_url(url) == shown
