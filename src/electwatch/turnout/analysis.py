"""From observation records and a station frame to every estimate, in one call.

Steps: match observed stations to the frame; correct partial watch windows (given
or estimated arrival profile) for stations whose watched share of the day reaches
:data:`MIN_COVERED_SHARE` (the others are excluded, counted and reported); run the
naive, ratio, stratified, stratified-ratio and bootstrap estimators and, when the
records carry per-outcome counts, the quick count (vote shares, margin, run-off
call and turnout; :mod:`electwatch.turnout.shares`).

Estimated profile: fitted with the design weights N_h/n_h, and re-estimated in
every bootstrap replicate; every estimator's standard error is then its
rescaled-bootstrap SE over those replicates (its own statistic on the replicate
weights and re-corrected counts), so all intervals carry the profile's uncertainty.

Register 0: stations with a register of 0 are kept by every estimator; how many
were observed (and are in the frame) is written into every estimate's ``extra``
(``register_zero``) and into :class:`TurnoutAnalysis`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    z_value,
)
from electwatch.turnout.frame import StationFrame
from electwatch.turnout.observations import Observations
from electwatch.turnout.shares import QuickCount, quick_count
from electwatch.turnout.windows import (
    covered_shares,
    fit_profile_shares,
    overlap_matrix,
)

#: A partial watch is scaled up by 1 / s, s the share of the day's arrivals it
#: covered. Below s = 0.2 the factor exceeds 5: the corrected count's Poisson
#: variance (T / s) and any error in the profile are amplified more than five-fold,
#: and a watch that ends at 07:01 with 2 voters would stand for a whole station
#: (the "tiny windows" failure, issue 13). Such stations are excluded, counted and
#: reported; within a stratum they are treated like non-response (missing at random).
MIN_COVERED_SHARE = 0.2


@dataclass
class DesignInfo:
    """Strata and stratum sizes N_h of a deployed sample (``electwatch sample``).

    ``station_strata`` maps each sampled station to its stratum label; ``sizes`` are
    the frame's N_h per label. The estimators use them instead of frame columns, so
    the design weights N_h / n_h travel with the sample file.
    """

    station_strata: Mapping[str, str]
    sizes: Mapping[str, int]
    columns: tuple[str, ...] = ()


@dataclass
class TurnoutAnalysis:
    estimates: dict[str, Estimate]
    profile: ArrivalProfile | None
    profile_estimated: bool
    mean_covered_share: float
    stations_partial: int
    notes: list[str] = field(default_factory=list)
    quick_counts: dict[str, QuickCount] = field(default_factory=dict)
    register_zero_observed: int = 0
    register_zero_frame: int = 0
    excluded_low_coverage: int = 0
    min_covered_share: float = MIN_COVERED_SHARE

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
            "quick_counts": {k: v.to_dict() for k, v in self.quick_counts.items()},
            "profile": self.profile.to_dict() if self.profile else None,
            "profile_estimated": self.profile_estimated,
            "mean_covered_share": self.mean_covered_share,
            "stations_partial": self.stations_partial,
            "register_zero_observed": self.register_zero_observed,
            "register_zero_frame": self.register_zero_frame,
            "excluded_low_coverage": self.excluded_low_coverage,
            "min_covered_share": self.min_covered_share,
            "notes": self.notes,
        }


def _clock(hour: float) -> str:
    h = int(hour)
    return f"{h:02d}:{round((hour - h) * 60):02d}"


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
    design: DesignInfo | None = None,
    min_covered_share: float = MIN_COVERED_SHARE,
) -> TurnoutAnalysis:
    """Every estimator on one set of observations.

    ``polls`` = (open hour, close hour) of polling day, needed to estimate a profile
    (default: the given profile's hours, else 08-20). ``eligible`` defaults to the
    frame's ``eligible`` or, failing that, its registered total. ``design`` (from a
    sample file) overrides the frame's stratum columns. Stations whose window covers
    less than ``min_covered_share`` of the day's arrivals are excluded and reported.
    """
    rows_all = frame.match(observations.station_ids, observations.file)
    counts_all = observations.voters
    start_all, end_all = observations.start, observations.end
    notes: list[str] = list(observations.notes)
    elig = eligible or frame.eligible or frame.registered_total
    day = polls or ((profile.open_hour, profile.close_hour) if profile else (8, 20))

    # --- partial watch windows
    partial_all = (start_all > day[0]) | (end_all < day[1])
    has_hourly = observations.has_hourly
    if profile is None and not estimate_profile and partial_all.any():
        if has_hourly.any():
            estimate_profile = True
        else:
            k = int(partial_all.sum())
            raise ValueError(
                f"{k} stations were watched for part of the polling day "
                f"{_clock(day[0])}-{_clock(day[1])} (--polls): give --polls with the real "
                "polling hours, an arrival profile (--profile) or hourly counts "
                "(--estimate-profile)"
            )
    prof = profile
    n_hours = day[1] - day[0]
    hourly = observations.hourly_matrix(n_hours) if estimate_profile else None
    if estimate_profile and prof is None:
        # the point fit needs the design weights, known after the strata are set:
        # fit unweighted first only to find the covered shares' threshold
        prof = _fit_profile(hourly, start_all, end_all, day, None, has_hourly)
    if prof is not None:
        o_all = overlap_matrix(start_all, end_all, prof.open_hour, len(prof.shares))
        covered_all = covered_shares(np.asarray(prof.shares), o_all)
    else:
        covered_all = np.ones(counts_all.size)
    keep = covered_all >= min_covered_share
    excluded = int((~keep).sum())
    if excluded:
        notes.append(
            f"{excluded} stations excluded: their watch covered less than "
            f"{min_covered_share:.0%} of the day's arrivals (a correction would scale "
            "them by more than 1 / that share); treated as non-response"
        )
    if keep.sum() < 2:
        raise ValueError(
            f"fewer than 2 stations watched at least {min_covered_share:.0%} of the day"
        )
    rows = rows_all[keep]
    counts = counts_all[keep]
    start, end = start_all[keep], end_all[keep]
    obs_keep = keep

    # --- strata and design weights
    big_n = frame.n_stations
    if design is not None:
        ids = observations.station_ids[keep].astype(str)
        missing = [i for i in ids if i not in design.station_strata]
        if missing:
            raise ValueError(
                f"{len(missing)} observed stations are not in the sample file "
                f"(e.g. {missing[0]!r}); observe sampled or reserve stations only"
            )
        obs_labels = np.array([design.station_strata[i] for i in ids])
        sizes = dict(design.sizes)
        cols: list[str] = list(design.columns) or ["sample stratum"]
    else:
        cols = list(strata) if strata is not None else list(frame.strata_columns)
        if cols:
            obs_labels = frame.stratum_labels(cols).to_numpy()[rows]
            sizes = frame.stratum_sizes(cols)
        else:
            obs_labels = np.zeros(rows.size, dtype=int).astype(str)
            sizes = {"0": big_n}
    dsg = strata_design(obs_labels, sizes, empty=empty, voters=counts)
    expand = dsg.weights

    if estimate_profile:
        prof = _fit_profile(hourly, start_all, end_all, day, expand, has_hourly & keep, keep)
        notes.append(
            f"arrival profile estimated from {int((has_hourly & keep).sum())} stations' "
            "hourly counts, weighted by the design weights; re-estimated in every "
            "bootstrap replicate, and every estimator's SE is its bootstrap SE"
        )
    if prof is not None:
        o_all = overlap_matrix(start, end, prof.open_hour, len(prof.shares))
        covered = covered_shares(np.asarray(prof.shares), o_all)
    else:
        covered = np.ones(counts.size)
    partial_n = int((covered < 1 - 1e-9).sum())
    y = counts / covered
    if partial_n and prof is not None and not estimate_profile:
        notes.append(
            f"{partial_n} partial windows corrected with the given profile (treated as known)"
        )

    reg = (
        frame.frame["registered"].cast(float).fill_null(np.nan).to_numpy()[rows]
        if "registered" in frame.frame.columns
        else None
    )
    reg0_obs = int((reg == 0).sum()) if reg is not None else 0
    reg0_frame = (
        int((frame.frame["registered"] == 0).sum()) if "registered" in frame.frame.columns else 0
    )
    if reg0_obs or reg0_frame:
        notes.append(
            f"register 0: {reg0_obs} observed stations ({reg0_frame} in the frame) have 0 "
            "registered voters; every estimator keeps them"
        )
    x_total = frame.registered_total
    ests: dict[str, Estimate] = {}
    ests["naive"] = naive_expansion(y, big_n, elig, confidence=confidence)
    if reg is not None and x_total and np.isfinite(reg).sum() >= 2:
        ests["ratio"] = ratio_estimate(y, reg, x_total, big_n, elig, confidence=confidence)
    if cols:
        ests["stratified"] = stratified_estimate(
            y, obs_labels, sizes, elig, confidence=confidence, empty=empty
        )
        if reg is not None and x_total and np.isfinite(reg).all() and (reg >= 0).all():
            ests["stratified ratio"] = stratified_ratio_estimate(
                y, reg, obs_labels, sizes, x_total, elig, confidence=confidence, empty=empty
            )
    rng = np.random.default_rng(seed)
    w = rescaled_bootstrap_weights(dsg, n_resamples, rng)
    y_rep: np.ndarray | None = None
    if estimate_profile and hourly is not None:
        sel = (has_hourly & keep)[keep]
        p_rep = _fit_shares(hourly[keep][sel], start[sel], end[sel], day, w[:, sel] * expand[sel])
        shares_rep = covered_shares(p_rep, o_all)  # (B x n)
        y_rep = counts[None, :] / shares_rep
        reps = (w * expand[None, :] * y_rep).sum(axis=1)
    else:
        reps = w @ (expand * y)
    name = "stratified bootstrap" if cols else "bootstrap"
    ests["bootstrap"] = bootstrap_estimate(
        name + (" (profile re-estimated)" if y_rep is not None else ""),
        float(expand @ y), reps, dsg, elig, confidence, y.size,
    )  # fmt: skip
    if y_rep is not None:
        ests = _profile_aware(ests, w, y_rep, dsg, expand, reg, x_total, big_n, elig, confidence)
    for e in ests.values():
        e.extra["register_zero"] = reg0_obs
        e.extra["register_zero_frame"] = reg0_frame
        e.extra["excluded_low_coverage"] = excluded

    qcs: dict[str, QuickCount] = {}
    if observations.outcome_names:
        qcs = _quick_counts(
            observations, obs_keep, obs_labels, sizes, reg, x_total, eligible, reg0_frame,
            n_resamples, confidence, seed, empty, notes,
        )  # fmt: skip
    return TurnoutAnalysis(
        ests, prof, estimate_profile, float(covered.mean()), partial_n, notes, qcs,
        reg0_obs, reg0_frame, excluded, min_covered_share,
    )  # fmt: skip


def _fit_shares(
    hourly: np.ndarray | None,
    start: np.ndarray,
    end: np.ndarray,
    day: tuple[int, int],
    weights: np.ndarray | None,
) -> np.ndarray:
    if hourly is None or hourly.shape[0] < 2:
        raise ValueError(
            "estimating the arrival profile needs hourly counts from at least 2 stations"
        )
    o = overlap_matrix(start, end, day[0], day[1] - day[0])
    return fit_profile_shares(hourly, o, weights, open_hour=day[0])


def _fit_profile(
    hourly: np.ndarray | None,
    start: np.ndarray,
    end: np.ndarray,
    day: tuple[int, int],
    expand: np.ndarray | None,
    select: np.ndarray,
    keep: np.ndarray | None = None,
) -> ArrivalProfile:
    """Profile from the stations in ``select``; ``expand`` (design weights) is over ``keep``."""
    if hourly is None:
        raise ValueError("estimating the arrival profile needs hourly counts")
    w = None
    if expand is not None and keep is not None:
        w = expand[select[keep]]
    p = _fit_shares(hourly[select], start[select], end[select], day, w)
    return ArrivalProfile(day[0], tuple(float(v) for v in p / p.sum()))


def _profile_aware(
    ests: dict[str, Estimate],
    w: np.ndarray,
    y_rep: np.ndarray,
    dsg: Any,
    expand: np.ndarray,
    reg: np.ndarray | None,
    x_total: float | None,
    big_n: int,
    elig: float | None,
    confidence: float,
) -> dict[str, Estimate]:
    """Replace each estimator's SE by its bootstrap SE with the profile re-estimated.

    The statistic of each estimator is recomputed on every replicate (replicate
    weights w*, counts corrected with the replicate's profile); the interval is the
    normal one around the estimator's own point (Rao & Wu 1988).
    """
    z = z_value(confidence)
    n = y_rep.shape[1]
    # one-stratum replicate weights for the estimators that ignore strata
    one = strata_design(np.zeros(n, dtype=int).astype(str), {"0": big_n})
    w1 = rescaled_bootstrap_weights(one, w.shape[0], np.random.default_rng(1))
    stats_rep: dict[str, np.ndarray] = {
        "naive": big_n / n * (w1 * y_rep).sum(axis=1),
        "stratified": (w * expand * y_rep).sum(axis=1),
    }
    if reg is not None and x_total:
        ok = np.isfinite(reg)
        x = np.where(ok, reg, 0.0)
        stats_rep["ratio"] = (w1 * y_rep * ok).sum(axis=1) / (w1 * x).sum(axis=1) * x_total
        stats_rep["stratified ratio"] = (
            (w * expand * y_rep).sum(axis=1) / (w * expand * x).sum(axis=1) * x_total
        )
    out = dict(ests)
    for key, rep in stats_rep.items():
        e = ests.get(key)
        if e is None:
            continue
        se_total = float(np.std(rep, ddof=1))
        scale = 1.0 / e.eligible if e.eligible else 1.0
        se = se_total * scale
        out[key] = Estimate(
            method=e.method + " (SE: bootstrap, profile re-estimated)",
            quantity=e.quantity, estimate=e.estimate, standard_error=se,
            ci_low=e.estimate - z * se, ci_high=e.estimate + z * se,
            confidence=e.confidence, n=e.n, total_stations=e.total_stations,
            total_voters=e.total_voters, total_voters_se=se_total, per_station=e.per_station,
            eligible=e.eligible, strata=e.strata, empty_strata=e.empty_strata,
            notes=(*e.notes, "SE from the rescaled bootstrap with the arrival profile "
                   "re-estimated in every replicate"),
            extra=dict(e.extra) | {"analytic_se_profile_known": e.standard_error},
        )  # fmt: skip
    return out


def _quick_counts(
    observations: Observations,
    keep: np.ndarray,
    labels: np.ndarray,
    sizes: Mapping[str, int],
    reg: np.ndarray | None,
    x_total: float | None,
    eligible: float | None,
    reg0_frame: int,
    n_resamples: int,
    confidence: float,
    seed: int,
    empty: EmptyPolicy,
    notes: list[str],
) -> dict[str, QuickCount]:
    """Linearisation and bootstrap quick counts over the stations with a protocol."""
    has = observations.has_outcomes[keep]
    m = observations.outcome_matrix()[keep]
    if has.sum() < 2:
        notes.append("fewer than 2 stations report outcome counts: no quick count")
        return {}
    if (~has).any():
        notes.append(
            f"quick count: {int((~has).sum())} observed stations without outcome counts "
            "left out of the shares (their stratum's n_h counts only the others)"
        )
    use_reg = reg is not None and bool(x_total) and bool(np.isfinite(reg[has]).all())
    out: dict[str, QuickCount] = {}
    for method in ("linearisation", "bootstrap"):
        out[method] = quick_count(
            m[has], observations.outcome_names, labels[has], sizes,
            registered=reg[has] if use_reg and reg is not None else None,
            frame_registered=x_total if use_reg else None,
            eligible=eligible, register_zero_frame=reg0_frame,
            method=method,  # type: ignore[arg-type]  # one of the two literals
            n_resamples=n_resamples, confidence=confidence, seed=seed, empty=empty,
        )  # fmt: skip
    return out
