"""The wheel ships only the product: no test, benchmark, load-test or study module.

The wheel is built from a copy of the project (``pyproject.toml``, ``README.md``,
``src/``) in a temporary folder, so the build never writes into the worktree, with
``pip wheel --no-deps --no-build-isolation`` (offline, a few seconds; setuptools
>= 70.1 from the test extras builds wheels itself).

A module is development code when its name says so (``tests/``, ``benchmarks/``,
``scripts/``, ``test_*.py``, ``conftest.py``, ``testing.py``, ``loadtest*.py``,
``bench*.py``, ``*study*.py``) or when it draws synthetic elections although it is
not the simulator, the built-in demo, the CLI or the top-level facade that expose
them: that is what a coverage study or a test fixture does, never a statistic on real
data (docs/architecture.md: turnout, forensics and claims do not import simulate).
"""

from __future__ import annotations

import ast
import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

DEV_DIRECTORIES = {"tests", "test", "benchmarks", "benchmark", "scripts", "studies"}
DEV_FILE_PATTERNS = (
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "testing.py",
    "*loadtest*.py",
    "bench*.py",
    "*study*.py",
)
#: product modules that may use the simulator: itself, the demo report, the CLI, and
#: the top-level facade that re-exports its entry points (docs/api.md)
SIMULATE_USERS = ("electwatch.simulate", "electwatch.reports.demo", "electwatch.cli")
FACADE = "electwatch"

#: module path in the wheel -> who moves it out. Strict xfails: when a module has
#: moved, its test XPASSes, which fails, and the entry must be deleted.
KNOWN_DEV_MODULES: dict[str, str] = {}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    work = tmp_path_factory.mktemp("wheel-build")
    project = work / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "src",
        project / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "-q", "-w", str(work / "dist"), str(project)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = (work / "dist").glob("electwatch-*.whl")
    return zipfile.ZipFile(path)


def dev_reason(path: str, source: str) -> str | None:
    parts = path.split("/")
    if DEV_DIRECTORIES & set(parts[:-1]):
        return "development folder"
    if any(fnmatch.fnmatch(parts[-1], pattern) for pattern in DEV_FILE_PATTERNS):
        return "test, benchmark, load-test or study file name"
    module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    if module == FACADE or module.startswith(SIMULATE_USERS):
        return None
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        if any(name.startswith("electwatch.simulate") for name in names):
            return "draws synthetic elections (a study or a test fixture)"
    return None


def dev_modules(wheel: zipfile.ZipFile) -> dict[str, str]:
    found = {}
    for name in wheel.namelist():
        if name.endswith(".py"):
            reason = dev_reason(name, wheel.read(name).decode("utf-8"))
            if reason:
                found[name] = reason
    return found


def test_wheel_holds_the_product(wheel):
    names = set(wheel.namelist())
    for expected in (
        "electwatch/__init__.py",
        "electwatch/cli/main.py",
        "electwatch/forensics/battery.py",
        "electwatch/simulate/election.py",
        "electwatch/reports/demo.py",
    ):
        assert expected in names
    assert any(n.startswith("electwatch/data/mappings/") and n.endswith(".toml") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "scripts/")) for n in names)


def test_wheel_ships_every_compiled_catalogue(wheel):
    """The web pages and the report load their messages from the .mo files
    (electwatch.i18n.catalogue): each committed one must be in the wheel."""
    names = set(wheel.namelist())
    src = ROOT / "src"
    catalogues = sorted((src / "electwatch" / "i18n" / "locale").glob("*/LC_MESSAGES/*.mo"))
    shipped = {p.relative_to(src).as_posix() for p in catalogues}
    assert "electwatch/i18n/locale/fa/LC_MESSAGES/reports.mo" in shipped
    assert "electwatch/i18n/locale/fa/LC_MESSAGES/electwatch.mo" in shipped
    assert shipped <= names, sorted(shipped - names)


def test_no_development_module_beyond_the_known_ones(wheel):
    found = dev_modules(wheel)
    new = {path: why for path, why in found.items() if path not in KNOWN_DEV_MODULES}
    assert not new, new


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=w))
        for p, w in KNOWN_DEV_MODULES.items()
    ],
)
def test_known_development_module_has_left_the_wheel(wheel, path):
    assert path not in dev_modules(wheel), f"{path} is still in the wheel"


def test_the_rules_recognise_development_code():
    assert dev_reason("electwatch/web/testing.py", "") is not None
    assert dev_reason("electwatch/web/loadtest.py", "") is not None
    assert dev_reason("tests/test_x.py", "") is not None
    study = "from electwatch.simulate.observers import simulate_observer_campaign\n"
    assert dev_reason("electwatch/turnout/validation.py", study) is not None
    assert dev_reason("electwatch/reports/demo.py", study) is None
    assert dev_reason("electwatch/__init__.py", study) is None
    assert dev_reason("electwatch/claims/ledger.py", study) is not None
    assert dev_reason("electwatch/data/loaders.py", "import polars as pl\n") is None
