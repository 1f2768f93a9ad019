"""Cumulative count snapshots (FORMATS.md b): tally mode's readings, through the API.

``POST /api/elections/{election_id}/snapshots`` takes ``{"snapshots": [{"station",
"counted_since", "time", "cumulative", "client_id"}]}`` from the signed-in observer;
``client_id`` is the idempotency key: a resend with the same content is stored once
(answered ``duplicate``), other content under a used id is refused (``conflict``).
``GET`` lists them (observers: their own; staff: their scope) as JSON or as the CSV
of FORMATS.md (``station_id, observer_id, counted_since, time, cumulative``).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from electwatch.core.numbers import NumberFormatError, normalize_digits, parse_count
from electwatch.data.observations import parse_clock
from electwatch.storage import service as svc
from electwatch.storage.models import Assignment, Snapshot, Station, User
from electwatch.web.api import DB, OBSERVER, READERS, get_election
from electwatch.web.auth import Principal

router = APIRouter(prefix="/api", tags=["snapshots"])
MAX_SNAPSHOTS = 1000


def _count(value: Any) -> int:
    try:
        return parse_count(value)
    except NumberFormatError as exc:
        raise ValueError(str(exc)) from None


class SnapshotIn(BaseModel):
    station: str = Field(min_length=1, max_length=200, description="station code")
    counted_since: str = Field(examples=["08:00"], description="HH:MM: when counting began")
    time: str = Field(examples=["10:15"], description="HH:MM (24:00 allowed): the reading")
    cumulative: Annotated[int, BeforeValidator(_count), Field(ge=0, le=100_000)] = Field(
        description="voters counted from counted_since to time: an integer, or digits in any script"
    )
    client_id: uuid.UUID = Field(description="client-generated UUID: the idempotency key")

    @field_validator("counted_since", "time")
    @classmethod
    def _clock(cls, v: str) -> str:
        v = normalize_digits(v).strip()
        parse_clock(v)
        return v

    @model_validator(mode="after")
    def _order(self) -> SnapshotIn:
        if parse_clock(self.time) < parse_clock(self.counted_since):
            raise ValueError("time must not be before counted_since")
        return self


class SnapshotsBody(BaseModel):
    snapshots: list[SnapshotIn] = Field(min_length=1, max_length=MAX_SNAPSHOTS)


def _minutes(text: str) -> int:
    return round(parse_clock(text) * 60)


def _content(station_id: int, observer_id: int, s: SnapshotIn) -> tuple[int, int, int, int, int]:
    return (station_id, observer_id, _minutes(s.counted_since), _minutes(s.time), s.cumulative)


def store_snapshots(
    session: Session, election_id: int, p: Principal, items: list[SnapshotIn]
) -> list[dict[str, Any]]:
    """Store what is new; one result per item: created, duplicate, conflict,
    unknown_station or not_assigned (in the caller's transaction)."""
    codes = {i.station for i in items}
    stations = dict(
        session.execute(
            select(Station.code, Station.id)
            .join(Assignment, Assignment.station_id == Station.id)
            .where(
                Station.election_id == election_id,
                Station.code.in_(codes),
                Assignment.observer_id == p.user_id,
            )
        ).all()
    )
    existing = {
        r.client_id: r
        for r in session.scalars(
            select(Snapshot).where(Snapshot.client_id.in_([i.client_id for i in items]))
        )
    }
    now = datetime.now(UTC)
    results: list[dict[str, Any]] = []
    for it in items:
        out: dict[str, Any] = {"client_id": str(it.client_id)}
        sid = stations.get(it.station)
        if sid is None:
            results.append({**out, "outcome": "not_assigned", "detail": "not your station"})
            continue
        content = _content(sid, p.user_id, it)
        prior = existing.get(it.client_id)
        if prior is not None:
            same = (
                prior.station_id,
                prior.observer_id,
                prior.counted_since,
                prior.time,
                prior.cumulative,
            ) == content and prior.election_id == election_id
            results.append(
                {**out, "outcome": "duplicate"}
                if same
                else {**out, "outcome": "conflict", "detail": "client_id used for other content"}
            )
            continue
        row = Snapshot(
            client_id=it.client_id,
            election_id=election_id,
            station_id=sid,
            observer_id=p.user_id,
            counted_since=content[2],
            time=content[3],
            cumulative=it.cumulative,
            received_at=now,
        )
        session.add(row)
        existing[it.client_id] = row
        results.append({**out, "outcome": "created"})
    return results


@router.post("/elections/{election_id}/snapshots")
def submit_snapshots(
    election_id: int, body: SnapshotsBody, s: DB, p: Annotated[Principal, Depends(OBSERVER)]
) -> JSONResponse:
    """Store an observer's cumulative readings (idempotent on ``client_id``)."""

    def store(items: list[SnapshotIn]) -> list[dict[str, Any]]:
        with s.begin():
            get_election(s, election_id)
            return store_snapshots(s, election_id, p, items)

    try:
        results = store(body.snapshots)
    except IntegrityError:
        # the same client_id sent at once in two requests: the other one won; store
        # the rest one by one, so the loser reads back "duplicate", never a 500
        results = []
        for item in body.snapshots:
            try:
                results.extend(store([item]))
            except IntegrityError:
                results.extend(store([item]))
    created = sum(r["outcome"] == "created" for r in results)
    dups = sum(r["outcome"] == "duplicate" for r in results)
    refused = len(results) - created - dups
    return JSONResponse(
        {"stored": created, "duplicates": dups, "refused": refused, "results": results},
        status_code=200 if not refused else 207,
    )


@router.get("/elections/{election_id}/snapshots", response_model=None)
def list_snapshots(
    election_id: int,
    s: DB,
    p: Annotated[Principal, Depends(READERS)],
    station: str | None = None,
    format: str = Query("json", pattern="^(json|csv)$"),
    limit: int = Query(10_000, ge=1, le=100_000),
    offset: int = Query(0, ge=0, le=10**9),
) -> dict[str, Any] | Response:
    """Snapshots in the caller's scope (an observer sees their own)."""
    get_election(s, election_id)
    q = (
        select(Snapshot, Station.code, User.pseudonym)
        .join(Station, Station.id == Snapshot.station_id)
        .join(User, User.id == Snapshot.observer_id)
        .where(Snapshot.election_id == election_id)
    )
    if p.role == "observer":
        q = q.where(Snapshot.observer_id == p.user_id)
    elif (cond := svc.station_filter(p.scope)) is not None:
        q = q.where(cond)
    if station is not None:
        q = q.where(Station.code == station)
    rows = s.execute(
        q.order_by(Station.code, User.pseudonym, Snapshot.time).limit(limit).offset(offset)
    ).all()
    records = [
        {
            "station_id": code,
            "observer_id": obs,
            "counted_since": svc.clock(r.counted_since),
            "time": svc.clock(r.time),
            "cumulative": r.cumulative,
            "client_id": str(r.client_id),
        }
        for r, code, obs in rows
    ]
    if format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        cols = ["station_id", "observer_id", "counted_since", "time", "cumulative"]
        w.writerow(cols)
        for rec in records:
            # formula escaping: a cell a spreadsheet would evaluate is quoted as text
            w.writerow(
                [
                    "'" + str(rec[c]) if str(rec[c])[:1] in ("=", "+", "-", "@") else rec[c]
                    for c in cols
                ]
            )
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8")
    return {"snapshots": records}
