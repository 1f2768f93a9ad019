"""The package structure of docs/architecture.md, enforced on the source's imports.

Every module under ``src/electwatch`` is parsed with :mod:`ast`; both ``import x`` and
``from x import y`` count, relative imports (``from . import y``, ``from ..data import
z``) are resolved against the importing module, and ``from pkg import name`` counts
as an import of the submodule ``pkg.name`` when that is a module. Three rules:

1. **No drawing in the statistics packages** (``core``, ``data``, ``simulate``,
   ``forensics``, ``turnout``, ``claims``): no matplotlib or other plotting/imaging
   import anywhere in the file, lazy imports inside functions included. Imports under
   ``if TYPE_CHECKING:`` (annotations only, never executed) are not counted.
2. **The dependency table** of docs/architecture.md: each package imports only the
   electwatch packages its row allows (in any scope: a lazy import is a dependency
   too); ``core`` imports the standard library only; the statistics packages import
   no storage, web, CLI or report code, no database driver or web framework.
3. **No import cycle between modules**: module-level imports are the edges (class
   bodies and ``try``/``if`` blocks at module level included, and ``if
   TYPE_CHECKING:`` imports too: a type imported only for annotations is still a
   dependency of the design, and issue 11's ``reports/builder.py`` <->
   ``sections_*.py`` cycle is one). Imports inside functions are allowed to point
   back (they run after both modules are loaded; they are how the CLI stays fast to
   start). A package's ``__init__`` re-exporting its submodules is not a cycle unless a
   submodule imports the package's ``__init__`` back. One exception: the top-level
   ``electwatch/__init__.py`` is a lazy facade (PEP 562 ``__getattr__``) that imports
   nothing at run time; its ``TYPE_CHECKING`` imports only give type checkers the
   public API's types, so they are not edges (every module imports ``electwatch``
   first, and counting them would make every public name a cycle).

Violations that other work in progress removes are listed in ``KNOWN_VIOLATIONS``
(with who removes them). Each is a strict xfail: when it is fixed the test XPASSes,
which fails, so the entry must then be deleted; any violation not listed fails.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "electwatch"

STATISTICS = ("core", "data", "simulate", "forensics", "turnout", "claims")
DRAWING = frozenset(
    {
        "matplotlib",
        "pylab",
        "seaborn",
        "plotly",
        "bokeh",
        "altair",
        "plotnine",
        "holoviews",
        "pygal",
        "PIL",
        "cairo",
        "svgwrite",
        "reportlab",
    }
)
#: third-party packages the statistics packages never import: database drivers and
#: ORMs, web frameworks and servers, CLI and terminal presentation, HTML templating
NOT_FOR_STATISTICS = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "psycopg",
        "psycopg2",
        "asyncpg",
        "sqlite3",
        "redis",
        "pymongo",
        "fastapi",
        "starlette",
        "uvicorn",
        "httpx",
        "requests",
        "typer",
        "click",
        "rich",
        "jinja2",
    }
)

_STATS = {"core", "data", "simulate", "forensics", "turnout", "claims"}
#: docs/architecture.md, "may import" column: the electwatch packages each package may
#: import besides itself. ``None`` means everything. The top-level modules
#: ``electwatch`` (version, lazy public API) and ``electwatch.errors`` are open to
#: every package but ``core``.
ALLOWED: dict[str, set[str] | None] = {
    "core": set(),
    "i18n": {"core"},
    "data": {"core"},
    "simulate": {"core", "data"},
    "forensics": {"core", "data"},
    "turnout": {"core", "data"},
    "claims": {"core", "data", "turnout", "forensics"},
    "reports": _STATS | {"i18n"},
    "storage": {"core", "data"},
    "web": _STATS | {"storage", "i18n"},
    "cli": None,
}
TOP_LEVEL_MODULES = {ROOT, f"{ROOT}.errors"}

#: rule -> {module: who removes the violation}. Strict xfails, see the docstring.
KNOWN_VIOLATIONS: dict[str, dict[str, str]] = {
    "drawing": {},
    "dependencies": {},
    "cycles": {},
}


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # the most specific module (or external name) imported
    line: int
    module_level: bool  # executed when the importer is imported
    type_checking: bool  # under ``if TYPE_CHECKING:``: never executed


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_from(importer: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level:
        # the package the relative import starts from: the module's own package
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    known = modules()
    targets = []
    for alias in node.names:
        sub = f"{prefix}.{alias.name}"
        target = sub if sub in known else prefix
        if target not in targets:
            targets.append(target)
    return targets


@cache
def imports_of(module: str) -> list[Import]:
    path = modules()[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool, type_checking: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, node.lineno, module_level, type_checking))
        elif isinstance(node, ast.ImportFrom):
            for target in _resolve_from(module, is_package, node):
                found.append(Import(module, target, node.lineno, module_level, type_checking))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for child in ast.iter_child_nodes(node):
                visit(child, False, type_checking)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, module_level, True)
            for child in node.orelse:
                visit(child, module_level, type_checking)
        else:
            for child in ast.iter_child_nodes(node):
                visit(child, module_level, type_checking)

    visit(tree, True, False)
    return found


def all_imports() -> Iterator[Import]:
    for module in modules():
        yield from imports_of(module)


def package_of(module: str) -> str | None:
    """``electwatch.data.model`` -> ``data``; top-level modules -> ``None``."""
    parts = module.split(".")
    if len(parts) >= 2 and (SRC / ROOT / parts[1]).is_dir():
        return parts[1]
    return None


def top(name: str) -> str:
    return name.split(".")[0]


# -- rule 1: no drawing in the statistics packages ----------------------------------


def drawing_violations() -> dict[str, list[str]]:
    bad: dict[str, list[str]] = {}
    for imp in all_imports():
        in_statistics = package_of(imp.importer) in STATISTICS
        if in_statistics and not imp.type_checking and top(imp.target) in DRAWING:
            bad.setdefault(imp.importer, []).append(f"line {imp.line}: {imp.target}")
    return bad


# -- rule 2: the dependency table ---------------------------------------------------


def dependency_violations() -> dict[str, list[str]]:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad: dict[str, list[str]] = {}
    for imp in all_imports():
        package = package_of(imp.importer)
        if package is None:
            continue  # electwatch/__init__, errors, __main__: the facade and the entry point
        why = None
        if top(imp.target) == ROOT:
            target_package = package_of(imp.target)
            allowed = ALLOWED.get(package, set())
            if package == "core":
                why = "core imports no electwatch module"
            elif target_package is None:
                why = None if imp.target in TOP_LEVEL_MODULES else "unknown top-level module"
            elif allowed is not None and target_package not in allowed | {package}:
                why = f"{package} may not import {target_package}"
        elif package == "core" and top(imp.target) not in stdlib:
            why = "core uses the standard library only"
        elif package in STATISTICS and top(imp.target) in NOT_FOR_STATISTICS:
            why = "statistics never import storage, web, CLI or presentation libraries"
        if why:
            bad.setdefault(imp.importer, []).append(f"line {imp.line}: {imp.target} ({why})")
    return bad


# -- rule 3: no import cycles -------------------------------------------------------


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for imp in all_imports():
        if imp.importer == ROOT and imp.type_checking:
            continue  # the lazy facade's annotations-only imports, see the docstring
        if imp.module_level and imp.target in known and imp.target != imp.importer:
            graph[imp.importer].add(imp.target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components of more than one module are cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def cycle_violations() -> dict[str, list[str]]:
    graph = import_graph()
    bad = {}
    for component in strongly_connected(graph):
        members = set(component)
        edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
        bad[component[0]] = edges
    return bad


RULES = {
    "drawing": drawing_violations,
    "dependencies": dependency_violations,
    "cycles": cycle_violations,
}


# -- the tests ----------------------------------------------------------------------


def test_every_module_is_parsed():
    names = modules()
    assert "electwatch.data.loaders" in names and "electwatch.cli.main" in names
    assert all(isinstance(imports_of(m), list) for m in names)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_no_violation_beyond_the_known_ones(rule):
    found = RULES[rule]()
    new = {m: why for m, why in found.items() if m not in KNOWN_VIOLATIONS[rule]}
    assert not new, f"{rule}: " + "; ".join(f"{m}: {', '.join(w)}" for m, w in new.items())


KNOWN = [
    pytest.param(rule, module, marks=pytest.mark.xfail(strict=True, reason=who), id=module)
    for rule, listed in KNOWN_VIOLATIONS.items()
    for module, who in listed.items()
]


@pytest.mark.parametrize(("rule", "module"), KNOWN)
def test_known_violation_is_gone(rule, module):
    found = RULES[rule]()
    assert module not in found, f"{module}: {', '.join(found[module])}"


# -- the checker itself, on small known inputs ---------------------------------------


def test_tarjan_finds_a_cycle_and_ignores_a_chain():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_relative_imports_resolve(tmp_path):
    node = ast.parse("from ..data import model, load_results").body[0]
    assert isinstance(node, ast.ImportFrom)
    targets = _resolve_from("electwatch.turnout.frame", False, node)
    assert targets == ["electwatch.data.model", "electwatch.data"]
    node = ast.parse("from . import loaders").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _resolve_from("electwatch.data", True, node) == ["electwatch.data.loaders"]


def test_the_facade_loads_nothing_at_import_time():
    runtime = [
        i for i in imports_of(ROOT) if i.target.startswith(f"{ROOT}.") and not i.type_checking
    ]
    assert runtime == [], runtime


def test_lazy_and_type_checking_imports_are_told_apart():
    # cli/forensics imports the forensics package lazily and for annotations
    imps = imports_of("electwatch.cli.forensics")
    assert any(i.type_checking for i in imps)
    assert any(not i.module_level for i in imps)
    assert any(i.module_level and not i.type_checking for i in imps)
