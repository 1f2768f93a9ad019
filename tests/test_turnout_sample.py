"""Sample design (`electwatch sample`) and cumulative snapshots: allocation formulas,
seeded reproducibility, reserves, design weights used by the estimators, the NDI
sample-size formula, snapshot validation and conversion, and the tiny-window fix."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from electwatch.cli.main import app
from electwatch.errors import DataValidationError
from electwatch.turnout import estimate_turnout, stratified_estimate
from electwatch.turnout.frame import StationFrame
from electwatch.turnout.observations import observations_from_frame
from electwatch.turnout.sample import allocate, draw_sample, read_sample_design, sample_size
from electwatch.turnout.snapshots import snapshots_from_records, snapshots_to_observations


def synthetic_frame(n: int = 5_000, seed: int = 0) -> StationFrame:
    """SYNTHETIC station frame: registers, region (skewed sizes) and urban flag."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "capital"], n, p=[0.4, 0.3, 0.2, 0.1])
    return StationFrame(
        pl.DataFrame(
            {
                "station_id": [f"s{i}" for i in range(n)],
                "registered": np.where(region == "capital", 2000, 600)
                + rng.integers(0, 400, n) * np.where(region == "east", 5, 1),
                "region": region,
                "urban": rng.choice(["urban", "rural"], n),
            }
        )
    )


def test_allocation_proportional_neyman_and_floors():
    sizes = np.array([400, 300, 200, 100])
    assert allocate(sizes, 100).tolist() == [40, 30, 20, 10]
    sd = np.array([1.0, 1.0, 4.0, 1.0])
    # Neyman: n_h proportional to N_h S_h = 400, 300, 800, 100
    assert allocate(sizes, 160, "neyman", sd).tolist() == [40, 30, 80, 10]
    # the floor of 2 per stratum, and n_h <= N_h
    assert allocate(np.array([1000, 3, 1]), 20).tolist() == [17, 2, 1]
    with pytest.raises(ValueError, match="coarser strata"):
        allocate(np.array([10] * 10), 15)


def test_draw_sample_is_seeded_with_reserves_and_weights(tmp_path):
    frame = synthetic_frame()
    s1 = draw_sample(frame, 300, strata=["region", "urban"], reserves=2, seed=5)
    s2 = draw_sample(frame, 300, strata=["region", "urban"], reserves=2, seed=5)
    s3 = draw_sample(frame, 300, strata=["region", "urban"], reserves=2, seed=6)
    assert s1.table.equals(s2.table) and not s1.table.equals(s3.table)
    t = s1.table
    main = t.filter(pl.col("role") == "sample")
    assert main.height == 300 and main["station_id"].n_unique() == 300
    assert t.filter(pl.col("role") == "reserve").height == 2 * t["stratum"].n_unique()
    assert set(t.filter(pl.col("role") == "reserve")["reserve_rank"].to_list()) == {1, 2}
    sizes = frame.stratum_sizes(["region", "urban"])
    for row in main.group_by("stratum").agg(pl.len(), pl.col("weight").first()).iter_rows():
        assert row[2] == pytest.approx(sizes[row[0]] / row[1])
    # proportional: n_h within 1 of n N_h / N
    for row in main.group_by("stratum").agg(pl.len()).iter_rows():
        assert abs(row[1] - 300 * sizes[row[0]] / frame.n_stations) <= 1
    path = s1.write_csv(tmp_path / "sample.csv")
    design = read_sample_design(path)
    assert design.sizes == sizes
    assert design.columns == ("region", "urban")


def test_estimators_use_the_sample_files_design(tmp_path):
    frame = synthetic_frame()
    s = draw_sample(frame, 400, strata=["region"], allocation="neyman", seed=1)
    s.write_csv(tmp_path / "sample.csv")
    design = read_sample_design(tmp_path / "sample.csv")
    ids = s.table.filter(pl.col("role") == "sample")["station_id"]
    reg = frame.frame.join(pl.DataFrame({"station_id": ids}), on="station_id")
    voters = (reg["registered"] * 0.5).round().cast(pl.Int64)
    obs = observations_from_frame(
        pl.DataFrame({"station_id": reg["station_id"], "observer_id": "o",
                      "window_start": "08:00", "window_end": "20:00", "voters": voters})
    )  # fmt: skip
    a = estimate_turnout(obs, frame, design=design, n_resamples=100)
    ref = stratified_estimate(
        voters.to_numpy(), reg["region"].to_numpy(), frame.stratum_sizes(["region"]),
        frame.registered_total,
    )  # fmt: skip
    assert a.estimates["stratified"].estimate == pytest.approx(ref.estimate)
    assert a.estimates["stratified"].standard_error == pytest.approx(ref.standard_error)


