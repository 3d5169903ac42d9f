"""The package's folders are its architecture: each stage imports only the stages below it.

    errors, progress            the exception tree and the progress reporter, imported by everyone
    cards                       load and check the YAML, settings, Card objects
    render                      a Card into pages, vCard, QR code, photo files (pure)
    build                       the engine: what is current, plan, render, write
    aws                         the one AWS client factory and error explainer
    serve, publish, notify      the commands' stages, side by side: none imports another
    cli                         the command line, on top

Only the edges talk to AWS: boto3 and botocore are imported in aws, publish and notify alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cardsite"

#: Each part of the package and its layer; a module may import its own part and any lower layer.
LAYERS = {
    "errors": 0,
    "progress": 0,
    "cards": 1,
    "render": 2,
    "build": 3,
    "aws": 3,
    "serve": 4,
    "publish": 4,
    "notify": 4,
    "printshop": 4,
    "cli": 5,
}
#: Parts whose modules may import boto3 or botocore.
AWS_EDGES = {"aws", "publish", "notify"}


def part_of(module: str) -> str:
    """Return the part ('cards', 'cli', ...) of a dotted module name inside cardsite."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Return (line, absolute module) of every import in `path`, relative ones resolved, lazy ones included."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    here = list(rel.parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, [base, node.module or ""]))
            if node.module is None:  # from . import x: x is a module of that package
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_belongs_to_a_layer() -> None:
    for path in MODULES:
        rel = path.relative_to(PACKAGE)
        part = rel.parts[0].removesuffix(".py")
        assert part in LAYERS or rel.as_posix() == "__init__.py", f"cardsite/{rel} is in no layer of LAYERS"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_a_module_imports_only_its_own_part_and_lower_layers(path: Path) -> None:
    rel = path.relative_to(PACKAGE)
    if rel.as_posix() == "__init__.py":
        return
    mine = rel.parts[0].removesuffix(".py")
    for line, module in imports_of(path):
        top = module.split(".")[0]
        if top in ("boto3", "botocore"):
            assert mine in AWS_EDGES, f"cardsite/{rel}:{line} imports {module}: only {sorted(AWS_EDGES)} talk to AWS"
        if top != "cardsite" or module == "cardsite":
            continue
        theirs = part_of(module)
        if theirs in ("", "schema") or theirs == mine:
            continue
        assert LAYERS[theirs] < LAYERS[mine], (
            f"cardsite/{rel}:{line} imports {module}: {mine} (layer {LAYERS[mine]}) may not use"
            f" {theirs} (layer {LAYERS[theirs]})"
        )


def test_the_check_sees_a_relative_import_resolved(tmp_path: Path) -> None:
    # The rule is only as good as its reading of `from ..x import y`: check it on the real engine module.
    engine = imports_of(PACKAGE / "build" / "engine.py")
    assert ("cardsite.errors" in {m for _, m in engine}) and any(m.startswith("cardsite.cards.") for _, m in engine)
