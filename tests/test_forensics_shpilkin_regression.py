"""Shpilkin's excess votes on a hand-built election; the turnout-share regression vs numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from electwatch.forensics import (
    area_groups,
    national_groups,
    shpilkin_tests,
    station_arrays,
    turnout_share_tests,
)
from electwatch.forensics.areas import AreaGroups, StationArrays
from electwatch.forensics.shpilkin import share_change_point
from electwatch.simulate import ElectionParameters, FraudParameters, simulate_election


def _arrays(registered, cast, leader, other) -> StationArrays:
    votes = np.stack([np.asarray(leader), np.asarray(other)], axis=1).astype(np.int64)
    cast = np.asarray(cast, dtype=float)
    return StationArrays(
        registered=np.asarray(registered, dtype=float),
        cast=cast,
        valid=votes.sum(axis=1).astype(float),
        invalid=cast - votes.sum(axis=1),
        blank=np.full(cast.size, np.nan),
        votes=votes,
        candidates=["Leader", "Other"],
        winner_index=0,
        runner_up_index=1,
    )


def _hand_election() -> StationArrays:
    # 40 stations at 40% turnout and 40 at 50% split evenly (leader : others = 1);
    # 20 stuffed stations at 90% turnout give the leader 700 of 900 ballots
    reg = np.full(100, 1000)
    cast = np.r_[np.full(40, 400), np.full(40, 500), np.full(20, 900)]
    leader = np.r_[np.full(40, 200), np.full(40, 250), np.full(20, 700)]
    return _arrays(reg, cast, leader, cast - leader)


def test_shpilkin_on_a_hand_built_election() -> None:
    arr = _hand_election()
    res, curves = shpilkin_tests(arr, national_groups(arr.n))
    r = res[0]
    # others' votes by turnout: 8,000 at 40%, 10,000 at 50% (the mode), 4,000 at 90%;
    # ratio below the mode = 18,000 / 18,000 = 1; above it the leader has 14,000
    # where 1 x 4,000 is expected: 10,000 anomalous votes
    assert r.details["t0_pct"] == 50
    assert r.details["ratio_leader_to_others"] == pytest.approx(1.0)
    assert r.statistic == pytest.approx(10_000)
    assert r.details["excess_share_of_leader_votes"] == pytest.approx(10_000 / 32_000)
    # any reference turnout between 47% and 53% gives the same answer here
    assert r.details["sensitivity_min"] == pytest.approx(10_000)
    assert r.details["sensitivity_max"] == pytest.approx(10_000)
    # delta-method SE: influence 500 on each stuffed station, 0 elsewhere
    infl = np.r_[np.zeros(80), np.full(20, 500.0)]
    se = np.sqrt(100 / 99 * ((infl**2).sum() - infl.sum() ** 2 / 100))
    assert r.details["se_delta"] == pytest.approx(se)
    assert r.ci_low == pytest.approx(10_000 - 1.96 * se)
    assert r.flagged and r.p_value is None and r.null_value == 0.0
    assert curves is not None
    assert curves.t0 == 50 and curves.excess == pytest.approx(10_000)
    assert curves.leader[90] == 14_000 and curves.others[90] == 4_000
    assert curves.expected_leader[90] == pytest.approx(4_000)
    assert curves.expected_leader[40] == curves.leader[40] == 8_000


def test_shpilkin_clean_election_has_no_excess_extreme_fraud_is_counted() -> None:
    p = ElectionParameters(n_stations=5000)
    clean, _ = simulate_election(p, seed=21)
    rc = shpilkin_tests(station_arrays(clean), national_groups(5000))[0][0]
    assert abs(rc.details["excess_share_of_leader_votes"]) < 0.03
    assert not rc.flagged
    for seed in (21, 22):
        fraud, truth = simulate_election(p, FraudParameters(fe=0.05), seed=seed)
        rf = shpilkin_tests(station_arrays(fraud), national_groups(5000))[0][0]
        assert rf.flagged
        # votes the fraud added to the leader (actual minus the clean expectation
        # a v N of the valid ballots) and the stuffed part of them; the rest was moved
        # from the others, which Shpilkin's estimate counts 1 + r times
        a, v, n = truth.clean_turnout, truth.clean_winner_share, fraud.registered
        valid_rate = fraud.count("valid") / fraud.cast
        added = float((fraud.votes("Leader") - n * a * v * valid_rate).sum())
        stuffed = float(((fraud.cast - n * a) * valid_rate).sum())
        r = rf.details["ratio_leader_to_others"]
        predicted = added + r * (added - stuffed)
        assert rf.statistic == pytest.approx(predicted, rel=0.25), (rf.statistic, predicted)
        assert rf.statistic > added


def _wls_numpy(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Slope, residuals and HC3 SE of y ~ 1 + x with weights w, by lstsq."""
    X = np.column_stack([np.ones_like(x), x])
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    e = y - X @ beta
    bread = np.linalg.inv(X.T @ (w[:, None] * X))
    # leverage of the weighted regression: h_i = w_i x_i' (X' W X)^-1 x_i
    h = w * np.einsum("ij,jk,ik->i", X, bread, X)
    u = X * (w * e / (1 - h))[:, None]
    cov = bread @ (u.T @ u) @ bread
    return float(beta[1]), e, float(np.sqrt(cov[1, 1]))


