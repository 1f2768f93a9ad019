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
(:func:`robust_mode`: a spike of stations reporting exactly 80% cannot capture it),
unless the leader's share is already far above its clean level at that mode: the
leader's share by 1% turnout bin is fitted with a flat-then-rising broken line
(:func:`share_change_point`, Huber IRLS, bins weighted by votes) and when the fitted
share at the others' mode is more than 10 points (:data:`SHARE_RISE_THRESHOLD`)
above the flat level, t0 is the change point instead. That happens when the fraud
moved whole stations, the others' voters included, to a target turnout, so that the
others' curve is itself shifted (Russia 2020: mode 81%, change point 46%, Shpilkin's
published ~22 M and ~42% clean turnout, Znak and bne IntelliNews, August 2020). Or
t0 is the value given (``t0``, CLI ``--t0``). ``t0_method``, ``t0_reason``,
``others_mode_pct``, ``share_change_point_pct`` and ``share_rise_at_mode`` (a share)
say which rule was used and why. r is the leader-to-others vote ratio over stations with
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


#: switch t0 to the change point of the leader's share when its fitted share at the
#: others' mode is more than this (a share, 10 percentage points) above its flat level
SHARE_RISE_THRESHOLD = 0.10
#: Huber's tuning constant (95% efficiency under normal errors; Huber 1964)
HUBER_C = 1.345
HUBER_ITERATIONS = 20


@dataclass(frozen=True)
class ShareBreak:
    """Per area, the broken line fitted to the leader's share by turnout bin:
    ``flat`` up to ``tau`` (whole percent), rising by ``slope`` per point after it."""

    tau: np.ndarray
    flat: np.ndarray
    slope: np.ndarray

    def at(self, turnout_pct: np.ndarray) -> np.ndarray:
        """Per area, the fitted share at the centre of its 1% bin ``turnout_pct`` (left
        edge; one bin per area)."""
        return self.flat + self.slope * np.maximum(0.0, turnout_pct + 0.5 - self.tau)


