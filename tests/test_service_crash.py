# ruff: noqa: F811  (pytest fixtures imported from service_support)
"""Crash test of the intake service (issue 5): kill -9 the server mid-load; after a
restart every acknowledged report is present and none is duplicated.

The real server (``electwatch serve``, one uvicorn worker, group-commit writer) runs
in a subprocess on a free loopback port against a throwaway SQLite file or
PostgreSQL schema. Simulated observers submit SYNTHETIC reports in a closed loop;
after ~1.5 s the server gets SIGKILL while requests are in flight. It is restarted on
the same database and port, and the observers resend every unanswered report (an
outbox retry) plus some acknowledged ones, with the same id (idempotency key) and
content; then the load, the kill and the resends run a second time. Checked against
the database after each restart:

- every report acknowledged (HTTP 201/200) before the kill is stored, with the
  content that was sent;
- nothing is stored that was not sent, and every stored report has exactly one
  ``report.create`` audit entry (no report was written twice);
- a resend is answered 200 ("already stored") exactly when the report was stored
  before the resend, 201 otherwise, and leaves one row per id.

The kill is sent the instant an acknowledgement reaches an observer (after 1.5 s of
load), when an acknowledged-but-uncommitted batch would most likely exist. The test
is a check that can fail: with the writer made to acknowledge each batch 2 ms before
committing it, it reported lost acknowledged reports in 4 of 6 runs (3 SQLite, 3
PostgreSQL); with a 10 ms gap in every SQLite run tried.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from electwatch_devtools.loadtest import (
    CrashRun,
    ServerProcess,
    crash,
    resend_outbox,
    restart,
)
from electwatch_devtools.testing import load_setup
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from electwatch.storage.models import AuditEntry, Report
from service_support import db_url  # noqa: F401

pytestmark = pytest.mark.slow

N_OBSERVERS = 16
KILL_AFTER = 1.5  # seconds of load before each SIGKILL
CRASHES = 2  # kill, restart, resend; twice


def stored_reports(factory: sessionmaker[Session], election_id: int) -> dict[str, int]:
    """Report id -> voters of every stored report of the election."""
    with factory() as s:
        return {
            str(rid): voters
            for rid, voters in s.execute(
                select(Report.id, Report.voters).where(Report.election_id == election_id)
            )
        }


def create_audits(factory: sessionmaker[Session]) -> Counter[str]:
    """How many ``report.create`` audit entries each report id has."""
    with factory() as s:
        return Counter(
            s.scalars(
                select(AuditEntry.entity_id).where(
                    AuditEntry.action == "report.create", AuditEntry.entity == "report"
                )
            )
        )


def test_kill9_mid_load_loses_no_acknowledged_report(db_url: str, tmp_path: Path) -> None:
    setup = load_setup(db_url, N_OBSERVERS)
    engine, factory, sd, observers = setup.engine, setup.factory, setup.seed, setup.observers
    servers = [ServerProcess(db_url, tmp_path).start()]
    run = CrashRun()
    try:
        for cycle in range(CRASHES):
            n_acked = len(run.acknowledged)
            crash(servers[-1], sd.election_id, observers, KILL_AFTER, run)
            assert servers[-1].proc is not None and servers[-1].proc.returncode == -9
            # the kill happened mid-load: reports were acknowledged, others in flight
            assert len(run.acknowledged) - n_acked >= 50, servers[-1].log()[-2000:]
            assert len(run.unanswered) >= 1, "no request was in flight at the kill"
            assert run.refused == {}, run.refused

            servers.append(restart(servers[-1]))  # recovery (WAL / PostgreSQL) first
            before = stored_reports(factory, sd.election_id)
            sent_voters = {rid: s.body["voters"] for rid, s in run.sent.items()}
            # every acknowledged report survived, with the content acknowledged
            lost = run.acknowledged - before.keys()
            assert not lost, f"crash {cycle}: {len(lost)} acknowledged reports lost"
            assert all(before[rid] == sent_voters[rid] for rid in run.acknowledged)
            # nothing stored that was never sent; unanswered ones may or may not be
            assert before.keys() - run.acknowledged <= run.unanswered

            unanswered = run.unanswered
            resent = resend_outbox(servers[-1], sd.election_id, observers, run)
            assert set(resent) >= unanswered
            # a resend is "already stored" (200) exactly when the report was stored
            expected = {rid: 200 if rid in before else 201 for rid in resent}
            got = {rid: run.resent[rid] for rid in resent}
            assert got == expected, Counter(
                (expected[r], s) for r, s in got.items() if s != expected[r]
            )
            assert run.unanswered == set()
    finally:
        for s in servers:
            s.stop()

    after = stored_reports(factory, sd.election_id)
    assert after.keys() == run.sent.keys()
    assert all(after[rid] == sent_voters[rid] for rid in after)
    # one report.create audit entry per stored report: none was written twice
    audits = create_audits(factory)
    assert {rid: n for rid, n in audits.items() if n != 1} == {}
    assert set(audits) == after.keys()
    engine.dispose()
