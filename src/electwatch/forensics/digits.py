"""Digit tests on vote counts.

* 2BL, second-digit mean (Mebane, "Election forensics: vote counts and Benford's
  law", 2006; "Election Forensics Toolkit", 2015): under Benford's law the second
  significant digit d has P(d) = sum_{k=1..9} log10(1 + 1/(10k + d)), mean 4.187,
  variance 8.254. Counts < 10 have no second digit and are excluded.
* Last digit (Beber & Scacco, "What the numbers say: a digit-based test for
  election fraud", Political Analysis 20(2):211-234, 2012): last digits of counts
  are uniform (mean 4.5, variance 8.25); tested by the mean and by Pearson's
  chi-square with 9 degrees of freedom. Counts below ``min_count`` (10) are
  excluded because their last digit is not uniform.
* C05s / P05s (Mebane's toolkit): the share of counts, and of rounded integer
  percentages, ending in 0 or 5; null 0.2.

Digits are extracted from integers with integer arithmetic, never from float strings.
Bootstrap intervals resample the digit frequencies (a multinomial draw with the
observed frequencies is exactly a nonparametric bootstrap of a statistic that only
depends on the digits); for levels with many areas an asymptotic interval is used.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

from electwatch.forensics.areas import AreaGroups
from electwatch.forensics.types import TestResult, fmt, fmt_p

_DIGITS = np.arange(10, dtype=np.float64)
_POW10 = 10 ** np.arange(19, dtype=np.int64)

#: Benford's second-digit law
BENFORD_2ND = np.array([np.sum(np.log10(1 + 1 / (10 * np.arange(1, 10) + d))) for d in range(10)])
BENFORD_2ND_MEAN = float(BENFORD_2ND @ _DIGITS)  # 4.187
BENFORD_2ND_VAR = float(BENFORD_2ND @ _DIGITS**2 - BENFORD_2ND_MEAN**2)  # 8.254
UNIFORM = np.full(10, 0.1)
LAST_MEAN = 4.5
LAST_VAR = 8.25

#: areas above this many at one level get asymptotic instead of bootstrap intervals
MAX_BOOTSTRAP_GROUPS = 200


def n_digits(x: np.ndarray) -> np.ndarray:
    """Number of decimal digits of positive integers (integer arithmetic)."""
    return np.searchsorted(_POW10, np.asarray(x, dtype=np.int64), side="right")


def second_digit(x: np.ndarray) -> np.ndarray:
    """Second significant digit of integers >= 10."""
    x = np.asarray(x, dtype=np.int64)
    if np.any(x < 10):
        raise ValueError("second digit needs integers >= 10")
    return (x // _POW10[n_digits(x) - 2]) % 10


def last_digit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.int64) % 10


def _as_counts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer counts and the mask of usable (finite, non-negative) entries."""
    xf = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(xf) & (xf >= 0)
    xi = np.zeros(xf.shape, dtype=np.int64)
    xi[ok] = np.rint(xf[ok]).astype(np.int64)
    return xi, ok


def digit_table(digits: np.ndarray, groups: AreaGroups, mask: np.ndarray) -> np.ndarray:
    """G x 10 table of digit frequencies per area."""
    return np.bincount(
        groups.codes[mask] * 10 + digits[mask], minlength=groups.n_groups * 10
    ).reshape(groups.n_groups, 10)


