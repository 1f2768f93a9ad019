"""Per-station merged records and conflicts, computed column-wise with polars.

For each station with reports (quarantined reports excluded):

* a coordinator action decides if there is one (latest wins): ``override`` sets the
  count with a reason, ``verify`` confirms a count (usually one report's), ``clear``
  returns the station to the automatic rule;
* otherwise one report -> ``single``; several reports that agree within the tolerance
  -> ``agreed`` with their median; several that disagree -> ``conflict`` (no count).

Two counts a and b disagree when ``|a - b| > max(abs_tol, rel_tol * max(a, b))``; over
several reports the range (max - min) is compared with the tolerance of the max.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from electwatch.storage.models import Report, Station, StationAction
from electwatch.storage.service import Scope, clock, station_filter

RECORD_STATUSES = ("single", "agreed", "conflict", "verified", "overridden")

_REPORT_SCHEMA = {
    "station_id": pl.Int64,
    "voters": pl.Int64,
    "window_start": pl.Int64,
    "window_end": pl.Int64,
}
_ACTION_SCHEMA = {
    "station_id": pl.Int64,
    "action": pl.String,
    "action_voters": pl.Int64,
    "reason": pl.String,
    "action_id": pl.Int64,
}


def merge_reports(
    reports: pl.DataFrame, actions: pl.DataFrame, abs_tol: int, rel_tol: float
) -> pl.DataFrame:
    """Merged record per station from report rows and action rows (pure function)."""
    agg = reports.group_by("station_id").agg(
        pl.len().alias("n_reports"),
        pl.col("voters").min().alias("voters_min"),
        pl.col("voters").max().alias("voters_max"),
        pl.col("voters").median().alias("voters_median"),
        pl.col("window_start").min().alias("window_start"),
        pl.col("window_end").max().alias("window_end"),
    )
    last = (
        actions.sort("action_id").group_by("station_id").last().filter(pl.col("action") != "clear")
    )
    m = agg.join(last.drop("action_id"), on="station_id", how="full", coalesce=True)
    m = m.with_columns(pl.col("n_reports").fill_null(0))
    tol = pl.max_horizontal(pl.lit(float(abs_tol)), rel_tol * pl.col("voters_max"))
    disagree = (pl.col("n_reports") >= 2) & ((pl.col("voters_max") - pl.col("voters_min")) > tol)
    status = (
        pl.when(pl.col("action") == "override")
        .then(pl.lit("overridden"))
        .when(pl.col("action") == "verify")
        .then(pl.lit("verified"))
        .when(disagree)
        .then(pl.lit("conflict"))
        .when(pl.col("n_reports") >= 2)
        .then(pl.lit("agreed"))
        .when(pl.col("n_reports") == 1)
        .then(pl.lit("single"))
        .otherwise(pl.lit(None))
    )
    m = m.with_columns(status.alias("status"), disagree.fill_null(False).alias("disagreement"))
    voters = (
        pl.when(pl.col("action").is_not_null())
        .then(pl.col("action_voters"))
        .when(pl.col("status") == "conflict")
        .then(pl.lit(None, dtype=pl.Int64))
        .otherwise(pl.col("voters_median").round(0).cast(pl.Int64))
    )
    return (
        m.with_columns(voters.alias("voters"))
        .filter(pl.col("status").is_not_null())
        .sort("station_id")
    )


def station_records(
    s: Session,
    election_id: int,
    scope: Scope,
    abs_tol: int,
    rel_tol: float,
    station_ids: list[int] | None = None,
) -> pl.DataFrame:
    """Merged records (with station code, area and registered voters) within ``scope``."""
    cond = station_filter(scope)
    sq = select(Station.id).where(Station.election_id == election_id)
    if cond is not None:
        sq = sq.where(cond)
    if station_ids is not None:
        sq = sq.where(Station.id.in_(station_ids))
    rq = select(Report.station_id, Report.voters, Report.window_start, Report.window_end).where(
        Report.election_id == election_id, Report.status != "quarantined", Report.station_id.in_(sq)
    )
    reports = pl.DataFrame([tuple(r) for r in s.execute(rq)], schema=_REPORT_SCHEMA, orient="row")
    aq = select(
        StationAction.station_id,
        StationAction.action,
        StationAction.voters,
        StationAction.reason,
        StationAction.id,
    ).where(StationAction.station_id.in_(sq))
    actions = pl.DataFrame([tuple(r) for r in s.execute(aq)], schema=_ACTION_SCHEMA, orient="row")
    merged = merge_reports(reports, actions, abs_tol, rel_tol)
    if merged.height == 0:
        return merged.with_columns(
            pl.lit(None, pl.String).alias("code"),
            pl.lit(None, pl.Int64).alias("area_id"),
            pl.lit(None, pl.Int64).alias("registered"),
        )
    ids = merged["station_id"].to_list()
    rows = []
    for i in range(0, len(ids), 10_000):
        rows += [
            tuple(r)
            for r in s.execute(
                select(Station.id, Station.code, Station.area_id, Station.registered).where(
                    Station.id.in_(ids[i : i + 10_000])
                )
            )
        ]
    st = pl.DataFrame(
        rows,
        schema={
            "station_id": pl.Int64,
            "code": pl.String,
            "area_id": pl.Int64,
            "registered": pl.Int64,
        },
        orient="row",
    )
    return merged.join(st, on="station_id", how="left")


def record_dicts(frame: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for r in frame.iter_rows(named=True):
        out.append(
            {
                "station": r["code"],
                "status": r["status"],
                "voters": r["voters"],
                "n_reports": r["n_reports"],
                "voters_min": r["voters_min"],
                "voters_max": r["voters_max"],
                "window_start": None if r["window_start"] is None else clock(r["window_start"]),
                "window_end": None if r["window_end"] is None else clock(r["window_end"]),
                "action": r["action"],
                "reason": r["reason"],
                "registered": r["registered"],
            }
        )
    return out
