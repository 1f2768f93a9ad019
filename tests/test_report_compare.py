"""``electwatch compare`` (issue 15): per-region shifts of turnout and the leader's share
between the shared 2011 Duma and 2012 presidential files, against an independent
computation here (polars group-by on the raw station rows; the interval by the closed
form of the ratio estimator's linearised variance, Cochran 1977 eq. 6.13)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from electwatch.reports.compare import Z95, compare_results, ratio_by_area


def test_ratio_variance_in_closed_form():
    # two areas; area 0: y = (1, 3), x = (2, 2) -> R = 1, residuals (-1, 1)
    # v = n/(n-1) * sum(res^2) / (sum x)^2 = 2 * 2 / 16 = 0.25
    r = ratio_by_area(
        np.array([0, 0, 1]), ["a", "b"], np.array([1.0, 3, 5]), np.array([2.0, 2, 10])
    )
    assert r.ratio.tolist() == [1.0, 0.5]
    assert r.variance[0] == pytest.approx(0.25)
    assert np.isnan(r.variance[1])  # one station: no variance
    assert r.stations.tolist() == [2, 1]


def _independent(results, leader):
    f = results.frame.filter(pl.col("registered") > 0)
    g = (
        f.group_by("region")
        .agg(
            n=pl.len(),
            reg=pl.col("registered").sum(),
            cast=pl.col("cast").sum(),
            lead=pl.col(leader).sum(),
        )
        .with_columns(turnout=pl.col("cast") / pl.col("reg"), share=pl.col("lead") / pl.col("cast"))
    )
    # the linearised variance, written out row by row
    f = f.join(g.select("region", "turnout", "reg", "n"), on="region")
    v = (
        f.with_columns(res=(pl.col("cast") - pl.col("turnout") * pl.col("registered")) ** 2)
        .group_by("region")
        .agg(
            v=pl.col("res").sum()
            / pl.col("reg").first() ** 2
            * pl.col("n").first()
            / (pl.col("n").first() - 1)
        )
    )
    return g.join(v, on="region")


@pytest.mark.realdata
def test_compare_2011_2012_equals_an_independent_computation(duma_2011_path, president_2012_path):
    from electwatch.data import load_results

    a = load_results(duma_2011_path)
    b = load_results(president_2012_path)
    comp = compare_results(a, b, level="region")
    ia = _independent(a, a.winner)
    ib = _independent(b, b.winner)
    both = ia.join(ib, on="region", suffix="_b")
    assert len(comp.areas) == both.height >= 80
    by_area = {x.area: x for x in comp.areas}
    for row in both.iter_rows(named=True):
        x = by_area[row["region"]]
        shift = row["turnout_b"] - row["turnout"]
        assert x.turnout_shift == pytest.approx(shift, rel=1e-9, abs=1e-12)
        assert x.share_shift == pytest.approx(row["share_b"] - row["share"], rel=1e-9, abs=1e-12)
        half = Z95 * np.sqrt(row["v"] + row["v_b"])
        assert x.turnout_shift_high - x.turnout_shift == pytest.approx(half, rel=1e-6)
        assert x.stations_a == row["n"] and x.stations_b == row["n_b"]
    # the leaders are each election's own
    assert comp.leader_a == a.winner and comp.leader_b == b.winner and a.winner != b.winner
    # national turnout shift as published: 60.21% (2011) -> 65.34% (2012), CEC totals
    assert comp.national["turnout_shift"] == pytest.approx(
        b.summary().turnout - a.summary().turnout
    )


@pytest.mark.realdata
def test_compare_cli_json(duma_2011_path, president_2012_path, tmp_path):
    from electwatch.cli.main import app

    res = CliRunner().invoke(
        app,
        ["compare", str(duma_2011_path), str(president_2012_path), "--json", "-o", str(tmp_path)],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["level"] == "region" and len(data["areas"]) >= 80
    assert (tmp_path / "compare.csv").exists()
    on_disk = json.loads((tmp_path / "compare.json").read_text(encoding="utf-8"))
    assert on_disk["areas"] == data["areas"]
