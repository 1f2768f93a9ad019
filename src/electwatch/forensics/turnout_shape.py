"""Shape of the station turnout distribution: skewness, kurtosis, dip test.

Mebane's Election Forensics Toolkit (2015) reports the skewness (null 0) and the
kurtosis (null 3, not excess) of turnout, and Hartigan's dip test of unimodality
(Hartigan & Hartigan, "The dip test of unimodality", Ann. Statist. 13:70-84, 1985;
computed with the maintained ``diptest`` package). Ballot stuffing pushes stations
towards 100% and makes the distribution skewed, heavy-tailed or bimodal.

p-values for skewness and kurtosis use D'Agostino's transformation (D'Agostino,
Biometrika 1970) and Anscombe & Glynn (Biometrika 1983), vectorised over areas;
at the national level a 95% bootstrap interval (multinomial resampling of turnout
binned at 0.1 points) is added. A clean election need not have normal turnout
(regional mixtures are not normal), so these two are descriptive signals; the dip
test is the inferential one.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from electwatch.forensics.areas import AreaGroups
from electwatch.forensics.types import TestResult, fmt, fmt_p


def group_moments(x: np.ndarray, groups: AreaGroups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-area n, sample skewness (m3/m2^1.5) and kurtosis (m4/m2^2), biased moments."""
    n = np.bincount(groups.codes, minlength=groups.n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(groups.codes, weights=x, minlength=groups.n_groups) / n
        d = x - mean[groups.codes]
        m2 = np.bincount(groups.codes, weights=d**2, minlength=groups.n_groups) / n
        m3 = np.bincount(groups.codes, weights=d**3, minlength=groups.n_groups) / n
        m4 = np.bincount(groups.codes, weights=d**4, minlength=groups.n_groups) / n
        return n, m3 / m2**1.5, m4 / m2**2


def skew_z(b: np.ndarray, n: np.ndarray) -> np.ndarray:
    """D'Agostino (1970) normalising transformation of the sample skewness."""
    with np.errstate(invalid="ignore", divide="ignore"):
        y = b * np.sqrt((n + 1) * (n + 3) / (6.0 * (n - 2)))
        beta2 = (
            3.0
            * (n**2 + 27 * n - 70)
            * (n + 1)
            * (n + 3)
            / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9))
        )
        w2 = -1 + np.sqrt(2 * (beta2 - 1))
        delta = 1 / np.sqrt(0.5 * np.log(w2))
        alpha = np.sqrt(2.0 / (w2 - 1))
        y = np.where(y == 0, 1, y)
        return delta * np.log(y / alpha + np.sqrt((y / alpha) ** 2 + 1))


