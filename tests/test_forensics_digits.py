"""Digit tests (2BL, last digit, C05s, P05s) against closed-form and hand-computed values."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from electwatch.forensics import (
    BENFORD_2ND,
    BENFORD_2ND_MEAN,
    BENFORD_2ND_VAR,
    c05s_test,
    last_digit,
    last_digit_tests,
    national_groups,
    p05s_test,
    second_digit,
    second_digit_test,
)
from electwatch.forensics.areas import AreaGroups
from electwatch.forensics.digits import MAX_BOOTSTRAP_GROUPS


def benford_second_digit_law() -> np.ndarray:
    """P(second digit = d) from Benford's law on the first two digits (10..99).

    P(first two digits = n) = log10(1 + 1/n); the second digit is n mod 10.
    """
    p = np.zeros(10)
    for n in range(10, 100):
        p[n % 10] += math.log10(1 + 1 / n)
    return p


def test_benford_second_digit_law_and_moments() -> None:
    law = benford_second_digit_law()
    assert law.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(BENFORD_2ND, law, atol=1e-12)
    # published values (Mebane 2006; SPEC reference facts)
    assert law[0] == pytest.approx(0.1197, abs=5e-5)
    assert law[9] == pytest.approx(0.0850, abs=5e-5)
    mean = float(law @ np.arange(10))
    var = float(law @ np.arange(10) ** 2 - mean**2)
    assert round(mean, 3) == 4.187
    assert round(var, 3) == 8.254
    assert abs(BENFORD_2ND_MEAN - mean) < 1e-12
    assert abs(BENFORD_2ND_VAR - var) < 1e-12


def test_benford_sample_has_the_second_digit_mean() -> None:
    # a scale-invariant (log-uniform over 5 decades) sample obeys Benford's law
    rng = np.random.default_rng(7)
    x = np.floor(10 ** rng.uniform(3, 8, 400_000)).astype(np.int64)
    res = second_digit_test(x, national_groups(x.size), n_bootstrap=0)[0]
    assert res.statistic == pytest.approx(BENFORD_2ND_MEAN, abs=0.02)
    assert res.p_value is not None and res.p_value > 0.001


def test_second_digit_extraction_uses_integers() -> None:
    x = np.array([10, 11, 19, 20, 99, 100, 123, 1000, 98765, 10**15 + 7 * 10**14, 2**62])
    expected = [0, 1, 9, 0, 9, 0, 2, 0, 8, 7, int(str(2**62)[1])]
    assert second_digit(x).tolist() == expected
    # 1e+17-style float strings would give the wrong digit here
    assert second_digit(np.array([10**17 + 3 * 10**16]))[0] == 3
    with pytest.raises(ValueError):
        second_digit(np.array([9, 12]))
    assert last_digit(np.array([0, 7, 10, 123, 98765])).tolist() == [0, 7, 0, 3, 5]


def test_second_digit_test_excludes_counts_below_ten_and_bad_values() -> None:
    counts = np.array([5, 9, 10, 25, 37, np.nan, -4.0])
    res = second_digit_test(counts, national_groups(counts.size), n_bootstrap=0)
    assert len(res) == 1
    r = res[0]
    assert r.n == 3  # 10, 25, 37
    assert r.statistic == pytest.approx((0 + 5 + 7) / 3)
    z = (r.statistic - BENFORD_2ND_MEAN) / math.sqrt(BENFORD_2ND_VAR / 3)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert r.null_value == pytest.approx(4.187, abs=5e-4)
    assert r.details["digit_counts"] == [1, 0, 0, 0, 0, 1, 0, 1, 0, 0]
    assert "second-digit mean" in r.reading


def test_last_digit_chi_square_matches_scipy() -> None:
    # hand-made digit counts: digit d appears freq[d] times, on counts >= 10
    freq = np.array([30, 12, 18, 25, 20, 35, 16, 22, 10, 12])
    digits = np.repeat(np.arange(10), freq)
    counts = 10 * np.arange(1, digits.size + 1) + digits  # all >= 10, last digit = digit
    res = last_digit_tests(counts, national_groups(counts.size), n_bootstrap=0)
    by = {r.test: r for r in res}
    chi = stats.chisquare(freq)
    assert by["last_digit_chi2"].statistic == pytest.approx(chi.statistic)
    assert by["last_digit_chi2"].p_value == pytest.approx(chi.pvalue)
    assert by["last_digit_chi2"].n == freq.sum()
    mean = (freq @ np.arange(10)) / freq.sum()
    assert by["last_digit_mean"].statistic == pytest.approx(mean)
    z = (mean - 4.5) / math.sqrt(8.25 / freq.sum())
    assert by["last_digit_mean"].p_value == pytest.approx(2 * stats.norm.sf(abs(z)))


def test_last_digit_excludes_small_counts() -> None:
    counts = np.array([3, 7, 9, 10, 15, 22])
    res = last_digit_tests(counts, national_groups(counts.size), n_bootstrap=0)
    assert all(r.n == 3 for r in res)
    res5 = last_digit_tests(counts, national_groups(counts.size), min_count=5, n_bootstrap=0)
    assert all(r.n == 5 for r in res5)


def test_c05s_on_hand_array() -> None:
    counts = np.array([10, 15, 23, 40, 7, 55, 101, 12, 38, 99])  # 7 excluded (< 10)
    r = c05s_test(counts, national_groups(counts.size), n_bootstrap=0)[0]
    assert r.n == 9
    assert r.details["hits"] == 4  # 10, 15, 40, 55
    assert r.statistic == pytest.approx(4 / 9)
    # two-sided mid-p: the observed count's probability counts half in each tail
    half = 0.5 * stats.binom.pmf(4, 9, 0.2)
    p_hand = min(1.0, 2 * min(stats.binom.cdf(4, 9, 0.2) - half, stats.binom.sf(4, 9, 0.2) + half))
    assert r.p_value == pytest.approx(p_hand)
    assert r.null_value == 0.2


def test_p05s_rounds_half_up_with_integers() -> None:
    num = np.array([50, 33, 1, 3, 5, 9, 199, 50, 120, 100, 7])
    den = np.array([100, 100, 200, 200, 200, 200, 1000, 99, 100, 1000, 140])
    # den 99 is below the minimum denominator, 120 > 100 is impossible
    keep = (den >= 100) & (num <= den)

    def pct(n: int, d: int) -> int:  # round half up, exact
        return math.floor(Fraction(100 * n, d) + Fraction(1, 2))

    pcts = [pct(n, d) for n, d in zip(num[keep], den[keep], strict=True)]
    assert pcts == [50, 33, 1, 2, 3, 5, 20, 10, 5]  # 0.5 -> 1, 4.5 -> 5, 19.9 -> 20
    hits = sum(p % 5 == 0 for p in pcts)
    r = p05s_test(num, den, national_groups(num.size), n_bootstrap=0)[0]
    assert r.n == keep.sum() == 9
    assert r.details["hits"] == hits == 5
    assert r.statistic == pytest.approx(5 / 9)


def test_bootstrap_interval_covers_the_statistic_and_is_seeded() -> None:
    rng = np.random.default_rng(3)
    counts = rng.integers(10, 5000, 3000)
    g = national_groups(counts.size)
    a = second_digit_test(counts, g, n_bootstrap=400, rng=np.random.default_rng(1))[0]
    b = second_digit_test(counts, g, n_bootstrap=400, rng=np.random.default_rng(1))[0]
    assert a.ci_low is not None and a.ci_high is not None
    assert a.ci_low < a.statistic < a.ci_high
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert a.details["ci_method"].startswith("bootstrap")
    # half-width ~ 1.96 sd of the mean of the observed digits
    sd = math.sqrt(np.var(second_digit(counts)) / counts.size)
    assert (a.ci_high - a.ci_low) / 2 == pytest.approx(1.96 * sd, rel=0.15)


def test_per_area_results_equal_separate_runs_and_many_areas_use_normal_ci() -> None:
    rng = np.random.default_rng(5)
    counts = rng.integers(10, 3000, 2000)
    codes = rng.integers(0, 3, counts.size)
    g = AreaGroups("region", codes, ["A", "B", "C"])
    res = last_digit_tests(counts, g, n_bootstrap=0)
    for k, name in enumerate(g.names):
        alone = last_digit_tests(counts[codes == k], national_groups(int((codes == k).sum())))
        mine = [r for r in res if r.area == name]
        assert [r.test for r in mine] == [r.test for r in alone]
        for r, s in zip(mine, alone, strict=True):
            assert r.statistic == pytest.approx(s.statistic)
            assert r.p_value == pytest.approx(s.p_value)
            assert r.level == "region"
    many = MAX_BOOTSTRAP_GROUPS + 1
    gm = AreaGroups("district", np.arange(counts.size) % many, [str(i) for i in range(many)])
    r0 = c05s_test(counts, gm, n_bootstrap=100)[0]
    assert r0.details["ci_method"].startswith("normal")
    assert r0.ci_low is not None and r0.ci_low <= r0.statistic <= r0.ci_high


def test_pooled_and_adjacent_digit_tests_by_hand() -> None:
    from electwatch.forensics import adjacent_digits_test, pooled_last_digit_test

    votes = np.array([[17, 23], [12, 45], [99, 90], [5, 100]])
    g = national_groups(4)
    pooled = pooled_last_digit_test(votes, g)[0]
    # counts >= 10: 17, 23, 12, 45, 99, 90, 100 -> last digits 7, 3, 2, 5, 9, 0, 0
    assert pooled.n == 7
    assert pooled.details["digit_counts"] == [2, 0, 1, 1, 0, 1, 0, 1, 0, 1]
    expected = np.full(10, 0.7)
    chi2 = ((np.array(pooled.details["digit_counts"]) - expected) ** 2 / expected).sum()
    assert pooled.statistic == pytest.approx(chi2)
    adj = adjacent_digits_test(votes, g)[0]
    # last two digits: 17 no, 23 adj, 12 adj, 45 adj, 99 repeat, 90 adj (0 and 9), 00 repeat
    assert adj.n == 7 and adj.details["non_adjacent"] == 1
    assert adj.details["adjacent_strict"] == 4 and adj.details["repeated"] == 2


@pytest.mark.realdata
def test_beber_scacco_iran_2009_on_the_shared_province_table(iran_2009_path) -> None:
    """Beber & Scacco, "The Devil Is in the Digits", Washington Post, 20 June 2009:
    on the four candidates' counts in 29 provinces (116 numbers) the digit 7 ends
    17% of them and 5 only 4%; 62% have non-adjacent last two digits against ~70%
    expected; P(a spike >= 17% and a dip <= 4%) < 4 in 100 and P(non-adjacent share
    this low) < 4.2%. The shared table has 30 provinces (120 numbers; which province
    they left out is not stated), so the figures are close, not equal (docs)."""
    from electwatch.data import load_results
    from electwatch.forensics import run_battery

    rep = run_battery(load_results(iran_2009_path), n_bootstrap=0, n_mc=0, klimek=False)
    pooled = rep.get("pooled_last_digit_chi2")
    assert pooled.n == 120
    shares = pooled.details["digit_shares"]
    assert (
        pooled.details["most_frequent_digit"] == 7 and pooled.details["least_frequent_digit"] == 5
    )
    assert shares[7] == pytest.approx(19 / 120) and abs(shares[7] - 0.17) < 0.015
    assert shares[5] == pytest.approx(5 / 120) and abs(shares[5] - 0.04) < 0.005
    # the joint spike-and-dip probability: theirs "fewer than four in a hundred" at
    # 17%/4% of 116; ours 6.39% at 15.8%/4.2% of 120 (a smaller spike), now exact
    # (tests/test_forensics_beber_scacco.py reproduces their 3.49% exactly)
    assert pooled.details["p_extremes"] == pytest.approx(0.0638691, abs=5e-8)
    adj = rep.get("adjacent_digits")
    assert adj.statistic == pytest.approx(76 / 120)  # 63.3% against their 62%
    assert adj.null_value == 0.70
    assert adj.details["p_at_most"] < 0.1  # theirs < 0.042 at 62% of 116