def test_slope_and_hc3_se_match_numpy_weighted_least_squares() -> None:
    res, _ = simulate_election(ElectionParameters(n_stations=800), seed=5)
    arr = station_arrays(res)
    r = turnout_share_tests(arr, national_groups(arr.n))[0]
    t, s, w = arr.turnout(), arr.winner_share(), arr.valid
    slope, _, se = _wls_numpy(t, s, w)
    assert r.statistic == pytest.approx(slope, rel=1e-9)
    assert r.details["se"] == pytest.approx(se, rel=1e-9)
    assert r.details["se_method"] == "HC3"
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(slope / se), arr.n - 2))
    # weighted correlation
    tm, sm = np.average(t, weights=w), np.average(s, weights=w)
    rw = np.sum(w * (t - tm) * (s - sm)) / np.sqrt(
        np.sum(w * (t - tm) ** 2) * np.sum(w * (s - sm) ** 2)
    )
    assert r.details["weighted_r"] == pytest.approx(rw)


def test_cluster_jackknife_se_matches_leave_one_cluster_out_loop() -> None:
    res, _ = simulate_election(ElectionParameters(n_stations=1500, n_regions=8), seed=6)
    arr = station_arrays(res)
    regions = area_groups(res, "region")
    r = turnout_share_tests(arr, national_groups(arr.n), regions)[0]
    t, s, w = arr.turnout(), arr.winner_share(), arr.valid
    loo = np.array(
        [
            _wls_numpy(t[regions.codes != c], s[regions.codes != c], w[regions.codes != c])[0]
            for c in range(regions.n_groups)
        ]
    )
    g = regions.n_groups
    se_jk = np.sqrt((g - 1) / g * np.sum((loo - loo.mean()) ** 2))
    assert r.details["se"] == pytest.approx(se_jk, rel=1e-8)
    assert r.details["clusters"] == g == 8
    assert r.details["df"] == g - 1
    assert "jackknife" in r.details["se_method"]
    q = stats.t.ppf(0.975, g - 1)
    assert r.ci_low == pytest.approx(r.statistic - q * se_jk)
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(r.statistic / se_jk), g - 1))


def test_per_area_slopes_and_too_few_clusters() -> None:
    res, _ = simulate_election(ElectionParameters(n_stations=1200, n_regions=4), seed=7)
    arr = station_arrays(res)
    regions = area_groups(res, "region")
    districts = area_groups(res, "district")
    rows = turnout_share_tests(arr, regions, districts)
    assert len(rows) == regions.n_groups
    t, s, w = arr.turnout(), arr.winner_share(), arr.valid
    for k, row in enumerate(rows):
        m = regions.codes == k
        assert row.area == regions.names[k]
        assert row.statistic == pytest.approx(_wls_numpy(t[m], s[m], w[m])[0], rel=1e-9)
        assert row.details["clusters"] == 10  # D0..D9 in every region
    # two clusters cannot carry a cluster-robust SE: HC3 then, said so
    two = AreaGroups("half", (np.arange(arr.n) % 2).astype(np.int64), ["odd", "even"])
    r2 = turnout_share_tests(arr, national_groups(arr.n), two)[0]
    assert r2.details["se_method"] == "HC3"
    assert r2.details["se"] == pytest.approx(_wls_numpy(t, s, w)[2], rel=1e-9)


