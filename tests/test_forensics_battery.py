"""The battery: every test at every area level, Benjamini-Hochberg across areas."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from electwatch.forensics import (
    TESTS,
    adjust_results,
    area_groups,
    bh_adjust,
    run_battery,
    shpilkin_tests,
    station_arrays,
)
from electwatch.forensics.statistics import CALIBRATED, kind_of
from electwatch.forensics.types import TestResult
from electwatch.simulate import ElectionParameters, FraudParameters, simulate_election

#: tests whose result is a fact or a rank, with neither p-value nor interval
# ranks are facts; EFToolkit's Sobyanin and correlation are descriptive numbers with
# no null value or interval in EFToolkit either
#: rows without a null value (beber_scacco's statistic is itself a probability; its
#: calibrated p-value is computed for n <= 300 only)
NO_INFERENCE = {
    "blank_rank",
    "invalid_rank",
    "sobyanin",
    "turnout_share_correlation",
    "beber_scacco",
}


def test_bh_adjust_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan, 0.5])
    # m = 5 finite; sorted 0.005, 0.01, 0.03, 0.04, 0.5; m p / rank = 0.025, 0.025,
    # 0.05, 0.05, 0.5; running minimum from the top leaves them as they are
    expected = [0.025, 0.05, 0.05, 0.025, np.nan, 0.5]
    np.testing.assert_allclose(bh_adjust(p), expected, equal_nan=True)
    # the step-up minimum matters here: 0.04 * 4 / 3 > 0.045 * 4 / 4
    np.testing.assert_allclose(
        bh_adjust(np.array([0.001, 0.04, 0.045, 0.04])), [0.004, 0.045, 0.045, 0.045]
    )
    assert np.isnan(bh_adjust(np.array([np.nan, np.nan]))).all()
    assert bh_adjust(np.array([0.9, 0.8])).max() <= 1.0


def _row(test: str, area: str, p: float | None, level: str = "region") -> TestResult:
    return TestResult(test, level, area, "s", 0.0, 0.0, p, None, None, 10, "r")


def test_adjust_results_families_are_test_level_subject() -> None:
    rows = [
        _row("t1", "a", 0.01),
        _row("t1", "b", 0.02),
        _row("t2", "a", 0.03),  # its own family of one: unadjusted
        _row("t1", "n", 0.04, level="national"),
        _row("t1", "c", None),  # no p-value: not counted, keeps its flag rule
    ]
    out = adjust_results(rows)
    assert out[0].p_adjusted == pytest.approx(0.02)  # 0.01 * 2 / 1 vs 0.02 * 2 / 2
    assert out[1].p_adjusted == pytest.approx(0.02)
    assert out[2].p_adjusted == pytest.approx(0.03)
    assert out[3].p_adjusted == pytest.approx(0.04)
    assert out[4].p_adjusted is None and not out[4].flagged
    assert [r.flagged for r in out[:4]] == [True, True, True, True]
    # without a p-value the test's own flag rule stands, whatever the interval says
    ci = replace(_row("t3", "a", None), ci_low=0.1, ci_high=0.3)
    assert not adjust_results([ci])[0].flagged
    assert adjust_results([replace(ci, flagged=True)])[0].flagged


def _regional_fraud(n: int, regions: int, seed: int) -> tuple:
    """Clean election except for the first ``regions`` regions (not the capital).

    Same seed, so stations, regions and sizes coincide; fraudulent stations come from
    the Klimek-model draw with fi = 0.4, fe = 0.05.
    """
    p = ElectionParameters(n_stations=n)
    clean, _ = simulate_election(p, seed=seed)
    fraud, _ = simulate_election(p, FraudParameters(fi=0.4, fe=0.05), seed=seed)
    names = sorted(set(clean.frame["region"].to_list()) - {"Capital"})[:regions]
    pick = clean.frame["region"].is_in(names)
    frame = pl.concat([clean.frame.filter(~pick), fraud.frame.filter(pick)]).sort("row")
    return replace(clean, frame=frame), names


@pytest.fixture(scope="module")
def mixed_report() -> tuple:
    res, bad = _regional_fraud(4000, 4, seed=31)
    return res, bad, run_battery(res, n_bootstrap=200, n_mc=200, seed=1)


def test_battery_runs_every_test_at_every_level(mixed_report: tuple) -> None:
    res, _, rep = mixed_report
    assert rep.levels == ["national", "region", "district"]
    assert not rep.errors
    assert rep.synthetic
    national = {r.test for r in rep.national()}
    # everything in TESTS except blank_rank (the simulator publishes no blank ballots)
    assert national == set(TESTS) - {"blank_rank"} | {
        "consistency_candidates_eq_valid",
        "consistency_parts_eq_cast",
        "consistency_cast_le_registered",
    }
    n_regions = res.frame["region"].n_unique()
    n_districts = res.frame["district"].n_unique()
    for test in ("2bl_second_digit_mean", "last_digit_chi2", "integer_percent"):
        subject = rep.get(test).subject  # the winner's rows (digit tests run on more)
        for level, n_areas in (("region", n_regions), ("district", n_districts)):
            ran = [r for r in rep.select(test=test, level=level) if r.subject == subject]
            # an area below the test's minimum n is listed as not applicable, with n
            skipped = [
                na
                for na in rep.not_applicable
                if na.statistic == test and na.level == level and na.reason.startswith(subject)
            ]
            assert len(ran) + len(skipped) == n_areas, (test, level)
            assert all(
                na.n is not None and na.minimum is not None and na.n < na.minimum.n
                for na in skipped
            )
    # turnout shape needs 20 stations in the area
    sizes = res.frame.group_by("district").len()
    assert len(rep.select(test="turnout_dip", level="district")) == (sizes["len"] >= 20).sum()
    assert len(rep.select(test="share_turnout_slope", level="region")) == n_regions
    # the Klimek fit is national (its clean shapes are per region)
    assert rep.select(test="klimek_fi", level="region") == []


def test_every_result_is_complete(mixed_report: tuple) -> None:
    _, _, rep = mixed_report
    for r in rep.results:
        assert math.isfinite(r.statistic), r
        assert r.n > 0 and r.reading, r
        if r.test not in NO_INFERENCE and r.test != "turnout_dip":
            assert r.null_value is not None, r
        if r.test not in NO_INFERENCE and not r.test.startswith("consistency_"):
            assert r.p_value is not None or (r.ci_low is not None and r.ci_high is not None), r


def test_bh_adjusted_p_values_per_family(mixed_report: tuple) -> None:
    _, _, rep = mixed_report
    families: dict[tuple, list[TestResult]] = defaultdict(list)
    for r in rep.results:
        if r.p_value is not None and kind_of(r.test) == CALIBRATED:
            families[(r.test, r.level, r.subject)].append(r)
        elif r.p_value is not None:
            assert r.p_adjusted is None and not r.flagged, r
    assert families
    for key, rows in families.items():
        raw = np.array([r.p_value for r in rows])
        adj = np.array([r.p_adjusted for r in rows])
        assert (adj >= raw - 1e-12).all(), key
        assert (adj <= 1).all()
        order = np.argsort(raw, kind="stable")
        assert (np.diff(adj[order]) >= -1e-12).all(), key  # monotone in the raw p
        np.testing.assert_allclose(adj, bh_adjust(raw))
        assert all(r.flagged == (r.p_adjusted < 0.05) for r in rows)
        if len(rows) == 1:
            assert adj[0] == pytest.approx(raw[0])


def test_region_level_flags_the_regions_with_fraud(mixed_report: tuple) -> None:
    _, bad, rep = mixed_report
    # descriptive statistics are reported, never flagged
    assert not any(r.flagged for r in rep.select(test="turnout_skewness"))
    for test in ("share_turnout_slope",):
        flagged = {r.area for r in rep.select(test=test, level="region") if r.flagged}
        assert set(bad) <= flagged, (test, flagged, bad)
        # BH bounds the expected share of false discoveries, it does not exclude one:
        # here the slope flags one of the 16 clean regions (raw p 0.003)
        assert len(flagged - set(bad)) <= 1, (test, flagged, bad)
    nat = {r.test: r for r in rep.national()}
    assert nat["klimek_fi"].flagged or nat["klimek_fe"].flagged
    assert nat["share_turnout_slope"].flagged


def test_flags_without_p_values_follow_the_tests_own_rules(mixed_report: tuple) -> None:
    res, _, rep = mixed_report
    arr = station_arrays(res)
    for level in rep.levels:
        own = shpilkin_tests(arr, area_groups(res, level))[0]
        got = {r.area: r.flagged for r in rep.select(test="shpilkin_excess_votes", level=level)}
        assert got == {r.area: r.flagged for r in own}, level
    assert rep.klimek is not None
    assert [r.flagged for r in rep.klimek.as_results()] == [
        rep.get("klimek_fi").flagged,
        rep.get("klimek_fe").flagged,
    ]
    assert not any(r.flagged for r in rep.select(test="klimek_fi_single_blob"))


def test_battery_is_deterministic_and_serialises(mixed_report: tuple) -> None:
    res, _, _ = mixed_report
    small = res.subset(pl.col("region").is_in(["Capital", "Region 01", "Region 02"]))
    a = run_battery(small, level="region", n_bootstrap=100, n_mc=100, seed=5)
    b = run_battery(small, level="region", n_bootstrap=100, n_mc=100, seed=5)
    assert a.levels == ["national", "region"]
    assert [r.to_dict() for r in a.results] == [r.to_dict() for r in b.results]
    d = a.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["synthetic"] is True and d["parameters"]["seed"] == 5
    assert len(a.to_frame()) == len(a.results)
    assert a.get("integer_percent").level == "national"
    with pytest.raises(KeyError):
        a.get("integer_percent", level="district")
    steps: list[float] = []
    run_battery(small, level="national", n_mc=10, progress=lambda s, f: steps.append(f))
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)


def test_national_slope_clusters_by_the_top_level_whatever_levels_are_asked() -> None:
    res, _ = simulate_election(ElectionParameters(n_stations=2000), seed=3)
    for level in (None, "region", "district"):
        rep = run_battery(res, level=level, n_bootstrap=0, n_mc=20, klimek=False)
        nat = rep.get("share_turnout_slope")
        assert nat.details["se_method"] == "cluster jackknife (CR3) by region", level
        assert nat.details["clusters"] == 20
    rep = run_battery(res, level="district", n_bootstrap=0, n_mc=20, klimek=False)
    district = rep.select(test="share_turnout_slope", level="district")
    assert district and all(r.details["se_method"] == "HC3" for r in district)