def bootstrap_mean_ci(
    table: np.ndarray,
    values: np.ndarray,
    n_bootstrap: int,
    rng: np.random.Generator,
    level: float = 0.95,
    chunk: int = 250,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Percentile CI of the mean of a discrete variable per area.

    ``table`` is G x K frequencies. With few areas each bootstrap replicate is a
    multinomial draw of the area's n from its observed frequencies; with many
    areas (or ``n_bootstrap == 0``) a normal interval with the plug-in variance.
    """
    n = table.sum(axis=1)
    g = table.shape[0]
    lo = np.full(g, np.nan)
    hi = np.full(g, np.nan)
    ok = n > 0
    if not ok.any():
        return lo, hi, "none"
    p = table[ok] / n[ok, None]
    mean = p @ values
    q = (1 - level) / 2
    if n_bootstrap > 0 and g <= MAX_BOOTSTRAP_GROUPS:
        reps = []
        for start in range(0, n_bootstrap, chunk):
            b = min(chunk, n_bootstrap - start)
            draws = rng.multinomial(n[ok], p, size=(b, int(ok.sum())))
            reps.append(draws @ values / n[ok])
        boot = np.concatenate(reps, axis=0)
        lo[ok], hi[ok] = np.quantile(boot, [q, 1 - q], axis=0)
        return lo, hi, f"bootstrap ({n_bootstrap} multinomial resamples of digit frequencies)"
    var = p @ values**2 - mean**2
    z = stats.norm.ppf(1 - q)
    half = z * np.sqrt(var / n[ok])
    lo[ok], hi[ok] = mean - half, mean + half
    return lo, hi, "normal approximation (many areas)"


def _mean_tests(
    test: str,
    subject: str,
    table: np.ndarray,
    groups: AreaGroups,
    null_mean: float,
    null_var: float,
    n_bootstrap: int,
    rng: np.random.Generator,
    label: str,
) -> list[TestResult]:
    n = table.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = table @ _DIGITS / n
        z = (mean - null_mean) / np.sqrt(null_var / n)
    p = 2 * stats.norm.sf(np.abs(z))
    lo, hi, method = bootstrap_mean_ci(table, _DIGITS, n_bootstrap, rng)
    out = []
    for i, area in enumerate(groups.names):
        if n[i] == 0:
            continue
        dev = "deviates from" if p[i] < 0.05 else "is consistent with"
        reading = (
            f"{label} {fmt(mean[i])} vs {null_mean:.3f} expected (95% CI "
            f"{fmt(lo[i])}-{fmt(hi[i])}, {fmt_p(p[i])}, n={n[i]:,}): {dev} the null"
        )
        out.append(
            TestResult(
                test=test,
                level=groups.level,
                area=area,
                subject=subject,
                statistic=float(mean[i]),
                null_value=null_mean,
                p_value=float(p[i]),
                ci_low=float(lo[i]),
                ci_high=float(hi[i]),
                n=int(n[i]),
                reading=reading,
                details={"z": float(z[i]), "ci_method": method, "digit_counts": table[i].tolist()},
            )
        )
    return out


def second_digit_test(
    counts: np.ndarray,
    groups: AreaGroups,
    *,
    subject: str = "counts",
    n_bootstrap: int = 1000,
    rng: np.random.Generator | None = None,
) -> list[TestResult]:
    """2BL test: mean of second digits vs Benford's 4.187 (Mebane 2006); counts < 10 out."""
    rng = rng or np.random.default_rng(0)
    x, ok = _as_counts(counts)
    ok &= x >= 10
    d = np.zeros_like(x)
    d[ok] = second_digit(x[ok])
    table = digit_table(d, groups, ok)
    return _mean_tests(
        "2bl_second_digit_mean",
        subject,
        table,
        groups,
        BENFORD_2ND_MEAN,
        BENFORD_2ND_VAR,
        n_bootstrap,
        rng,
        "second-digit mean",
    )


def last_digit_tests(
    counts: np.ndarray,
    groups: AreaGroups,
    *,
    subject: str = "counts",
    min_count: int = 10,
    n_bootstrap: int = 1000,
    rng: np.random.Generator | None = None,
) -> list[TestResult]:
    """Last-digit mean (null 4.5) and chi-square uniformity (Beber & Scacco 2012)."""
    rng = rng or np.random.default_rng(0)
    x, ok = _as_counts(counts)
    ok &= x >= min_count
    table = digit_table(last_digit(x), groups, ok)
    out = _mean_tests(
        "last_digit_mean",
        subject,
        table,
        groups,
        LAST_MEAN,
        LAST_VAR,
        n_bootstrap,
        rng,
        "last-digit mean",
    )
    n = table.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = n[:, None] * 0.1
        chi2 = ((table - expected) ** 2 / expected).sum(axis=1)
    p = stats.chi2.sf(chi2, 9)
    for i, area in enumerate(groups.names):
        if n[i] == 0:
            continue
        dev = "not uniform" if p[i] < 0.05 else "consistent with uniform"
        small = " (n < 50: chi-square approximate)" if n[i] < 50 else ""
        out.append(
            TestResult(
                test="last_digit_chi2",
                level=groups.level,
                area=area,
                subject=subject,
                statistic=float(chi2[i]),
                null_value=9.0,
                p_value=float(p[i]),
                ci_low=None,
                ci_high=None,
                n=int(n[i]),
                reading=f"last digits chi-square {chi2[i]:.1f} on 9 df ({fmt_p(p[i])}, "
                f"n={n[i]:,}): {dev}{small}",
                details={"df": 9, "digit_counts": table[i].tolist(), "min_count": min_count},
            )
        )
    return out


def binomial_mid_p(k: np.ndarray, n: np.ndarray, null: float) -> np.ndarray:
    """Two-sided mid-p value of a binomial count: twice the smaller tail with half the
    probability of the observed count (Lancaster 1961, JASA 56:223-234; Agresti 2013,
    Categorical Data Analysis, 1.4.5). The exact test (whole point probability in the
    tail) is conservative at small n: at the 50-count minimum of C05s it rejected
    1.7-2.3% of clean simulated areas at the 5% level, the mid-p 3-6%
    (docs/forensics-fpr.md)."""
    k = np.asarray(k)
    n = np.asarray(n)
    point = stats.binom.pmf(k, n, null)
    lower = stats.binom.cdf(k, n, null) - 0.5 * point
    upper = stats.binom.sf(k, n, null) + 0.5 * point
    return np.minimum(1.0, 2 * np.minimum(lower, upper))


def round_percent(num: np.ndarray, den: np.ndarray, rounding: str = "half_up") -> np.ndarray:
    """round(100 num / den) with integers: ``half_up`` or ``half_even`` (R's round)."""
    up = (200 * num + den) // (2 * den)
    if rounding == "half_up":
        return up
    if rounding != "half_even":
        raise ValueError(f"rounding must be 'half_up' or 'half_even', not {rounding!r}")
    tie = (200 * num + den) % (2 * den) == 0  # exactly halfway: 100 num / den = k + 1/2
    return np.where(tie & (up % 2 == 1), up - 1, up)


def _share_test(
    test: str,
    subject: str,
    hits: np.ndarray,
    mask: np.ndarray,
    groups: AreaGroups,
    null: float,
    n_bootstrap: int,
    rng: np.random.Generator,
    label: str,
    details: dict[str, object],
) -> list[TestResult]:
    k = groups.counts(mask & hits)
    n = groups.counts(mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = k / n
    p = binomial_mid_p(k, n, null)
    table = np.stack([n - k, k], axis=1)
    lo, hi, method = bootstrap_mean_ci(table, np.array([0.0, 1.0]), n_bootstrap, rng)
    out = []
    for i, area in enumerate(groups.names):
        if n[i] == 0:
            continue
        dev = "deviates from" if p[i] < 0.05 else "is consistent with"
        out.append(
            TestResult(
                test=test,
                level=groups.level,
                area=area,
                subject=subject,
                statistic=float(share[i]),
                null_value=null,
                p_value=float(p[i]),
                ci_low=float(lo[i]),
                ci_high=float(hi[i]),
                n=int(n[i]),
                reading=f"{label} {share[i]:.3f} vs {null} expected (95% CI {fmt(lo[i])}-"
                f"{fmt(hi[i])}, {fmt_p(p[i])}, n={n[i]:,}): {dev} the null",
                details={"ci_method": method, "hits": int(k[i]), **details},
            )
        )
    return out


def c05s_test(
    counts: np.ndarray,
    groups: AreaGroups,
    *,
    subject: str = "counts",
    min_count: int = 10,
    n_bootstrap: int = 1000,
    rng: np.random.Generator | None = None,
) -> list[TestResult]:
    """C05s: share of counts ending in 0 or 5 (Mebane's toolkit; null 0.2)."""
    rng = rng or np.random.default_rng(0)
    x, ok = _as_counts(counts)
    ok &= x >= min_count
    hits = (x % 5) == 0
    return _share_test(
        "c05s",
        subject,
        hits,
        ok,
        groups,
        0.2,
        n_bootstrap,
        rng,
        "share of counts ending in 0/5",
        {"min_count": min_count},
    )


def p05s_test(
    numerator: np.ndarray,
    denominator: np.ndarray,
    groups: AreaGroups,
    *,
    subject: str = "percentages",
    min_denominator: int = 100,
    rounding: str = "half_up",
    n_bootstrap: int = 1000,
    rng: np.random.Generator | None = None,
) -> list[TestResult]:
    """P05s: share of rounded integer percentages ending in 0 or 5 (Mebane; null 0.2).

    Percentages are 100 * numerator / denominator rounded with integer arithmetic,
    half up by default or half to even (``rounding="half_even"``, R's ``round()``, as
    in EFToolkit); denominators below ``min_denominator`` are excluded because small
    denominators make some percentages much more likely than others (EFToolkit keeps
    every positive denominator: ``min_denominator=1``).
    """
    rng = rng or np.random.default_rng(0)
    num, ok1 = _as_counts(numerator)
    den, ok2 = _as_counts(denominator)
    ok = ok1 & ok2 & (den >= max(min_denominator, 1)) & (num <= den)
    safe = np.where(ok, den, 1)
    pct = round_percent(num, safe, rounding)
    hits = (pct % 5) == 0
    return _share_test(
        "p05s",
        subject,
        hits,
        ok,
        groups,
        0.2,
        n_bootstrap,
        rng,
        "share of percentages ending in 0/5",
        {"min_denominator": min_denominator},
    )


def _usable_matrix(votes: np.ndarray, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(votes, dtype=np.float64)
    x = x.reshape(x.shape[0], -1)
    ok = np.isfinite(x) & (x >= min_count)
    xi = np.where(ok, np.rint(np.nan_to_num(x)), 0).astype(np.int64)
    return xi, ok


@functools.lru_cache(maxsize=4096)
def extremes_probability(n: int, most: int, least: int, runs: int = 100_000) -> float:
    """P(the most frequent of n uniform last digits occurs >= ``most`` times and the least
    frequent <= ``least`` times): Beber & Scacco's (2009) joint probability of a spike
    and a dip, exact up to 5,000 counts
    (:func:`electwatch.forensics.digit_patterns.spike_dip_probability`), beyond by Monte
    Carlo with a fixed seed (the same answer on every run)."""
    from electwatch.forensics.digit_patterns import (
        EXACT_FLOAT_MAX,
        spike_dip_probability,
        spike_dip_probability_mc,
    )

    if n <= EXACT_FLOAT_MAX:
        return spike_dip_probability(n, most, least)
    return spike_dip_probability_mc(n, most, least, runs=runs, seed=20090620)[0]


def pooled_last_digit_test(
    votes: np.ndarray,
    groups: AreaGroups,
    *,
    min_count: int = 10,
    subject: str = "every candidate's votes, pooled",
) -> list[TestResult]:
    """Beber & Scacco's pooled test: last digits of all candidates' counts, pooled.

    Beber & Scacco, "What the numbers say", Political Analysis 20(2):211-234 (2012);
    on Iran 2009 ("The Devil Is in the Digits", Washington Post, 20 June 2009) they
    pooled the four candidates' counts over the provinces (116 numbers). Pearson's
    chi-square against uniform digits, 9 df; details give each digit's share and the
    exact binomial p-value of the rarest and the most frequent digit.
    """
    x, ok = _usable_matrix(votes, min_count)
    codes = np.repeat(groups.codes[:, None], x.shape[1], axis=1)
    table = np.bincount(
        (codes[ok] * 10 + x[ok] % 10).ravel(), minlength=groups.n_groups * 10
    ).reshape(groups.n_groups, 10)
    n = table.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = n[:, None] * 0.1
        chi2 = ((table - expected) ** 2 / expected).sum(axis=1)
    p = stats.chi2.sf(chi2, 9)
    hi_all = np.argmax(table, axis=1)
    lo_all = np.argmin(table, axis=1)
    rows = np.arange(groups.n_groups)
    p_hi = stats.binom.sf(table[rows, hi_all] - 1, n, 0.1)
    p_lo = stats.binom.cdf(table[rows, lo_all], n, 0.1)
    out = []
    for i, area in enumerate(groups.names):
        if n[i] == 0:
            continue
        share = table[i] / n[i]
        lo_d, hi_d = int(lo_all[i]), int(hi_all[i])
        out.append(
            TestResult(
                test="pooled_last_digit_chi2",
                level=groups.level,
                area=area,
                subject=subject,
                statistic=float(chi2[i]),
                null_value=9.0,
                p_value=float(p[i]),
                ci_low=None,
                ci_high=None,
                n=int(n[i]),
                reading=(
                    f"pooled last digits chi-square {chi2[i]:.1f} on 9 df ({fmt_p(p[i])}, "
                    f"n={n[i]:,}); digit {hi_d} {share[hi_d]:.1%}, digit {lo_d} "
                    f"{share[lo_d]:.1%} (10% expected)"
                ),
                details={
                    "df": 9,
                    "digit_counts": table[i].tolist(),
                    "digit_shares": share.tolist(),
                    "min_count": min_count,
                    "most_frequent_digit": hi_d,
                    "p_most_frequent_at_least": float(p_hi[i]),
                    "least_frequent_digit": lo_d,
                    "p_least_frequent_at_most": float(p_lo[i]),
                    # Monte Carlo at the national level only (~0.05 s each), where the
                    # chi-square's minimum of 50 counts holds
                    "p_extremes": extremes_probability(
                        int(n[i]), int(table[i, hi_d]), int(table[i, lo_d])
                    )
                    if n[i] >= 50 and groups.n_groups == 1
                    else None,
                    "p_extremes_method": (
                        "exact enumeration of the multinomial"
                        if n[i] <= 5000
                        else "Monte Carlo (100,000 fair elections of n uniform digits)"
                    )
                    + ": P(some digit >= the observed maximum and some digit <= the "
                    "observed minimum), Beber & Scacco 2009",
                },
            )
        )
    return out


#: share of counts whose last two digits are neither equal nor neighbours (0 and 9
#: count as neighbours, as in Beber & Scacco's test): 70 of the 100 ordered pairs
NON_ADJACENT_NULL = 0.70


def is_non_adjacent(last: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Where a count's last two digits are neither equal nor neighbours, 0 and 9
    neighbouring (Beber & Scacco 2009): the one pair rule of the adjacency tests."""
    gap = np.abs(last - second)
    return (gap >= 2) & (gap <= 8)


def adjacent_digits_test(
    votes: np.ndarray,
    groups: AreaGroups,
    *,
    min_count: int = 10,
    subject: str = "every candidate's votes, pooled",
) -> list[TestResult]:
    """Beber & Scacco's adjacent-digit test on the last two digits of counts >= 10.

    People inventing numbers favour pairs of adjacent digits; in fair counts the last
    two digits are independent and uniform, so 70% of counts have non-adjacent last
    two digits (the pair is neither a repeat nor neighbours, 0 and 9 neighbouring:
    70 of the 100 pairs; Beber & Scacco, Washington Post 20 June 2009: "about 70
    percent"). Statistic: that share; p-value: two-sided binomial mid-p against
    0.70, and in ``details`` the one-sided exact P(share <= observed) they quote.
    """
    x, ok = _usable_matrix(votes, min_count)
    a, b = (x // 10) % 10, x % 10
    gap = np.abs(a - b)
    codes = np.repeat(groups.codes[:, None], x.shape[1], axis=1)
    n = np.bincount(codes[ok], minlength=groups.n_groups)
    k = np.bincount(codes[ok & is_non_adjacent(a, b)], minlength=groups.n_groups)
    null = NON_ADJACENT_NULL
    p = binomial_mid_p(k, n, null)
    strict = np.bincount(codes[ok & ((gap == 1) | (gap == 9))], minlength=groups.n_groups)
    p_at_most = stats.binom.cdf(k, n, null)
    out = []
    for i, area in enumerate(groups.names):
        if n[i] == 0:
            continue
        share = k[i] / n[i]
        out.append(
            TestResult(
                test="adjacent_digits",
                level=groups.level,
                area=area,
                subject=subject,
                statistic=float(share),
                null_value=null,
                p_value=float(p[i]),
                ci_low=None,
                ci_high=None,
                n=int(n[i]),
                reading=(
                    f"{share:.1%} of counts have non-adjacent last two digits vs "
                    f"{null:.0%} expected ({fmt_p(p[i])}, n={n[i]:,})"
                ),
                details={
                    "non_adjacent": int(k[i]),
                    "adjacent_strict": int(strict[i]),
                    "repeated": int(n[i] - k[i] - strict[i]),
                    "p_at_most": float(p_at_most[i]),
                    "null_definition": "last two digits neither equal nor neighbours "
                    "(0 and 9 neighbours)",
                    "min_count": min_count,
                },
            )
        )
    return out
