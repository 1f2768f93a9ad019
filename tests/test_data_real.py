"""The real CEC files load by header and reproduce the published totals exactly;
a mapping written for one year never silently misreads another year's file."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import polars as pl
import pytest

from conftest import real_data_file
from electwatch.data import ColumnMapping, load_results
from electwatch.data.loaders import candidate_block, find_column
from electwatch.data.mapping import builtin_mappings
from electwatch.errors import ElectwatchError

pytestmark = pytest.mark.realdata

# published station and register totals (../shared/data/README.md, from dkobak/elections)
PUBLISHED = {
    "russia-president-2004.csv.zip": (95_779, 108_064_342),
    "russia-duma-2007.csv.zip": (96_193, 109_148_196),
    "russia-president-2008.csv.zip": (96_612, 107_222_016),
    "russia-duma-2011.csv.zip": (95_225, 109_229_337),
    "russia-president-2012.csv.zip": (95_415, 109_860_331),
    "russia-referendum-2020.csv.zip": (96_765, 107_999_611),
}


@pytest.fixture(scope="module")
def duma(duma_2011_path):
    return load_results(duma_2011_path)


@pytest.fixture(scope="module")
def president(president_2012_path):
    return load_results(president_2012_path)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_cec_file_is_recognised_by_header_with_published_totals(name, tmp_path):
    path = real_data_file(name)
    # under the publisher's own name (2011.csv.zip): recognition is by header, not name
    renamed = tmp_path / (name.split("-")[-1])
    renamed.symlink_to(path.resolve())
    r = load_results(renamed)
    s = r.summary()
    assert r.source.mapping == "russia-cec"
    assert (s.stations, s.registered) == PUBLISHED[name]
    assert r.level == "station" and r.has_register
    # the parts add up: every candidate column is a candidate, none is missing
    if s.valid is not None:
        assert s.valid == sum(s.candidate_votes.values())
    assert s.cast >= sum(s.candidate_votes.values())


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
    # territorial commissions are counted within their region (same name, two regions)
    assert s.area_counts["tik"] == 2_746
    assert duma.frame["tik"].n_unique() == 2_730


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


def test_against_all_is_an_outcome_not_the_winner():
    r = load_results(real_data_file("russia-president-2004.csv.zip"))
    assert r.against_all == ["Против всех"]
    assert r.winner == "Путин Владимир Владимирович"


# --- each year's mapping on each other year's file --------------------------------

SAMPLE_ROWS = 4_000


def _sample(name: str, tmp_path) -> tuple:
    """The first rows of a shared file, written to tmp (a working copy, not committed)."""
    with zipfile.ZipFile(real_data_file(name)) as zf:
        text = zf.read(zf.namelist()[0]).decode("utf-8")
    lines = text.splitlines(keepends=True)[: SAMPLE_ROWS + 1]
    path = tmp_path / name.replace(".csv.zip", ".csv")
    path.write_text("".join(lines), encoding="utf-8")
    header = next(csv.reader(io.StringIO(lines[0])))
    return path, header


def _positional_mapping(year: str, header: list[str]) -> dict:
    """The mapping a user would write for one year by column positions (the form that
    misread other years before): positions found by the built-in wording patterns."""
    base = ColumnMapping.from_toml(builtin_mappings()["russia-cec"])

    def pos(ref):
        return header.index(find_column(header, ref))

    block = candidate_block(header, base.candidate_columns)
    d = {
        "name": f"russia-{year}-by-position",
        "station_id": [pos(r) for r in base.station_id],
        "areas": {"region": pos(base.areas[0][1]), "tik": pos(base.areas[1][1])},
        "registered": pos(base.registered),
        "cast": [pos(r) for r in base.cast if find_column(header, r)],
        "invalid": pos(base.invalid),
        "candidate_columns": f"{header.index(block[0])}:{header.index(block[-1])}",
    }
    if find_column(header, base.valid):
        d["valid"] = pos(base.valid)
    return d


def test_each_years_mapping_on_each_other_year_loads_right_or_refuses(tmp_path):
    files = {name.split("-")[-1][:4]: _sample(name, tmp_path) for name in sorted(PUBLISHED)}
    truth = {year: load_results(path) for year, (path, _) in files.items()}
    mappings = {year: _positional_mapping(year, header) for year, (_, header) in files.items()}
    outcomes = {}
    for m_year, d in mappings.items():
        for f_year, (path, _) in files.items():
            try:
                r = load_results(path, ColumnMapping.from_dict(d))
            except ElectwatchError as exc:
                message = str(exc)
                assert "\n" not in message and str(path) in message
                outcomes[m_year, f_year] = "refused"
                continue
            right = truth[f_year]
            # loaded: then it must be the right reading, candidate by candidate
            assert r.candidate_totals == right.candidate_totals, (m_year, f_year)
            assert r.summary().registered == right.summary().registered
            assert r.summary().cast == right.summary().cast
            outcomes[m_year, f_year] = "loaded"
    assert all(outcomes[y, y] == "loaded" for y in files)
    # the layouts differ enough that most pairings must refuse
    assert sum(v == "refused" for v in outcomes.values()) >= 25


def test_builtin_mapping_on_the_wrong_layout_refuses_naming_what_is_missing(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("region;tik;uik;votes\nA;B;1;3\n", encoding="utf-8")
    with pytest.raises(ElectwatchError, match=r"does not fit mapping 'russia-cec'.*lacks"):
        load_results(path, "russia-cec")
    with pytest.raises(ElectwatchError, match=r"closest built-in mapping 'russia-cec' lacks"):
        load_results(path)


def test_iran_2009_province_table(iran_2009_path):
    r = load_results(iran_2009_path)
    s = r.summary()
    assert s.stations == 30
    assert r.level == "area"
    # the provinces add up to 24,515,209, not the national 24,527,516 announced:
    # the table is loaded as published, not "corrected"
    assert s.candidate_votes["Ahmadinejad"] == 24_515_209
    assert s.cast == 39_145_990
    # three Khorasan provinces have no eligible-voter count: missing (never 0), flagged
    assert s.stations_with_register == 27
    assert {w.code: w.count for w in r.warnings}["no_register"] == 3
    assert r.registered[~(r.registered > 0)].size == 3
    assert r.frame.filter(pl.col("registered").is_null()).height == 3
    excluded = ["South Khorasan", "Khorasan Razavi", "North Khorasan"]
    assert sorted(s.turnout_excluded) == sorted(excluded)
    # turnout over the 27 provinces with an electorate, and never infinite
    with_register = r.frame.filter(pl.col("registered").is_not_null())
    assert s.turnout == pytest.approx(
        with_register["cast"].sum() / with_register["registered"].sum()
    )
    assert s.turnout < 1
    t = r.turnout()
    assert np.isnan(t[r.frame["registered"].is_null().to_numpy()]).all()  # NaN, not inf
    # no vetting figures nobody gave
    assert r.to_dict()["contest"]["vetting"] is None
