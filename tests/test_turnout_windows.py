"""Partial watch windows: profile estimation and corrected estimates with known truth."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from electwatch.data.observations import ArrivalProfile
from electwatch.simulate import ElectionParameters, simulate_election, simulate_observer_campaign
from electwatch.turnout import (
    estimate_turnout,
    fit_profile_shares,
    frame_from_results,
    observations_from_frame,
    overlap_matrix,
)

PROFILE = ArrivalProfile.default()


@pytest.fixture(scope="module")
def election():
    results, _ = simulate_election(ElectionParameters(n_stations=20_000, n_regions=10), seed=21)
    return results


def mixed_campaign(results, seed):
    """600 stations watched all day (hourly counts) + 900 others watched 08:00-14:00."""
    full, _ = simulate_observer_campaign(results, 600, seed=seed)
    rest = results.subset(~pl.col("station_id").is_in(full["station_id"].to_list()))
    part, _ = simulate_observer_campaign(rest, 900, window=(8.0, 14.0), seed=seed + 1)
    return pl.concat([full, part])


def test_profile_recovered_from_full_day_hourly_counts():
    rng = np.random.default_rng(0)
    totals = rng.integers(200, 2000, 400)
    hourly = rng.multinomial(totals, PROFILE.shares)
    o = overlap_matrix(np.full(400, 8.0), np.full(400, 20.0), 8, 12)
    p = fit_profile_shares(hourly, o)
    # one step when every window is full: ratio of sums
    np.testing.assert_allclose(p, hourly.sum(0) / hourly.sum(), rtol=1e-12)
    np.testing.assert_allclose(p, PROFILE.shares, atol=0.003)


def test_profile_recovered_from_mixed_partial_windows():
    rng = np.random.default_rng(1)
    n = 3000
    totals = rng.integers(200, 2000, n)
    start = rng.choice([8.0, 10.5, 14.0], n)
    end = np.minimum(start + rng.choice([4.0, 6.0, 12.0], n), 20.0)
    o = overlap_matrix(start, end, 8, 12)
    lam = totals[:, None] * np.asarray(PROFILE.shares)[None, :] * o
    hourly = rng.poisson(lam)
    p = fit_profile_shares(hourly, o)
    np.testing.assert_allclose(p, PROFILE.shares, atol=0.004)
    # vectorised over bootstrap replicate weights: equal weights give the same fit
    pb = fit_profile_shares(hourly, o, np.ones((3, n)))
    np.testing.assert_allclose(pb, np.tile(p, (3, 1)), rtol=1e-9)


def test_unwatched_hours_cannot_be_estimated():
    o = overlap_matrix(np.full(5, 8.0), np.full(5, 14.0), 8, 12)
    with pytest.raises(ValueError, match="no observer watched"):
        fit_profile_shares(np.ones((5, 12)) * o, o)


def test_partial_window_with_given_profile_recovers_truth(election):
    obs, truth = simulate_observer_campaign(election, 1500, window=(8.0, 14.0), seed=3)
    frame = frame_from_results(election, ["region"])
    a = estimate_turnout(observations_from_frame(obs), frame, profile=PROFILE, n_resamples=500)
    naive = a.estimates["naive"]
    covered = PROFILE.covered_share(8.0, 14.0)[0]
    assert a.mean_covered_share == pytest.approx(covered)
    assert abs(naive.estimate - truth.true_turnout) < 4 * naive.standard_error
    # uncorrected, the count is off by the share not watched
    raw = obs["voters"].sum() / 1500 * frame.n_stations / frame.registered_total
    assert raw == pytest.approx(covered * naive.estimate, rel=1e-9)


def test_partial_window_without_profile_or_hourly_is_an_error(election):
    obs, _ = simulate_observer_campaign(election, 200, window=(8.0, 14.0), seed=3)
    frame = frame_from_results(election)
    with pytest.raises(ValueError, match="part of the polling day"):
        estimate_turnout(observations_from_frame(obs.drop("hourly")), frame)


def test_estimated_profile_uncertainty_is_propagated(election):
    obs = mixed_campaign(election, seed=7)
    frame = frame_from_results(election, ["region"])
    o = observations_from_frame(obs)
    a = estimate_turnout(o, frame, estimate_profile=True, polls=(8, 20), n_resamples=800)
    assert a.profile_estimated and a.stations_partial == 900
    np.testing.assert_allclose(a.profile.shares, PROFILE.shares, atol=0.01)
    truth = election.national_turnout()
    boot = a.estimates["bootstrap"]
    assert "profile re-estimated" in boot.method
    assert abs(boot.estimate - truth) < 4 * boot.standard_error
    # same replicate weights, profile held fixed at its estimate: never wider
    b = estimate_turnout(o, frame, profile=a.profile, n_resamples=800)
    assert boot.estimate == pytest.approx(b.estimates["bootstrap"].estimate)
    assert boot.standard_error >= b.estimates["bootstrap"].standard_error


def test_profile_from_few_hourly_reports_widens_the_interval(election):
    """With hourly counts from only 12 stations the profile is uncertain; the bootstrap
    that re-estimates it must give a clearly wider interval than a fixed profile."""
    full, _ = simulate_observer_campaign(election, 12, seed=5)
    rest = election.subset(~pl.col("station_id").is_in(full["station_id"].to_list()))
    part, _ = simulate_observer_campaign(rest, 1500, window=(8.0, 14.0), seed=6)
    part = part.with_columns(pl.lit(None, dtype=pl.List(pl.Int64)).alias("hourly"))
    o = observations_from_frame(pl.concat([full, part]))
    frame = frame_from_results(election, ["region"])
    a = estimate_turnout(o, frame, estimate_profile=True, polls=(8, 20), n_resamples=1000)
    b = estimate_turnout(o, frame, profile=a.profile, n_resamples=1000)
    se_a = a.estimates["bootstrap"].standard_error
    se_b = b.estimates["bootstrap"].standard_error
    # 12 stations x ~1,000 voters: the 08-14 share has a relative SE of ~1%, against
    # ~2% sampling error of the mean; sqrt(1 + 0.25) ~ 1.1
    assert se_a > 1.05 * se_b
