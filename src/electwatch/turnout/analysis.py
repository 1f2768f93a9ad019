"""From observation records and a station frame to every estimate, in one call.

Steps: match observed stations to the frame; correct partial watch windows (given
or estimated arrival profile); run the naive, ratio (where registers exist),
stratified and bootstrap estimators. When the profile is estimated from hourly
reports, only the bootstrap re-estimates it in each replicate and so carries its
uncertainty; the analytic SEs treat it as known (said in the notes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from electwatch.data.observations import ArrivalProfile
from electwatch.turnout.estimate import (
    EmptyPolicy,
    Estimate,
    bootstrap_estimate,
    naive_expansion,
    ratio_estimate,
    rescaled_bootstrap_weights,
    strata_design,
    stratified_estimate,
    stratified_ratio_estimate,
)
from electwatch.turnout.frame import StationFrame
from electwatch.turnout.observations import Observations
from electwatch.turnout.windows import (
    covered_shares,
    fit_profile_shares,
    overlap_matrix,
)


@dataclass
class TurnoutAnalysis:
    estimates: dict[str, Estimate]
    profile: ArrivalProfile | None
    profile_estimated: bool
    mean_covered_share: float
    stations_partial: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
            "profile": self.profile.to_dict() if self.profile else None,
            "profile_estimated": self.profile_estimated,
            "mean_covered_share": self.mean_covered_share,
            "stations_partial": self.stations_partial,
            "notes": self.notes,
        }


def estimate_turnout(
    observations: Observations,
    frame: StationFrame,
    *,
    strata: Sequence[str] | None = None,
    profile: ArrivalProfile | None = None,
    estimate_profile: bool = False,
    polls: tuple[int, int] | None = None,
    eligible: float | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    empty: EmptyPolicy = "pool",
) -> TurnoutAnalysis:
    """Every estimator on one set of observations.

    ``polls`` = (open hour, close hour) of polling day, needed to estimate a profile
    (default: the given profile's hours, else 08-20). ``eligible`` defaults to the
    frame's ``eligible`` or, failing that, its registered total.
    """
    rows = frame.match(observations.station_ids, observations.file)
    counts = observations.voters
    start, end = observations.start, observations.end
    notes: list[str] = []
    elig = eligible or frame.eligible or frame.registered_total

    # --- partial watch windows
    if profile is None and not estimate_profile:
        day = polls or (8, 20)
        covered = np.ones(counts.size)
        partial = (start > day[0]) | (end < day[1])
        if partial.any():
            if observations.has_hourly.any():
                estimate_profile = True
            else:
                raise ValueError(
                    f"{int(partial.sum())} stations were watched for part of the polling day "
                    f"{day[0]:02d}-{day[1]:02d}: give an arrival profile or hourly counts"
                )
    prof = profile
    shares_rep = None
    hourly_sel = None
    if estimate_profile:
        day = polls or ((profile.open_hour, profile.close_hour) if profile else (8, 20))
        n_hours = day[1] - day[0]
        hourly = observations.hourly_matrix(n_hours)
        hourly_sel = np.isfinite(hourly).all(axis=1)
        if hourly_sel.sum() < 2:
            raise ValueError(
                "estimating the arrival profile needs hourly counts from at least 2 stations"
            )
        o_rep = overlap_matrix(start[hourly_sel], end[hourly_sel], day[0], n_hours)
        p = fit_profile_shares(hourly[hourly_sel], o_rep)
        prof = ArrivalProfile(day[0], tuple(float(x) for x in p / p.sum()))
        notes.append(
            f"arrival profile estimated from {int(hourly_sel.sum())} stations' hourly "
            "counts; the bootstrap re-estimates it in every replicate"
        )
    if prof is not None:
        o_all = overlap_matrix(start, end, prof.open_hour, len(prof.shares))
        covered = covered_shares(np.asarray(prof.shares), o_all)
        if (covered <= 0).any():
            raise ValueError("a watch window covers no polling hour of the arrival profile")
    partial_n = int((covered < 1 - 1e-9).sum())
    y = counts / covered
    if partial_n and prof is not None and not estimate_profile:
        notes.append(
            f"{partial_n} partial windows corrected with the given profile (treated as known)"
        )

    big_n = frame.n_stations
    ests: dict[str, Estimate] = {}
    ests["naive"] = naive_expansion(y, big_n, elig, confidence=confidence)
    reg = (
        frame.frame["registered"].cast(float).fill_null(np.nan).to_numpy()[rows]
        if "registered" in frame.frame.columns
        else None
    )
    x_total = frame.registered_total
    if reg is not None and x_total and np.isfinite(reg).sum() >= 2:
        ests["ratio"] = ratio_estimate(y, reg, x_total, big_n, elig, confidence=confidence)
    cols = list(strata) if strata is not None else list(frame.strata_columns)
    if cols:
        labels = frame.stratum_labels(cols).to_numpy()
        sizes = frame.stratum_sizes(cols)
        obs_labels = labels[rows]
        ests["stratified"] = stratified_estimate(
            y, obs_labels, sizes, elig, confidence=confidence, empty=empty
        )
        if reg is not None and x_total and np.isfinite(reg).all() and (reg >= 0).all():
            ests["stratified ratio"] = stratified_ratio_estimate(
                y, reg, obs_labels, sizes, x_total, elig, confidence=confidence, empty=empty
            )
    else:
        obs_labels = np.zeros(y.size, dtype=int)
        sizes = {"0": big_n}
    design = strata_design(obs_labels, sizes, empty=empty, voters=y)
    rng = np.random.default_rng(seed)
    w = rescaled_bootstrap_weights(design, n_resamples, rng)
    expand = design.weights
    if estimate_profile and hourly_sel is not None and prof is not None:
        p_rep = fit_profile_shares(hourly[hourly_sel], o_rep, w[:, hourly_sel])
        shares_rep = covered_shares(p_rep, o_all)  # (B x n)
        reps = (w * (expand * counts)[None, :] / shares_rep).sum(axis=1)
    else:
        reps = w @ (expand * y)
    name = "stratified bootstrap" if cols else "bootstrap"
    ests["bootstrap"] = bootstrap_estimate(
        name + (" (profile re-estimated)" if shares_rep is not None else ""),
        float(expand @ y),
        reps,
        design,
        elig,
        confidence,
        y.size,
    )
    return TurnoutAnalysis(ests, prof, estimate_profile, float(covered.mean()), partial_n, notes)
