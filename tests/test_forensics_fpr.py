"""False-positive rates of the forensic tests on clean simulated elections (issue 3).

400 seeded clean elections of 1,000 stations (electwatch.simulate defaults: 20
regions, a capital, urban/rural, lognormal sizes) are stacked into one array with
the election as the area, so each test runs once, vectorised, and returns one
national p-value per election. For every test with a national p-value the rejection
rate at the 5% level must lie in [2%, 8%] (with 400 runs a calibrated test falls
outside with probability < 1%).

Three tests do not meet that on this simulator, for reasons that are properties of
the tests, not bugs; they are excluded from the [2%, 8%] claim and checked instead
against data for which their null is true:

* ``2bl_second_digit_mean``: the null is Benford's law, and the winner's counts of
  the simulator (lognormal sizes times shares, about one decade wide) are not
  Benford-distributed: their second-digit mean differs from 4.187 (shown below),
  so the test rejects ~9% of clean elections. With the simulator's own mean as the
  null the same z-test is calibrated (checked below), and on Benford counts too.
* ``turnout_skewness`` / ``turnout_kurtosis``: the null is a normal turnout
  distribution; clean turnout is a mixture of regional truncated normals with
  binomial noise of different station sizes, so they reject ~30-40% of clean
  elections (documented as descriptive in turnout_shape.py). Calibrated on normal
  data below.
* ``turnout_dip``: Hartigan's p-value is calibrated at the uniform distribution,
  the least favourable unimodal one, so for bell-shaped turnout its size is ~0
  (conservative): only rate <= 8% is claimed on the simulator; calibrated on uniform
  data below.

Tests without a p-value (Klimek fi/fe, Shpilkin) flag by their own rules; their
flag rates on clean elections are measured here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from electwatch.forensics import (
    area_groups,
    c05s_test,
    fingerprint,
    fit_klimek,
    integer_percent_tests,
    last_digit_tests,
    p05s_test,
    second_digit,
    second_digit_test,
    shpilkin_tests,
    station_arrays,
    turnout_shape_tests,
    turnout_share_tests,
)
from electwatch.forensics.areas import AreaGroups, StationArrays
from electwatch.forensics.digits import BENFORD_2ND_MEAN
from electwatch.simulate import ElectionParameters, simulate_election

pytestmark = pytest.mark.slow

RUNS = 400
STATIONS = 1000
LOW, HIGH = 0.02, 0.08
CALIBRATED = [
    "last_digit_mean",
    "last_digit_chi2",
    "c05s",
    "p05s",
    "integer_percent",
    "share_turnout_slope",
]


@dataclass
class Batch:
    arr: StationArrays
    elections: AreaGroups  # one area per election
    regions: AreaGroups  # (election, region) clusters
    p: dict[str, np.ndarray]  # test -> national p-value per election
    results: dict[str, list]


def _stack(arrays: list[StationArrays]) -> StationArrays:
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(a, name) for a in arrays])

    return StationArrays(
        registered=cat("registered"),
        cast=cat("cast"),
        valid=cat("valid"),
        invalid=cat("invalid"),
        blank=cat("blank"),
        votes=np.concatenate([a.votes for a in arrays]),
        candidates=arrays[0].candidates,
        winner_index=0,
        runner_up_index=1,
    )


@pytest.fixture(scope="module")
def batch() -> Batch:
    arrays, regions = [], []
    for k in range(RUNS):
        res, _ = simulate_election(ElectionParameters(n_stations=STATIONS), seed=10_000 + k)
        a = station_arrays(res)
        assert a.winner_index == 0  # the leader wins every simulated election
        arrays.append(a)
        regions.append(area_groups(res, "region").codes + 100 * k)
    arr = _stack(arrays)
    codes = np.repeat(np.arange(RUNS), STATIONS)
    elections = AreaGroups("election", codes, [f"e{k}" for k in range(RUNS)])
    _, rcodes = np.unique(np.concatenate(regions), return_inverse=True)
    clusters = AreaGroups("region", rcodes, [str(i) for i in range(rcodes.max() + 1)])
    rng = np.random.default_rng(0)
    w = arr.winner_votes
    results: dict[str, list] = {}
    for r in (
        *second_digit_test(w, elections, n_bootstrap=0),
        *last_digit_tests(w, elections, n_bootstrap=0),
        *c05s_test(w, elections, n_bootstrap=0),
        *p05s_test(w, arr.valid, elections, n_bootstrap=0),
        *turnout_shape_tests(arr.turnout(), elections, n_bootstrap=0),
        *integer_percent_tests(arr, [elections], n_mc=200, rng=rng),
        *turnout_share_tests(arr, elections, clusters),
        *shpilkin_tests(arr, elections)[0],
    ):
        results.setdefault(r.test, []).append(r)
    p = {t: np.array([r.p_value for r in rows]) for t, rows in results.items() if rows[0].p_value}
    return Batch(arr, elections, clusters, p, results)


@pytest.mark.parametrize("test", CALIBRATED)
def test_false_positive_rate_at_5_percent(batch: Batch, test: str) -> None:
    p = batch.p[test]
    assert p.size == RUNS
    rate = float(np.mean(p < 0.05))
    print(f"FPR {test}: {rate:.3f}")
    assert LOW <= rate <= HIGH, f"{test}: {rate:.3f} of {RUNS} clean elections rejected at 5%"


def test_2bl_null_is_false_for_simulated_counts_but_the_z_test_is_calibrated(
    batch: Batch,
) -> None:
    rows = batch.results["2bl_second_digit_mean"]
    # the simulator's second-digit law, from 200,000 counts of independent elections
    pool = []
    for k in range(20):
        res, _ = simulate_election(ElectionParameters(n_stations=10_000), seed=90_000 + k)
        pool.append(station_arrays(res).winner_votes)
    w = np.concatenate(pool)
    d = second_digit(w[w >= 10])
    mu, var = float(d.mean()), float(d.var())
    assert abs(mu - BENFORD_2ND_MEAN) > 4 * np.sqrt(var / d.size)  # not Benford
    rate_benford = float(np.mean(batch.p["2bl_second_digit_mean"] < 0.05))
    mean = np.array([r.statistic for r in rows])
    n = np.array([r.n for r in rows])
    p_sim = 2 * stats.norm.sf(np.abs(mean - mu) / np.sqrt(var / n))
    rate_sim = float(np.mean(p_sim < 0.05))
    print(f"FPR 2bl: Benford null {rate_benford:.3f}, simulator's mean {mu:.3f} {rate_sim:.3f}")
    assert LOW <= rate_sim <= HIGH, (rate_sim, rate_benford, mu)
    assert rate_benford > rate_sim  # the excess is the Benford null's, not the z-test's


def test_2bl_is_calibrated_on_benford_counts() -> None:
    rng = np.random.default_rng(1)
    x = np.floor(10 ** rng.uniform(2, 6, (RUNS, 2000))).astype(np.int64).ravel()
    g = AreaGroups("run", np.repeat(np.arange(RUNS), 2000), [str(i) for i in range(RUNS)])
    p = np.array([r.p_value for r in second_digit_test(x, g, n_bootstrap=0)])
    assert LOW <= float(np.mean(p < 0.05)) <= HIGH


def test_turnout_shape_on_the_simulator_is_descriptive_and_dip_is_conservative(
    batch: Batch,
) -> None:
    skew = float(np.mean(batch.p["turnout_skewness"] < 0.05))
    kurt = float(np.mean(batch.p["turnout_kurtosis"] < 0.05))
    dip = float(np.mean(batch.p["turnout_dip"] < 0.05))
    print(f"FPR turnout_skewness {skew:.3f}, turnout_kurtosis {kurt:.3f}, turnout_dip {dip:.3f}")
    # the normal-shape null is false for clean simulated turnout (see module doc)
    assert skew > HIGH and kurt > HIGH, (skew, kurt)
    assert dip <= HIGH, dip


def test_turnout_shape_tests_are_calibrated_when_their_null_holds() -> None:
    rng = np.random.default_rng(2)
    g = AreaGroups("run", np.repeat(np.arange(RUNS), 1000), [str(i) for i in range(RUNS)])
    normal = rng.normal(0.6, 0.08, RUNS * 1000)
    res = turnout_shape_tests(normal, g, n_bootstrap=0)
    for test in ("turnout_skewness", "turnout_kurtosis"):
        p = np.array([r.p_value for r in res if r.test == test])
        assert LOW <= float(np.mean(p < 0.05)) <= HIGH, test
    uniform = rng.uniform(0.3, 0.9, RUNS * 1000)
    p = np.array([r.p_value for r in turnout_shape_tests(uniform, g) if r.test == "turnout_dip"])
    assert LOW <= float(np.mean(p < 0.05)) <= HIGH


def test_shpilkin_flag_rate_on_clean_elections(batch: Batch) -> None:
    # Not a calibrated test (no p-value): its flag needs an excess above 5% of the
    # leader's votes, an interval above 0 and a positive excess for every reference
    # turnout within +-3 points. On clean simulated elections the excess share has
    # mean ~0 but a spread of ~3% of the leader's votes whatever the size (regional
    # heterogeneity, not sampling noise), so the flag fires on ~8-10% of clean
    # elections of 1,000 stations and ~2-5% of 5,000-20,000 (measured over 100-300
    # seeds). Reported to the lead; the bound below is that measurement, not 5%.
    rows = batch.results["shpilkin_excess_votes"]
    assert len(rows) == RUNS
    share = np.array([r.details["excess_share_of_leader_votes"] for r in rows])
    assert abs(float(share.mean())) < 0.01
    assert 0.02 < float(share.std()) < 0.05
    rate = float(np.mean([r.flagged for r in rows]))
    print(f"FPR shpilkin_excess_votes (flag): {rate:.3f}")
    assert rate <= 0.12


def test_klimek_rarely_flags_clean_elections() -> None:
    # the fit takes ~0.5 s, so 30 elections of 3,000 stations; flag = the 95% interval
    # of fi above 0.02 or of fe above 0.002 (klimek.py)
    flags, fis = [], []
    for k in range(30):
        res, _ = simulate_election(ElectionParameters(n_stations=3000), seed=20_000 + k)
        fp = fingerprint(station_arrays(res))
        fit = fit_klimek(fp, area_groups(res, "region").codes[fp.mask])
        flags.append(any(r.flagged for r in fit.as_results()))
        fis.append(fit.fi)
        assert fit.fe < 0.005
    print(f"Klimek flag rate {np.mean(flags):.3f}, mean fi {np.mean(fis):.3f}, max {max(fis):.3f}")
    assert float(np.mean(flags)) <= 0.1, (np.mean(flags), fis)
    assert float(np.mean(fis)) < 0.03 and max(fis) < 0.12, fis
