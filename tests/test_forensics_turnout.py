"""Turnout shape: moments vs scipy, D'Agostino / Anscombe-Glynn vs scipy, dip test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from electwatch.forensics import national_groups, station_arrays, turnout_shape_tests
from electwatch.forensics.areas import AreaGroups
from electwatch.forensics.turnout_shape import group_moments, kurtosis_z, skew_z
from electwatch.simulate import ElectionParameters, FraudParameters, simulate_election


def _by_test(results: list) -> dict:
    return {r.test: r for r in results}


def test_group_moments_match_scipy() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.gamma(2.0, 0.1, 400), rng.normal(0.6, 0.1, 300)])
    codes = np.repeat([0, 1], [400, 300])
    n, skew, kurt = group_moments(x, AreaGroups("r", codes, ["a", "b"]))
    assert n.tolist() == [400, 300]
    for k in (0, 1):
        xs = x[codes == k]
        assert skew[k] == pytest.approx(stats.skew(xs))
        assert kurt[k] == pytest.approx(stats.kurtosis(xs, fisher=False))


def test_skew_and_kurtosis_z_match_scipy_tests() -> None:
    rng = np.random.default_rng(1)
    for x in (rng.normal(0.6, 0.08, 500), rng.beta(8, 3, 2000), rng.uniform(0.3, 0.9, 150)):
        n = np.array([float(x.size)])
        b1 = np.array([stats.skew(x)])
        b2 = np.array([stats.kurtosis(x, fisher=False)])
        assert skew_z(b1, n)[0] == pytest.approx(stats.skewtest(x).statistic, rel=1e-9)
        assert kurtosis_z(b2, n)[0] == pytest.approx(stats.kurtosistest(x).statistic, rel=1e-9)
        r = _by_test(turnout_shape_tests(x, national_groups(x.size), n_bootstrap=0))
        assert r["turnout_skewness"].p_value == pytest.approx(stats.skewtest(x).pvalue)
        assert r["turnout_kurtosis"].p_value == pytest.approx(stats.kurtosistest(x).pvalue)
        assert r["turnout_skewness"].null_value == 0.0
        assert r["turnout_kurtosis"].null_value == 3.0  # not excess kurtosis


def test_dip_test_separates_bimodal_from_unimodal() -> None:
    rng = np.random.default_rng(2)
    uni = np.clip(rng.normal(0.6, 0.08, 3000), 0, 1)
    bi = np.concatenate([rng.normal(0.45, 0.04, 1500), rng.normal(0.85, 0.04, 1500)])
    ru = _by_test(turnout_shape_tests(uni, national_groups(uni.size), n_bootstrap=0))
    rb = _by_test(turnout_shape_tests(bi, national_groups(bi.size), n_bootstrap=0))
    assert ru["turnout_dip"].p_value > 0.2
    assert rb["turnout_dip"].p_value < 0.001
    assert rb["turnout_dip"].statistic > 5 * ru["turnout_dip"].statistic
    assert "multimodal" in rb["turnout_dip"].reading
    assert "one mode" in ru["turnout_dip"].reading


def test_national_bootstrap_interval_and_min_n() -> None:
    rng = np.random.default_rng(3)
    x = rng.beta(6, 4, 5000)
    r = _by_test(turnout_shape_tests(x, national_groups(x.size), n_bootstrap=300, rng=rng))
    for t in ("turnout_skewness", "turnout_kurtosis"):
        assert r[t].ci_low is not None and r[t].ci_high is not None
        assert r[t].ci_low < r[t].statistic < r[t].ci_high
    # closed-form skewness of Beta(a, b) lies inside the bootstrap interval
    a, b = 6.0, 4.0
    skew_beta = 2 * (b - a) * np.sqrt(a + b + 1) / ((a + b + 2) * np.sqrt(a * b))
    assert r["turnout_skewness"].ci_low < skew_beta < r["turnout_skewness"].ci_high
    # areas below min_n stations get no result; NaN turnout is dropped
    codes = np.r_[np.zeros(30, dtype=np.int64), np.ones(10, dtype=np.int64)]
    y = np.r_[x[:30], x[30:39], np.nan]
    res = turnout_shape_tests(y, AreaGroups("r", codes, ["big", "small"]), n_bootstrap=0)
    assert {q.area for q in res} == {"big"}
    assert all(q.n == 30 for q in res)


def test_extreme_fraud_skews_turnout_clean_simulation_not_multimodal() -> None:
    p = ElectionParameters(n_stations=3000)
    clean, _ = simulate_election(p, seed=11)
    fraud, _ = simulate_election(p, FraudParameters(fe=0.05), seed=11)
    rc = _by_test(turnout_shape_tests(station_arrays(clean).turnout(), national_groups(3000)))
    rf = _by_test(turnout_shape_tests(station_arrays(fraud).turnout(), national_groups(3000)))
    assert rc["turnout_dip"].p_value > 0.05
    assert rf["turnout_skewness"].statistic > 0.5
    assert rf["turnout_skewness"].p_value < 1e-6
    assert rf["turnout_kurtosis"].statistic > 3.5
    assert rf["turnout_skewness"].statistic > rc["turnout_skewness"].statistic + 0.4
