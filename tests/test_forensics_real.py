"""Forensics on the real Russian 2011/2012 files against published figures.

Skipped when ../shared/data is absent. Published values (SPEC reference facts and
docs/forensics.md): in 492 stations of the 2012 presidential election invalid
ballots exceed the runner-up; integer-percent excess about 1,000 (2011) and 1,160
(2012) stations (Kobak, Shpilkin & Pshenichnikov 2016); Shpilkin's anomalous votes
about 15 million (2011, United Russia) and 11 million (2012, Putin).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import real_data_file
from electwatch.data import load_results
from electwatch.forensics import (
    blank_invalid_tests,
    integer_percent_tests,
    national_groups,
    shpilkin_tests,
    station_arrays,
)

pytestmark = pytest.mark.realdata


def test_2012_invalid_ballots_beat_the_runner_up_in_492_stations(
    president_2012_path: Path,
) -> None:
    arr = station_arrays(load_results(president_2012_path))
    rows = {r.test: r for r in blank_invalid_tests(arr, national_groups(arr.n))}
    assert rows["invalid_rank"].details["stations_beating_runner_up"] == 492


@pytest.mark.parametrize(
    ("fixture", "published_integer", "published_shpilkin"),
    [("duma_2011_path", 1000, 15.0e6), ("president_2012_path", 1160, 11.0e6)],
)
def test_integer_percent_and_shpilkin_reproduce_published_figures(
    request: pytest.FixtureRequest,
    fixture: str,
    published_integer: int,
    published_shpilkin: float,
) -> None:
    arr = station_arrays(load_results(request.getfixturevalue(fixture)))
    nat = national_groups(arr.n)
    ip = integer_percent_tests(arr, [nat], n_mc=200, rng=np.random.default_rng(0))[0]
    # the published excess lies inside the Monte Carlo interval of ours, and ours is
    # within 15% of it
    assert ip.ci_low < published_integer < ip.ci_high, ip.reading
    assert ip.statistic == pytest.approx(published_integer, rel=0.15)
    assert ip.p_value < 0.01
    sh = shpilkin_tests(arr, nat)[0][0]
    assert sh.statistic == pytest.approx(published_shpilkin, rel=0.05), sh.reading
    assert sh.flagged


@pytest.mark.slow
def test_2012_flagged_areas_are_calibrated_and_include_integer_percent_and_shpilkin(
    president_2012_path: Path,
) -> None:
    """The report's flagged-area list (issue 12): no descriptive statistic, and regions
    flagged by the integer-percent and Shpilkin tests are in it."""
    from electwatch.forensics import run_battery
    from electwatch.forensics.statistics import CALIBRATED, kind_of
    from electwatch.reports.sections_forensics import flagged_area_rows

    res = load_results(president_2012_path)
    rep = run_battery(res, level="region", n_bootstrap=0, n_mc=200, klimek=False)
    rows = flagged_area_rows(rep)
    tests = {t.split(" (")[0] for row in rows for t in row["tests"].split("; ")}
    assert tests and all(kind_of(t) == CALIBRATED for t in tests), tests
    assert not tests & {
        "turnout_skewness",
        "turnout_kurtosis",
        "turnout_dip",
        "2bl_second_digit_mean",
    }
    regions = [row for row in rows if row["level"] == "region"]
    assert any("integer_percent" in row["tests"] for row in regions[:40])
    assert any("shpilkin_excess_votes" in row["tests"] for row in regions[:40])
    assert [row["rank"] for row in rows] == list(range(1, len(rows) + 1))


def test_2020_referendum_shpilkin_t0_is_the_share_change_point() -> None:
    """Russia 2020: whole stations were moved to target turnouts, so the others' ("No")
    curve peaks at 81%; the "Yes" share is 18 points above its flat level there, t0
    moves to its change point (46%) and the figures come near Shpilkin's published ones
    (> 22 M anomalous votes, clean turnout ~42%, ~65% for the amendments; Znak and bne
    IntelliNews, August 2020; docs/forensics-russia-series.md)."""
    arr = station_arrays(load_results(real_data_file("russia-referendum-2020.csv.zip")))
    sh = shpilkin_tests(arr, national_groups(arr.n))[0][0]
    d = sh.details
    assert d["others_mode_pct"] == 81
    assert d["t0_method"] == "share change point", d["t0_reason"]
    assert d["t0_pct"] == d["share_change_point_pct"] == 46
    assert d["share_rise_at_mode"] == pytest.approx(0.18, abs=0.01)
    assert sh.statistic == pytest.approx(28.6e6, rel=0.01)
    assert sh.statistic > 22e6
    assert d["clean_turnout"] == pytest.approx(0.411, abs=0.002)
    assert d["leader_clean_share"] == pytest.approx(0.650, abs=0.002)


def test_2011_and_2012_shpilkin_keep_the_robust_mode(
    duma_2011_path: Path, president_2012_path: Path
) -> None:
    for path, t0 in ((duma_2011_path, 52), (president_2012_path, 60)):
        arr = station_arrays(load_results(path))
        d = shpilkin_tests(arr, national_groups(arr.n))[0][0].details
        assert d["t0_method"] == "robust mode" and d["t0_pct"] == d["others_mode_pct"] == t0
