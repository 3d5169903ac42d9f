"""Assets: every visible file of templates/assets is published under its content hash, nothing else."""

from __future__ import annotations

from pathlib import Path

from cardsite.cli import main


def test_hidden_files_in_assets_are_not_published(project: Path) -> None:
    assets = project / "templates" / "assets"
    (assets / ".card.js.swp").write_bytes(b"editor swap file")
    (assets / "extra.txt").write_text("shown")
    assert main(["build", "--quiet"]) == 0
    published = sorted(p.name for p in (project / "public" / "assets").iterdir())
    assert any(name.startswith("extra.") and name.endswith(".txt") for name in published)
    assert not [name for name in published if "swp" in name or name.startswith(".")], published
