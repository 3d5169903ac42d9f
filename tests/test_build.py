"""The build: fixed output layout, validate-before-write, and incremental, atomic writes."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from cardsite.build.engine import build
from cardsite.build.output import TEMPLATE_CACHE
from cardsite.cards.settings import load_settings
from cardsite.cli import main

SAMPLE_IDS = {"jana-mueller", "zoe-leclerc", "lukasz-wojcik", "max", "hans-meier"}
ACTIVE_IDS = SAMPLE_IDS - {"hans-meier"}


def snapshot(out: Path) -> dict[str, tuple[int, bytes]]:
    """Return every file of the site and its build state; compiled templates are a cache of their text alone."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.relative_to(out).as_posix().startswith(TEMPLATE_CACHE)
    }


def run_build(project: Path, out: Path | None = None):
    return build(load_settings(project / "contacts"), out or project / "public")


def test_layout(project: Path) -> None:
    assert main(["build"]) == 0
    out = project / "public"
    for card_id in ACTIVE_IDS:
        assert (out / card_id / "index.html").is_file()
        assert (out / card_id / f"{card_id}.vcf").is_file()
        assert (out / card_id / "qr.svg").is_file()
    assert (out / "404.html").is_file()
    assert [p.name for p in (out / "assets").iterdir()] and all(
        re.fullmatch(r"[a-z]+\.[0-9a-f]{10}\.[a-z]+", p.name) for p in (out / "assets").iterdir()
    )
    leftovers = [p for p in out.rglob("*.tmp")]
    assert leftovers == []


