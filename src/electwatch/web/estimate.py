"""The live turnout estimate shown to analysts, from the merged station records.

All statistics live in :func:`compute_estimate`, the one place that calls the
turnout library (``electwatch.turnout``); the service only assembles its inputs
(one row per observed station: count, watch window, registered voters, area) and
the station frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from electwatch.data.observations import ArrivalProfile
from electwatch.storage.models import Election, Station
from electwatch.storage.records import station_records
from electwatch.storage.service import Scope

USABLE = ("single", "agreed", "verified", "overridden")


def compute_estimate(
    observed: pl.DataFrame, frame: pl.DataFrame, profile: ArrivalProfile
) -> dict[str, Any]:
    """Turnout estimate from observed stations.

    ``observed``: station_id, voters, window_start/window_end (hours), registered.
    ``frame``: every station of the election (station_id, registered).

    Fallback used until the turnout library is available: the naive expansion
    estimator (mean whole-day count x number of stations), each count divided by the
    share of the day's arrivals its window covered (``profile``), with the simple
    random sampling standard error and finite-population correction (Cochran 1977,
    eq. 2.8/2.9) and a normal 95% interval.
    """
    n = observed.height
    N = frame.height
    reg_total = frame["registered"].sum() if frame["registered"].null_count() == 0 else None
    out: dict[str, Any] = {
        "method": "expansion (mean x stations), SRS with FPC",
        "n_observed": n,
        "n_stations": N,
        "registered": reg_total,
    }
    if n == 0:
        return {**out, "voters": None, "ci95": None, "turnout": None, "turnout_ci95": None}
    share = profile.covered_share(
        observed["window_start"].to_numpy(), observed["window_end"].to_numpy()
    )
    y = observed["voters"].to_numpy().astype(float) / np.where(share > 0, share, np.nan)
    y = y[np.isfinite(y)]
    mean = float(y.mean())
    total = mean * N
    se = float(N * np.sqrt((1 - len(y) / N) * y.var(ddof=1) / len(y))) if len(y) > 1 else None
    ci = [total - 1.96 * se, total + 1.96 * se] if se is not None else None
    out.update({"voters": total, "se": se, "ci95": ci, "mean_per_station": mean})
    if reg_total:
        out["turnout"] = total / reg_total
        out["turnout_ci95"] = [c / reg_total for c in ci] if ci else None
    else:
        out["turnout"] = out["turnout_ci95"] = None
    return out


def estimate_for_election(
    s: Session, election: Election, abs_tol: int, rel_tol: float
) -> dict[str, Any]:
    records = station_records(s, election.id, Scope(), abs_tol, rel_tol)
    counts = dict(records.group_by("status").len().iter_rows()) if records.height else {}
    usable = records.filter(pl.col("status").is_in(list(USABLE)) & pl.col("voters").is_not_null())
    observed = usable.select(
        "station_id",
        "voters",
        "registered",
        "area_id",
        (pl.col("window_start").fill_null(election.open_hour * 60) / 60).alias("window_start"),
        (pl.col("window_end").fill_null(election.close_hour * 60) / 60).alias("window_end"),
    )
    rows = [
        tuple(r)
        for r in s.execute(
            select(Station.id, Station.registered, Station.area_id).where(
                Station.election_id == election.id
            )
        )
    ]
    frame = pl.DataFrame(
        rows,
        schema={"station_id": pl.Int64, "registered": pl.Int64, "area_id": pl.Int64},
        orient="row",
    )
    profile = ArrivalProfile.uniform(election.open_hour, election.close_hour)
    result = compute_estimate(observed, frame, profile)
    return {
        **result,
        "records_by_status": counts,
        "election_id": election.id,
        "excluded_conflicts": counts.get("conflict", 0),
    }
