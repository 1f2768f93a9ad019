"""Beber & Scacco's Iran 2009 digit tests (electwatch.forensics.digit_patterns).

Published figures (Beber & Scacco, "The Devil Is in the Digits", Washington Post,
20 June 2009): 116 counts (4 candidates x 29 provinces); the digit 7 ends 17% of them
(20 of 116: 19 would be 16.4%, 21 18.1%), 5 only 4% (5 of 116); 62% of the pairs of
last two digits are non-adjacent (72 of 116). "Fewer than four in a hundred" fair
elections give such a spike and dip; "less than 4.2 percent" so few non-adjacent pairs;
jointly "less than .005" in the op-ed, corrected to about 0.13% after Douglas Keenan's
e-mail (Discover Magazine, Discoblog, 22 June 2009). The shared province table
(../shared/data) has 30 provinces and gives different counts (docs/forensics.md).
"""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from electwatch.core.applicability import NotApplicable
from electwatch.forensics.digit_patterns import (
    BEBER_SCACCO_MIN,
    NON_ADJACENT_NULL,
    _prob_within_float,
    beber_scacco,
    beber_scacco_from_summary,
    joint_calibrated,
    spike_dip_probability,
    spike_dip_probability_exact,
    spike_dip_size,
)


@pytest.fixture(scope="module")
def published() -> object:
    return beber_scacco_from_summary(116, 20, 5, 72)


def test_published_spike_and_dip_exact(published) -> None:
    # exact rational: the numerator is an integer count of digit sequences of 10**116
    exact = spike_dip_probability_exact(116, 20, 5)
    assert isinstance(exact, Fraction) and (exact * 10**116).denominator == 1
    assert float(exact) == pytest.approx(0.0349391, abs=5e-8)
    assert published.p_spike_dip == float(exact)
    assert published.p_spike_dip < 0.04  # "fewer than four in a hundred"
    assert published.method == "exact enumeration, rational arithmetic"


def test_published_adjacency_and_joint(published) -> None:
    assert published.p_non_adjacent == pytest.approx(0.0410557, abs=5e-8)
    assert published.p_non_adjacent < 0.042  # "less than 4.2 percent"
    assert published.non_adjacent_share == pytest.approx(0.62, abs=0.005)  # "62 percent"
    # the joint probability is exactly the product (the second-to-last digit is
    # independent of the last one and 3 of its 10 values are adjacent or equal)
    assert published.p_joint == pytest.approx(0.00143445, abs=5e-9)
    # Keenan's corrected figure, "only .13 percent" (Discover), not the op-ed's ".005"
    assert 0.0013 < published.p_joint < 0.0015 and published.p_joint < 0.005
    # Monte Carlo (200,000 fair elections) agrees with the exact product
    assert published.mc_runs == 200_000
    assert published.p_joint_mc_se == pytest.approx(
        math.sqrt(published.p_joint_mc * (1 - published.p_joint_mc) / 200_000)
    )
    assert abs(published.p_joint_mc - published.p_joint) < 4 * published.p_joint_mc_se
    # Fisher's combination: chi-square on 4 df of -2 ln(product)
    assert published.p_fisher == pytest.approx(math.exp(-13.0934 / 2) * (1 + 13.0934 / 2), rel=1e-3)


def test_published_figures_are_not_calibrated_p_values(published) -> None:
    """Exactly: 8.3% of fair elections of 116 counts give a spike-and-dip probability
    <= 3.49%, and 1.9% a product <= 0.143%; "reject below 5%" has size 10.1%."""
    assert published.p_spike_dip_calibrated == pytest.approx(0.083281, abs=5e-6)
    assert published.p_joint_calibrated == pytest.approx(0.018750, abs=5e-6)
    assert spike_dip_size(116, 0.05) == pytest.approx(0.101165, abs=5e-6)
    # the product of two independent probabilities is below 5% in ~27% of elections
    assert joint_calibrated(116, 0.05) == pytest.approx(0.2665, abs=5e-4)


def test_spike_dip_size_against_simulation() -> None:
    """Known truth by simulation: 20,000 fair elections of 116 uniform digits."""
    rng = np.random.default_rng(7)
    d = rng.integers(0, 10, size=(20_000, 116))
    table = np.stack([(d == k).sum(axis=1) for k in range(10)], axis=1)
    p = np.array(
        [
            spike_dip_probability(116, int(a), int(b))
            for a, b in zip(table.max(1), table.min(1), strict=True)
        ]
    )
    size = float(np.mean(p <= 0.05))
    se = math.sqrt(size * (1 - size) / 20_000)
    assert abs(size - spike_dip_size(116, 0.05)) < 4 * se