def kurtosis_z(b2: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Anscombe & Glynn (1983) normalising transformation of the sample kurtosis."""
    with np.errstate(invalid="ignore", divide="ignore"):
        e = 3.0 * (n - 1) / (n + 1)
        varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1.0) * (n + 3) * (n + 5))
        x = (b2 - e) / np.sqrt(varb2)
        sb1 = (
            6.0
            * (n * n - 5 * n + 2)
            / ((n + 7) * (n + 9))
            * np.sqrt((6.0 * (n + 3) * (n + 5)) / (n * (n - 2) * (n - 3)))
        )
        a = 6.0 + 8.0 / sb1 * (2.0 / sb1 + np.sqrt(1 + 4.0 / sb1**2))
        term1 = 1 - 2 / (9.0 * a)
        denom = 1 + x * np.sqrt(2 / (a - 4.0))
        term2 = np.sign(denom) * np.cbrt((1 - 2.0 / a) / np.abs(denom))
        return (term1 - term2) / np.sqrt(2 / (9.0 * a))


def _national_bootstrap(
    x: np.ndarray, n_bootstrap: int, rng: np.random.Generator
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Bootstrap CIs of skewness and kurtosis from 0.1-point bins (multinomial draws)."""
    lo, hi = float(np.min(x)), float(np.max(x))
    edges = np.linspace(lo, hi + 1e-12, 1001)
    counts, _ = np.histogram(x, edges)
    centers = (edges[:-1] + edges[1:]) / 2
    n = counts.sum()
    draws = rng.multinomial(n, counts / n, size=n_bootstrap).astype(np.float64)
    mean = draws @ centers / n
    d = centers[None, :] - mean[:, None]
    m2 = (draws * d**2).sum(axis=1) / n
    m3 = (draws * d**3).sum(axis=1) / n
    m4 = (draws * d**4).sum(axis=1) / n
    skew_b, kurt_b = m3 / m2**1.5, m4 / m2**2
    # binned statistic of the observed sample, to centre the bootstrap on the raw one
    w = counts / n
    mu = w @ centers
    c2 = w @ (centers - mu) ** 2
    skew0 = (w @ (centers - mu) ** 3) / c2**1.5
    kurt0 = (w @ (centers - mu) ** 4) / c2**2
    return (
        (float(np.quantile(skew_b, 0.025) - skew0), float(np.quantile(skew_b, 0.975) - skew0)),
        (float(np.quantile(kurt_b, 0.025) - kurt0), float(np.quantile(kurt_b, 0.975) - kurt0)),
    )


def turnout_shape_tests(
    turnout: np.ndarray,
    groups: AreaGroups,
    *,
    n_bootstrap: int = 1000,
    rng: np.random.Generator | None = None,
    min_n: int = 20,
    subject: str = "station turnout",
) -> list[TestResult]:
    """Skewness, kurtosis and Hartigan's dip test of turnout in every area."""
    import diptest

    rng = rng or np.random.default_rng(0)
    ok = np.isfinite(turnout)
    x = turnout[ok]
    sub = AreaGroups(groups.level, groups.codes[ok], groups.names)
    n, skew, kurt = group_moments(x, sub)
    zs, zk = skew_z(skew, n), kurtosis_z(kurt, n)
    ps, pk = 2 * stats.norm.sf(np.abs(zs)), 2 * stats.norm.sf(np.abs(zk))
    boot = None
    if groups.n_groups == 1 and n_bootstrap > 0 and x.size >= min_n:
        boot = _national_bootstrap(x, n_bootstrap, rng)
    order = np.argsort(sub.codes, kind="stable")
    xs = x[order]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(sub.codes, minlength=sub.n_groups))])
    out: list[TestResult] = []
    for i, area in enumerate(groups.names):
        if n[i] < min_n:
            continue
        ni = int(n[i])
        for test, stat, null, p, j in (
            ("turnout_skewness", skew[i], 0.0, ps[i], 0),
            ("turnout_kurtosis", kurt[i], 3.0, pk[i], 1),
        ):
            lo = hi = None
            method = "D'Agostino / Anscombe-Glynn normal approximation (p-value only)"
            if boot is not None:
                lo, hi = stat + boot[j][0], stat + boot[j][1]
                method = f"bootstrap ({n_bootstrap} multinomial resamples, 0.1-point bins)"
            name = "skewness" if j == 0 else "kurtosis"
            out.append(
                TestResult(
                    test=test,
                    level=groups.level,
                    area=area,
                    subject=subject,
                    statistic=float(stat),
                    null_value=null,
                    p_value=float(p),
                    ci_low=lo,
                    ci_high=hi,
                    n=ni,
                    reading=f"turnout {name} {fmt(stat, 2)} vs {null:g} for a normal shape "
                    f"({fmt_p(p)}, n={ni:,}); descriptive: clean turnout need not be "
                    "normal",
                    details={"ci_method": method},
                )
            )
        seg = xs[bounds[i] : bounds[i + 1]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dip, pdip = diptest.diptest(seg)
        out.append(
            TestResult(
                test="turnout_dip",
                level=groups.level,
                area=area,
                subject=subject,
                statistic=float(dip),
                null_value=None,
                p_value=float(pdip),
                ci_low=None,
                ci_high=None,
                n=ni,
                reading=f"Hartigan dip {dip:.4f} ({fmt_p(pdip)}, n={ni:,}): turnout "
                + ("is multimodal" if pdip < 0.05 else "is consistent with one mode"),
                details={
                    "method": "Hartigan & Hartigan (1985), diptest package"
                    + ("; n > 72,000: table p-value extrapolated" if ni > 72000 else "")
                },
            )
        )
    return out
