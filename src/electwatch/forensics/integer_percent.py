"""Integer-percent spikes (Kobak, Shpilkin & Pshenichnikov 2016).

Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. "Integer percentages as electoral
falsification fingerprints", Annals of Applied Statistics 10(1):54-73 (2016).
Officials who write a target result into the protocol produce too many stations
whose turnout or leader's result is a whole percentage. Following the paper:
stations with at least ``min_voters`` (100) ballots cast and turnout and leader's
result at most 99%; a station is "integer" when turnout or result is within 0.05
percentage points of a whole percent (tested with integer arithmetic:
|2000 x - 20 k N| <= N). The null redraws every station's ballots ~ Bin(registered,
turnout) and leader's votes ~ Bin(cast, result) (result = leader / ballots cast, as
in the paper) and counts integer stations; small denominators are therefore fully
accounted for (a station with 200 voters is
integer for every even count).

Computation: each station's null probability of being integer is computed from the
binomial redraw on its own lattice of counts (normal approximation with continuity
correction for the binomial mass in each whole-percent window, windows within
4.5 sd of the mean); the Monte Carlo then draws ``n_mc`` null elections as
independent Bernoulli(P_i) stations, which is the same null as redrawing the counts
but costs one uniform per station and run. ``method="redraw"`` does the literal
binomial redraw (slower; used to validate the fast path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import special

from electwatch.forensics.areas import AreaGroups, StationArrays
from electwatch.forensics.types import TestResult, fmt_p

#: binomial variance n p (1 - p) below which window masses are computed exactly
EXACT_BELOW_VAR = 25.0


def is_integer_percent(x: np.ndarray, n: np.ndarray, tol_pp: float = 0.05) -> np.ndarray:
    """True where 100 x / n is within ``tol_pp`` points of a whole percent (n > 0)."""
    x = np.asarray(x, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    safe = np.where(n > 0, n, 1)
    k = (200 * x + safe) // (2 * safe)  # nearest whole percent
    scale = round(1 / tol_pp)  # 20 for 0.05 points
    return (n > 0) & (np.abs(100 * scale * x - scale * k * safe) <= safe)


def integer_probability(
    n: np.ndarray, p: np.ndarray, tol_pp: float = 0.05, width_sd: float = 4.5
) -> np.ndarray:
    """P(100 X / n within ``tol_pp`` of a whole percent) for X ~ Bin(n, p), per station.

    Sums the binomial mass over the integer counts in each whole-percent window
    [n (k - tol)/100, n (k + tol)/100], for the windows within ``width_sd`` standard
    deviations of the mean. The mass of a window is the continuity-corrected normal
    approximation where n p (1 - p) >= ``EXACT_BELOW_VAR`` (its error is below 0.005 per
    station there and cancels over stations) and the exact binomial CDF difference
    elsewhere: small denominators (n = 4 or 10 make every count a whole percent) and
    skewed binomials, where the normal approximation is off by up to 0.07. Stations
    are processed in buckets of similar window counts (no Python loop over stations).
    """
    n = np.asarray(n, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    out = np.zeros(n.shape)
    mu = n * p
    sd = np.sqrt(n * p * (1 - p))
    # skewed binomials (small n p (1 - p), computed exactly below) have longer tails
    # than width_sd normal sd: widen their band by 10 counts (tail mass < 1e-9)
    band = width_sd * sd + np.where(sd**2 < EXACT_BELOW_VAR, 10.0, 0.0)
    half = np.minimum(np.ceil(100 * band / np.maximum(n, 1)).astype(np.int64) + 1, 101)
    scale = round(1 / tol_pp)
    for lo_h, hi_h in ((0, 3), (3, 6), (6, 12), (12, 25), (25, 60), (60, 10**9)):
        sel = np.flatnonzero((half > lo_h) & (half <= hi_h))
        if sel.size == 0:
            continue
        kmax = int(half[sel].max())
        offs = np.arange(-kmax, kmax + 1)
        k = np.rint(100 * p[sel])[:, None] + offs[None, :]  # whole percents, S x K
        ns = n[sel][:, None]
        lo = np.ceil((scale * k * ns - ns) / (100 * scale) - 1e-9)
        hi = np.floor((scale * k * ns + ns) / (100 * scale) + 1e-9)
        lo, hi = np.maximum(lo, 0), np.minimum(hi, ns)
        valid = (k >= 0) & (k <= 100) & (hi >= lo)
        z_hi = (hi + 0.5 - mu[sel][:, None]) / sd[sel][:, None]
        z_lo = (lo - 0.5 - mu[sel][:, None]) / sd[sel][:, None]
        mass = np.where(valid, special.ndtr(z_hi) - special.ndtr(z_lo), 0.0)
        # exact binomial mass where the normal approximation is poor (the exact CDF
        # costs ~50x more, so only there); bdtr is NaN for a negative count (CDF 0)
        ex = np.flatnonzero(sd[sel] ** 2 < EXACT_BELOW_VAR)
        if ex.size:
            nx = ns[ex].astype(np.int64)  # bdtr wants integer counts
            px, vx = p[sel][ex][:, None], valid[ex]
            lx, hx = lo[ex].astype(np.int64), hi[ex].astype(np.int64)
            cdf_hi = special.bdtr(np.where(vx, hx, 0), nx, px)
            cdf_lo = np.where(lx >= 1, special.bdtr(np.maximum(lx - 1, 0), nx, px), 0.0)
            mass[ex] = np.where(vx, cdf_hi - cdf_lo, 0.0)
        out[sel] = mass.sum(axis=1)
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class IntegerPercentSetup:
    """Per-station inputs of the test after the paper's exclusions."""

    mask: np.ndarray
    observed: np.ndarray  # bool per station (masked stations False)
    p_null: np.ndarray  # null probability per station (0 outside the mask)
    turnout_hits: int
    result_hits: int