def test_exact_enumeration_against_brute_force() -> None:
    """n = 10: every composition of 10 into ten digit counts, weighted by its
    multinomial coefficient (92,378 compositions)."""
    n = 10
    hits = {(2, 0): 0, (3, 0): 0, (3, 1): 0, (4, 0): 0}
    fact = [math.factorial(k) for k in range(n + 1)]
    for bars in itertools.combinations(range(n + 9), 9):
        counts = np.diff((-1, *bars, n + 9)) - 1
        ways = fact[n]
        for c in counts:
            ways //= fact[c]
        mx, mn = int(counts.max()), int(counts.min())
        for a, b in hits:
            if mx >= a and mn <= b:
                hits[(a, b)] += ways
    for (a, b), ways in hits.items():
        assert spike_dip_probability_exact(n, a, b) == Fraction(ways, 10**n)


def test_floating_point_enumeration_matches_the_rational_one() -> None:
    for n, a, b in [(116, 20, 5), (120, 19, 5), (300, 40, 20)]:
        exact = float(spike_dip_probability_exact(n, a, b))
        fp = (
            1
            - _prob_within_float(n, 0, a - 1)
            - _prob_within_float(n, b + 1, n)
            + _prob_within_float(n, b + 1, a - 1)
        )
        assert fp == pytest.approx(exact, abs=1e-12)
    # above the rational limit the floating-point recursion answers (closed form at
    # the edge: every digit at most n/10 + ... is certain, so P(max >= n/10) = 1)
    assert spike_dip_probability(500, 50, 50) == pytest.approx(1.0, abs=1e-12)


def test_non_adjacent_null_is_70_of_100_pairs() -> None:
    pairs = [(a, b) for a in range(10) for b in range(10)]
    non_adj = [p for p in pairs if abs(p[0] - p[1]) not in (0, 1, 9)]
    assert len(non_adj) / 100 == NON_ADJACENT_NULL == 0.70
    # given the last digit, exactly 7 of the 10 second-to-last digits are non-adjacent
    for b in range(10):
        assert sum(1 for a in range(10) if abs(a - b) not in (0, 1, 9)) == 7


def test_from_counts_equals_from_summary() -> None:
    """SYNTHETIC counts with known digits: 100 counts, last digits 0-9 ten times each
    except a spike of 7s and a dip of 5s; second-to-last digits chosen by hand."""
    last = [d for d in range(10) for _ in range(10)]
    last[50:56] = [7] * 6  # six of the ten fives become sevens: 16 sevens, 4 fives
    counts = np.array([1000 + 10 * ((d + 5) % 10) + d for d in last])  # all non-adjacent
    counts[:30] = [1000 + 10 * d + d for d in last[:30]]  # 30 repeated pairs
    r = beber_scacco(counts, mc_runs=0)
    assert r.n == 100 and r.digit_counts is not None and sum(r.digit_counts) == 100
    assert r.most_frequent_digit == 7 and r.most_frequent_count == 16
    assert r.least_frequent_digit == 5 and r.least_frequent_count == 4
    assert r.non_adjacent == 70 and r.n_pairs == 100
    s = beber_scacco_from_summary(100, 16, 4, 70, mc_runs=0)
    assert (r.p_spike_dip, r.p_non_adjacent, r.p_joint) == (
        s.p_spike_dip,
        s.p_non_adjacent,
        s.p_joint,
    )
    assert r.p_joint_mc is None and r.mc_runs == 0
    # counts below 10 and missing values are left out
    r2 = beber_scacco(np.concatenate([counts, [3, 9, np.nan]]), mc_runs=0)
    assert r2.n == 100 and r2.digit_counts == r.digit_counts


def test_applicability_and_to_dict(published) -> None:
    assert published.applicable and published.applicability is None
    small = beber_scacco_from_summary(40, 8, 1, 28, mc_runs=0)
    assert isinstance(small.applicability, NotApplicable)
    assert small.applicability.missing == "minimum_n" and small.applicability.n == 40
    assert small.applicability.minimum == BEBER_SCACCO_MIN and BEBER_SCACCO_MIN.n == 50
    assert "Cochran 1954" in small.applicability.reason
    # the minimum's reason quotes exact values: P(min <= 1) at 30, 40, 50 counts
    assert spike_dip_probability(30, 0, 1) == pytest.approx(0.93, abs=0.005)
    assert spike_dip_probability(40, 0, 1) == pytest.approx(0.61, abs=0.005)
    assert spike_dip_probability(50, 0, 1) == pytest.approx(0.31, abs=0.005)
    d = json.loads(json.dumps(published.to_dict()))
    assert d["test"] == "beber_scacco" and d["applicable"] is True
    assert d["p_spike_dip"] == published.p_spike_dip and d["minimum"]["n"] == 50
    assert json.loads(json.dumps(small.to_dict()))["applicability"]["missing"] == "minimum_n"
    with pytest.raises(ValueError):
        beber_scacco_from_summary(116, 5, 20, 72)
    with pytest.raises(ValueError):
        beber_scacco(np.array([1, 2, 3]))


# --- the shared province table ---------------------------------------------------------


@pytest.fixture(scope="module")
def iran_votes(iran_2009_path) -> np.ndarray:
    from electwatch.data import load_results

    r = load_results(iran_2009_path)
    assert r.candidates == ["Ahmadinejad", "Rezai", "Karrubi", "Mousavi"]
    return np.stack([r.votes(c) for c in r.candidates], axis=1)