def test_regression_detects_ballot_stuffing() -> None:
    p = ElectionParameters(n_stations=3000)
    fraud, _ = simulate_election(p, FraudParameters(fi=0.2, fe=0.02), seed=8)
    arr = station_arrays(fraud)
    r = turnout_share_tests(arr, national_groups(arr.n), area_groups(fraud, "region"))[0]
    assert r.statistic > 0.2
    assert r.p_value < 0.01
    assert "rises" in r.reading


def test_shpilkin_reference_turnout_is_not_captured_by_a_round_number_spike() -> None:
    """SYNTHETIC: 30% of a clean election's stations stuffed to exactly 80% turnout
    (every added ballot for the leader): the others' curve peaks at 80 (its raw mode),
    above its smooth mode near 57%. The robust t0 stays at the smooth mode and the
    excess is within 5% of the injected ballots; t0 = 80 (where the raw mode lands)
    misses most of them."""
    res, _ = simulate_election(ElectionParameters(n_stations=20_000, n_regions=10), seed=5)
    a = station_arrays(res)
    rng = np.random.default_rng(1)
    reg = a.registered.astype(np.int64)
    cast = a.cast.astype(np.int64)
    votes = a.votes.copy()
    reg5 = reg - reg % 5  # 80% of a multiple of 5 is a whole number of ballots
    candidates = np.flatnonzero((cast < 0.7 * reg5) & (reg5 >= 100))
    pick = rng.choice(candidates, size=int(0.3 * a.n), replace=False)
    added = (reg5[pick] * 4) // 5 - cast[pick]
    reg[pick] = reg5[pick]
    cast[pick] += added
    votes[pick, a.winner_index] += added
    arr = StationArrays(
        registered=reg.astype(float),
        cast=cast.astype(float),
        valid=votes.sum(axis=1).astype(float),
        invalid=a.invalid,
        blank=a.blank,
        votes=votes,
        candidates=a.candidates,
        winner_index=a.winner_index,
        runner_up_index=a.runner_up_index,
    )
    injected = float(added.sum())
    others = votes.sum(axis=1) - votes[:, a.winner_index]
    raw_curve = np.bincount(np.floor(100 * cast / reg).astype(int), weights=others, minlength=101)
    assert raw_curve.argmax() == 80  # the spike is the others' raw mode
    r = shpilkin_tests(arr, national_groups(arr.n))[0][0]
    assert 50 <= r.details["t0_pct"] <= 65, r.reading
    assert abs(r.statistic - injected) < 0.05 * injected, (r.statistic, injected)
    at_spike = shpilkin_tests(arr, national_groups(arr.n), t0=80)[0][0]
    assert at_spike.details["t0_method"] == "given"
    assert at_spike.statistic < 0.5 * injected
    # Shpilkin's headline figures: without the excess, turnout and the leader's share
    clean_turnout = (cast.sum() - r.statistic) / reg.sum()
    assert r.details["clean_turnout"] == pytest.approx(clean_turnout)
    lo, hi = r.details["clean_turnout_ci"]
    assert lo <= r.details["clean_turnout"] <= hi
    assert r.details["leader_clean_share"] < r.details["official_leader_share"]


def test_shpilkin_sensitivity_curve_spans_every_reference_turnout() -> None:
    arr = _hand_election()
    _, curves = shpilkin_tests(arr, national_groups(arr.n))
    assert curves is not None
    d = curves.to_dict()
    assert d["sensitivity_t0"] == list(range(100))
    assert d["sensitivity_excess"][50] == pytest.approx(10_000)
    assert d["clean_turnout"] == pytest.approx((arr.cast.sum() - 10_000) / arr.registered.sum())


def test_shpilkin_sensitivity_is_nan_where_the_t0_bin_is_empty() -> None:
    # the hand election has votes only in the 40%, 50% and 90% bins: any other t0 is
    # no reference turnout (NaN, not 0, not the value of the bin below)
    arr = _hand_election()
    _, curves = shpilkin_tests(arr, national_groups(arr.n))
    assert curves is not None
    sens = curves.sensitivity
    assert np.isfinite(sens[[40, 50, 90]]).all()
    empty = np.setdiff1d(np.arange(100), [40, 50, 90])
    assert np.isnan(sens[empty]).all()
    assert sens[90] == pytest.approx(0.0)  # nothing above 90%: no excess


