"""Fixtures shared by the service tests, the page tests and the load benchmark.

``throwaway_database(kind)`` yields a database URL for a fresh, migrated-on-demand
database: an SQLite file in a temporary folder, or a new PostgreSQL schema
(``search_path`` set through the URL) dropped afterwards. ``seed(factory)`` fills
one SYNTHETIC election (simulated with electwatch.simulate) with users of every
role, their API tokens and passwords, assignments and a coordinator area.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from electwatch.storage import service as svc
from electwatch.storage.db import transaction
from electwatch.storage.models import Area, Station

if TYPE_CHECKING:
    from electwatch_devtools.loadtest import Observer

POSTGRES_URL = os.environ.get(
    "ELECTWATCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: a fresh password per run (no password is written in the code)
PASSWORD = secrets.token_urlsafe(18)


def postgres_available(url: str = POSTGRES_URL) -> str | None:
    """None if PostgreSQL answers, else the reason it does not."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as c:
            c.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # driver errors vary
        return f"PostgreSQL at {url} unreachable: {type(exc).__name__}: {exc}"[:300]


@contextmanager
def throwaway_database(kind: str) -> Iterator[str]:
    """A URL of an empty database of ``kind`` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="electwatch-db-") as d:
            yield f"sqlite:///{Path(d) / 'electwatch.sqlite3'}"
        return
    schema = f"ew_test_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class SeedUser:
    role: str
    pseudonym: str
    username: str
    token: str
    password: str = PASSWORD

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Seed:
    """What ``seed`` created (all SYNTHETIC)."""

    election_id: int
    stations: list[str]
    #: role -> user; "observer2" watches the same first station as "observer"
    users: dict[str, SeedUser] = field(default_factory=dict)
    #: the region the coordinator is responsible for, and a station outside it
    coordinator_region: str = ""
    station_in_region: str = ""
    station_outside_region: str = ""
    observer_stations: list[str] = field(default_factory=list)
    other_election_id: int = 0


def seed(
    factory: sessionmaker[Session],
    n_stations: int = 40,
    n_regions: int = 4,
    extra_observers: int = 0,
    seed_value: int = 7,
) -> Seed:
    """One synthetic election, users of every role with tokens, assignments, areas.

    ``extra_observers`` more observers, each assigned to one station (round robin),
    are created for load tests; their tokens are in ``users['load-<k>']``.
    """
    from electwatch.simulate import ElectionParameters, simulate_election

    results, _ = simulate_election(
        ElectionParameters(n_stations=n_stations, n_regions=n_regions), seed=seed_value
    )
    out_users: dict[str, SeedUser] = {}
    with transaction(factory) as s:
        e = svc.create_election(
            s,
            f"SYNTHETIC election {secrets.token_hex(3)}",
            country="Synthetia",
            date="2026-11-22",
            synthetic=True,
        )
        svc.import_stations(s, e.id, results)
        other = svc.create_election(s, f"SYNTHETIC other {secrets.token_hex(3)}", synthetic=True)
        stations = list(
            s.scalars(select(Station).where(Station.election_id == e.id).order_by(Station.id))
        )
        regions = list(
            s.scalars(
                select(Area).where(Area.election_id == e.id, Area.depth == 0).order_by(Area.id)
            )
        )
        region = regions[1] if len(regions) > 1 else regions[0]
        in_region = [st for st in stations if s.get(Area, st.area_id).path.startswith(region.path)]  # type: ignore[union-attr]
        outside = [st for st in stations if st not in in_region]
        for key, role in [
            ("observer", "observer"),
            ("observer2", "observer"),
            ("coordinator", "coordinator"),
            ("analyst", "analyst"),
            ("admin", "admin"),
        ]:
            u = svc.create_user(s, role, f"{key}-{secrets.token_hex(3)}", PASSWORD)
            tok = svc.issue_credential(s, u, "tok", "test")
            out_users[key] = SeedUser(role, u.pseudonym, u.username, tok)
            if key.startswith("observer"):
                for st in (in_region[0], outside[0] if outside else in_region[-1]):
                    svc.assign_station(s, u, st)
            if role == "coordinator":
                svc.add_coordinator_area(s, u, region)
        loaders = []
        for k in range(extra_observers):
            u = svc.create_user(s, "observer")
            # scrypt per token is slow; load observers share one hashing cost each, once
            tok = svc.issue_credential(s, u, "tok", "load")
            svc.assign_station(s, u, stations[k % len(stations)])
            loaders.append((k, u, tok))
        for k, u, tok in loaders:
            out_users[f"load-{k}"] = SeedUser("observer", u.pseudonym, u.username, tok)
        return Seed(
            election_id=e.id,
            stations=[st.code for st in stations],
            users=out_users,
            coordinator_region=region.name,
            station_in_region=in_region[0].code,
            station_outside_region=outside[0].code if outside else "",
            observer_stations=[in_region[0].code, outside[0].code if outside else ""],
            other_election_id=other.id,
        )


@dataclass
class LoadSetup:
    """A migrated database seeded for load: one observer per simulated client."""

    engine: Engine
    factory: sessionmaker[Session]
    seed: Seed
    observers: list[Observer]


def load_setup(url: str, n_observers: int) -> LoadSetup:
    """Migrate ``url``, seed an election (at least 40 stations) and ``n_observers``
    load observers, each reporting on its own station round robin.

    Shared by the load benchmark and the crash test; the caller disposes ``engine``.
    """
    from electwatch.storage.db import make_engine, session_factory, upgrade
    from electwatch_devtools.loadtest import Observer

    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    sd = seed(factory, n_stations=max(n_observers, 40), extra_observers=n_observers)
    observers = [
        Observer(sd.users[f"load-{k}"].token, sd.stations[k % len(sd.stations)])
        for k in range(n_observers)
    ]
    return LoadSetup(engine, factory, sd, observers)