def integer_percent_setup(
    arr: StationArrays, *, min_voters: int = 100, max_share: float = 0.99, tol_pp: float = 0.05
) -> IntegerPercentSetup:
    reg = np.nan_to_num(arr.registered).astype(np.int64)
    cast = arr.cast.astype(np.int64)
    # the leader's result is a share of all ballots cast (valid + invalid), as in the
    # paper and in the official Russian percentages
    valid = cast
    lead = arr.winner_votes.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(reg > 0, cast / np.maximum(reg, 1), np.nan)
        r = np.where(valid > 0, lead / np.maximum(valid, 1), np.nan)
    mask = (cast >= min_voters) & (reg > 0) & (valid > 0) & (t <= max_share) & (r <= max_share)
    it = mask & is_integer_percent(cast, reg, tol_pp)
    ir = mask & is_integer_percent(lead, valid, tol_pp)
    pt = np.zeros(arr.n)
    pr = np.zeros(arr.n)
    pt[mask] = integer_probability(reg[mask], t[mask], tol_pp)
    pr[mask] = integer_probability(valid[mask], r[mask], tol_pp)
    p_null = 1 - (1 - pt) * (1 - pr)
    return IntegerPercentSetup(mask, it | ir, p_null, int(it.sum()), int(ir.sum()))


def _fine_to_level(fine: AreaGroups, coarse: AreaGroups) -> np.ndarray:
    """G_fine x G_coarse one-hot map (areas are nested)."""
    first = np.full(fine.n_groups, -1, dtype=np.int64)
    first[fine.codes[::-1]] = np.arange(fine.codes.size)[::-1]
    m = np.zeros((fine.n_groups, coarse.n_groups))
    ok = first >= 0
    m[np.flatnonzero(ok), coarse.codes[first[ok]]] = 1.0
    return m


