"""Winner's share vs turnout: weighted regression (Sobyanin-Sukhovolsky style).

A. Sobyanin & V. Sukhovolsky (1993-95) regressed a party's vote on turnout across
districts: in a clean election extra turnout splits like the rest of the vote, so
the winner's share does not rise with turnout; ballot stuffing makes it rise.
Mebane's toolkit uses ad-hoc thresholds; electwatch reports a proper test: the
weighted least-squares slope of the winner's share of valid votes on turnout,
weights = valid votes, with a cluster-robust (sub-areas as clusters, CR1) or
heteroskedasticity-robust (HC1) standard error, and its two-sided p-value. The
original Sobyanin-Sukhovolsky slope of (winner's votes / registered) on turnout is
given in ``details`` (a value above 1 means the winner gained more votes than the
extra turnout brought).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from electwatch.forensics.areas import AreaGroups, StationArrays
from electwatch.forensics.types import TestResult, fmt_p


def _wls(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    codes: np.ndarray,
    g: int,
    clusters: np.ndarray | None,
) -> tuple[np.ndarray, ...]:
    def s(v: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=v, minlength=g)

    sw = s(w)
    n = np.bincount(codes, minlength=g).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm, ym = s(w * x) / sw, s(w * y) / sw
        xc, yc = x - xm[codes], y - ym[codes]
        sxx, sxy, syy = s(w * xc * xc), s(w * xc * yc), s(w * yc * yc)
        slope = sxy / sxx
        e = yc - slope[codes] * xc
        score = w * xc * e
        if clusters is None:
            meat = s(score**2) * n / np.maximum(n - 2, 1)
            n_cl = n
        else:
            ncl = int(clusters.max()) + 1
            cl_sum = np.bincount(clusters, weights=score, minlength=ncl)
            cl_group = np.zeros(ncl, dtype=np.int64)
            cl_group[clusters] = codes
            present = np.bincount(clusters, minlength=ncl) > 0
            n_cl = np.bincount(cl_group[present], minlength=g).astype(float)
            meat = (
                np.bincount(cl_group[present], weights=cl_sum[present] ** 2, minlength=g)
                * n_cl
                / np.maximum(n_cl - 1, 1)
            )
        se = np.sqrt(meat) / sxx
        r = sxy / np.sqrt(sxx * syy)
    return slope, se, r, n, n_cl


def turnout_share_tests(
    arr: StationArrays,
    groups: AreaGroups,
    clusters: AreaGroups | None = None,
    *,
    min_stations: int = 20,
) -> list[TestResult]:
    t = arr.turnout()
    sh = arr.winner_share()
    ok = np.isfinite(t) & np.isfinite(sh) & (t <= 1) & (arr.valid > 0)
    codes = groups.codes[ok]
    g = groups.n_groups
    cl = clusters.codes[ok] if clusters is not None else None
    slope, se, r, n, n_cl = _wls(t[ok], sh[ok], arr.valid[ok], codes, g, cl)
    # Sobyanin-Sukhovolsky: winner votes / registered on turnout, same weights
    reg = arr.registered[ok]
    ss_slope = _wls(t[ok], arr.winner_votes[ok] / reg, arr.valid[ok], codes, g, None)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = slope / se
    df = np.maximum(n_cl - 1, 1)
    p = 2 * stats.t.sf(np.abs(z), df)
    out: list[TestResult] = []
    se_kind = f"cluster-robust by {clusters.level}" if clusters is not None else "HC1"
    for i, area in enumerate(groups.names):
        if n[i] < min_stations or not np.isfinite(slope[i]) or not np.isfinite(se[i]):
            continue
        direction = "rises" if slope[i] > 0 else "falls"
        out.append(
            TestResult(
                test="share_turnout_slope",
                level=groups.level,
                area=area,
                subject="winner's share of valid votes on turnout",
                statistic=float(slope[i]),
                null_value=0.0,
                p_value=float(p[i]),
                ci_low=float(slope[i] - 1.96 * se[i]),
                ci_high=float(slope[i] + 1.96 * se[i]),
                n=int(n[i]),
                reading=(
                    f"winner's share {direction} by {abs(slope[i]) * 10:.2f} points per 10 "
                    f"points of turnout (weighted r = {r[i]:.2f}, {fmt_p(p[i])}, "
                    f"SE {se_kind})"
                ),
                details={
                    "se": float(se[i]),
                    "weighted_r": float(r[i]),
                    "sobyanin_slope_votes_per_registered": float(ss_slope[i]),
                    "se_method": se_kind,
                    "clusters": int(n_cl[i]),
                },
            )
        )
    return out
