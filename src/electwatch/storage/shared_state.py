"""State every worker process and every host must share, kept in the database.

Why the database and not Redis: the service already needs the database on every
host, and a second server is one more thing to secure, back up and keep running in
a hostile environment; every operation here is a single-row upsert on a primary
key, cheap on PostgreSQL (and on the SQLite file of a single host). Nothing here
holds a client address: rate-limit keys of clients are keyed hashes (HMAC with a
stored secret) and disappear with their window.

* :func:`shared_secret`: a random secret generated once (the first process to ask
  inserts it; everyone else reads the stored value), e.g. the CSRF HMAC key.
* :class:`WindowCounters`: fixed-window counters, ``hit(key, cost)`` adds atomically
  and returns the new count (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from electwatch.storage.models import RateCounter, ServiceSecret


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def shared_secret(factory: sessionmaker[Session], name: str) -> str:
    """The stored secret ``name``; generated (64 hex digits) by the first caller."""
    with factory() as s, s.begin():
        ins = _insert(s)
        s.execute(
            ins(ServiceSecret)
            .values(name=name, value=secrets.token_hex(32), created_at=_now_dt())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = s.scalar(select(ServiceSecret.value).where(ServiceSecret.name == name))
    assert value is not None
    return value


def _now_dt() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


class WindowCounters:
    """Shared fixed-window counters (one row per key; a new window restarts it)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    @staticmethod
    def window_of(seconds: float, now: float | None = None) -> int:
        return int((time.time() if now is None else now) // seconds)

    def hit(self, key: str, window: int, cost: int = 1) -> int:
        """Add ``cost`` to ``key``'s count in ``window``; the count after adding."""
        with self.factory() as s, s.begin():
            if s.get_bind().dialect.name == "postgresql":
                # a counter need not survive a crash: skip the WAL flush for it
                from sqlalchemy import text

                s.execute(text("SET LOCAL synchronous_commit TO OFF"))
            ins = _insert(s)
            stmt = ins(RateCounter).values(key=key[:200], window=window, count=cost)
            table = RateCounter.__table__
            stmt = stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "count": case(
                        (table.c.window == stmt.excluded.window, table.c.count + cost),
                        else_=cost,
                    ),
                    "window": stmt.excluded.window,
                },
            ).returning(table.c.count)
            return int(s.execute(stmt).scalar_one())

    def peek(self, key: str, window: int) -> int:
        """The count of ``key`` in ``window`` (0 if none), without adding."""
        with self.factory() as s:
            row = s.execute(
                select(RateCounter.window, RateCounter.count).where(RateCounter.key == key[:200])
            ).first()
        return int(row[1]) if row is not None and row[0] == window else 0

    def purge(self, older_than_window: int, prefix: str = "") -> int:
        """Delete counters of windows before ``older_than_window`` (housekeeping)."""
        with self.factory() as s, s.begin():
            q = delete(RateCounter).where(RateCounter.window < older_than_window)
            if prefix:
                q = q.where(RateCounter.key.startswith(prefix, autoescape=True))
            return int(s.execute(q).rowcount or 0)  # type: ignore[attr-defined]
