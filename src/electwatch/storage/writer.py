"""Group-commit writer for reports: requests enqueue, one writer commits batches.

Each submitted report waits on a future that is resolved only after the
transaction holding it has committed, so an acknowledgement (HTTP 201/200) means
the report is durable. While one batch commits the next requests queue up, so
under load a single commit (one fsync on SQLite) carries many reports; idle, a
report is committed alone with no added delay.

Idempotency: the report's client-generated UUID is its primary key. A resend by
the same observer with identical content is acknowledged as a duplicate (the row
is not written again); the same UUID with different content or from another
observer is refused (``conflict``). Only this writer inserts reports, so the
existence check and the insert in one transaction cannot race *within a process*;
several processes (``serve --workers N``) can race on the same id, and the loser's
insert fails on the primary key.

Isolation: reports are validated fully before they reach the writer, and if a
batch's transaction fails anyway (a race as above, a database error on one row), the
batch is retried one report per transaction, so one report's failure never touches
another's; a report whose own insert hits the primary key is answered from the row
the other process stored (duplicate or conflict), never with an error.

Plausibility (:mod:`electwatch.storage.plausibility`) is judged here, against the
station's register and the election's limits: an implausible report is stored
quarantined with the reasons. Notes are encrypted at rest when a cipher is given.
The credential a fast-path report came with is re-checked in the same transaction
(revoked, expired or disabled: refused), so a revocation is effective at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import Table, bindparam, insert, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from electwatch.storage.crypto import notes_context
from electwatch.storage.models import (
    Assignment,
    AuditEntry,
    Credential,
    Election,
    Report,
    Station,
    User,
)
from electwatch.storage.plausibility import StationLimits, problems
from electwatch.storage.service import clock

log = logging.getLogger("electwatch.storage")

Outcome = Literal[
    "created", "duplicate", "conflict", "not_assigned", "unknown_station", "unauthorized"
]


@dataclass
class ReportIn:
    """A validated report on its way to the database."""

    id: uuid.UUID
    election_id: int
    station_code: str
    observer_id: int
    observer: str  # pseudonym (for the audit log and the response)
    window_start: int  # minutes after midnight
    window_end: int
    voters: int
    hourly: list[int] | None = None
    notes: str | None = None
    client_time: datetime | None = None
    #: the credential to re-check in the write transaction (fast path), if any
    credential_id: str | None = None
    #: who acts when not the observer (a coordinator's import): the audit actor
    actor: str | None = None
    outcomes: dict[str, int] | None = None

    def content(self) -> tuple[Any, ...]:
        return (
            self.window_start,
            self.window_end,
            self.voters,
            self.hourly or None,
            self.notes or None,
            self.outcomes or None,
        )


@dataclass
class WriteResult:
    outcome: Outcome
    report: dict[str, Any] | None = None
    detail: str | None = None


@dataclass
class _Job:
    item: ReportIn
    future: asyncio.Future[WriteResult] = field(repr=False)


def _out(
    item: ReportIn,
    received: datetime,
    status: str = "submitted",
    version: int = 1,
    reason: str | None = None,
    station: str | None = None,
) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "election_id": item.election_id,
        "station": station if station is not None else item.station_code,
        "observer": item.observer,
        "window_start": clock(item.window_start),
        "window_end": clock(item.window_end),
        "voters": item.voters,
        "hourly": item.hourly,
        "outcomes": item.outcomes,
        "notes": item.notes,
        "status": status,
        "status_reason": reason,
        "version": version,
        "received_at": received.isoformat(),
        "evidence": [],
    }


# Built once: constructing and cache-keying the statements per batch was a good part
# of a small batch's CPU cost. The lists are bound as expanding parameters.
_STATIONS = (
    select(
        Station.id,
        Station.election_id,
        Station.code,
        Station.registered,
        Station.official_cast,
        Election.open_hour,
        Election.close_hour,
        Election.max_voters_per_hour,
    )
    .join(Election, Election.id == Station.election_id)
    .where(
        Station.election_id.in_(bindparam("election_ids", expanding=True)),
        Station.code.in_(bindparam("codes", expanding=True)),
    )
)
_ASSIGNED = select(Assignment.observer_id, Assignment.station_id).where(
    Assignment.observer_id.in_(bindparam("observer_ids", expanding=True))
)
_EXISTING = (
    select(Report, Station.code)
    .join(Station, Station.id == Report.station_id)
    .where(Report.id.in_(bindparam("ids", expanding=True)))
)
_LIVE = (
    select(Credential.id)
    .join(User, User.id == Credential.user_id)
    .where(
        Credential.id.in_(bindparam("cids", expanding=True)),
        Credential.revoked.is_(False),
        User.active.is_(True),
        or_(Credential.expires_at.is_(None), Credential.expires_at > bindparam("now")),
    )
)
CONFLICT = "this report id was already used for other content"


_notes_context = notes_context


def commit_batch(session: Session, items: list[ReportIn], cipher: Any = None) -> list[WriteResult]:
    """Write a batch of reports in the caller's transaction; one result per item."""
    stations: dict[tuple[int, str], tuple[int, StationLimits]] = {
        (e, c): (sid, StationLimits(reg, cast, oh, ch, mph))
        for sid, e, c, reg, cast, oh, ch, mph in session.execute(
            _STATIONS,
            {
                "election_ids": list({i.election_id for i in items}),
                "codes": list({i.station_code for i in items}),
            },
        )
    }
    now = datetime.now(UTC)
    check = list({i.credential_id for i in items if i.credential_id})
    live = set(session.scalars(_LIVE, {"cids": check, "now": now})) if check else set()
    assigned = {
        (o, st)
        for o, st in session.execute(
            _ASSIGNED, {"observer_ids": list({i.observer_id for i in items})}
        )
    }
    existing: dict[uuid.UUID, tuple[Report, str]] = {
        r.id: (r, code) for r, code in session.execute(_EXISTING, {"ids": [i.id for i in items]})
    }
    seen: dict[uuid.UUID, tuple[ReportIn, dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    results: list[WriteResult] = []
    for it in items:
        if it.credential_id is not None and it.credential_id not in live:
            results.append(WriteResult("unauthorized", None, "authentication required"))
            continue
        found = existing.get(it.id)
        if found is not None:
            prior, prior_code = found
            notes = prior.notes
            if notes and cipher is not None:
                notes = cipher.decrypt_text(notes, _notes_context(prior.id))
            same = (
                prior.observer_id == it.observer_id
                and prior.election_id == it.election_id
                and prior_code == it.station_code
                and (
                    prior.window_start,
                    prior.window_end,
                    prior.voters,
                    prior.hourly or None,
                    notes or None,
                    prior.outcomes or None,
                )
                == it.content()
            )
            if same:
                results.append(
                    WriteResult(
                        "duplicate",
                        _out(
                            it,
                            prior.received_at,
                            prior.status,
                            prior.version,
                            prior.status_reason,
                        ),
                    )
                )
            else:
                # nothing of the stored report is echoed (it may be another observer's)
                results.append(WriteResult("conflict", None, CONFLICT))
            continue
        if it.id in seen:
            first, first_out = seen[it.id]
            if (
                first.observer_id == it.observer_id
                and first.station_code == it.station_code
                and first.election_id == it.election_id
                and first.content() == it.content()
            ):
                results.append(WriteResult("duplicate", first_out))
            else:
                results.append(WriteResult("conflict", None, CONFLICT))
            continue
        found_station = stations.get((it.election_id, it.station_code))
        if found_station is None:
            results.append(
                WriteResult(
                    "unknown_station", None, f"no station {it.station_code!r} in this election"
                )
            )
            continue
        sid, limits = found_station
        if (it.observer_id, sid) not in assigned:
            results.append(
                WriteResult("not_assigned", None, "you are not assigned to this station")
            )
            continue
        why = problems(it.voters, it.hourly, it.window_start, it.window_end, limits)
        status = "quarantined" if why else "submitted"
        reason = ("implausible: " + "; ".join(why)) if why else None
        notes = it.notes
        if notes and cipher is not None:
            notes = cipher.encrypt_text(notes, _notes_context(it.id))
        out = _out(it, now, status, 1, reason)
        seen[it.id] = (it, out)
        rows.append(
            {
                "id": it.id,
                "election_id": it.election_id,
                "station_id": sid,
                "observer_id": it.observer_id,
                "window_start": it.window_start,
                "window_end": it.window_end,
                "voters": it.voters,
                "hourly": it.hourly,
                "outcomes": it.outcomes,
                "notes": notes,
                "status": status,
                "status_reason": reason,
                "version": 1,
                "client_time": it.client_time,
                "received_at": now,
                "updated_at": now,
            }
        )
        audits.append(
            {
                "at": now,
                "actor": it.actor or it.observer,
                "action": "report.import" if it.actor else "report.create",
                "entity": "report",
                "entity_id": str(it.id),
                "before": None,
                "after": {
                    **{
                        k: out[k]
                        for k in (
                            "station",
                            "window_start",
                            "window_end",
                            "voters",
                            "hourly",
                            "outcomes",
                        )
                    },
                    # the audit log keeps the notes as stored (encrypted when a key is set)
                    "notes": notes,
                    "status": status,
                    "status_reason": reason,
                    **({"observer": it.observer} if it.actor else {}),
                },
            }
        )
        results.append(WriteResult("created", out))
    if rows:
        if session.get_bind().dialect.name == "postgresql":
            _copy_rows(session, rows, audits)
        else:
            # Core executemany on the tables: the ORM bulk path costs more CPU per row
            session.execute(insert(cast(Table, Report.__table__)), rows)
            session.execute(insert(cast(Table, AuditEntry.__table__)), audits)
    return results


def _copy_rows(session: Session, rows: list[dict[str, Any]], audits: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY the batch in (one protocol stream, far cheaper than row INSERTs),
    on the session's own connection, so inside the same transaction.

    The COPY runs on the raw psycopg connection, outside SQLAlchemy's execution, so a
    database error arrives as a bare ``psycopg`` exception. It is translated here into
    SQLAlchemy's matching class (``UniqueViolation`` -> ``IntegrityError``, ...), as the
    SQLite/INSERT path raises it: the writer's race handling tells a primary-key clash
    with another process by ``sqlalchemy.exc.IntegrityError`` on every database."""
    import psycopg
    from psycopg.types.json import Json

    raw = session.connection().connection.driver_connection
    json_cols = {"hourly", "outcomes", "before", "after"}
    with raw.cursor() as cur:  # type: ignore[union-attr]
        for table, data in (("reports", rows), ("audit_log", audits)):
            cols = list(data[0])
            statement = f"COPY {table} ({', '.join(cols)}) FROM STDIN"
            try:
                with cur.copy(statement) as cp:
                    for r in data:
                        cp.write_row(
                            [
                                Json(r[c]) if c in json_cols and r[c] is not None else r[c]
                                for c in cols
                            ]
                        )
            except psycopg.Error as exc:
                raise DBAPIError.instance(
                    statement,
                    None,
                    exc,
                    psycopg.Error,
                    dialect=session.get_bind().dialect,
                ) from exc


class ReportWriter:
    """One asyncio task + one database thread committing queued reports in batches."""

    def __init__(
        self, factory: sessionmaker[Session], max_batch: int = 256, cipher: Any = None
    ) -> None:
        self.factory = factory
        self.cipher = cipher
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-writer")
        self.batches = 0
        self.committed = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def submit(self, item: ReportIn) -> WriteResult:
        return (await self.submit_many([item]))[0]

    async def submit_many(self, items: list[ReportIn]) -> list[WriteResult]:
        if self._task is None:
            raise RuntimeError("the report writer is not running")
        loop = asyncio.get_running_loop()
        jobs = [_Job(i, loop.create_future()) for i in items]
        for j in jobs:
            self._queue.put_nowait(j)
        return list(await asyncio.gather(*(j.future for j in jobs)))

    def _commit(self, items: list[ReportIn]) -> list[WriteResult | Exception]:
        try:
            with self.factory() as session, session.begin():
                return list(commit_batch(session, items, self.cipher))
        except Exception as exc:
            if len(items) == 1:
                return [self._isolated(items[0], exc)]
            log.warning(
                "a batch of %d reports failed (%s); writing them one by one",
                len(items),
                type(exc).__name__,
            )
            return [self._isolated(it, None) for it in items]

    def _isolated(self, item: ReportIn, first_error: Exception | None) -> WriteResult | Exception:
        try:
            return self._commit_one(item, first_error)
        except Exception as exc:  # this report alone fails; the others are unaffected
            return exc

    def _commit_one(self, item: ReportIn, first_error: Exception | None) -> WriteResult:
        """One report in its own transaction. A primary-key clash means another process
        stored this id meanwhile: answered from the stored row (duplicate/conflict)."""
        attempts = 0 if first_error is None else 1
        error = first_error
        while attempts < 3:
            if error is not None and not isinstance(error, IntegrityError):
                raise error
            try:
                with self.factory() as session, session.begin():
                    return commit_batch(session, [item], self.cipher)[0]
            except Exception as exc:
                error = exc
                attempts += 1
        assert error is not None
        raise error

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            job = await self._queue.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < self.max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            try:
                results = await loop.run_in_executor(
                    self._executor, self._commit, [j.item for j in batch]
                )
            except Exception as exc:  # the whole batch failed: nobody is acknowledged
                for j in batch:
                    if not j.future.done():
                        j.future.set_exception(exc)
                continue
            self.batches += 1
            self.committed += sum(
                isinstance(r, WriteResult) and r.outcome == "created" for r in results
            )
            for j, r in zip(batch, results, strict=True):
                if j.future.done():
                    continue
                if isinstance(r, Exception):
                    j.future.set_exception(r)
                else:
                    j.future.set_result(r)
