"""Shpilkin's excess-vote estimate.

S. Shpilkin, "Statistical study of the results of Russian elections 2007-2009"
(Troitsky Variant, 2009) and later analyses of 2011/2012; described in English in
Kobak, Shpilkin & Pshenichnikov, "Statistical fingerprints of electoral fraud?",
Significance 13(4):20-23 (2016), and in Kobak et al., AoAS 10(1) (2016).

Votes are summed in 1% turnout bins. In a clean election every party's votes, as a
function of turnout, have the same shape; the leader's curve gets a long
high-turnout tail under ballot stuffing. Variant implemented here (state it when
quoting a number): the reference turnout t0 is the mode of the other candidates'
votes-by-turnout curve after removing the integer-percent spikes and smoothing
(:func:`robust_mode`: a spike of stations reporting exactly 80% cannot capture it), or
the value given (``t0``, CLI ``--t0``); r is the leader-to-others vote ratio over stations with
turnout <= t0; in every bin above t0 the leader's expected votes are r times the
others' votes there, and the anomalous votes are the leader's votes above that
expectation summed over the bins. Other candidates' votes are taken as unaffected:
stuffed ballots are counted once, but a vote moved from another candidate to the
leader is counted 1 + r times (the leader gains it and the others' curve, hence the
expectation, loses r times it), so with vote stealing the estimate exceeds the votes
actually added; and stations with fraud below t0 inflate r, so incremental fraud
spread over all turnouts is undercounted (both seen on the simulator, see
tests/test_forensics_shpilkin_regression.py). Uncertainty: a delta-method standard
error of the ratio estimator (station resampling) and, more important, the range
over t0 +/- 3 points and the whole sensitivity curve (excess for every t0 from 0 to
99%, national, in ``ShpilkinCurves.sensitivity``, drawn in the figure).

Headline figures (Shpilkin's): the **clean turnout** (ballots cast minus the excess,
over registered) and the **leader's clean share** ((leader - excess) / (valid -
excess)), nationally and per area, with intervals from the delta-method SE and their
range over the t0 window; and the leader's share in the clean core (units at or
below t0), r / (1 + r).

This is an estimate, not a calibrated test: the reference turnout is chosen from
the data and clean elections with regional heterogeneity give non-zero excess
(in simulations a z-test on it rejects ~23% of clean elections), so no p-value is
reported; an area is flagged only when the excess is material (> 5% of the leader's
votes), its interval excludes 0 and it is positive across the t0 window.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from electwatch.forensics.areas import AreaGroups, StationArrays
from electwatch.forensics.types import TestResult

N_BINS = 101  # 0..100 %
#: flag an area when the excess exceeds this share of the leader's votes, its 95% interval
#: excludes 0 and every reference turnout within the window gives a positive excess
MATERIAL_SHARE = 0.05


@dataclass(frozen=True)
class ShpilkinCurves:
    """National votes-by-turnout curves (for figures)."""

    turnout_pct: np.ndarray  # bin left edges, 0..100
    leader: np.ndarray
    others: np.ndarray
    expected_leader: np.ndarray
    t0: int
    ratio: float
    excess: float
    extra: dict[str, Any] = field(default_factory=dict)

    sensitivity: np.ndarray = field(default_factory=lambda: np.zeros(0))  # excess per t0
    t0_method: str = "robust mode"

    def to_dict(self) -> dict[str, Any]:
        return {
            "turnout_pct": self.turnout_pct.tolist(),
            "leader": self.leader.tolist(),
            "others": self.others.tolist(),
            "expected_leader": self.expected_leader.tolist(),
            "t0": self.t0,
            "t0_method": self.t0_method,
            "ratio": self.ratio,
            "excess": self.excess,
            "sensitivity_t0": list(range(self.sensitivity.size)),
            "sensitivity_excess": self.sensitivity.tolist(),
            **self.extra,
        }


#: half-width (points) of the window around a whole percent treated as a spike bin, and
#: the Gaussian smoothing (in 1-point bins) of the others' curve before its mode
SPIKE_HALF_WIDTH = 0.05
MODE_SMOOTHING = 2.0


def robust_mode(turnout: np.ndarray, weights: np.ndarray, codes: np.ndarray, g: int) -> np.ndarray:
    """Per area, the mode of the weighted turnout curve with the integer-percent spikes
    removed: votes are summed in 0.1-point bins; the bins centred on whole percents
    (turnout within 0.05 points of k%, where rounded protocols pile up, Kobak et al.
    2016) are replaced by the mean of their two neighbours; the curve is then summed
    into 1-point bins, smoothed with a Gaussian of 2 points and its argmax taken.
    Returns whole percents (bin left edges, as the 1% bins of the curves)."""
    from scipy import ndimage

    fine = np.clip(np.floor(turnout * 1000 + 0.5).astype(np.int64), 0, 1000)  # 0.1-pt bins
    curve = np.bincount(codes * 1001 + fine, weights=weights, minlength=g * 1001).reshape(g, 1001)
    centres = np.arange(0, 1001, 10)
    left = np.clip(centres - 1, 0, 1000)
    right = np.clip(centres + 1, 0, 1000)
    raw = curve.copy()
    curve[:, centres] = 0.5 * (curve[:, left] + curve[:, right])
    # where most of an area's votes sit on whole percents the spikes are the grain of
    # the data (tiny registers, hand-made tables), not anomalies: keep them there
    grain = curve.sum(axis=1) < 0.5 * raw.sum(axis=1)
    curve[grain] = raw[grain]
    # bin k (left edge k%) holds fine bins k*10 .. k*10+9 (turnout k.0 to k.95)
    coarse = np.add.reduceat(curve, np.arange(0, 1001, 10), axis=1)[:, :N_BINS]
    smooth = ndimage.gaussian_filter1d(coarse, MODE_SMOOTHING, axis=1, mode="constant")
    return np.argmax(smooth, axis=1)


def _bins(arr: StationArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = arr.turnout()
    ok = np.isfinite(t) & (arr.valid > 0)
    b = np.clip(np.floor(np.nan_to_num(t) * 100), 0, 100).astype(np.int64)
    w = arr.winner_votes.astype(np.float64)
    o = arr.valid - w
    return ok, b, w, o


def shpilkin_tests(
    arr: StationArrays,
    groups: AreaGroups,
    *,
    window: int = 3,
    min_stations: int = 30,
    t0: int | None = None,
) -> tuple[list[TestResult], ShpilkinCurves | None]:
    """Anomalous leader votes per area; national curves for the figure.

    ``t0``: the reference turnout in whole percent for every area; None = each area's
    :func:`robust_mode` of the others' curve."""
    ok, b, w, o = _bins(arr)
    g = groups.n_groups
    key = groups.codes[ok] * N_BINS + b[ok]
    lead_bins = np.bincount(key, weights=w[ok], minlength=g * N_BINS).reshape(g, N_BINS)
    other_bins = np.bincount(key, weights=o[ok], minlength=g * N_BINS).reshape(g, N_BINS)
    if t0 is not None:
        if not 0 <= t0 <= N_BINS - 2:
            raise ValueError(f"t0 must be a whole percent from 0 to {N_BINS - 2}, not {t0}")
        t0_method = "given"
        ref = np.full(g, int(t0), dtype=np.int64)
    else:
        t0_method = "robust mode (integer-percent spikes removed, smoothed)"
        ref = robust_mode(arr.turnout()[ok], o[ok], groups.codes[ok], g)
    cw, co = np.cumsum(lead_bins, axis=1), np.cumsum(other_bins, axis=1)

    def excess_at(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(g)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cw[rows, t] / co[rows, t]
        high_w = cw[:, -1] - cw[rows, t]
        high_o = co[:, -1] - co[rows, t]
        return high_w - r * high_o, r

    excess, ratio = excess_at(ref)
    alts = np.stack(
        [excess_at(np.clip(ref + d, 0, N_BINS - 2))[0] for d in range(-window, window + 1)], axis=1
    )
    # delta-method SE of A - (C/D) E with station resampling
    st = groups.codes[ok]
    high = b[ok] > ref[st]
    z = w[ok] - ratio[st] * o[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        e_over_d = (co[:, -1] - co[np.arange(g), ref]) / co[np.arange(g), ref]
    infl = np.where(high, z, -e_over_d[st] * z)
    n_st = np.bincount(st, minlength=g).astype(float)
    s1 = np.bincount(st, weights=infl, minlength=g)
    s2 = np.bincount(st, weights=infl**2, minlength=g)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = n_st / np.maximum(n_st - 1, 1) * (s2 - s1**2 / n_st)
        se = np.sqrt(np.maximum(var, 0))
        zstat = excess / se
    total_w = cw[:, -1]
    cast_a = groups.sums(np.where(ok, arr.cast, 0.0))
    reg_a = groups.sums(np.where(ok, np.nan_to_num(arr.registered), 0.0))
    valid_a = cw[:, -1] + co[:, -1]

    def clean(e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (cast_a - e) / reg_a, (total_w - e) / (valid_a - e)

    clean_t, clean_s = clean(excess)
    lo_t, lo_s = clean(excess + 1.96 * se)  # more excess: lower clean figures
    hi_t, hi_s = clean(excess - 1.96 * se)
    with warnings.catch_warnings():
        # areas without a finite excess in the window (no stations above t0) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        win_hi_t, win_hi_s = clean(np.nanmin(alts, axis=1))
        win_lo_t, win_lo_s = clean(np.nanmax(alts, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        core_share = ratio / (1 + ratio)
    out: list[TestResult] = []
    for i, area in enumerate(groups.names):
        if n_st[i] < min_stations or not np.isfinite(excess[i]):
            continue
        share = excess[i] / total_w[i] if total_w[i] else np.nan
        out.append(
            TestResult(
                test="shpilkin_excess_votes",
                level=groups.level,
                area=area,
                subject="leader's votes",
                statistic=float(excess[i]),
                null_value=0.0,
                p_value=None,
                ci_low=float(excess[i] - 1.96 * se[i]),
                ci_high=float(excess[i] + 1.96 * se[i]),
                n=int(n_st[i]),
                reading=(
                    f"{excess[i]:+,.0f} anomalous votes for the leader ({share:.1%} of its "
                    f"votes; reference turnout {ref[i]}%, range over ±{window} points "
                    f"{np.nanmin(alts[i]):,.0f} to {np.nanmax(alts[i]):,.0f}); without it "
                    f"turnout {clean_t[i]:.1%} and the leader's share {clean_s[i]:.1%}"
                ),
                flagged=bool(
                    excess[i] - 1.96 * se[i] > 0
                    and share > MATERIAL_SHARE
                    and np.nanmin(alts[i]) > 0
                ),
                details={
                    "t0_pct": int(ref[i]),
                    "ratio_leader_to_others": float(ratio[i]),
                    "excess_share_of_leader_votes": float(share),
                    "sensitivity_min": float(np.nanmin(alts[i])),
                    "sensitivity_max": float(np.nanmax(alts[i])),
                    "se_delta": float(se[i]),
                    "z": float(zstat[i]),
                    "leader_votes": float(total_w[i]),
                    "t0_method": t0_method,
                    "clean_turnout": float(clean_t[i]),
                    "clean_turnout_ci": [float(lo_t[i]), float(hi_t[i])],
                    "clean_turnout_t0_range": [float(win_lo_t[i]), float(win_hi_t[i])],
                    "leader_clean_share": float(clean_s[i]),
                    "leader_clean_share_ci": [float(lo_s[i]), float(hi_s[i])],
                    "leader_clean_share_t0_range": [float(win_lo_s[i]), float(win_hi_s[i])],
                    "leader_share_in_clean_core": float(core_share[i]),
                    "official_turnout": float(cast_a[i] / reg_a[i]) if reg_a[i] else None,
                    "official_leader_share": float(total_w[i] / valid_a[i]) if valid_a[i] else None,
                },
            )
        )
    curves = None
    if g == 1:
        exp = np.where(np.arange(N_BINS) > ref[0], ratio[0] * other_bins[0], lead_bins[0])
        sens = np.array(
            [excess_at(np.full(1, k))[0][0] for k in range(N_BINS - 1)], dtype=np.float64
        )
        curves = ShpilkinCurves(
            np.arange(N_BINS),
            lead_bins[0],
            other_bins[0],
            exp,
            int(ref[0]),
            float(ratio[0]),
            float(excess[0]),
            extra={
                "clean_turnout": float(clean_t[0]),
                "leader_clean_share": float(clean_s[0]),
                "se_delta": float(se[0]),
            },
            sensitivity=np.nan_to_num(sens),
            t0_method=t0_method,
        )
    return out, curves