def test_share_change_point_recovers_an_exact_broken_line() -> None:
    # leader's share 40% up to 55%, then +1.5 points per point of turnout (bin centres),
    # votes in bins 30..89; one outlying bin (share 0.95 at 35%) that Huber discounts
    k = np.arange(101)
    votes = np.where((k >= 30) & (k < 90), 10_000.0, 0.0)
    share = 0.40 + 0.015 * np.maximum(0, k + 0.5 - 55)
    share[35] = 0.95
    lead = np.round(votes * share)
    brk = share_change_point(lead[None, :], (votes - lead)[None, :])
    assert brk.tau[0] == 55
    assert brk.flat[0] == pytest.approx(0.40, abs=2e-4)
    assert brk.slope[0] == pytest.approx(0.015, abs=2e-5)
    # rows=False: not fitted
    none = share_change_point(lead[None, :], (votes - lead)[None, :], rows=np.zeros(1, bool))
    assert np.isnan(none.tau[0])


@pytest.mark.parametrize("seed", [1, 2])
def test_shpilkin_turnout_target_fraud_moves_t0_to_the_share_change_point(seed: int) -> None:
    """SYNTHETIC: half the stations pushed to a target turnout of 80% (sd 3 points),
    every added ballot for the leader (the Russia 2020 pattern): the others' robust
    mode lands at the target and t0 there misses most of the injected votes; the
    leader's share rises far above its flat level by then, so t0 moves to the share's
    change point and the estimate is within 3% of the injected votes. The regions'
    vote shares are equal here: with regional share offsets the clean election's own
    excess (a few % of the leader's votes, larger at lower t0) adds to it
    (docs/shpilkin-t0-study.md)."""
    p = ElectionParameters(n_stations=20_000, winner_region_sd=0.0)
    res, truth = simulate_election(p, FraudParameters(ft=0.5, target_turnout=0.8), seed=seed)
    injected = truth.extra["injected_target_votes"]
    assert injected == pytest.approx(float(truth.extra["target_added_votes"].sum()))
    assert (truth.fraud_type == 3).mean() == pytest.approx(0.5, abs=0.02)
    arr = station_arrays(res)
    r = shpilkin_tests(arr, national_groups(arr.n))[0][0]
    assert r.details["t0_method"] == "share change point", r.details["t0_reason"]
    assert 78 <= r.details["others_mode_pct"] <= 82
    assert r.details["share_rise_at_mode"] > 0.10
    assert r.details["t0_pct"] == r.details["share_change_point_pct"] < 75
    assert abs(r.statistic - injected) < 0.03 * injected, (r.statistic, injected)
    old = shpilkin_tests(arr, national_groups(arr.n), t0=r.details["others_mode_pct"])[0][0]
    assert old.statistic < 0.4 * injected
    assert old.details["t0_method"] == "given"


def test_shpilkin_clean_election_keeps_the_robust_mode() -> None:
    res, _ = simulate_election(ElectionParameters(n_stations=5000), seed=21)
    r = shpilkin_tests(station_arrays(res), national_groups(5000))[0][0]
    assert r.details["t0_method"] == "robust mode"
    assert r.details["t0_pct"] == r.details["others_mode_pct"]
    assert abs(r.details["share_rise_at_mode"]) <= 0.10
    assert "not more than 10" in r.details["t0_reason"]


def test_shpilkin_area_at_full_turnout_keeps_the_mode() -> None:
    # 40 stations at 99-100% turnout (some Russian TIKs): no whole percent from 1 to
    # 98 inside the range, no change point; t0 stays the mode and the row is reported
    reg = np.full(40, 1000)
    cast = np.r_[np.full(20, 995), np.full(20, 1000)]
    leader = np.r_[np.full(20, 900), np.full(20, 950)]
    arr = _arrays(reg, cast, leader, cast - leader)
    r = shpilkin_tests(arr, national_groups(arr.n))[0][0]
    assert r.details["share_change_point_pct"] is None
    assert r.details["t0_method"] == "robust mode"
    assert r.details["t0_pct"] == r.details["others_mode_pct"]
    assert "no change point" in r.details["t0_reason"]
