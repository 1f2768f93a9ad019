"""``--compat eftoolkit`` against EFToolkit's own output (Albania 2013, ../shared/peers).

The reference (`eftoolkit-albania-2013-reference.csv`, README there) is
``BasicElectionForensics(..., Candidates=c("C035","C050"), TotalReg="Registered",
TotalVotes="Ballots", R=1000)`` run in R. In compatibility mode electwatch uses
EFToolkit's conventions (every count's last digit, every denominator, percentages of
ballots cast rounded half to even) and must give the same point values to 1e-6;
bootstrap bounds must agree within Monte Carlo error (4 standard errors of a 2.5%
quantile estimated from 1,000 resamples).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from electwatch.data import load_results
from electwatch.data.model import ElectionResults
from electwatch.forensics import ForensicsReport, TestResult, run_battery

pytestmark = pytest.mark.realdata

PEERS = Path(__file__).resolve().parents[1] / ".." / "shared" / "peers"
MAPPING = """
name = "albania-2013"
election = "Albania 2013 parliamentary (EFToolkit's Albania2013.csv)"
contest = "Parliament"
station_id = 0
areas = { prefecture = "Prefectures", commune = "Communes" }
registered = "Registered"
cast = "Ballots"
candidates = { C035 = "C035", C050 = "C050" }
"""
METHOD_TO_TEST = {
    "_2BL": "2bl_second_digit_mean",
    "LastC": "last_digit_mean",
    "C05s": "c05s",
    "P05s": "p05s",
    "Sobyanin": "sobyanin",
    "Correlation": "turnout_share_correlation",
}


def _peer(name: str) -> Path:
    path = PEERS / name
    if not path.exists():
        pytest.skip(f"{path} not found (the peers' reference outputs live in ../shared/peers)")
    return path


@pytest.fixture(scope="module")
def albania(tmp_path_factory: pytest.TempPathFactory) -> ElectionResults:
    mapping = tmp_path_factory.mktemp("albania") / "albania.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    # 20 precincts report more candidate votes than ballots: kept, flagged
    return load_results(_peer("albania-2013-precincts.csv"), mapping, allow_inconsistent=True)


@pytest.fixture(scope="module")
def compat(albania: ElectionResults) -> ForensicsReport:
    return run_battery(
        albania, level="national", compat="eftoolkit", n_bootstrap=1000, n_mc=0, klimek=False
    )


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return pl.read_csv(_peer("eftoolkit-albania-2013-reference.csv"), null_values="NA")


TURNOUT_SUBJECTS = ("ballots cast (turnout counts)", "turnout % (cast of registered)")


def _ours(rep: ForensicsReport, column: str, test: str) -> TestResult:
    for r in rep.national():
        if r.test != test:
            continue
        if column == "Turnout" and r.subject in TURNOUT_SUBJECTS:
            return r
        if column != "Turnout" and r.subject not in TURNOUT_SUBJECTS and column in r.subject:
            return r
    raise KeyError((column, test))


def test_point_values_match_eftoolkit_to_1e_6(compat: ForensicsReport, reference) -> None:
    checked = 0
    for column, method, value in reference.select("column", "statistic", "value").iter_rows():
        test = METHOD_TO_TEST.get(method)
        if test is None or value is None:
            continue
        ours = _ours(compat, column, test)
        assert ours.statistic == pytest.approx(value, abs=1e-6), (column, method, ours.reading)
        checked += 1
    # _2BL, LastC, C05s, P05s for turnout and both parties; Sobyanin and correlation
    # for both parties (EFToolkit has none for turnout)
    assert checked == 16


def test_bootstrap_bounds_within_monte_carlo_error(compat: ForensicsReport, reference) -> None:
    # SE of a 2.5% quantile from B = 1,000 resamples: sqrt(q (1 - q) / B) / phi(z_q)
    # in units of the statistic's SD (normal approximation)
    q, b = 0.025, 1000
    se_units = np.sqrt(q * (1 - q) / b) / stats.norm.pdf(stats.norm.ppf(q))
    checked = 0
    for column, method, lo, up in reference.select("column", "statistic", "lo", "up").iter_rows():
        if method not in ("LastC", "C05s", "P05s", "_2BL") or lo is None:
            continue
        ours = _ours(compat, column, METHOD_TO_TEST[method])
        sd = (up - lo) / (2 * 1.96)
        tol = 4 * se_units * sd * np.sqrt(2)  # two independent bootstrap runs
        assert ours.ci_low == pytest.approx(lo, abs=tol), (column, method)
        assert ours.ci_high == pytest.approx(up, abs=tol), (column, method)
        checked += 1
    assert checked == 12


def test_default_mode_differs_only_where_documented(albania, compat, reference) -> None:
    """Defaults: counts < 10 out of LastC/C05s, denominators < 100 out of P05s,
    half-up rounding, percentages of valid votes (docs/forensics.md)."""
    default = run_battery(albania, level="national", n_bootstrap=0, n_mc=0, klimek=False)
    last = _ours(default, "C050", "last_digit_mean")
    assert last.n < _ours(compat, "C050", "last_digit_mean").n == 5508
    assert (
        last.details["digit_counts"]
        != _ours(compat, "C050", "last_digit_mean").details["digit_counts"]
    )
