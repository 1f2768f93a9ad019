"""The real CEC files load and reproduce the published totals exactly."""

from __future__ import annotations

import polars as pl
import pytest

from electwatch.data import load_results

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def duma(duma_2011_path):
    return load_results(duma_2011_path)


@pytest.fixture(scope="module")
def president(president_2012_path):
    return load_results(president_2012_path)


def test_duma_2011_published_totals(duma):
    s = duma.summary()
    assert s.stations == 95_225
    assert s.registered == 109_229_337
    assert round(s.turnout, 3) == 0.601
    assert s.cast == s.valid + s.invalid
    assert duma.winner == '6. Всероссийская политическая партия "ЕДИНАЯ РОССИЯ"'
    assert len(duma.candidates) == 7
    assert duma.area_levels == ["region", "tik"]
    assert s.area_counts["region"] == 84


def test_president_2012_published_totals(president):
    s = president.summary()
    assert s.stations == 95_415
    assert s.registered == 109_860_331
    assert round(s.turnout, 3) == 0.653
    assert president.winner == "Путин Владимир Владимирович"
    assert president.candidates[-1] == "Путин Владимир Владимирович"
    assert len(president.candidates) == 5


def test_odd_stations_are_kept_and_flagged(president):
    codes = {w.code: w.count for w in president.warnings}
    # stations abroad and tiny rolls (ships, hospitals) are kept, not dropped
    assert codes["abroad"] == int(president.frame["abroad"].sum()) > 300
    assert codes["tiny_register"] == int((president.frame["registered"] < 20).sum())
    assert president.frame.filter(pl.col("flag_no_register")).height == codes["no_register"]


def test_extra_counts_are_kept(duma):
    # ballots found in the two boxes make up ballots cast
    f = duma.frame
    assert (f["mobile_box"] + f["stationary_box"] == f["cast"]).all()


def test_iran_2009_province_table(iran_2009_path):
    r = load_results(iran_2009_path)
    s = r.summary()
    assert s.stations == 30
    # the provinces add up to 24,515,209, not the national 24,527,516 announced:
    # the table is loaded as published, not "corrected"
    assert s.candidate_votes["Ahmadinejad"] == 24_515_209
    assert s.cast == 39_145_990
    # three Khorasan provinces have no eligible-voter count: kept, flagged
    assert s.stations_with_register == 27
    assert {w.code: w.count for w in r.warnings}["no_register"] == 3
    assert r.registered[~(r.registered > 0)].size == 3
