"""Fixtures of the service tests (imported by test_api*, test_storage*, test_permissions*).

``db_url`` is parametrised over SQLite and PostgreSQL; the PostgreSQL case gets its
own throwaway schema (created and dropped around the test) and is skipped with the
reason when the server is unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from electwatch_devtools.testing import Seed, postgres_available, seed, throwaway_database
from fastapi.testclient import TestClient

from electwatch.storage import credentials
from electwatch.storage.db import make_engine, session_factory, upgrade
from electwatch.web.app import create_app
from electwatch.web.settings import Settings

# scrypt at full cost (n=2**14) takes ~50 ms a hash; tests hash dozens of secrets
credentials.SCRYPT_N = 2**10

_PG_REASON: list[str | None] = []


def _pg_reason() -> str | None:
    if not _PG_REASON:
        _PG_REASON.append(postgres_available())
    return _PG_REASON[0]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "postgresql" and (reason := _pg_reason()):
        pytest.skip(reason)
    with throwaway_database(request.param) as url:
        yield url


@dataclass
class Service:
    client: TestClient
    seed: Seed
    settings: Settings
    factory: object

    def h(self, role: str) -> dict[str, str]:
        return self.seed.users[role].headers


def make_service(db_url: str, tmp_path: Path, **overrides: object) -> Iterator[Service]:
    engine = make_engine(db_url)
    upgrade(engine)
    factory = session_factory(engine)
    sd = seed(factory)
    settings = Settings(
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        secret_key="test-secret",
        **overrides,
    )  # type: ignore[arg-type]
    app = create_app(settings)
    with TestClient(app) as client:
        yield Service(client, sd, settings, factory)
    engine.dispose()


@pytest.fixture
def service(db_url: str, tmp_path: Path) -> Iterator[Service]:
    yield from make_service(db_url, tmp_path)
