"""Shared fixtures: locating the real data (skip with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/data relative to the project root; ELECTWATCH_DATA overrides it
SHARED_DATA = Path(os.environ.get("ELECTWATCH_DATA", ROOT.parent / "shared" / "data"))


def real_data_file(name: str) -> Path:
    """Path of a file in ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {name} not found in {SHARED_DATA} (../shared/data is absent)")
    return path


@pytest.fixture(scope="session")
def duma_2011_path() -> Path:
    return real_data_file("russia-duma-2011.csv.zip")


@pytest.fixture(scope="session")
def president_2012_path() -> Path:
    return real_data_file("russia-president-2012.csv.zip")


@pytest.fixture(scope="session")
def iran_2009_path() -> Path:
    return real_data_file("iran-president-2009-by-province.csv")
