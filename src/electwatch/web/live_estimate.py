"""The one adapter between the service and the turnout library (the live estimate).

The service only reads inputs from the database -- the merged station records, the
tally-mode snapshots, the stations' result protocols and the station frame -- and
makes one library call, :func:`electwatch.turnout.estimate_live`; no statistic is
computed here (docs/turnout.md, "Live estimate", says which estimators run).

Cache: the result is kept per election and *data version*, a few aggregate
queries over what the estimate reads (reports: count, last update and summed
edit versions; coordinators' actions; snapshots; the station frame). A page load
whose data have not changed reuses the last estimate instead of recomputing it;
any new report, status change, verification, snapshot or station import changes
the version. Each worker process has its own small cache (:data:`CACHE_SIZE`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from electwatch.core.formatting import clock
from electwatch.data.observations import RESERVED_OUTCOMES
from electwatch.storage.models import Election, Report, Snapshot, Station, StationAction
from electwatch.storage.records import station_records
from electwatch.storage.service import Scope
from electwatch.turnout import LiveEstimate, StationFrame, estimate_live, z_value

#: merged-record statuses whose count enters the estimate (a conflict does not)
USABLE = ("single", "agreed", "verified", "overridden")
#: estimates kept per worker process (elections x data versions)
CACHE_SIZE = 16
#: bootstrap replicates of the live estimate (the profile-aware SEs and the
#: bootstrap estimator); the shown estimator's interval is analytic unless the
#: arrival profile was estimated
N_RESAMPLES = 1000


@dataclass(frozen=True)
class LiveResult:
    """What the service shows: the library's estimate and the record counts."""

    live: LiveEstimate
    records_by_status: dict[str, int]
    version: tuple[Any, ...]


_cache: OrderedDict[tuple[Any, ...], LiveResult] = OrderedDict()
_lock = threading.Lock()
#: computations and cache hits since start (read by tests and the benchmark)
stats = {"computed": 0, "hits": 0}


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def data_version(s: Session, election_id: int) -> tuple[Any, ...]:
    """A value that changes whenever any input of the estimate changes."""
    rep = s.execute(
        select(func.count(), func.max(Report.updated_at), func.sum(Report.version)).where(
            Report.election_id == election_id
        )
    ).one()
    act = s.execute(
        select(func.count(), func.max(StationAction.id))
        .join(Station, Station.id == StationAction.station_id)
        .where(Station.election_id == election_id)
    ).one()
    snap = s.execute(
        select(func.count(), func.max(Snapshot.received_at)).where(
            Snapshot.election_id == election_id
        )
    ).one()
    st = s.execute(
        select(func.count(), func.sum(Station.registered), func.count(Station.registered)).where(
            Station.election_id == election_id
        )
    ).one()
    return tuple(str(v) for v in (*rep, *act, *snap, *st))


def live_inputs(
    s: Session, election: Election, abs_tol: int, rel_tol: float
) -> tuple[dict[str, Any], dict[str, int]]:
    """The keyword arguments of :func:`estimate_live` read from the database, and
    the merged records counted by status."""
    records = station_records(s, election.id, Scope(), abs_tol, rel_tol)
    counts = dict(records.group_by("status").len().iter_rows()) if records.height else {}
    usable = records.filter(pl.col("status").is_in(list(USABLE)) & pl.col("voters").is_not_null())
    opening, closing = election.open_hour * 60, election.close_hour * 60
    rows = [
        {
            "station_id": str(sid),
            "observer_id": "merged",
            "window_start": clock(opening if start is None else start),
            "window_end": clock(closing if end is None else end),
            "voters": int(voters),
        }
        for sid, voters, start, end in usable.select(
            "station_id", "voters", "window_start", "window_end"
        ).iter_rows()
    ]
    frame_rows = s.execute(
        select(Station.id, Station.registered).where(Station.election_id == election.id)
    ).all()
    frame = StationFrame(
        pl.DataFrame(
            [(str(i), r) for i, r in frame_rows],
            schema={"station_id": pl.String, "registered": pl.Int64},
            orient="row",
        )
    )
    snaps = [
        {
            "station_id": str(sid),
            "observer_id": str(oid),
            "counted_since": clock(since),
            "time": clock(t),
            "cumulative": cum,
        }
        for sid, oid, since, t, cum in s.execute(
            select(
                Snapshot.station_id,
                Snapshot.observer_id,
                Snapshot.counted_since,
                Snapshot.time,
                Snapshot.cumulative,
            ).where(Snapshot.election_id == election.id)
        )
    ]
    protocols, disagreeing = _protocols(s, election.id)
    no_count = sum(v for k, v in counts.items() if k not in USABLE and k != "conflict")
    no_count += records.filter(
        pl.col("status").is_in(list(USABLE)) & pl.col("voters").is_null()
    ).height
    kwargs = {
        "records": rows,
        "frame": frame,
        "snapshots": snaps or None,
        "protocols": {str(k): v for k, v in protocols.items()},
        "excluded": {
            "conflict": counts.get("conflict", 0),
            "no_count": no_count,
            "protocol_disagreement": disagreeing,
        },
        "polls": (election.open_hour, election.close_hour),
        "n_resamples": N_RESAMPLES,
    }
    return kwargs, counts


