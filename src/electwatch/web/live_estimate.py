"""The one adapter between the service and the turnout library (the live estimate).

The service only gathers inputs from the database (merged station records, the
station frame, the stored result protocols) and calls the estimators of
:mod:`electwatch.turnout`; no statistic is computed here.

* Turnout: each usable station count is scaled to the whole polling day by the
  share of the day its watch window covers (``turnout.overlap_matrix`` and
  ``turnout.covered_shares`` under a uniform arrival profile, until hourly data
  allow ``turnout.estimate_profile``), then ``turnout.ratio_estimate`` (Cochran
  1977, section 6.2-6.3) when every station has a register, else
  ``turnout.naive_expansion`` (Cochran 1977, eq. 2.19).
* Vote shares (a quick count, FORMATS.md (a)): the share of outcome k is the ratio
  of sums sum_i y_ik / sum_i n_i over stations with a protocol, with n_i the
  station's counted ballots, estimated by ``turnout.ratio_estimate`` (a ratio
  estimator of a cluster sample, with linearisation SE); the quick-count helper's
  share estimator replaces this call when it lands in the turnout package.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from electwatch.storage.models import Election, Report, Station
from electwatch.storage.records import station_records
from electwatch.storage.service import Scope
from electwatch.turnout import (
    Estimate,
    covered_shares,
    naive_expansion,
    overlap_matrix,
    ratio_estimate,
)

#: merged-record statuses whose count enters the estimate (a conflict does not)
USABLE = ("single", "agreed", "verified", "overridden")
#: the reserved outcome names of FORMATS.md (a)
RESERVED_OUTCOMES = ("blank", "invalid")


def _day_counts(observed: pl.DataFrame, election: Election) -> np.ndarray:
    """Counts scaled to the whole polling day (uniform arrival profile)."""
    n_hours = election.close_hour - election.open_hour
    start = observed["window_start"].to_numpy().astype(float) / 60
    end = observed["window_end"].to_numpy().astype(float) / 60
    overlap = overlap_matrix(start, end, election.open_hour, n_hours)
    shares = covered_shares(np.full(n_hours, 1.0 / n_hours), overlap)
    counts = observed["voters"].to_numpy().astype(float)
    return np.divide(counts, shares, out=np.full_like(counts, np.nan), where=shares > 0)


def turnout_estimate(
    observed: pl.DataFrame, frame: pl.DataFrame, election: Election
) -> Estimate | None:
    """The library's estimate from usable station records, or None without any."""
    if observed.height == 0 or frame.height == 0:
        return None
    y = _day_counts(observed, election)
    keep = np.isfinite(y)
    y = y[keep]
    if y.size == 0:
        return None
    big_n = frame.height
    registered = frame["registered"]
    if registered.null_count() == 0 and y.size >= 2:
        x = observed["registered"].to_numpy().astype(float)[keep]
        return ratio_estimate(y, x, float(registered.sum()), big_n)
    return naive_expansion(y, big_n)


def estimate_for_election(
    s: Session, election: Election, abs_tol: int, rel_tol: float
) -> dict[str, Any]:
    """The live estimate of one election as a JSON-ready dict (API and analyst page)."""
    records = station_records(s, election.id, Scope(), abs_tol, rel_tol)
    counts = dict(records.group_by("status").len().iter_rows()) if records.height else {}
    usable = records.filter(pl.col("status").is_in(list(USABLE)) & pl.col("voters").is_not_null())
    observed = usable.select(
        "station_id",
        "voters",
        "registered",
        pl.col("window_start").fill_null(election.open_hour * 60),
        pl.col("window_end").fill_null(election.close_hour * 60),
    )
    frame = pl.DataFrame(
        [
            tuple(r)
            for r in s.execute(
                select(Station.id, Station.registered).where(Station.election_id == election.id)
            )
        ],
        schema={"station_id": pl.Int64, "registered": pl.Int64},
        orient="row",
    )
    est = turnout_estimate(observed, frame, election)
    out: dict[str, Any] = {
        "election_id": election.id,
        "n_observed": observed.height,
        "n_stations": frame.height,
        "records_by_status": counts,
        "excluded_conflicts": counts.get("conflict", 0),
        "method": est.method if est else None,
        "voters": None,
        "ci95": None,
        "turnout": None,
        "turnout_ci95": None,
        "estimate": est.to_dict() if est else None,
    }
    if est is not None:
        day = _day_counts(observed, election)
        # the mean whole-day count of an observed station (what the counts say
        # before any expansion), for the API's readers
        out["mean_per_station"] = float(np.nanmean(day)) if np.isfinite(day).any() else None
        total, se = est.total_voters, est.total_voters_se
        out["se"] = se if se is not None and np.isfinite(se) else None
        out["voters"] = total
        if se is not None and np.isfinite(se):
            out["ci95"] = [total - 1.959964 * se, total + 1.959964 * se]  # type: ignore[operator]
        if est.quantity == "turnout" and np.isfinite(est.standard_error):
            out["turnout"] = est.estimate
            out["turnout_ci95"] = [est.ci_low, est.ci_high]
        elif est.quantity == "turnout":
            out["turnout"] = est.estimate
    out["shares"] = shares_for_election(s, election)
    return out


def station_outcomes(s: Session, election_id: int) -> dict[int, dict[str, int]]:
    """One result protocol per station: a verified report's, else the protocol every
    non-quarantined report agrees on; stations whose observers disagree are left out
    (:func:`disagreeing_stations` counts them)."""
    return _protocols(s, election_id)[0]


def disagreeing_stations(s: Session, election_id: int) -> int:
    return _protocols(s, election_id)[1]


def _protocols(s: Session, election_id: int) -> tuple[dict[int, dict[str, int]], int]:
    rows = s.execute(
        select(Report.station_id, Report.outcomes, Report.status).where(
            Report.election_id == election_id,
            Report.outcomes.is_not(None),
            Report.status != "quarantined",
        )
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


def shares_for_election(s: Session, election: Election) -> dict[str, Any] | None:
    """Outcome shares among counted ballots with 95% intervals (None: no protocols)."""
    protocols, disagreeing = _protocols(s, election.id)
    if not protocols and not disagreeing:
        return None
    n_frame = (
        s.scalar(
            select(func.count()).select_from(Station).where(Station.election_id == election.id)
        )
        or 0
    )
    names = sorted({k for o in protocols.values() for k in o})
    table = np.array([[o.get(k, 0) for k in names] for o in protocols.values()], dtype=float)
    totals = table.sum(axis=1)
    base: dict[str, Any] = {
        "n": len(protocols),
        "n_stations": n_frame,
        # stations whose observers' protocols differ and none is verified: left out
        "n_disagreeing": disagreeing,
    }
    if len(protocols) < 2:
        return {**base, "rows": [], "error": "needs protocols from at least 2 stations"}
    rows: list[dict[str, Any]] = []
    for j, name in enumerate(names):
        # share = sum y_j / sum n: the ratio estimator with the ballots as the "register"
        est = ratio_estimate(table[:, j], totals, 1.0, max(n_frame, len(protocols)))
        rows.append(
            {
                "name": name,
                "share": est.estimate,
                "ci95": [est.ci_low, est.ci_high],
                "votes_observed": int(table[:, j].sum()),
            }
        )
    rows.sort(key=lambda r: (r["name"] in RESERVED_OUTCOMES, -float(r["share"])))
    return {**base, "method": "ratio of sums (turnout.ratio_estimate)", "rows": rows}