def integer_percent_tests(
    arr: StationArrays,
    levels: list[AreaGroups],
    *,
    n_mc: int = 1000,
    rng: np.random.Generator | None = None,
    min_voters: int = 100,
    max_share: float = 0.99,
    method: Literal["fast", "redraw"] = "fast",
    chunk: int = 50,
) -> list[TestResult]:
    """Excess of integer-percent stations over the binomial null, per area.

    ``levels`` must be nested from coarse to fine (national first). One set of Monte
    Carlo runs serves all levels. p-value = (1 + #{runs > observed} + #{runs =
    observed} / 2) / (1 + n_mc), a Monte Carlo mid-p (the count is discrete).
    """
    rng = rng or np.random.default_rng(0)
    s = integer_percent_setup(arr, min_voters=min_voters, max_share=max_share)
    fine = levels[-1]
    maps = [_fine_to_level(fine, g) for g in levels]
    sims = np.zeros((n_mc, fine.n_groups), dtype=np.float64)
    idx = np.flatnonzero(s.mask)
    order = idx[np.argsort(fine.codes[idx], kind="stable")]
    codes_sorted = fine.codes[order]
    starts = np.flatnonzero(np.r_[True, codes_sorted[1:] != codes_sorted[:-1]])
    present = codes_sorted[starts]
    if method == "fast":
        p = s.p_null[order].astype(np.float32)
    for start in range(0, n_mc, chunk):
        b = min(chunk, n_mc - start)
        if order.size == 0:
            break
        if method == "fast":
            hits = rng.random((b, order.size), dtype=np.float32) < p
        else:
            hits = _redraw_hits(arr, order, b, rng)
        sims[start : start + b][:, present] = np.add.reduceat(hits, starts, axis=1)
    obs_fine = np.bincount(fine.codes[s.observed], minlength=fine.n_groups).astype(float)
    exp_fine = np.bincount(fine.codes, weights=s.p_null, minlength=fine.n_groups)
    n_fine = np.bincount(fine.codes[s.mask], minlength=fine.n_groups).astype(float)
    out: list[TestResult] = []
    for g, m in zip(levels, maps, strict=True):
        obs, exp, nn = obs_fine @ m, exp_fine @ m, n_fine @ m
        sim = sims @ m
        # Monte Carlo mid-p: ties with the observed count weigh one half (the count is
        # discrete; the (1 + #{>=}) / (1 + n_mc) p-value rejected 1.7% of clean areas
        # of 100 units at the 5% level, docs/forensics-fpr.md)
        above = (sim > obs[None, :] + 1e-9).sum(axis=0)
        ties = (np.abs(sim - obs[None, :]) <= 1e-9).sum(axis=0)
        pval = (1 + above + 0.5 * ties) / (1 + n_mc)
        lo, hi = np.quantile(sim, [0.025, 0.975], axis=0) if n_mc else (exp, exp)
        sd = sim.std(axis=0) if n_mc else np.zeros_like(exp)
        for i, area in enumerate(g.names):
            if nn[i] == 0:
                continue
            excess = obs[i] - exp[i]
            reading = (
                f"{int(obs[i]):,} integer-percent stations vs {exp[i]:,.0f} expected "
                f"(excess {excess:+,.0f}, {fmt_p(pval[i])}, n={int(nn[i]):,})"
            )
            details: dict[str, Any] = {
                "observed": int(obs[i]),
                "expected": float(exp[i]),
                "excess": float(excess),
                "z": float(excess / sd[i]) if sd[i] > 0 else None,
                "null_95_low": float(lo[i]),
                "null_95_high": float(hi[i]),
                "n_mc": n_mc,
                "method": method,
            }
            if g.n_groups == 1:
                details.update(turnout_integer=s.turnout_hits, result_integer=s.result_hits)
            out.append(
                TestResult(
                    test="integer_percent",
                    level=g.level,
                    area=area,
                    subject="turnout or leader's result",
                    statistic=float(excess),
                    null_value=0.0,
                    p_value=float(pval[i]),
                    ci_low=float(obs[i] - hi[i]),
                    ci_high=float(obs[i] - lo[i]),
                    n=int(nn[i]),
                    reading=reading,
                    details=details,
                )
            )
    return out


def _redraw_hits(
    arr: StationArrays, idx: np.ndarray, b: int, rng: np.random.Generator
) -> np.ndarray:
    """Literal binomial redraw of ballots and leader's votes (b runs x stations)."""
    reg = arr.registered[idx].astype(np.int64)
    valid = arr.cast[idx].astype(np.int64)
    t = arr.cast[idx] / reg
    r = arr.winner_votes[idx] / valid
    cast = rng.binomial(reg, t, size=(b, idx.size))
    lead = rng.binomial(valid, r, size=(b, idx.size))
    return is_integer_percent(cast, reg) | is_integer_percent(lead, valid)
