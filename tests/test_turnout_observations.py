"""Observation records: loading CSV/JSON and clear errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from electwatch.errors import DataValidationError
from electwatch.simulate import ElectionParameters, simulate_election, simulate_observer_campaign
from electwatch.turnout import frame_from_results, load_observations

HEADER = "station_id,observer_id,window_start,window_end,voters,hourly,notes\n"


@pytest.fixture(scope="module")
def election():
    results, _ = simulate_election(ElectionParameters(n_stations=5_000, n_regions=8), seed=11)
    return results


def write(tmp_path, text, name="obs.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_csv_and_json_round_trip(tmp_path, election):
    obs, _ = simulate_observer_campaign(election, 300, seed=4)
    csv_path = tmp_path / "obs.csv"
    obs.with_columns(
        pl.col("hourly").list.eval(pl.element().cast(pl.String)).list.join(";")
    ).write_csv(csv_path)
    json_path = tmp_path / "obs.json"
    json_path.write_text(json.dumps({"observations": obs.to_dicts()}), encoding="utf-8")
    a = load_observations(csv_path)
    b = load_observations(json_path)
    for o in (a, b):
        assert o.n == 300
        assert (o.voters == obs["voters"].to_numpy()).all()
        assert o.has_hourly.all()
        assert (o.start == 8.0).all() and (o.end == 20.0).all()
        np.testing.assert_array_equal(o.hourly_matrix(12), np.vstack(obs["hourly"].to_list()))
    frame = frame_from_results(election, ["region"])
    rows = frame.match(a.station_ids)
    assert (frame.frame["station_id"].to_numpy()[rows] == a.station_ids).all()


@pytest.mark.parametrize(
    ("body", "row", "column", "value", "expected"),
    [
        ("s1,o1,08:00,20:00,12,,\ns2,o2,08:00,20:00,abc,,\n", 2, "voters", "abc", "whole number"),
        ("s1,o1,08:00,20:00,-3,,\n", 1, "voters", "-3", "whole number"),
        ("s1,o1,8h,20:00,12,,\n", 1, "window_start", "8h", "HH:MM"),
        ("s1,o1,14:00,09:00,12,,\n", 1, "window_end", "09:00", "after 14:00"),
        ("s1,o1,08:00,20:00,12,5;6,\n", 1, "hourly", "5;6", "summing to 12"),
        ("s1,o1,08:00,20:00,12,,\ns1,o2,08:00,20:00,3,,\n", 2, "station_id", "s1", "one record"),
        ("s1,,08:00,20:00,12,,\n", 1, "observer_id", None, "pseudonymous"),
    ],
)
def test_bad_values_name_file_row_column_value(tmp_path, body, row, column, value, expected):
    p = write(tmp_path, HEADER + body)
    with pytest.raises(DataValidationError) as err:
        load_observations(p)
    e = err.value
    assert e.file == str(p) and e.row == row and e.column == column
    if value is not None:
        assert str(e.value) == value
    assert expected in (e.expected or "")
    assert f"row {row}" in str(e) and column in str(e)


def test_missing_column_and_file_type(tmp_path):
    p = write(tmp_path, "station_id,voters\ns1,3\n")
    with pytest.raises(DataValidationError, match="missing column"):
        load_observations(p)
    with pytest.raises(DataValidationError, match="unknown file type"):
        load_observations(write(tmp_path, "x", "obs.xml"))
    with pytest.raises(DataValidationError, match="not found"):
        load_observations(tmp_path / "nope.csv")


def test_json_errors(tmp_path):
    with pytest.raises(DataValidationError, match="not valid JSON"):
        load_observations(write(tmp_path, "{", "o.json"))
    with pytest.raises(DataValidationError) as err:
        load_observations(write(tmp_path, '[{"station_id": "a"}, 5]', "o.json"))
    assert err.value.row == 2


def test_unknown_station_is_an_error(tmp_path, election):
    p = write(tmp_path, HEADER + "no-such-station,o1,08:00,20:00,12,,\n")
    obs = load_observations(p)
    with pytest.raises(DataValidationError) as err:
        frame_from_results(election).match(obs.station_ids, obs.file)
    assert err.value.column == "station_id" and err.value.value == "no-such-station"


def test_hourly_length_must_match_polling_hours(tmp_path):
    p = write(tmp_path, HEADER + "s1,o1,08:00,20:00,3,1;1;1,\n")
    with pytest.raises(DataValidationError, match="3 entries"):
        load_observations(p).hourly_matrix(12)
