"""`electwatch estimate`: the published seed figures reproduce exactly through the CLI."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from electwatch.cli.main import app
from electwatch.simulate import (
    ElectionParameters,
    simulate_election,
    simulate_observer_campaign,
    write_results,
)

SEED_ARGS = [
    "estimate", "--observed-stations", "1941", "--counted", "156597",
    "--total-stations", "59000", "--eligible", "61000000", "--claim", "41%",
]  # fmt: skip


@pytest.fixture()
def runner():
    return CliRunner()


def test_seed_figures_text(runner):
    res = runner.invoke(app, SEED_ARGS, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    out = res.output
    assert "80.7 (156,597 / 1,941)" in out
    assert "4.76 million (4,760,032 = 156,597 x 59,000 / 1,941)" in out
    assert "7.8% (7.803% of 61,000,000 eligible)" in out
    assert "at most 8.2%: 5,000,000 / 61,000,000" in out
    assert "424 (observed 80.7)" in out
    assert "undercount that would reconcile" in out and "81.0%" in out
    # the seed's sensitivity grid stays under 100% (largest cell 78.0%): no warning
    assert "78.0%" in out and "impossible" not in out


def test_seed_figures_json(runner):
    res = runner.invoke(app, [*SEED_ARGS, "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    s = d["summary"]
    assert round(s["per_station"], 1) == 80.7
    assert round(s["total_voters"]) == 4_760_032
    assert round(s["turnout"] * 100, 1) == 7.8
    assert d["round_up_bound"]["voters"] == 5_000_000
    assert round(d["round_up_bound"]["turnout"] * 100, 1) == 8.2
    rec = d["reconciliation"]
    assert round(rec["implied_per_station"]) == 424
    assert rec["claimed_voters"] == pytest.approx(25_010_000)
    assert rec["undercount_needed"] == pytest.approx(1 - 4_760_032.457 / 25_010_000, rel=1e-9)
    assert d["estimates"]["naive"]["standard_error"] is None  # unknown, not invented


def test_bad_arguments_are_one_line_errors(runner):
    res = runner.invoke(app, ["estimate", "--observed-stations", "10", "--counted", "5"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["estimate"])
    assert res.exit_code == 2


def test_observations_mode_on_synthetic_files(runner, tmp_path):
    results, _ = simulate_election(ElectionParameters(n_stations=8_000, n_regions=6), seed=3)
    frame_path = write_results(results, tmp_path / "results.csv")
    obs, truth = simulate_observer_campaign(results, 800, design="stratified", seed=9)
    obs_path = tmp_path / "obs.csv"
    obs.with_columns(
        pl.col("hourly").list.eval(pl.element().cast(pl.String)).list.join(";")
    ).write_csv(obs_path)
    res = runner.invoke(
        app,
        ["estimate", "--observations", str(obs_path), "--frame", str(frame_path),
         "--strata", "region,urban", "--resamples", "300", "--claim", "90%", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    ests = d["estimates"]
    assert set(ests) == {"naive", "ratio", "stratified", "stratified ratio", "bootstrap"}
    for e in ests.values():
        assert e["ci_low"] < e["estimate"] < e["ci_high"]
        assert abs(e["estimate"] - truth.true_turnout) < 5 * e["standard_error"]
    assert d["reconciliation"]["p_value"] < 1e-6


def test_observations_mode_reports_bad_file(runner, tmp_path):
    results, _ = simulate_election(ElectionParameters(n_stations=500, n_regions=3), seed=3)
    frame_path = write_results(results, tmp_path / "results.csv")
    bad = tmp_path / "obs.csv"
    bad.write_text("station_id,observer_id,window_start,window_end,voters\n"
                   "x,o,08:00,20:00,many\n", encoding="utf-8")  # fmt: skip
    res = runner.invoke(app, ["estimate", "--observations", str(bad), "--frame", str(frame_path)])
    assert res.exit_code == 2
    assert "row 1" in res.output and "voters" in res.output and "many" in res.output


def test_impossible_sensitivity_cells_are_flagged(runner):
    # 300 voters per station x 1,000 stations / 500,000 eligible = 60%; at a selection
    # ratio of 0.6 or below the grid exceeds 100% turnout
    res = runner.invoke(
        app,
        ["estimate", "--observed-stations", "100", "--counted", "30000",
         "--total-stations", "1000", "--eligible", "500000"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "60.0%" in res.output and "100.0%" in res.output  # 60% / 0.6
    assert "cells above 100% are impossible" in res.output


def test_partial_window_message_names_polls_and_old_short_option_is_gone(runner, tmp_path):
    frame = tmp_path / "frame.csv"
    frame.write_text(
        "station_id,registered,region\n" + "".join(f"s{i},1000,r{i % 2}\n" for i in range(40)),
        encoding="utf-8",
    )  # a turnout-only frame: no cast or candidate columns
    obs = tmp_path / "obs.csv"
    obs.write_text(
        "station_id,observer_id,window_start,window_end,voters\n"
        + "".join(f"s{i},o,08:00,18:00,{500 + i}\n" for i in range(10)),
        encoding="utf-8",
    )
    res = runner.invoke(app, ["estimate", "--observations", str(obs), "--frame", str(frame)],
                        env={"COLUMNS": "300"})  # fmt: skip
    assert res.exit_code == 2
    assert "--polls" in res.output and "08:00-20:00" in res.output
    res = runner.invoke(
        app,
        ["estimate", "--observations", str(obs), "--frame", str(frame), "--polls", "08:00-18:00",
         "--strata", "region", "--resamples", "100", "-o", str(tmp_path / "out"), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads((tmp_path / "out" / "estimate.json").read_text(encoding="utf-8"))
    assert d["estimates"]["stratified"]["estimate"] == pytest.approx(504.5 / 1000)
    assert d["analysis"]["register_zero_observed"] == 0
    # -o is the output folder now: the old `-o OBSERVATIONS` is not read as observations
    res = runner.invoke(app, ["estimate", "-o", str(obs), "-f", str(frame)])
    assert res.exit_code == 2
