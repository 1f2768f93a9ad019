"""Cumulative snapshots: counts as observers and election bodies record them.

A snapshot is one reading: ``station_id``, ``observer_id``, ``counted_since``
(``HH:MM``, when this count started: poll opening for an official "voters by 12:00"
figure, or when an observer started tallying), ``time`` (``HH:MM``, the reading's
clock time, ``24:00`` allowed) and ``cumulative`` (voters counted from
``counted_since`` to ``time``). Several readings per station at irregular times
(docs/observations.md, format b).

Conversion to the estimators' per-station windows (:func:`snapshots_to_observations`):
each station's series gives the window [counted_since, last reading] and its count
(the last cumulative); successive differences are the counts of the segments between
readings. A segment that lies inside one polling hour is that hour's count; a segment
spanning several hours is split over them by its expected counts under the arrival
profile fitted to all segments -- the E-step of the EM algorithm for the Poisson
model of :mod:`electwatch.turnout.windows` with grouped hours (Dempster, Laird &
Rubin 1977), iterated to the maximum-likelihood profile. The per-hour counts then
feed the profile estimate and its bootstrap like an observer's hourly tallies.

When a station has readings from several observers (or several ``counted_since``),
the series covering the longest stretch of the day is used and the others are
counted in ``Observations`` notes; nothing is summed twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from electwatch.core.numbers import NumberFormatError, parse_count
from electwatch.data.observations import SNAPSHOT_COLUMNS, parse_clock
from electwatch.errors import DataValidationError
from electwatch.turnout.observations import Observations, observations_from_frame
from electwatch.turnout.windows import overlap_matrix


@dataclass
class Snapshots:
    """Validated snapshot readings: ``frame`` has the columns of the format plus
    ``since_h``/``time_h`` (float hours) and ``row`` (1-based source row)."""

    frame: pl.DataFrame
    file: str

    @property
    def n(self) -> int:
        return self.frame.height

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "readings": self.n,
            "stations": int(self.frame["station_id"].n_unique()),
        }


def _clock(value: Any, file: str, row: int, column: str) -> float:
    try:
        return parse_clock(str(value))
    except ValueError:
        raise DataValidationError(
            file, "not a clock time", row=row, column=column, value=value,
            expected="HH:MM between 00:00 and 24:00",
        ) from None  # fmt: skip


def snapshots_from_records(records: list[dict[str, Any]], file: str = "<records>") -> Snapshots:
    """Validate snapshot records (CSV rows, JSON objects or API bodies).

    ``station`` and ``observer`` are accepted for ``station_id`` and ``observer_id``
    (the API's names). Checks: every field present; clock times valid with
    ``counted_since < time``; ``cumulative`` a whole number >= 0
    (:func:`~electwatch.core.numbers.parse_count`); within one series (station,
    observer, counted_since) no two readings at one time and cumulative counts never
    decreasing.
    """
    if not records:
        raise DataValidationError(file, "no snapshots", expected="at least one reading")
    alias = {"station": "station_id", "observer": "observer_id"}
    cols: dict[str, list[Any]] = {c: [] for c in (*SNAPSHOT_COLUMNS, "since_h", "time_h", "row")}
    for r, raw in enumerate(records, start=1):
        if not isinstance(raw, dict):
            raise DataValidationError(file, "record is not an object", row=r, value=raw)
        rec = {alias.get(k, k): v for k, v in raw.items()}
        for c in ("station_id", "observer_id"):
            v = rec.get(c)
            if v is None or not str(v).strip():
                raise DataValidationError(
                    file, f"empty {c}", row=r, column=c, value=v, expected="an identifier"
                )
        for c in SNAPSHOT_COLUMNS:
            if c not in rec:
                raise DataValidationError(
                    file, f"missing {c}", row=r, column=c, expected=f"fields {SNAPSHOT_COLUMNS}"
                )
        since = _clock(rec["counted_since"], file, r, "counted_since")
        time = _clock(rec["time"], file, r, "time")
        if time <= since:
            raise DataValidationError(
                file, "reading before its count started", row=r, column="time",
                value=rec["time"], expected=f"a time after counted_since {rec['counted_since']}",
            )  # fmt: skip
        try:
            cum = parse_count(rec["cumulative"])
        except NumberFormatError:
            raise DataValidationError(
                file, "not a count", row=r, column="cumulative", value=rec["cumulative"],
                expected="a whole number >= 0",
            ) from None  # fmt: skip
        cols["station_id"].append(str(rec["station_id"]).strip())
        cols["observer_id"].append(str(rec["observer_id"]).strip())
        cols["counted_since"].append(str(rec["counted_since"]).strip())
        cols["time"].append(str(rec["time"]).strip())
        cols["cumulative"].append(cum)
        cols["since_h"].append(since)
        cols["time_h"].append(time)
        cols["row"].append(r)
    f = pl.DataFrame(cols, schema_overrides={"cumulative": pl.Int64, "row": pl.Int64})
    f = f.sort(["station_id", "observer_id", "since_h", "time_h"])
    key = ["station_id", "observer_id", "since_h"]
    same = pl.all_horizontal(pl.col(k) == pl.col(k).shift(1) for k in key)
    bad = f.with_columns(
        dup=same & (pl.col("time_h") == pl.col("time_h").shift(1)),
        down=same & (pl.col("cumulative") < pl.col("cumulative").shift(1)),
    )
    for flag, msg, exp in (
        ("dup", "two readings of one series at the same time", "one reading per time"),
        ("down", "cumulative count decreases", "counts that never decrease through the day"),
    ):
        hit = bad.filter(pl.col(flag))
        if hit.height:
            down = flag == "down"
            raise DataValidationError(
                file, msg, row=int(hit["row"][0]), column="cumulative" if down else "time",
                value=hit["cumulative"][0] if down else hit["time"][0], expected=exp,
            )  # fmt: skip
    return Snapshots(f, file)


def read_snapshots(path: str | Path) -> Snapshots:
    """Read snapshot readings from CSV (exactly the format's columns) or JSON (a list,
    or ``{"snapshots": [...]}`` as the API body)."""
    p = Path(path)
    file = str(path)
    if not p.exists():
        raise DataValidationError(file, "file not found")
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataValidationError(file, f"not valid JSON: {exc}") from None
        if isinstance(data, dict):
            data = data.get("snapshots")
        if not isinstance(data, list):
            raise DataValidationError(
                file, "no list of snapshots", expected='a list, or {"snapshots": [...]}'
            )
        return snapshots_from_records(data, file)
    try:
        df = pl.read_csv(p, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(file, f"cannot parse as CSV: {exc}") from None
    missing = [c for c in SNAPSHOT_COLUMNS if c not in df.columns]
    extra = [c for c in df.columns if c not in SNAPSHOT_COLUMNS]
    if missing or extra:
        raise DataValidationError(
            file, f"columns differ from the snapshot format (missing {missing}, extra {extra})",
            column=(missing or extra)[0], expected=f"exactly the columns {list(SNAPSHOT_COLUMNS)}",
        )  # fmt: skip
    return snapshots_from_records(df.to_dicts(), file)


def split_segments(
    seg_station: np.ndarray,
    seg_start: np.ndarray,
    seg_end: np.ndarray,
    seg_count: np.ndarray,
    n_stations: int,
    open_hour: int,
    n_hours: int,
    *,
    iterations: int = 1000,
    tol: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-station hourly counts (n x H) from segment counts, and the ML profile (H,).

    EM for c_seg ~ Poisson(T_i sum_k o_seg,k p_k): E-step splits each segment's
    count over its hours in proportion to o_seg,k p_k; M-step is the station/hour
    fixed point of :func:`~electwatch.turnout.windows.fit_profile_shares`.
    """
    o = overlap_matrix(seg_start, seg_end, open_hour, n_hours)  # (m x H)
    c = np.asarray(seg_count, dtype=float)
    if ((o.sum(axis=1) == 0) & (c > 0)).any():
        j = int(np.argmax((o.sum(axis=1) == 0) & (c > 0)))
        raise ValueError(
            f"voters counted between {seg_start[j]:.2f} h and {seg_end[j]:.2f} h, outside "
            "the polling hours (--polls)"
        )
    order = np.argsort(seg_station, kind="stable")
    o, c, st = o[order], c[order], np.asarray(seg_station)[order]
    if np.unique(st).size != n_stations:
        raise ValueError("every station needs at least one segment")
    starts = np.flatnonzero(np.r_[True, st[1:] != st[:-1]])

    def per_station(a: np.ndarray) -> np.ndarray:
        return np.add.reduceat(a, starts, axis=0)

    o_station = np.clip(per_station(o), 0.0, 1.0)  # watched part of each hour
    p = np.full(n_hours, 1.0 / n_hours)
    hourly = np.zeros((n_stations, n_hours))
    for _ in range(iterations):
        rate = o * p[None, :]
        tot = rate.sum(axis=1, keepdims=True)
        alloc = np.divide(c[:, None] * rate, tot, out=np.zeros_like(rate), where=tot > 0)
        hourly = per_station(alloc)
        share = o_station @ p
        t = np.divide(hourly.sum(axis=1), share, out=np.zeros(n_stations), where=share > 0)
        den = t @ o_station
        num = hourly.sum(axis=0)
        p_new = np.divide(num, den, out=np.zeros(n_hours), where=den > 0)
        if p_new.sum() <= 0:
            break
        p_new /= p_new.sum()
        if np.max(np.abs(p_new - p)) < tol:
            p = p_new
            break
        p = p_new
    return hourly, p


def snapshots_to_observations(snapshots: Snapshots, polls: tuple[int, int]) -> Observations:
    """One observation record per station: window [counted_since, last reading], voters
    = the last cumulative count, hourly counts from the readings (see module doc)."""
    f = snapshots.frame
    # the series (observer, counted_since) of each station covering most of the day
    series = (
        f.group_by(["station_id", "observer_id", "since_h"], maintain_order=True)
        .agg(pl.col("time_h").max().alias("last"), pl.len().alias("readings"))
        .with_columns(span=pl.col("last") - pl.col("since_h"))
        .sort(
            ["station_id", "span", "readings", "observer_id"], descending=[False, True, True, False]
        )
    )
    best = series.unique("station_id", keep="first", maintain_order=True)
    dropped = series.height - best.height
    use = f.join(
        best.select("station_id", "observer_id", "since_h"),
        on=["station_id", "observer_id", "since_h"],
    )
    use = use.sort(["station_id", "time_h"])
    stations = best["station_id"].to_list()
    pos = {s: i for i, s in enumerate(stations)}
    st = np.array([pos[s] for s in use["station_id"].to_list()])
    cum = use["cumulative"].to_numpy().astype(float)
    t = use["time_h"].to_numpy()
    since = use["since_h"].to_numpy()
    first = np.r_[True, st[1:] != st[:-1]]
    prev_cum = np.where(first, 0.0, np.r_[0.0, cum[:-1]])
    prev_t = np.where(first, since, np.r_[0.0, t[:-1]])
    seg = cum - prev_cum
    n_hours = polls[1] - polls[0]
    hourly, _p = split_segments(st, prev_t, t, seg, len(stations), polls[0], n_hours)
    last = use.group_by("station_id", maintain_order=True).agg(
        pl.col("time").last(), pl.col("cumulative").last(), pl.col("counted_since").first(),
        pl.col("observer_id").first(), pl.len().alias("n"),
    )  # fmt: skip
    obs = pl.DataFrame(
        {
            "station_id": last["station_id"],
            "observer_id": last["observer_id"],
            "window_start": last["counted_since"],
            "window_end": last["time"],
            "voters": last["cumulative"],
            "hourly": pl.Series("hourly", hourly.tolist(), dtype=pl.List(pl.Float64)),
            "notes": [f"from {k} snapshot(s)" for k in last["n"].to_list()],
        }
    )
    o = observations_from_frame(obs, snapshots.file)
    o.segments = pl.DataFrame(
        {"station_id": use["station_id"], "start_h": prev_t, "end_h": t, "count": seg}
    )
    o.notes.append(
        f"{snapshots.n} snapshot readings at {len(stations)} stations converted to windows"
        + (
            f"; {dropped} shorter series at stations with several observers not used"
            if dropped
            else ""
        )
    )
    return o
