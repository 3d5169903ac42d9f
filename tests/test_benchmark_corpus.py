"""The realistic benchmark's corpus and measuring tools: valid cards, distinct photos, honest counts."""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from PIL import Image

from cardsite.cli import main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import baselines  # noqa: E402
import measure  # noqa: E402
import realistic  # noqa: E402
from speed_edits import Tree  # noqa: E402


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """Generate 60 realistic cards once for this module, with a private cache."""
    top = tmp_path_factory.mktemp("corpus")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(realistic, "CACHE", top / "cache")
        yield top / "project", realistic.generate(top / "project", 60, seed=7)


@pytest.fixture
def corpus(generated: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    """The generated project, as cwd."""
    monkeypatch.chdir(generated[0])
    return generated


def _cards(project: Path) -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text("utf-8")) for p in (project / "contacts").glob("*.yaml")}


def test_every_card_is_full_and_the_corpus_passes_check(corpus: tuple[Path, dict]) -> None:
    project, index = corpus
    cards = _cards(project)
    assert len(cards) == 60
    for doc in cards.values():
        assert len(doc["phones"]) == 3 and len(doc["emails"]) == 2 and len(doc["addresses"]) == 1
        assert len(doc["social"]) == 3 and doc["note"] and doc["name"]["prefix"]
    retired = {i: d for i, d in cards.items() if d.get("active") is False}
    assert retired and index["retired"] == len(retired)
    for doc in retired.values():
        assert cards[doc["successor"]].get("active", True), "a successor must be active"
    assert main(["check"]) == 0


def test_photos_are_distinct_jpegs_of_600_to_2000_px(corpus: tuple[Path, dict]) -> None:
    project, index = corpus
    photos = sorted((project / "contacts" / "photos").glob("*.jpg"))
    assert len(photos) == index["photos"] == len(index["photo_cards"]) > 5
    digests = set()
    for path in photos:
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert all(600 <= side <= 2000 for side in image.size)
            digests.add(hashlib.sha256(image.tobytes()).hexdigest())
    assert len(digests) == len(photos)


def test_same_seed_same_bytes_and_a_smaller_corpus_is_a_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realistic, "CACHE", tmp_path / "cache-a")
    realistic.generate(tmp_path / "a", 12, seed=3)
    monkeypatch.setattr(realistic, "CACHE", tmp_path / "cache-b")
    realistic.generate(tmp_path / "b", 8, seed=3)
    b_files = [p for p in (tmp_path / "b" / "contacts").rglob("*") if p.is_file()]
    assert any(p.suffix == ".jpg" for p in b_files)
    for path in b_files:
        assert path.read_bytes() == (tmp_path / "a" / path.relative_to(tmp_path / "b")).read_bytes()
    assert realistic.photo(5, 3) != realistic.photo(5, 4)


def test_editing_a_copy_leaves_the_cache_alone(corpus: tuple[Path, dict]) -> None:
    project, index = corpus
    card = project / "contacts" / f"{index['plain_card']}.yaml"
    card.write_text(card.read_text("utf-8").replace("title:", "title: Edited"), "utf-8")
    cached = realistic.cached(60, seed=7) / "contacts" / card.name
    assert "Edited" not in cached.read_text("utf-8")


def test_tree_tells_a_rewrite_with_the_same_bytes_from_a_change(tmp_path: Path) -> None:
    out = tmp_path / "public"
    (out / "a").mkdir(parents=True)
    (out / "a" / "index.html").write_text("<p>old</p>", "utf-8")
    (out / "a" / "card.vcf").write_text("BEGIN:VCARD", "utf-8")
    tree = Tree(out)
    (out / "a" / "index.html").write_text("<p>new</p>", "utf-8")
    (out / "a" / "card.vcf").write_text("BEGIN:VCARD", "utf-8")  # same bytes, written again
    touched = ["a/index.html", "a/card.vcf"]
    result = tree.judge({"touched": touched}, expect=[("a/index.html", "new"), ("a/card.vcf", "Renamed")])
    assert result["bytes_changed"] == ["a/index.html"]
    assert result["same_bytes_site"] == ["a/card.vcf"]
    assert result["stale"] == ["a/card.vcf"]


def test_timed_counts_cpu_and_memory_of_grandchildren(tmp_path: Path) -> None:
    # A parent that starts a child: the child holds 80 MB and burns CPU; both must be counted.
    child = "import time; b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096]); t = time.process_time()\n"
    child += "while time.process_time() - t < 0.4: pass\ntime.sleep(0.3)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    result = measure.timed([sys.executable, "-c", parent], tmp_path)
    assert result["status"] == 0
    assert result["user"] + result["sys"] >= 0.38
    assert result["peak_tree_mb"] >= 80


def test_floor_writes_the_same_files_in_the_same_folders(tmp_path: Path) -> None:
    tree = tmp_path / "built"
    (tree / "x" / "y").mkdir(parents=True)
    (tree / "x" / "y" / "page.html").write_bytes(b"<html>")
    (tree / "top.txt").write_bytes(os.urandom(5000))
    result = baselines.floor(tree, tmp_path / "copy")
    assert result["count"] == 2 and result["folders"] == 3 and result["bytes"] == 5006
    for path in (p for p in tree.rglob("*") if p.is_file()):
        assert (tmp_path / "copy" / path.relative_to(tree)).read_bytes() == path.read_bytes()


def test_pillow_pass_makes_the_squares_cardsite_makes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cardsite.render import photo

    monkeypatch.setattr(realistic, "CACHE", tmp_path)
    data = realistic.photo(1, 1)
    made = baselines.squares(data)
    # The same outputs as cardsite's: the vCard's square and each page size in JPEG and WebP.
    assert sorted(made) == sorted(
        ["vcard", *(f"{side}.{ext}" for side in baselines.WEB_SIZES for ext in ("jpg", "webp"))]
    )
    assert sorted(baselines.WEB_SIZES) == sorted(set(photo.WEB_SIZES.values()))
    for name, data_out in made.items():
        side = baselines.VCARD_SIZE if name == "vcard" else int(name.split(".")[0])
        with Image.open(io.BytesIO(data_out)) as image:
            assert image.format == ("WEBP" if name.endswith("webp") else "JPEG") and image.size == (side, side)
    assert len(made["vcard"]) <= baselines.VCARD_MAX_BYTES
