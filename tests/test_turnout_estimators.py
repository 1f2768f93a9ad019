"""Turnout estimators against closed-form values and the published seed figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from electwatch.turnout import (
    POOLED,
    EmptyStrataError,
    SummaryFigures,
    bootstrap_stratified,
    naive_expansion,
    naive_from_summary,
    ratio_estimate,
    reconcile,
    round_up_bound,
    selection_ratio,
    sensitivity_table,
    station_sd_for_upper_bound,
    stratified_estimate,
    stratified_ratio_estimate,
)

Z95 = 1.959963984540054


def test_naive_expansion_closed_form():
    y = np.array([10.0, 20.0, 30.0, 40.0])
    e = naive_expansion(y, total_stations=10, eligible=1000)
    sd = math.sqrt(((y - 25) ** 2).sum() / 3)
    se_total = 10 * sd / 2 * math.sqrt(1 - 4 / 10)
    assert e.total_voters == pytest.approx(250.0)
    assert e.per_station == pytest.approx(25.0)
    assert e.estimate == pytest.approx(0.25)
    assert e.total_voters_se == pytest.approx(se_total)
    assert e.standard_error == pytest.approx(se_total / 1000)
    assert e.ci_low == pytest.approx(0.25 - Z95 * se_total / 1000)
    assert e.ci_high == pytest.approx(0.25 + Z95 * se_total / 1000)
    assert e.quantity == "turnout" and e.n == 4
    d = e.to_dict()
    assert d["estimate"] == pytest.approx(0.25) and d["method"] == "naive expansion"


def test_naive_without_eligible_estimates_voters():
    e = naive_expansion([5, 7], total_stations=100)
    assert e.quantity == "voters" and e.estimate == pytest.approx(600.0)


def test_stratified_closed_form_with_fpc():
    y = np.array([1.0, 3.0, 10.0, 20.0, 30.0])
    strata = np.array(["a", "a", "b", "b", "b"])
    sizes = {"a": 10, "b": 6}
    e = stratified_estimate(y, strata, sizes, eligible=200)
    total = 10 * 2.0 + 6 * 20.0
    var = 10**2 * (1 - 2 / 10) * 2.0 / 2 + 6**2 * (1 - 3 / 6) * 100.0 / 3
    assert e.total_voters == pytest.approx(total)
    assert e.total_voters_se == pytest.approx(math.sqrt(var))
    assert e.estimate == pytest.approx(total / 200)
    assert [s.name for s in e.strata] == ["a", "b"]
    assert e.strata[1].mean == pytest.approx(20.0) and e.strata[1].sd == pytest.approx(10.0)


def test_single_stratum_equals_naive():
    rng = np.random.default_rng(1)
    y = rng.poisson(300, 500).astype(float)
    a = stratified_estimate(y, np.zeros(500, dtype=int), {"0": 4000}, eligible=1e6)
    b = naive_expansion(y, 4000, 1e6)
    assert a.estimate == pytest.approx(b.estimate)
    assert a.standard_error == pytest.approx(b.standard_error)


def test_ratio_estimator_exact_ratio_has_zero_se():
    x = np.array([100.0, 200.0, 400.0, 800.0])
    y = 0.6 * x
    e = ratio_estimate(y, x, frame_registered=10_000, total_stations=40)
    assert e.estimate == pytest.approx(0.6)
    assert e.total_voters == pytest.approx(6000)
    assert e.standard_error == pytest.approx(0.0, abs=1e-12)


def test_ratio_estimator_linearised_se_and_missing_registers():
    x = np.array([100.0, 200.0, 300.0, np.nan, 500.0])
    y = np.array([50.0, 130.0, 160.0, 99.0, 300.0])
    e = ratio_estimate(y, x, frame_registered=20_000, total_stations=50)
    xs, ys = x[[0, 1, 2, 4]], y[[0, 1, 2, 4]]
    r = ys.sum() / xs.sum()
    var = (1 - 4 / 50) / (4 * xs.mean() ** 2) * ((ys - r * xs) ** 2).sum() / 3
    assert e.estimate == pytest.approx(r)
    assert e.standard_error == pytest.approx(math.sqrt(var))
    assert e.extra["stations_without_register"] == 1


def test_empty_strata_are_reported_never_silently_merged():
    y = np.array([10.0, 12, 30, 33, 35, 50])
    strata = np.array(["a", "a", "b", "b", "b", "c"])
    sizes = {"a": 20, "b": 20, "c": 20, "d": 40}
    with pytest.raises(EmptyStrataError) as err:
        stratified_estimate(y, strata, sizes, empty="error")
    assert err.value.strata == ["c", "d"] and err.value.observed == [1, 0]
    e = stratified_estimate(y, strata, sizes)  # default: pool, explicitly reported
    assert e.empty_strata == ("d",)
    assert e.extra["pooled_strata"] == ["a", "c", "d"]
    assert any("pooled" in n for n in e.notes)
    # c and d (1 observation between them) joined by the least observed stratum a
    pooled = {s.name for s in e.strata if s.pooled}
    assert pooled == {"a", "c", "d"}
    assert e.total_stations == 100
    expected = 20 * np.mean([30, 33, 35]) + 80 * np.mean([10, 12, 50])
    assert e.total_voters == pytest.approx(expected)
    assert POOLED.startswith("(pooled")


def test_bootstrap_matches_analytic_variance_with_fpc():
    rng = np.random.default_rng(5)
    # strata with sampling fractions 0.5 and 0.1: the fpc matters
    y = np.concatenate([rng.gamma(2, 600, 400), rng.gamma(8, 40, 300)])
    strata = np.array(["big"] * 400 + ["small"] * 300)
    sizes = {"big": 800, "small": 3000}
    a = stratified_estimate(y, strata, sizes, eligible=5e6)
    b = bootstrap_stratified(y, strata, sizes, eligible=5e6, n_resamples=4000, seed=1)
    assert b.estimate == pytest.approx(a.estimate)
    # SE of a bootstrap SE with B = 4000 is about SE / sqrt(2B) ~ 1.1%
    assert b.standard_error == pytest.approx(a.standard_error, rel=0.05)
    assert b.ci_low < a.estimate < b.ci_high
    no_fpc = (
        math.sqrt(800**2 * y[:400].var(ddof=1) / 400 + 3000**2 * y[400:].var(ddof=1) / 300) / 5e6
    )
    assert b.standard_error < 0.85 * no_fpc  # the fpc is carried


def test_bootstrap_ratio_variant():
    rng = np.random.default_rng(2)
    x = rng.integers(200, 3000, 800).astype(float)
    y = rng.binomial(x.astype(int), 0.55).astype(float)
    e = bootstrap_stratified(
        y,
        None,
        None,
        total_stations=20_000,
        registered=x,
        frame_registered=x.mean() * 20_000,
        n_resamples=1000,
    )
    assert e.total_voters / (x.mean() * 20_000) == pytest.approx(y.sum() / x.sum())
    assert e.ci_low < e.total_voters < e.ci_high


# --- the published seed case ------------------------------------------------------


SEED = SummaryFigures(
    observed_stations=1941, counted=156_597, total_stations=59_000, eligible=61_000_000
)


def test_seed_naive_figures_reproduce_exactly():
    assert round(SEED.per_station, 1) == 80.7
    assert round(SEED.total_voters) == 4_760_032
    assert round(SEED.turnout * 100, 1) == 7.8
    e = naive_from_summary(SEED)
    assert e.estimate == pytest.approx(156_597 * 59_000 / 1941 / 61_000_000)
    assert math.isnan(e.standard_error)  # never invented without per-station counts
    bound, bound_turnout = round_up_bound(SEED.total_voters, SEED.eligible)
    assert bound == 5_000_000 and round(bound_turnout * 100, 1) == 8.2


def test_seed_reconciliation_with_41_percent():
    e = naive_from_summary(SEED)
    rec = reconcile(e, 0.41 * 61_000_000)
    assert round(rec.implied_per_station) == 424
    assert rec.implied_per_station == pytest.approx(0.41 * 61e6 / 59_000)
    assert rec.undercount_needed == pytest.approx(1 - SEED.total_voters / (0.41 * 61e6))
    assert rec.selection_ratio_needed == pytest.approx(SEED.per_station / (0.41 * 61e6 / 59e3))
    # no SE: the SD that would put 41% inside the 95% interval instead
    sd = rec.max_station_sd_consistent
    n, big_n = 1941, 59_000
    assert (0.41 * 61e6 - SEED.total_voters) == pytest.approx(
        Z95 * big_n * sd / math.sqrt(n) * math.sqrt(1 - n / big_n)
    )
    with_sd = reconcile(naive_from_summary(SEED, station_sd=90.0), 0.41 * 61e6)
    assert with_sd.p_value == 0.0 and with_sd.log10_p_value < -1000


def test_sampling_bound_needs_a_station_sd():
    e = naive_from_summary(SEED)
    sd = station_sd_for_upper_bound(e, 0.082)
    e_sd = naive_from_summary(SEED, station_sd=sd)
    assert e_sd.ci_high == pytest.approx(0.082)


def test_sensitivity_table_closed_form():
    e = naive_expansion([80.0, 81.0, 82.0], 59_000, 61e6)
    t = sensitivity_table(e, undercounts=(0.0, 0.5), selection_ratios=(1.0, 0.25))
    assert t.values[0, 0] == pytest.approx(e.estimate)
    assert t.values[1, 1] == pytest.approx(e.estimate / (0.5 * 0.25))
    assert t.to_dict()["values"][1][0] == pytest.approx(2 * e.estimate)


def test_selection_ratio():
    assert selection_ratio(0.3, 0.3, 0.5) == pytest.approx(1.0)
    # half the sample from a group that is 10% of stations with half the voters
    assert selection_ratio(0.5, 0.1, 0.5) == pytest.approx(0.75 / 0.95)


def test_stratified_ratio_one_stratum_equals_ratio_and_closed_form():
    rng = np.random.default_rng(3)
    x = rng.integers(100, 2500, 300).astype(float)
    y = rng.binomial(x.astype(int), 0.5).astype(float)
    one = stratified_ratio_estimate(y, x, np.zeros(300, int), {"0": 5000}, 6e6)
    plain = ratio_estimate(y, x, 6e6, 5000)
    assert one.estimate == pytest.approx(plain.estimate)
    assert one.standard_error == pytest.approx(plain.standard_error)
    # two strata: R_c = sum N_h ybar_h / sum N_h xbar_h
    strata = np.where(np.arange(300) < 100, "a", "b")
    sizes = {"a": 1000, "b": 4000}
    e = stratified_ratio_estimate(y, x, strata, sizes, 6e6)
    r = (1000 * y[:100].mean() + 4000 * y[100:].mean()) / (
        1000 * x[:100].mean() + 4000 * x[100:].mean()
    )
    assert e.estimate == pytest.approx(r)
    d = y - r * x
    x_st = 1000 * x[:100].mean() + 4000 * x[100:].mean()
    var = 1000**2 * 0.9 * d[:100].var(ddof=1) / 100 + 4000**2 * 0.95 * d[100:].var(ddof=1) / 200
    assert e.standard_error == pytest.approx(math.sqrt(var) / x_st)


def test_stratified_ratio_accepts_a_zero_register():
    # the 2012 CEC file has a station with 0 registered and 0 cast: a register, not a gap
    x = np.array([0.0, 800, 1200, 1000, 600, 900])
    y = np.array([0.0, 400, 700, 500, 300, 450])
    strata = np.array(["a", "a", "a", "b", "b", "b"])
    e = stratified_ratio_estimate(y, x, strata, {"a": 30, "b": 60}, 1e5)
    r = (30 * y[:3].mean() + 60 * y[3:].mean()) / (30 * x[:3].mean() + 60 * x[3:].mean())
    assert e.extra["ratio"] == pytest.approx(r)
    with pytest.raises(ValueError, match="register for every station"):
        stratified_ratio_estimate(y, np.r_[np.nan, x[1:]], strata, {"a": 30, "b": 60}, 1e5)
    with pytest.raises(ValueError, match="no registered voters"):
        stratified_ratio_estimate(y * 0, x * 0, strata, {"a": 30, "b": 60}, 1e5)