def test_options_out_contacts_and_base_url(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    assert main(["--contacts", "contacts", "--out", str(out), "--base-url", "https://x.example.org/c/"]) == 0
    html = (out / "max" / "index.html").read_text()
    assert '<link rel="canonical" href="https://x.example.org/c/max/">' in html


def test_invalid_input_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build"]) == 0
    out = project / "public"
    before = snapshot(out)
    (project / "contacts" / "jana-mueller.yaml").write_text("name:\n  given: Jana\nphones:\n  - value: '12'\n")
    (project / "contacts" / "new-card.yaml").write_text("name: {given: New}\n")
    assert main(["build"]) == 1
    assert "contacts/jana-mueller.yaml:4: phones[0]" in capsys.readouterr().err
    assert snapshot(out) == before
    assert not (out / "new-card").exists()


def test_template_error_is_reported_and_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build"]) == 0
    before = snapshot(project / "public")
    card = project / "templates" / "card.html"
    card.write_text(card.read_text().replace('{{ t["save_contact"] }}', '{{ t["no_such_key"] }}'))
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert "templates/card.html:" in err and "no_such_key" in err
    assert "Traceback" not in err
    assert snapshot(project / "public") == before


def test_unchanged_rebuild_writes_and_renders_nothing(project: Path) -> None:
    run_build(project)
    before = snapshot(project / "public")
    report = run_build(project)
    assert report.written == [] and report.removed == [] and report.rendered == 0
    assert snapshot(project / "public") == before


def test_card_edit_rewrites_only_that_card(project: Path) -> None:
    run_build(project)
    path = project / "contacts" / "max.yaml"
    path.write_text(path.read_text() + "title: Intern\n")
    report = run_build(project)
    # The QR code depends on the URL only, so a data edit leaves it alone.
    assert sorted(report.written) == ["max/index.html", "max/max.vcf", "max/signature.html"]
    assert report.rendered == 1
    assert "TITLE:Intern" in (project / "public" / "max" / "max.vcf").read_text()


def test_a_one_card_rebuild_collects_only_the_young_generation_and_restores_the_collector(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from cardsite.build import engine, workers

    run_build(project)
    path = project / "contacts" / "max.yaml"
    path.write_text(path.read_text() + "title: Intern\n")
    seen = []
    real = engine.render_cards
    monkeypatch.setattr(engine, "render_cards", lambda *a: seen.append(gc.get_threshold()) or real(*a))
    before = gc.get_threshold()
    report = run_build(project)
    assert report.path == "cards" and report.rendered == 1
    assert seen == [(max(before[0], workers.GC_YOUNG), *workers.GC_OLDER)]
    assert gc.get_threshold() == before


def test_template_edit_rerenders_every_page_and_nothing_else(project: Path) -> None:
    run_build(project)
    css = project / "templates" / "style.css"
    css.write_text(css.read_text() + "\n.extra{color:#000}\n")
    report = run_build(project)
    assert sorted(report.written) == sorted([f"{i}/index.html" for i in SAMPLE_IDS] + ["404.html"])


def test_removed_card_outputs_are_deleted(project: Path) -> None:
    run_build(project)
    (project / "contacts" / "max.yaml").unlink()
    report = run_build(project)
    assert sorted(report.removed) == ["max/index.html", "max/max.vcf", "max/qr.svg", "max/signature.html"]
    assert not (project / "public" / "max").exists()


def test_deleted_output_file_is_restored(project: Path) -> None:
    run_build(project)
    (project / "public" / "max" / "qr.svg").unlink()
    assert run_build(project).written == ["max/qr.svg"]


def test_builds_are_reproducible(project: Path, tmp_path: Path) -> None:
    run_build(project, tmp_path / "a")
    run_build(project, tmp_path / "b")
    a = {k: v[1] for k, v in snapshot(tmp_path / "a").items() if not k.startswith(".cardsite")}
    b = {k: v[1] for k, v in snapshot(tmp_path / "b").items() if not k.startswith(".cardsite")}
    assert a == b


def test_refuses_a_foreign_non_empty_folder(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = project / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    assert main(["build", "--out", "mine"]) == 1
    assert "not empty and was not built by cardsite" in capsys.readouterr().err
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_landing_page_budget_and_no_third_party_requests(project: Path) -> None:
    run_build(project)
    for card_id in ACTIVE_IDS:
        html = (project / "public" / card_id / "index.html").read_text()
        assert len(gzip.compress(html.encode(), 9)) <= 14 * 1024
        # Anything the browser loads by itself (src=, <link href=) must be same-origin.
        loaded = re.findall(r'<(?:script|img|link(?! rel="canonical"))[^>]*(?:src|href)="([^"]+)"', html)
        assert loaded and all(not re.match(r"(https?:)?//", u) for u in loaded if not u.startswith("data:")), loaded
        assert '<meta name="robots" content="noindex, nofollow">' in html
        assert f'href="{card_id}.vcf"' in html


def test_noindex_can_be_turned_off(project: Path) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text().replace("noindex: true", "noindex: false"))
    run_build(project)
    assert "noindex" not in (project / "public" / "max" / "index.html").read_text()


def test_page_escapes_user_text(project: Path) -> None:
    (project / "contacts" / "xss.yaml").write_text('name: {given: "<script>alert(1)</script>"}\n')
    run_build(project)
    html = (project / "public" / "xss" / "index.html").read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_page_language_follows_the_card(project: Path) -> None:
    run_build(project)
    assert '<html lang="de">' in (project / "public" / "jana-mueller" / "index.html").read_text()
    en = (project / "public" / "zoe-leclerc" / "index.html").read_text()
    assert '<html lang="en">' in en and "Save contact" in en
    assert "Kontakt speichern" in (project / "public" / "max" / "index.html").read_text()


def test_catalogs_have_the_same_keys() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent / "templates" / "locale"
    catalogs = {p.stem: yaml.safe_load(p.read_text("utf-8")) for p in root.glob("*.yaml")}
    assert {"en", "de", "fr", "it"} <= set(catalogs)
    keys = set(catalogs["en"])
    for lang, catalog in catalogs.items():
        assert set(catalog) == keys, f"{lang}: missing {keys - set(catalog)}, extra {set(catalog) - keys}"


def test_company_phone_is_dialled_in_e164(project: Path) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text().replace('phone: "+41 44 668 18 00"', 'phone: "044 668 18 00"'))
    run_build(project)
    html = (project / "public" / "404.html").read_text()
    assert 'href="tel:+41446681800"' in html and "044 668 18 00" in html


def test_a_new_card_folder_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    from cardsite.build.output import write_new_folder

    with pytest.raises(TypeError):
        write_new_folder(tmp_path / "card", {"index.html": b"<p>ok</p>", "card.vcf": None})  # type: ignore[dict-item]
    assert list(tmp_path.iterdir()) == []
    write_new_folder(tmp_path / "card", {"index.html": b"<p>ok</p>", "card.vcf": b"BEGIN:VCARD"})
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["card", "card.vcf", "index.html"]
    assert oct((tmp_path / "card" / "index.html").stat().st_mode & 0o777) == "0o644"


def test_compiled_templates_never_hide_a_template_edit(project: Path) -> None:
    run_build(project)
    assert list((project / "public" / TEMPLATE_CACHE).glob("*.cache")), "templates are kept compiled"
    card = project / "templates" / "card.html"
    card.write_text(card.read_text().replace("{% block main %}", "{% block main %}<p>edited template</p>"))
    run_build(project)
    assert "<p>edited template</p>" in (project / "public" / "max" / "index.html").read_text()


def test_the_store_site_file_this_process_wrote_is_not_parsed_again_but_another_writers_is(project: Path) -> None:
    from cardsite.build import store
    from cardsite.build.output import STATE_FILE

    out = project / "public"
    build(load_settings(project / "contacts"), out)
    kept = store.read_site(out)
    assert kept is store.read_site(out) and kept == store._load(out / STATE_FILE)
    path = out / STATE_FILE
    path.write_bytes(path.read_bytes().replace(b"cardsite build store", b"another build store", 1))
    assert store.read_site(out) == {}  # a new inode and ctime: read anew, and found to be no store
    # No store means a full build, which writes a store that is read as it is.
    assert build(load_settings(project / "contacts"), out).path == "full"
    assert store.read_site(out) == store._load(out / STATE_FILE) != {}


def test_a_batch_of_cards_loads_and_fails_exactly_as_each_card_alone(project: Path) -> None:
    from cardsite.build import engine
    from cardsite.cards import validate

    contacts = project / "contacts"
    jana = (contacts / "jana-mueller.yaml").read_text("utf-8")
    # Mistakes of every kind the batch checks ahead, and values it must strip as the card's own checks do.
    (contacts / "bad-phone.yaml").write_text(jana.replace('"+41 44 668 18 01"', '"+41 44 66"'), "utf-8")
    (contacts / "padded.yaml").write_text(jana.replace('"+41 44 668 18 01"', '"  +41 44 668 18 01  "'), "utf-8")
    (contacts / "bad-mail.yaml").write_text(jana.replace("jana.mueller@example.ch", "jana@@example"), "utf-8")
    (contacts / "bad-link.yaml").write_text(jana.replace("- https://www.", "- https://user:pw@www."), "utf-8")
    (contacts / "not-a-map.yaml").write_text("- just\n- a list\n", "utf-8")
    (contacts / "not-yaml.yaml").write_text("name: [unclosed\n", "utf-8")
    samples = {p.stem for p in (Path(__file__).parent.parent / "contacts").glob("*.yaml")}
    settings = load_settings(contacts)
    sources = [engine.Source(p.stem, str(p), "", [], "") for p in sorted(contacts.glob("*.yaml"))]

    def each_alone() -> list[engine.Loaded]:
        for check in (validate.parse_phone, validate.email_problem, validate.url_problem):
            check.cache_clear()  # nothing the batch kept may answer for a card alone
        return [engine.load_one(settings, source) for source in sources]

    batch = engine.load_cards(settings, sources)
    alone = each_alone()
    assert [(repr(card), digest, card_hash, problems) for card, digest, card_hash, problems in batch] == [
        (repr(card), digest, card_hash, problems) for card, digest, card_hash, problems in alone
    ]
    problems = {source.id: found for source, (*_, found) in zip(sources, batch, strict=True)}
    assert [p.field for p in problems["bad-phone"]] == ["phones[0]"]
    assert problems["padded"] == [] and batch[[s.id for s in sources].index("padded")][0] is not None
    assert [p.field for p in problems["bad-mail"]] == ["emails[0]"]
    assert len(problems["bad-link"]) == 1 and "user name or password" in problems["bad-link"][0].message
    assert problems["not-a-map"] and problems["not-yaml"]
    assert all(problems[card_id] == [] for card_id in samples)