def _weighted_median(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    order = np.argsort(v, axis=1)
    vs = np.take_along_axis(v, order, axis=1)
    cw = np.cumsum(np.take_along_axis(w, order, axis=1), axis=1)
    k = np.argmax(cw >= cw[:, -1:] / 2, axis=1)
    return vs[np.arange(v.shape[0]), k]


def _huber_line(
    s: np.ndarray, w: np.ndarray, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Huber IRLS of ``s ~ flat + slope * h`` per row (weights ``w``, MAD scale
    re-estimated each step, at most 20 steps); returns flat, slope and the Huber loss
    in share units. Rows leave the loop as they converge."""
    g = s.shape[0]
    flat, slope, loss = np.zeros(g), np.zeros(g), np.zeros(g)
    u = np.ones_like(w)
    active = np.arange(g)
    for it in range(HUBER_ITERATIONS):
        sa, wa, ww = s[active], w[active], w[active] * u[active]
        s0, s1, s2 = ww.sum(1), ww @ h, ww @ (h * h)
        t0_, t1_ = (ww * sa).sum(1), (ww * sa) @ h
        det = s0 * s2 - s1**2
        ok = det > 1e-12 * np.maximum(s0 * s2, 1e-300)
        with np.errstate(invalid="ignore", divide="ignore"):
            b = np.where(ok, (s0 * t1_ - s1 * t0_) / np.where(ok, det, 1.0), 0.0)
            a = (t0_ - b * s1) / np.where(s0 > 0, s0, 1.0)
        r = sa - a[:, None] - b[:, None] * h[None, :]
        scale = np.maximum(1.4826 * _weighted_median(np.abs(r), wa), 1e-6)
        z = np.abs(r) / scale[:, None]
        u[active] = np.where(z <= HUBER_C, 1.0, HUBER_C / np.maximum(z, 1e-12))
        rho = np.where(z <= HUBER_C, 0.5 * z * z, HUBER_C * z - 0.5 * HUBER_C**2)
        done = (np.abs(a - flat[active]) < 1e-6) & (np.abs(b - slope[active]) < 1e-8)
        flat[active], slope[active] = a, b
        loss[active] = scale**2 * (wa * rho).sum(1)
        if it == HUBER_ITERATIONS - 1:
            break
        active = active[~done]
        if active.size == 0:
            break
    return flat, slope, loss


def share_change_point(
    lead_bins: np.ndarray, other_bins: np.ndarray, rows: np.ndarray | None = None
) -> ShareBreak:
    """Per area (rows), the broken line ``s(t) = flat + slope * max(0, t - tau)`` fitted
    to the leader's share of the valid votes in each 1% turnout bin (t = bin centre),
    bins weighted by their votes, by Huber M-estimation (Huber 1964, Ann. Math.
    Statist. 35(1):73-101) with iteratively reweighted least squares (Huber weights,
    c = 1.345, on residuals scaled by their vote-weighted MAD, re-estimated each step).
    ``tau`` runs over the whole percents inside the area's turnout range (the bins of
    its 2.5% and 97.5% vote quantiles), every other point first and then the two
    neighbours of the best; the ``tau`` with the least Huber loss (in share units) is
    kept. Bins with no votes carry no weight; ``rows`` (a mask) limits the fit to some
    areas; an area left out, or whose range holds no whole percent from 1 to 98 (all
    its votes at 99-100%), gets NaN. Under ballot stuffing the leader's share is flat over
    the clean turnouts and rises beyond them (Shpilkin 2009; Kobak, Shpilkin &
    Pshenichnikov 2016, Significance 13(4):20-23): ``tau`` is where the rise begins."""
    g = lead_bins.shape[0]
    tau_b, flat_b, slope_b = np.full(g, np.nan), np.full(g, np.nan), np.full(g, np.nan)
    w_all = (lead_bins + other_bins).astype(np.float64)
    fit = (w_all.sum(1) > 0) if rows is None else (np.asarray(rows, bool) & (w_all.sum(1) > 0))
    if not fit.any():
        return ShareBreak(tau_b, flat_b, slope_b)
    w = w_all[fit]
    s = lead_bins[fit] / np.where(w > 0, w, 1.0)
    x = np.arange(lead_bins.shape[1]) + 0.5
    # a change point inside each area's turnout range: between the bins holding its
    # 2.5% and 97.5% vote quantiles
    cum = np.cumsum(w, axis=1) / w.sum(1, keepdims=True)
    lo, hi = np.argmax(cum >= 0.025, axis=1), np.argmax(cum >= 0.975, axis=1)
    best = np.full(w.shape[0], np.inf)
    tau_f, flat_f, slope_f = (np.full(w.shape[0], np.nan) for _ in range(3))

    def try_tau(tau: int, rows_: np.ndarray) -> None:
        idx = np.flatnonzero(rows_ & (lo <= tau) & (tau <= hi))
        if idx.size == 0:
            return
        flat, slope, loss = _huber_line(s[idx], w[idx], np.maximum(0.0, x - tau))
        better = loss < best[idx]
        k = idx[better]
        best[k], tau_f[k], flat_f[k], slope_f[k] = loss[better], tau, flat[better], slope[better]

    taus = range(1, lead_bins.shape[1] - 2)
    everyone = np.ones(w.shape[0], dtype=bool)
    for tau in taus[::2]:  # every other point, then the neighbours of the best
        try_tau(tau, everyone)
    coarse = tau_f.copy()
    for tau in taus:
        if (near := np.abs(coarse - tau) == 1).any():
            try_tau(tau, near)
    tau_b[fit], flat_b[fit], slope_b[fit] = tau_f, flat_f, slope_f
    return ShareBreak(tau_b, flat_b, slope_b)


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


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
    mode = robust_mode(arr.turnout()[ok], o[ok], groups.codes[ok], g)
    n_rows = np.bincount(groups.codes[ok], minlength=g)
    brk = share_change_point(lead_bins, other_bins, rows=n_rows >= min_stations)
    rise = brk.at(mode) - brk.flat
    if t0 is not None:
        if not 0 <= t0 <= N_BINS - 2:
            raise ValueError(f"t0 must be a whole percent from 0 to {N_BINS - 2}, not {t0}")
        methods = np.full(g, "given", dtype=object)
        ref = np.full(g, int(t0), dtype=np.int64)
    else:
        # the change point must leave a clean core below it (votes of both sides)
        core = np.arange(g), np.clip(np.nan_to_num(brk.tau), 0, N_BINS - 1).astype(np.int64)
        has_core = (np.cumsum(lead_bins, 1)[core] > 0) & (np.cumsum(other_bins, 1)[core] > 0)
        moved = np.isfinite(rise) & (rise > SHARE_RISE_THRESHOLD) & has_core
        methods = np.where(moved, "share change point", "robust mode").astype(object)
        ref = np.where(moved, np.nan_to_num(brk.tau), mode).astype(np.int64)

    def reason(i: int) -> str:
        if not np.isfinite(brk.tau[i]):
            base = (
                f"the others' robust mode is {mode[i]}% (integer-percent spikes removed, "
                "smoothed); no change point of the leader's share could be fitted (too "
                "narrow a turnout range)"
            )
            return f"given (--t0 {int(ref[i])}); {base}" if methods[i] == "given" else base
        base = (
            f"the others' robust mode is {mode[i]}% (integer-percent spikes removed, "
            f"smoothed); the leader's share, fitted as a broken line over the turnout bins, "
            f"is flat at {brk.flat[i]:.1%} up to {brk.tau[i]:.0f}% and "
            f"{rise[i] * 100:+.1f} points above that at the mode"
        )
        if methods[i] == "given":
            return f"given (--t0 {int(ref[i])}); {base}"
        if methods[i] == "share change point":
            return (
                f"{base}, more than {SHARE_RISE_THRESHOLD * 100:.0f}: the fraud moved the "
                f"others' curve too, so t0 is the change point of the leader's share"
            )
        return f"{base}, not more than {SHARE_RISE_THRESHOLD * 100:.0f}: t0 is the mode"

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
                    f"votes; reference turnout {ref[i]}% ({methods[i]}), range over "
                    f"±{window} points "
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
                    "t0_method": str(methods[i]),
                    "t0_reason": reason(i),
                    "others_mode_pct": int(mode[i]),
                    "share_change_point_pct": _finite(brk.tau[i]),
                    "share_rise_at_mode": _finite(rise[i]),
                    "share_flat_level": _finite(brk.flat[i]),
                    "share_slope_per_point": _finite(brk.slope[i]),
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
        # a t0 whose bin holds no votes is no reference turnout: NaN, not the value
        # of the bin below it (nor 0)
        sens[(lead_bins[0] + other_bins[0])[: N_BINS - 1] <= 0] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            share_bins = lead_bins[0] / (lead_bins[0] + other_bins[0])
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
                "t0_reason": reason(0),
                "others_mode_pct": int(mode[0]),
                "share_change_point_pct": _finite(brk.tau[0]),
                "share_rise_at_mode": _finite(rise[0]),
                "share_flat_level": _finite(brk.flat[0]),
                "share_slope_per_point": _finite(brk.slope[0]),
                "leader_share_by_turnout": [_finite(v) for v in share_bins],
                "share_fit": [
                    _finite(v)
                    for v in brk.flat[0]
                    + brk.slope[0] * np.maximum(0.0, np.arange(N_BINS) + 0.5 - brk.tau[0])
                ],
            },
            sensitivity=sens,
            t0_method=str(methods[0]),
        )
    return out, curves
