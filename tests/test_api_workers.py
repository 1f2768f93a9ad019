"""Two worker processes (``electwatch serve --workers 2``) against one PostgreSQL: a
revocation, the rate limits and CSRF tokens behave as with one process, and the same
report id sent concurrently is never a 500 (issue 14, item 4).

Every request opens a new connection, so the kernel spreads them over both workers
(a keep-alive connection would stay with one). No ``ELECTWATCH_SECRET_KEY`` is set:
the CSRF key must come from the database.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from electwatch_devtools.loadtest import ServerProcess
from electwatch_devtools.testing import postgres_available, seed, throwaway_database

from electwatch.storage import service as svc
from electwatch.storage.db import make_engine, session_factory, transaction, upgrade
from electwatch.storage.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
LIMIT = 12  # requests per credential per window (the window is 300 s: no refill)


def fresh_token(factory: Any, pseudonym: str) -> str:
    from sqlalchemy import select

    with transaction(factory) as s:
        u = s.scalar(select(User).where(User.pseudonym == pseudonym))
        return svc.issue_credential(s, u, "tok", "workers-test")


def call(port: int, method: str, path: str, **kw: Any) -> httpx.Response:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        return c.request(
            method, path, headers={"Connection": "close", **kw.pop("headers", {})}, **kw
        )


def test_two_workers_share_revocations_limits_and_csrf(tmp_path: Path) -> None:
    if reason := postgres_available():
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if k != "ELECTWATCH_SECRET_KEY"}
    os.environ.pop("ELECTWATCH_SECRET_KEY", None)
    with throwaway_database("postgresql") as url:
        engine = make_engine(url)
        upgrade(engine)
        factory = session_factory(engine)
        sd = seed(factory, extra_observers=5)
        server = ServerProcess(
            url,
            tmp_path,
            rate=LIMIT / 300,
            burst=LIMIT,
            workers=2,
            env={"ELECTWATCH_RATE_LEASE": "1"},
        )
        server.start()
        port = server.port
        try:
            pool = ThreadPoolExecutor(12)
            # --- revocation: warm the token into both workers' caches, revoke, retry
            analyst = sd.users["analyst"].pseudonym
            tok = fresh_token(factory, analyst)
            bearer = {"Authorization": f"Bearer {tok}"}
            warm = list(
                pool.map(
                    lambda _: call(port, "GET", "/api/me", headers=bearer).status_code, range(6)
                )
            )
            assert warm == [200] * 6
            cred = tok.split("_")[1]
            admin = {"Authorization": f"Bearer {fresh_token(factory, sd.users['admin'].pseudonym)}"}
            assert (
                call(port, "DELETE", f"/api/credentials/{cred}", headers=admin).status_code == 200
            )
            after = list(
                pool.map(
                    lambda _: call(port, "GET", "/api/me", headers=bearer).status_code, range(LIMIT)
                )
            )
            assert after == [401] * LIMIT, after

            # --- rate limit: exactly LIMIT requests of one credential pass in total
            tok2 = {"Authorization": f"Bearer {fresh_token(factory, analyst)}"}
            codes = Counter(
                pool.map(
                    lambda _: call(port, "GET", "/api/me", headers=tok2).status_code, range(20)
                )
            )
            assert codes == Counter({200: LIMIT, 429: 20 - LIMIT}), codes

            # --- CSRF: a session made on one worker is accepted with its token on all
            adm = sd.users["admin"]
            login = call(
                port,
                "POST",
                "/api/auth/login",
                json={"username": adm.username, "password": adm.password},
            )
            assert login.status_code == 200, login.text
            cookie = {
                "Cookie": f"ew_session={login.cookies['ew_session']}",
                "X-CSRF-Token": login.json()["csrf_token"],
            }
            victim = sd.users["observer2"].pseudonym
            csrf_codes = list(
                pool.map(
                    lambda _: (
                        call(
                            port, "POST", f"/api/users/{victim}/enable", headers=cookie
                        ).status_code
                    ),
                    range(LIMIT - 1),
                )
            )
            assert csrf_codes == [200] * (LIMIT - 1), csrf_codes

            # --- the same report id sent concurrently: stored once, never a 500
            outcomes: Counter[int] = Counter()
            for k in range(5):
                obs = sd.users[f"load-{k}"]
                station = sd.stations[k % len(sd.stations)]
                rid = str(uuid.uuid4())
                body = {
                    "id": rid,
                    "station": station,
                    "window_start": "08:00",
                    "window_end": "20:00",
                    "voters": 50,
                }
                hdr = {"Authorization": f"Bearer {obs.token}"}
                got = list(
                    pool.map(
                        lambda _, b=body, h=hdr: (
                            call(
                                port,
                                "POST",
                                f"/api/elections/{sd.election_id}/reports",
                                json=b,
                                headers=h,
                            ).status_code
                        ),
                        range(LIMIT),
                    )
                )
                assert got.count(201) == 1 and got.count(200) == LIMIT - 1, got
                outcomes.update(got)
            assert 500 not in outcomes
            assert "Traceback" not in server.log(), server.log()[-3000:]
        finally:
            server.stop()
            engine.dispose()
            os.environ.clear()
            os.environ.update(env)


def test_a_primary_key_race_on_postgresql_is_answered_from_the_stored_row() -> None:
    """The race behind a 500 among concurrent resends, made deterministic: one
    transaction (another worker process) has inserted a report id and not yet
    committed; this writer's COPY of the same id blocks on it and, once it commits,
    hits the primary key. That clash must be answered from the stored row (duplicate
    for the same content, conflict for other content), with and without outcomes and
    notes, with and without an encryption key, never raised.

    Before the fix the COPY's bare ``psycopg.errors.UniqueViolation`` was not the
    ``sqlalchemy.exc.IntegrityError`` the retry looks for, so it was re-raised (a 500)."""
    import threading

    from sqlalchemy import select

    from electwatch.storage.crypto import Cipher
    from electwatch.storage.writer import ReportIn, ReportWriter, WriteResult, commit_batch

    if reason := postgres_available():
        pytest.skip(reason)
    with throwaway_database("postgresql") as url:
        engine = make_engine(url)
        upgrade(engine)
        factory = session_factory(engine)
        sd = seed(factory, n_stations=4, n_regions=1)
        observer = sd.users["observer"]
        with factory() as s:
            oid = s.scalar(select(User.id).where(User.pseudonym == observer.pseudonym))
        assert oid is not None
        try:
            for key in (None, bytes(range(32))):
                cipher = Cipher(key) if key is not None else None
                for outcomes, notes in ((None, None), ({"A": 30, "B": 20}, "queue at 9")):
                    for resent_voters, expected in ((50, "duplicate"), (51, "conflict")):
                        first = ReportIn(
                            id=uuid.uuid4(),
                            election_id=sd.election_id,
                            station_code=sd.observer_stations[0],
                            observer_id=oid,
                            observer=observer.pseudonym,
                            window_start=480,
                            window_end=1200,
                            voters=50,
                            outcomes=outcomes,
                            notes=notes,
                        )
                        resent = ReportIn(**{**first.__dict__, "voters": resent_voters})
                        writer = ReportWriter(factory, cipher=cipher)
                        other_process = factory()
                        other_process.begin()
                        assert commit_batch(other_process, [first], cipher)[0].outcome == "created"
                        got: list[WriteResult | Exception] = []
                        racer = threading.Thread(
                            target=lambda w=writer, r=resent, g=got: g.extend(w._commit([r]))
                        )
                        racer.start()
                        racer.join(0.5)
                        # the racer has read "no such id" and now waits on the uncommitted row
                        assert racer.is_alive()
                        other_process.commit()
                        other_process.close()
                        racer.join(30)
                        case = (key is not None, notes, resent_voters)
                        assert len(got) == 1 and isinstance(got[0], WriteResult), (case, got)
                        assert got[0].outcome == expected, (case, got[0])
                        if expected == "duplicate":
                            assert got[0].report is not None
                            assert got[0].report["outcomes"] == first.outcomes
                            assert got[0].report["notes"] == first.notes
        finally:
            engine.dispose()
