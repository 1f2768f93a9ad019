"""Shpilkin's excess-vote estimate.

S. Shpilkin, "Statistical study of the results of Russian elections 2007-2009"
(Troitsky Variant, 2009) and later analyses of 2011/2012; described in English in
Kobak, Shpilkin & Pshenichnikov, "Statistical fingerprints of electoral fraud?",
Significance 13(4):20-23 (2016), and in Kobak et al., AoAS 10(1) (2016).

Votes are summed in 1% turnout bins. In a clean election every party's votes, as a
function of turnout, have the same shape; the leader's curve gets a long
high-turnout tail under ballot stuffing. Variant implemented here (state it when
quoting a number): the reference turnout t0 is the mode of the other candidates'
votes-by-turnout curve; r is the leader-to-others vote ratio over stations with
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
over t0 +/- 3 points.

This is an estimate, not a calibrated test: the reference turnout is chosen from
the data and clean elections with regional heterogeneity give non-zero excess
(in simulations a z-test on it rejects ~23% of clean elections), so no p-value is
reported; an area is flagged only when the excess is material (> 5% of the leader's
votes), its interval excludes 0 and it is positive across the t0 window.
"""

from __future__ import annotations

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "turnout_pct": self.turnout_pct.tolist(),
            "leader": self.leader.tolist(),
            "others": self.others.tolist(),
            "expected_leader": self.expected_leader.tolist(),
            "t0": self.t0,
            "ratio": self.ratio,
            "excess": self.excess,
        }


def _bins(arr: StationArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = arr.turnout()
    ok = np.isfinite(t) & (arr.valid > 0)
    b = np.clip(np.floor(np.nan_to_num(t) * 100), 0, 100).astype(np.int64)
    w = arr.winner_votes.astype(np.float64)
    o = arr.valid - w
    return ok, b, w, o


def shpilkin_tests(
    arr: StationArrays, groups: AreaGroups, *, window: int = 3, min_stations: int = 30
) -> tuple[list[TestResult], ShpilkinCurves | None]:
    """Anomalous leader votes per area; national curves for the figure."""
    ok, b, w, o = _bins(arr)
    g = groups.n_groups
    key = groups.codes[ok] * N_BINS + b[ok]
    lead_bins = np.bincount(key, weights=w[ok], minlength=g * N_BINS).reshape(g, N_BINS)
    other_bins = np.bincount(key, weights=o[ok], minlength=g * N_BINS).reshape(g, N_BINS)
    t0 = np.argmax(other_bins, axis=1)
    cw, co = np.cumsum(lead_bins, axis=1), np.cumsum(other_bins, axis=1)

    def excess_at(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(g)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cw[rows, t] / co[rows, t]
        high_w = cw[:, -1] - cw[rows, t]
        high_o = co[:, -1] - co[rows, t]
        return high_w - r * high_o, r

    excess, ratio = excess_at(t0)
    alts = np.stack(
        [excess_at(np.clip(t0 + d, 0, N_BINS - 2))[0] for d in range(-window, window + 1)], axis=1
    )
    # delta-method SE of A - (C/D) E with station resampling
    st = groups.codes[ok]
    high = b[ok] > t0[st]
    z = w[ok] - ratio[st] * o[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        e_over_d = (co[:, -1] - co[np.arange(g), t0]) / co[np.arange(g), t0]
    infl = np.where(high, z, -e_over_d[st] * z)
    n_st = np.bincount(st, minlength=g).astype(float)
    s1 = np.bincount(st, weights=infl, minlength=g)
    s2 = np.bincount(st, weights=infl**2, minlength=g)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = n_st / np.maximum(n_st - 1, 1) * (s2 - s1**2 / n_st)
        se = np.sqrt(np.maximum(var, 0))
        zstat = excess / se
    total_w = cw[:, -1]
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
                    f"votes; reference turnout {t0[i]}%, range over ±{window} points "
                    f"{np.nanmin(alts[i]):,.0f} to {np.nanmax(alts[i]):,.0f})"
                ),
                flagged=bool(
                    excess[i] - 1.96 * se[i] > 0
                    and share > MATERIAL_SHARE
                    and np.nanmin(alts[i]) > 0
                ),
                details={
                    "t0_pct": int(t0[i]),
                    "ratio_leader_to_others": float(ratio[i]),
                    "excess_share_of_leader_votes": float(share),
                    "sensitivity_min": float(np.nanmin(alts[i])),
                    "sensitivity_max": float(np.nanmax(alts[i])),
                    "se_delta": float(se[i]),
                    "z": float(zstat[i]),
                    "leader_votes": float(total_w[i]),
                },
            )
        )
    curves = None
    if g == 1:
        exp = np.where(np.arange(N_BINS) > t0[0], ratio[0] * other_bins[0], lead_bins[0])
        curves = ShpilkinCurves(
            np.arange(N_BINS),
            lead_bins[0],
            other_bins[0],
            exp,
            int(t0[0]),
            float(ratio[0]),
            float(excess[0]),
        )
    return out, curves