def live_for_election(s: Session, election: Election, abs_tol: int, rel_tol: float) -> LiveResult:
    """The library's live estimate of one election, from the cache when the data
    have not changed since it was computed."""
    version = data_version(s, election.id)
    key = (election.id, election.open_hour, election.close_hour, abs_tol, rel_tol, version)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            stats["hits"] += 1
            return hit
    kwargs, counts = live_inputs(s, election, abs_tol, rel_tol)
    result = LiveResult(estimate_live(**kwargs), counts, version)
    with _lock:
        stats["computed"] += 1
        _cache[key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def estimate_for_election(
    s: Session, election: Election, abs_tol: int, rel_tol: float
) -> dict[str, Any]:
    """The live estimate of one election as a JSON-ready dict (API and analyst page):
    the library's :class:`~electwatch.turnout.LiveEstimate` under ``live``, and its
    headline figures flattened for the page."""
    res = live_for_election(s, election, abs_tol, rel_tol)
    live = res.live
    est = live.turnout
    out: dict[str, Any] = {
        "election_id": election.id,
        "n_observed": live.n_observed,
        "n_stations": live.n_stations,
        "records_by_status": res.records_by_status,
        "excluded_conflicts": live.exclusions.get("conflict", 0),
        "exclusions": dict(live.exclusions),
        "register_zero": live.register_zero,
        "estimator": live.estimator,
        "method": est.method if est else None,
        "profile_source": live.profile_source,
        "turnout_error": live.turnout_error,
        "mean_per_station": live.mean_per_station,
        "voters": None,
        "se": None,
        "ci95": None,
        "turnout": None,
        "turnout_ci95": None,
        "estimate": est.to_dict() if est else None,
        "shares": _shares(live),
        "live": live.to_dict(),
        "data_version": list(res.version),
    }
    if est is not None:
        z = z_value(est.confidence)
        total, se = est.total_voters, est.total_voters_se
        out["voters"] = total
        if total is not None and se is not None and se == se:
            out["se"] = se
            out["ci95"] = [total - z * se, total + z * se]
        if est.quantity == "turnout":
            out["turnout"] = est.estimate
            if est.standard_error == est.standard_error:
                out["turnout_ci95"] = [est.ci_low, est.ci_high]
    return out


def _shares(live: LiveEstimate) -> dict[str, Any] | None:
    """The quick count's shares as page rows (None: no protocols at all)."""
    disagreeing = live.exclusions.get("protocol_disagreement", 0)
    if live.n_protocols == 0 and not disagreeing:
        return None
    base: dict[str, Any] = {
        "n": live.n_protocols,
        "n_stations": live.n_stations,
        # stations whose observers' protocols differ and none is verified: left out
        "n_disagreeing": disagreeing,
    }
    q = live.shares
    if q is None:
        return {**base, "rows": [], "error": live.shares_error}
    ordered = sorted(q.shares, key=lambda i: (i.name in RESERVED_OUTCOMES, -i.estimate))
    rows = [{"name": i.name, "share": i.estimate, "ci95": [i.ci_low, i.ci_high]} for i in ordered]
    return {
        **base,
        "method": q.method,
        "rows": rows,
        "leader": q.leader,
        "runner_up": q.runner_up,
        "margin": q.margin.estimate,
        "margin_ci95": [q.margin.ci_low, q.margin.ci_high],
        "p_leader_majority": q.p_leader_majority,
        "majority_of": q.extra.get("majority_of"),
    }


def station_outcomes(s: Session, election_id: int) -> dict[int, dict[str, int]]:
    """One result protocol per station: a verified report's, else the protocol every
    non-quarantined report agrees on; stations whose observers disagree are left out
    (:func:`disagreeing_stations` counts them)."""
    return _protocols(s, election_id)[0]


def disagreeing_stations(s: Session, election_id: int) -> int:
    return _protocols(s, election_id)[1]


def _protocols(s: Session, election_id: int) -> tuple[dict[int, dict[str, int]], int]:
    rows = s.execute(
        select(Report.station_id, Report.outcomes, Report.status)
        .where(
            Report.election_id == election_id,
            Report.outcomes.is_not(None),
            Report.status != "quarantined",
        )
        # one order on every database: "the last verified" must not depend on it
        .order_by(Report.received_at, Report.id)
    ).all()
    by_station: dict[int, list[tuple[dict[str, int], str]]] = {}
    for sid, outcomes, status in rows:
        if outcomes:
            by_station.setdefault(sid, []).append((outcomes, status))
    chosen: dict[int, dict[str, int]] = {}
    for sid, protocols in by_station.items():
        verified = [o for o, st in protocols if st == "verified"]
        if verified:
            chosen[sid] = verified[-1]
        elif all(o == protocols[0][0] for o, _ in protocols):
            chosen[sid] = protocols[0][0]
    return chosen, len(by_station) - len(chosen)
