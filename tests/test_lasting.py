"""Cards that last: photos, aliases, retired cards, check --base, languages, signatures, directory."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
import vobject
from PIL import Image

from cardsite.build.engine import build
from cardsite.cards.settings import load_settings
from cardsite.cli import main


def run_build(project: Path, out: Path | None = None):
    return build(load_settings(project / "contacts"), out or project / "public")


def exif_jpeg(path: Path) -> None:
    """Write a 400x200 JPEG, left half red, right half blue, EXIF-rotated 90° and geotagged."""
    image = Image.new("RGB", (400, 200), "blue")
    image.paste((255, 0, 0), (0, 0, 200, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "SpyCam"
    gps = {1: "N", 2: (47.0, 22.0, 0.0), 3: "E", 4: (8.0, 32.0, 0.0)}
    exif[0x8825] = gps
    image.save(path, format="JPEG", exif=exif.tobytes(), quality=95)
    assert Image.open(path).getexif().get_ifd(0x8825), "the fixture really carries GPS data"


@pytest.fixture
def photo_card(project: Path) -> Path:
    exif_jpeg(project / "contacts" / "photos" / "tom.jpg")
    (project / "contacts" / "tom.yaml").write_text("name: {given: Tom}\nphoto: photos/tom.jpg\n")
    run_build(project)
    return project / "public" / "tom"


def test_photo_is_oriented_stripped_and_square(photo_card: Path) -> None:
    sizes = {"photo": 112, "photo@2x": 224, "photo@3x": 336}
    for name, size in ((f"{stem}.{ext}", size) for stem, size in sizes.items() for ext in ("jpg", "webp")):
        image = Image.open(photo_card / name)
        assert image.format == ("WEBP" if name.endswith(".webp") else "JPEG")
        assert image.size == (size, size)
        assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
        assert b"SpyCam" not in (photo_card / name).read_bytes()
        # After applying orientation 6 the red half is on top, the blue half below.
        top, bottom = image.getpixel((size // 2, size // 8)), image.getpixel((size // 2, size * 7 // 8))
        assert top[0] > 200 and top[2] < 60, top
        assert bottom[2] > 200 and bottom[0] < 60, bottom
    html = (photo_card / "index.html").read_text()
    assert 'srcset="photo.jpg 1x, photo@2x.jpg 2x, photo@3x.jpg 3x" width="112" height="112"' in html
    assert '<source type="image/webp" srcset="photo.webp 1x, photo@2x.webp 2x, photo@3x.webp 3x">' in html


def test_vcard_embeds_a_small_jpeg(photo_card: Path) -> None:
    text = (photo_card / "tom.vcf").read_text()
    assert "PHOTO;ENCODING=b;TYPE=JPEG:" in text
    card = vobject.readOne(text)
    data = card.photo.value
    assert len(data) <= 40 * 1024
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (256, 256)
    assert not image.getexif()


def test_photo_change_is_picked_up(photo_card: Path, project: Path) -> None:
    before = (photo_card / "photo.jpg").read_bytes()
    Image.new("RGB", (300, 300), "green").save(project / "contacts" / "photos" / "tom.jpg")
    report = run_build(project)
    # The page refers to photo.jpg by name, so its bytes stay the same and it is not rewritten.
    photos = [f"tom/photo{tag}.{ext}" for tag in ("", "@2x", "@3x") for ext in ("jpg", "webp")]
    assert sorted(report.written) == sorted([*photos, "tom/tom.vcf"])
    assert (photo_card / "photo.jpg").read_bytes() != before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"this is not an image"), "is not an image"),
        (lambda p: Image.new("1", (12000, 12000)).save(p, format="PNG"), "decompression bomb"),
        (lambda p: Image.new("RGB", (8, 8)).save(p, format="GIF"), "use JPEG, PNG or WebP"),
        (lambda p: p.write_bytes(b"\xff\xd8" + b"\0" * (10 * 1024 * 1024 + 1)), "over 10 MB"),
    ],
)
def test_bad_images_are_refused_by_name(project: Path, capsys, make, message: str) -> None:
    path = project / "contacts" / "photos" / "bad.png"
    make(path)
    (project / "contacts" / "bad.yaml").write_text("name: {given: Bad}\nphoto: photos/bad.png\n")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "contacts/bad.yaml:2: photo: photo 'bad.png'" in err and message in err, err


def test_photo_outside_the_contacts_folder_is_refused(project: Path, capsys) -> None:
    (project / "contacts" / "sneaky.yaml").write_text("name: {given: S}\nphoto: photos/../../site.jpg\n")
    assert main(["check"]) == 1
    assert "must be a path inside the contacts folder" in capsys.readouterr().err


def test_retired_card_keeps_its_url_without_a_vcard(project: Path) -> None:
    run_build(project)
    out = project / "public" / "hans-meier"
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "qr.svg"]
    html = (out / "index.html").read_text()
    assert "Diese Karte wird nicht mehr verwendet." in html
    assert ".vcf" not in html
    assert 'href="../jana-mueller/">Zur Karte von Dr. Jana Sophie Müller, MSc ETH</a>' in html


def test_retiring_a_card_removes_its_vcard(project: Path) -> None:
    run_build(project)
    path = project / "contacts" / "max.yaml"
    path.write_text(path.read_text() + "active: false\n")
    report = run_build(project)
    assert "max/max.vcf" in report.removed and "max/signature.html" in report.removed
    assert (
        "Please contact us" in (project / "public" / "max" / "index.html").read_text()
        or "Bitte" in (project / "public" / "max" / "index.html").read_text()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: {given: A}\naliases: [max]\n", "contacts/a.yaml:2: aliases[0]: 'max' is the id of an existing card"),
        ("name: {given: A}\naliases: [jmueller]\n", "aliases[0]: 'jmueller' is already an alias of card"),
        ("name: {given: A}\nactive: false\nsuccessor: nobody\n", "contacts/a.yaml:3: successor: successor 'nobody'"),
        ("name: {given: A}\nactive: false\nsuccessor: hans-meier\n", "successor 'hans-meier' is retired itself"),
        ("name: {given: A}\nsuccessor: max\n", "only a retired card (active: false) has a successor"),
    ],
)
def test_alias_and_successor_mistakes(project: Path, capsys, text: str, message: str) -> None:
    (project / "contacts" / "a.yaml").write_text(text)
    assert main(["check"]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.browser
def test_alias_redirects_to_the_card(project: Path, serve_dir, page) -> None:
    out = project / "public"
    out.mkdir()
    base = serve_dir(out)
    build(load_settings(project / "contacts", base_url=base), out)
    html = (out / "jmueller" / "index.html").read_text()
    assert '<meta name="robots" content="noindex">' in html
    assert f'<link rel="canonical" href="{base}/jana-mueller/">' in html
    assert '<meta http-equiv="refresh" content="0; url=../jana-mueller/">' in html
    assert '<a href="../jana-mueller/">' in html
    page.goto(f"{base}/jmueller/")
    page.wait_for_url(f"{base}/jana-mueller/")
    assert page.get_by_role("heading", level=1).inner_text() == "Dr. Jana Sophie Müller, MSc ETH"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_check_base_catches_a_deleted_card(project: Path, capsys) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "-c", "user.email=t@example.ch", "-c", "user.name=T", "add", ".")
    git(project, "-c", "user.email=t@example.ch", "-c", "user.name=T", "commit", "-qm", "cards")
    (project / "contacts" / "max.yaml").unlink()
    assert main(["check", "--base", "main"]) == 1
    err = capsys.readouterr().err
    assert "contacts/max.yaml:1: card 'max' exists at main but was deleted" in err
    assert "active: false" in err and "aliases:" in err

    # Renaming max to max-muster with an alias keeps the old URL alive.
    (project / "contacts" / "max-muster.yaml").write_text("name: {given: Max, family: Muster}\naliases: [max]\n")
    assert main(["check", "--base", "main"]) == 0


def test_check_base_with_an_unknown_ref(project: Path, capsys) -> None:
    git(project, "init", "-q", "-b", "main")
    assert main(["check", "--base", "no-such-ref"]) == 1
    assert "git ls-tree" in capsys.readouterr().err or "git rev-parse" in capsys.readouterr().err


@pytest.mark.parametrize("lang", ["en", "de", "fr", "it"])
def test_four_languages(project: Path, lang: str) -> None:
    (project / "contacts" / "polyglot.yaml").write_text(f"name: {{given: Poly}}\nlang: {lang}\n")
    run_build(project)
    html = (project / "public" / "polyglot" / "index.html").read_text()
    import yaml

    catalog = yaml.safe_load((project / "templates" / "locale" / f"{lang}.yaml").read_text())
    assert f'<html lang="{lang}">' in html and catalog["save_contact"] in html


def test_signature_has_no_script_and_only_absolute_urls(project: Path, photo_card: Path) -> None:
    for card_id in ("jana-mueller", "tom", "max"):
        html = (project / "public" / card_id / "signature.html").read_text()
        assert "<script" not in html.lower() and "<style" not in html.lower()
        urls = re.findall(r'(?:href|src)="([^"]*)"', html)
        assert urls and all(re.match(r"(https://|mailto:|tel:)", u) for u in urls), urls
    assert 'src="https://cards.example.ch/tom/photo@2x.jpg"' in (project / "public/tom/signature.html").read_text()
    assert not (project / "public" / "hans-meier" / "signature.html").exists()


def test_directory_is_off_by_default_and_lists_active_cards(project: Path) -> None:
    run_build(project)
    assert not (project / "public" / "index.html").exists()
    site = project / "site.yaml"
    site.write_text(site.read_text() + "directory: true\n")
    run_build(project)
    html = (project / "public" / "index.html").read_text()
    assert 'href="jana-mueller/"' in html and 'href="max/"' in html
    assert "hans-meier" not in html


def test_the_rules_table_names_every_page_photo_the_renderer_makes() -> None:
    # rules.py names the photo outputs without importing Pillow (a build with nothing to render never loads it).
    from cardsite.build.rules import WEB_PHOTOS
    from cardsite.render.photo import WEB_SIZES

    assert list(WEB_PHOTOS) == list(WEB_SIZES)
