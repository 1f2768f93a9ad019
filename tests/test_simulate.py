"""Simulator: reproducible, labelled synthetic, and faithful to the Klimek model."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from electwatch.data import load_results
from electwatch.data.observations import ArrivalProfile, parse_clock
from electwatch.simulate import (
    ElectionParameters,
    FraudParameters,
    simulate_election,
    simulate_observer_campaign,
    write_results,
)
from electwatch.simulate.observers import stratified_sample, weighted_sample

SMALL = ElectionParameters(n_stations=20_000, n_regions=10)


def test_same_seed_same_election():
    a, _ = simulate_election(SMALL, seed=7)
    b, _ = simulate_election(SMALL, seed=7)
    c, _ = simulate_election(SMALL, seed=8)
    assert a.frame.equals(b.frame)
    assert not a.frame.equals(c.frame)


def test_output_is_labelled_synthetic_and_round_trips(tmp_path):
    results, _ = simulate_election(SMALL, seed=1)
    assert results.synthetic and "SYNTHETIC" in results.source.note
    assert (results.frame["data_source"].str.starts_with("SYNTHETIC")).all()
    path = write_results(results, tmp_path / "sim.csv")
    again = load_results(path)  # mapping found in the sidecar
    assert again.synthetic
    assert again.candidate_totals == results.candidate_totals
    assert again.frame["registered"].equals(results.frame["registered"])


def test_counts_are_consistent():
    results, _ = simulate_election(SMALL, FraudParameters(fi=0.3, fe=0.05), seed=2)
    f = results.frame
    assert (f["cast"] <= f["registered"]).all()
    assert (f["valid"] + f["invalid"] == f["cast"]).all()
    assert (f.select(pl.sum_horizontal(results.candidates)).to_series() == f["valid"]).all()
    assert results.warnings == [] or all(w.code == "tiny_register" for w in results.warnings)


def test_fraud_shares_match_parameters():
    fi, fe = 0.25, 0.04
    _, truth = simulate_election(SMALL, FraudParameters(fi=fi, fe=fe), seed=3)
    n = SMALL.n_stations
    # binomial 4-sigma bands around the requested shares
    for share, code in ((fi, 1), (fe, 2)):
        k = (truth.fraud_type == code).sum()
        assert abs(k - share * n) < 4 * np.sqrt(n * share * (1 - share))


def test_extreme_fraud_pushes_turnout_and_share_to_one():
    results, truth = simulate_election(SMALL, FraudParameters(fe=0.1), seed=4)
    ext = truth.fraud_type == 2
    turnout = results.turnout()
    share = results.votes("Leader") / results.frame["valid"].to_numpy()
    assert np.median(turnout[ext]) > 0.9 and np.median(share[ext]) > 0.9
    assert np.median(turnout[~ext]) < 0.7


def test_incremental_fraud_matches_expected_turnout():
    """E[turnout] = E[a + x(1-a)] with x ~ |N(0, theta)| (Klimek et al. 2012)."""
    theta = 0.2
    results, truth = simulate_election(SMALL, FraudParameters(fi=1.0, theta=theta), seed=5)
    a = truth.clean_turnout
    expected = a + theta * np.sqrt(2 / np.pi) * (1 - a)  # E|N(0, theta)| = theta sqrt(2/pi)
    observed = results.turnout()
    # averaging over 20k stations: error of the mean well below 0.005
    assert abs(observed.mean() - expected.mean()) < 0.005


def test_weighted_sample_probabilities():
    rng = np.random.default_rng(0)
    w = np.array([1.0, 1.0, 8.0])
    hits = np.zeros(3)
    for _ in range(4000):
        hits[weighted_sample(rng, w, 1)] += 1
    assert hits / hits.sum() == pytest.approx(w / w.sum(), abs=0.03)


def test_stratified_sample_is_proportional():
    strata = np.repeat(["a", "b", "c"], [500, 300, 200])
    idx = stratified_sample(np.random.default_rng(1), strata, 100)
    labels, counts = np.unique(strata[idx], return_counts=True)
    assert dict(zip(labels, counts, strict=True)) == {"a": 50, "b": 30, "c": 20}
    assert len(set(idx)) == 100


def test_campaign_full_day_counts_everyone():
    results, _ = simulate_election(SMALL, seed=6)
    obs, truth = simulate_observer_campaign(results, 500, seed=1)
    cast = dict(zip(results.frame["station_id"], results.frame["cast"], strict=True))
    assert (obs["voters"].to_numpy() == np.array([cast[s] for s in obs["station_id"]])).all()
    assert truth.true_total_cast == int(results.cast.sum())


def test_campaign_partial_window_and_undercount():
    results, _ = simulate_election(SMALL, seed=6)
    profile = ArrivalProfile.default()
    obs, _ = simulate_observer_campaign(
        results, 2_000, window=(8, 14), undercount=0.1, profile=profile, seed=2
    )
    cast = dict(zip(results.frame["station_id"], results.frame["cast"], strict=True))
    truth = np.array([cast[s] for s in obs["station_id"]])
    ratio = obs["voters"].sum() / truth.sum()
    expected = float(profile.covered_share(8, 14)[0]) * 0.9
    assert ratio == pytest.approx(expected, abs=0.01)


def test_capital_heavy_design_oversamples_the_capital():
    results, _ = simulate_election(SMALL, seed=6)
    obs, _ = simulate_observer_campaign(
        results, 1_000, design="capital_heavy", capital="Capital", capital_weight=5, seed=3
    )
    share_frame = (results.frame["region"] == "Capital").mean()
    sampled = results.frame.filter(pl.col("station_id").is_in(obs["station_id"].implode()))
    assert (sampled["region"] == "Capital").mean() > 2.5 * share_frame


def test_arrival_profile():
    p = ArrivalProfile.default()
    assert p.covered_share(8, 20)[0] == pytest.approx(1.0)
    assert p.covered_share(8, 9)[0] == pytest.approx(0.05)
    assert p.covered_share(8.5, 9)[0] == pytest.approx(0.025)
    assert ArrivalProfile.uniform(8, 24).covered_share(8, 16)[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="sum to 1"):
        ArrivalProfile(8, (0.5, 0.4))
    assert parse_clock("24:00") == 24 and parse_clock("08:30") == 8.5
    with pytest.raises(ValueError):
        parse_clock("8h")