def test_ndi_sample_size_formula():
    # Estok, Nevitte & Cowan (2002): n = N z^2 pq / (N e^2 + z^2 pq)
    z = 1.959963984540054
    ss = sample_size(0.01, voters_per_station=500, voters=10_000_000)
    nv = 1e7 * z**2 * 0.25 / (1e7 * 1e-4 + z**2 * 0.25)
    assert ss.voters_needed == pytest.approx(nv)
    assert ss.stations == math.ceil(nv / 500)
    assert sample_size(0.01, voters_per_station=500, design_effect=4).stations == math.ceil(
        z**2 * 0.25 / 1e-4 * 4 / 500
    )


def test_sample_cli_writes_the_file(tmp_path):
    frame = synthetic_frame(2_000)
    frame.frame.write_csv(tmp_path / "frame.csv")
    res = CliRunner().invoke(
        app,
        ["sample", str(tmp_path / "frame.csv"), "--size", "120", "--strata", "region",
         "--reserves", "1", "--seed", "3", "-o", str(tmp_path / "out"), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["design"]["n"] == 120
    t = pl.read_csv(tmp_path / "out" / "sample.csv")
    assert t.filter(pl.col("role") == "sample").height == 120


def test_snapshots_convert_to_windows_and_hourly_counts():
    recs = [
        {"station": "a", "observer": "o1", "counted_since": "08:00", "time": "10:00",
         "cumulative": 30},
        {"station": "a", "observer": "o1", "counted_since": "08:00", "time": "09:00",
         "cumulative": "۱۰"},
        {"station": "b", "observer": "o2", "counted_since": "08:00", "time": "12:00",
         "cumulative": 80},
        {"station": "b", "observer": "o3", "counted_since": "10:00", "time": "11:00",
         "cumulative": 5},
    ]  # fmt: skip
    obs = snapshots_to_observations(snapshots_from_records(recs), (8, 20))
    f = obs.frame.sort("station_id")
    assert f["window_end"].to_list() == ["10:00", "12:00"]
    assert f["voters"].to_list() == [30, 80]
    hourly = obs.hourly_matrix(12)
    assert hourly[0, :2].tolist() == [10, 20] and hourly[0, 2:].sum() == 0
    assert hourly[1].sum() == pytest.approx(80) and hourly[1, 4:].sum() == 0
    assert "1 shorter series" in obs.notes[0]
    bad = [*recs, {"station": "a", "observer": "o1", "counted_since": "08:00",
                   "time": "11:00", "cumulative": 20}]  # fmt: skip
    with pytest.raises(DataValidationError, match="decreases"):
        snapshots_from_records(bad)


def test_tiny_windows_are_excluded_and_reported():
    frame = synthetic_frame(1_000)
    rng = np.random.default_rng(0)
    rows = rng.choice(1_000, 60, replace=False)
    ids = frame.frame["station_id"].to_numpy()[rows]
    hourly = rng.poisson(40, size=(60, 13))
    end = np.full(60, "20:00")
    # two observers whose last count came at 07:01 with 2 and 3 voters
    hourly[:2] = 0
    hourly[0, 0], hourly[1, 0] = 2, 3
    end[:2] = "07:01"
    obs = observations_from_frame(
        pl.DataFrame({"station_id": ids, "observer_id": "o", "window_start": "07:00",
                      "window_end": end, "voters": hourly.sum(axis=1),
                      "hourly": hourly.tolist()})
    )  # fmt: skip
    a = estimate_turnout(obs, frame, polls=(7, 20), estimate_profile=True, n_resamples=100)
    assert a.excluded_low_coverage == 2
    assert a.estimates["naive"].n == 58
    assert any("2 stations excluded" in n for n in a.notes)
