"""Synthetic observer campaigns over a station frame (real or simulated results).

Draws which stations are watched (by a sampling design), for which hours, and what
the observers count, so that turnout estimators can be checked against the known
truth (the stations' official ballots cast). Designs:

``random``        simple random sample without replacement
``stratified``    proportional allocation over a stratum column, SRS within strata
``capital_heavy`` stations of the capital ``capital_weight`` times as likely
``large_heavy``   selection probability proportional to registered voters

Unequal-probability designs use the Efraimidis-Spirakis (2006) weighted sampling
without replacement (keys u^(1/w), top n), which is vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from electwatch.data.model import ElectionResults
from electwatch.data.observations import ArrivalProfile

Design = Literal["random", "stratified", "capital_heavy", "large_heavy"]
DESIGNS: tuple[str, ...] = ("random", "stratified", "capital_heavy", "large_heavy")


@dataclass(frozen=True)
class CampaignTruth:
    design: str
    n_observed: int
    true_total_cast: int
    true_turnout: float | None
    undercount: float
    window: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "window": list(self.window)}


def weighted_sample(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """Indices of an n-sample without replacement, P(select) increasing in weight."""
    w = np.asarray(weights, dtype=float)
    if n > (w > 0).sum():
        raise ValueError(f"cannot draw {n} stations from {(w > 0).sum()} with positive weight")
    keys = np.full(w.shape, -np.inf)
    pos = w > 0
    keys[pos] = np.log(rng.random(pos.sum())) / w[pos]
    return np.argpartition(-keys, n - 1)[:n]


def stratified_sample(rng: np.random.Generator, strata: np.ndarray, n: int) -> np.ndarray:
    """Proportional allocation (largest remainder), simple random sample within strata."""
    _labels, inverse, sizes = np.unique(strata, return_inverse=True, return_counts=True)
    quota = n * sizes / sizes.sum()
    alloc = np.floor(quota).astype(int)
    short = n - alloc.sum()
    alloc[np.argsort(-(quota - alloc))[:short]] += 1
    alloc = np.minimum(alloc, sizes)
    # rank stations randomly within their stratum, keep the first alloc[h]
    order = np.lexsort((rng.random(len(strata)), inverse))
    rank = np.empty(len(strata), dtype=int)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank[order] = np.arange(len(strata)) - np.repeat(starts, sizes)
    return np.flatnonzero(rank < alloc[inverse])


def simulate_observer_campaign(
    results: ElectionResults,
    n_observed: int,
    *,
    design: Design = "random",
    stratum: str | None = None,
    capital: str | None = None,
    capital_weight: float = 5.0,
    profile: ArrivalProfile | None = None,
    window: tuple[float, float] | None = None,
    undercount: float = 0.0,
    seed: int = 0,
    protocols: bool = False,
) -> tuple[pl.DataFrame, CampaignTruth]:
    """Simulate one campaign; returns canonical observations and the truth.

    True voters at a station are its official ballots cast, spread over the polling
    day by ``profile``; observers watching ``window`` (hours) see the arrivals in it,
    each voter missed independently with probability ``undercount``. With
    ``protocols`` the observers also copy the station's result protocol (a quick
    count): columns ``outcome:<candidate>`` and ``outcome:invalid``/``outcome:blank``
    where the results have them.
    """
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, not {design!r}")
    if not 0 <= undercount < 1:
        raise ValueError("undercount must be in [0, 1)")
    rng = np.random.default_rng(seed)
    frame = results.frame
    n = frame.height
    if not 0 < n_observed <= n:
        raise ValueError(f"n_observed must be in 1..{n}")
    level = stratum or results.area_levels[0]
    if design == "random":
        idx = rng.choice(n, n_observed, replace=False)
    elif design == "stratified":
        idx = stratified_sample(rng, frame[level].to_numpy(), n_observed)
    elif design == "capital_heavy":
        cap = capital or _largest_area(frame, level)
        w = np.where(frame[level].to_numpy() == cap, capital_weight, 1.0)
        idx = weighted_sample(rng, w, n_observed)
    else:
        reg = frame["registered"].fill_null(0).to_numpy().astype(float)
        idx = weighted_sample(rng, np.maximum(reg, 1.0), n_observed)
    idx = np.sort(idx)

    prof = profile or ArrivalProfile.default()
    start, end = window or (float(prof.open_hour), float(prof.close_hour))
    cast = frame["cast"].to_numpy()[idx]
    # hourly arrivals: multinomial split of each station's voters over the day
    hourly = rng.multinomial(cast, np.asarray(prof.shares))
    hours = prof.open_hour + np.arange(len(prof.shares))
    overlap = np.clip(np.minimum(hours + 1, end) - np.maximum(hours, start), 0, 1)
    seen = rng.binomial(hourly, overlap[None, :])  # partial hours: uniform within the hour
    counted_hourly = rng.binomial(seen, 1 - undercount)
    counted = counted_hourly.sum(axis=1)
    obs = pl.DataFrame(
        {
            "station_id": frame["station_id"].to_numpy()[idx],
            "observer_id": [f"obs-{k:05d}" for k in rng.permutation(len(idx))],
            "window_start": _clock(start),
            "window_end": _clock(end),
            "voters": counted.astype(np.int64),
            "hourly": counted_hourly.astype(np.int64).tolist(),
            "notes": "SYNTHETIC observation (electwatch simulate observers)",
        }
    )
    if protocols:
        outs = {f"outcome:{c}": frame[c].to_numpy()[idx] for c in results.candidates}
        for extra in ("blank", "invalid"):
            if extra in frame.columns and frame[extra].null_count() == 0:
                outs[f"outcome:{extra}"] = frame[extra].to_numpy()[idx]
        obs = obs.with_columns(pl.Series(k, v, dtype=pl.Int64) for k, v in outs.items())
    reg_all = frame["registered"]
    turnout = int(frame["cast"].sum()) / int(reg_all.sum()) if reg_all.null_count() == 0 else None
    truth = CampaignTruth(
        design, len(idx), int(frame["cast"].sum()), turnout, undercount, (start, end)
    )
    return obs, truth


def _largest_area(frame: pl.DataFrame, level: str) -> str:
    top = frame.group_by(level).agg(pl.col("registered").sum()).sort("registered").tail(1)
    return str(top[level][0])


def _clock(hours: float) -> str:
    h = int(hours)
    m = round((hours - h) * 60)
    return f"{h:02d}:{m:02d}"