@pytest.mark.realdata
def test_shared_table_figures(iran_votes) -> None:
    r = beber_scacco(iran_votes)
    assert r.n == 120 and r.n_pairs == 120
    assert r.most_frequent_digit == 7 and r.most_frequent_count == 19
    assert r.least_frequent_digit == 5 and r.least_frequent_count == 5
    assert r.non_adjacent == 76
    assert r.p_spike_dip == pytest.approx(0.0638691, abs=5e-8)
    assert r.p_non_adjacent == pytest.approx(0.0694456, abs=5e-8)
    assert r.p_joint == pytest.approx(0.00443543, abs=5e-9)
    assert r.p_joint_mc is not None and r.p_joint_mc_se is not None
    assert abs(r.p_joint_mc - r.p_joint) < 4 * r.p_joint_mc_se
    assert r.p_spike_dip_calibrated == pytest.approx(0.143465, abs=5e-6)
    assert r.p_joint_calibrated == pytest.approx(0.046920, abs=5e-6)


@pytest.mark.realdata
def test_no_29_province_subset_of_the_shared_table_gives_20_sevens(iran_votes) -> None:
    """Beber & Scacco used another release of the results: dropping any one of the 30
    provinces leaves at most 19 sevens (17% of 116 needs 20); two subsets match every
    other published figure (5 fives, 72 non-adjacent pairs) with 19 sevens, two more
    with 18."""
    v = iran_votes.astype(np.int64)
    last, second = v % 10, (v // 10) % 10
    gap = np.abs(last - second)
    non_adj = (gap >= 2) & (gap <= 8)
    matches: dict[int, int] = {}
    for i in range(30):
        keep = np.arange(30) != i
        table = np.bincount(last[keep].ravel(), minlength=10)
        assert table[7] <= 19 and table.max() <= 19
        if table.min() == 5 and non_adj[keep].sum() == 72:
            matches[i] = int(table[7])
    # Bushehr, South Khorasan, Sistan and Baluchestan, Kohgiluyeh & Boyer-Ahmad
    assert matches == {5: 18, 8: 19, 14: 19, 21: 18}
    # the closest: 19 sevens, 5 fives, 72 non-adjacent of 116
    r = beber_scacco_from_summary(116, 19, 5, 72, mc_runs=0, calibrate=False)
    assert r.p_spike_dip == pytest.approx(0.0621509, abs=5e-8)
    assert r.p_non_adjacent == pytest.approx(0.0410557, abs=5e-8)
    assert r.p_joint == pytest.approx(0.00255165, abs=5e-9)


# --- in the battery ---------------------------------------------------------------------


@pytest.mark.realdata
def test_battery_row_on_the_shared_table(iran_2009_path) -> None:
    from electwatch.data import load_results
    from electwatch.forensics import run_battery
    from electwatch.forensics.statistics import DESCRIPTIVE, kind_of

    rep = run_battery(load_results(iran_2009_path), n_bootstrap=0, n_mc=50, klimek=False)
    row = rep.get("beber_scacco")
    assert kind_of("beber_scacco") == DESCRIPTIVE
    assert row.n == 120 and row.statistic == pytest.approx(0.00443543, abs=5e-9)
    assert row.p_value == pytest.approx(0.046920, abs=5e-6)  # calibrated, exact
    assert row.p_adjusted is None and not row.flagged  # descriptive: never flagged
    assert row.details["p_spike_dip"] == pytest.approx(0.0638691, abs=5e-8)
    assert row.details["mc_runs"] == 1000  # 20 x n_mc
    assert "6.39%" in row.reading and "6.94%" in row.reading and "0.444%" in row.reading
    # the pooled chi-square row's p_extremes is now the exact enumeration
    pooled = rep.get("pooled_last_digit_chi2")
    assert pooled.details["p_extremes"] == row.details["p_spike_dip"]
    assert pooled.details["p_extremes_method"].startswith("exact enumeration")
    # results.json carries the row with its applicability and minimum
    data = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    rows = [r for r in data["results"] if r["test"] == "beber_scacco"]
    assert len(rows) == 1 and rows[0]["details"]["applicable"] is True
    assert rows[0]["details"]["minimum"]["n"] == BEBER_SCACCO_MIN.n


def test_battery_says_why_on_too_few_counts() -> None:
    """SYNTHETIC: 8 stations x 3 candidates = at most 24 counts, below the 50."""
    from electwatch.forensics import run_battery
    from electwatch.simulate import ElectionParameters, simulate_election

    res, _ = simulate_election(ElectionParameters(n_stations=8, n_regions=1), seed=3)
    rep = run_battery(res, n_bootstrap=0, n_mc=0, klimek=False)
    assert not [r for r in rep.results if r.test == "beber_scacco"]
    na = [n for n in rep.not_applicable if n.statistic == "beber_scacco"]
    assert len(na) == 1 and na[0].missing == "minimum_n" and na[0].minimum == BEBER_SCACCO_MIN
