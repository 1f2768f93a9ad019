"""Pure statistics never imports the web layer, the database or the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "electwatch"
PURE = ["data", "simulate", "forensics", "turnout", "claims"]
FORBIDDEN = (
    "electwatch.web",
    "electwatch.storage",
    "electwatch.cli",
    "fastapi",
    "sqlalchemy",
    "psycopg",
    "uvicorn",
    "typer",
)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", PURE)
def test_statistics_packages_stay_pure(package):
    if not (SRC / package / "__init__.py").exists():
        pytest.skip(f"package electwatch.{package} not built yet")
    files = list((SRC / package).rglob("*.py"))
    for f in files:
        bad = {m for m in imports_of(f) if m.startswith(FORBIDDEN)}
        assert not bad, f"{f.relative_to(SRC)} imports {sorted(bad)}"
