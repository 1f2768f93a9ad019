"""Loading tables of every shape and format (SYNTHETIC files written by the tests)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from electwatch.cli.main import app
from electwatch.core.numbers import parse_count
from electwatch.data import ColumnMapping, load_results
from electwatch.data.draft import draft_mapping
from electwatch.errors import DataValidationError, ElectwatchError, MappingError
from synthetic_tables import (
    BLANK,
    INVALID,
    TOTAL_BALLOTS,
    persian_number,
    write_iran_long_cp1256,
    write_iran_long_utf8,
)

runner = CliRunner()

STATIONS = {
    "station_id": "station",
    "areas": {"province": "province"},
    "registered": "registered",
    "cast": "cast",
    "invalid": "invalid",
    "candidates": {"A": "a", "B": "b"},
}
HEADER = ["station", "province", "registered", "cast", "invalid", "a", "b"]
ROWS = [
    ["1", "North", "100", "60", "2", "30", "28"],
    ["2", "North", "200", "150", "5", "100", "45"],
    ["3", "South", "80", "40", "0", "20", "20"],
]


def csv_text(rows: list[list[str]], sep: str = ",", header: list[str] = HEADER) -> str:
    return "\n".join(sep.join(r) for r in [header, *rows]) + "\n"


def write(tmp_path: Path, text: str, name: str = "r.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- delimiters and encodings ------------------------------------------------------


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_delimiter_is_detected(tmp_path, sep):
    r = load_results(write(tmp_path, csv_text(ROWS, sep)), ColumnMapping.from_dict(STATIONS))
    assert r.candidate_totals == {"A": 150, "B": 93}
    assert r.source.delimiter == sep


def test_delimiter_override(tmp_path):
    # a semicolon file whose names hold commas: detection would pick ";", the
    # override says so explicitly too; a wrong override fails with a one-line error
    path = write(tmp_path, csv_text(ROWS, ";"))
    m = ColumnMapping.from_dict(STATIONS)
    assert load_results(path, m, delimiter="semicolon").n_stations == 3
    with pytest.raises(DataValidationError, match=r"not found.*delimiter is probably ';'"):
        load_results(path, m, delimiter=",")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_unicode_encodings_are_read_automatically(tmp_path, encoding):
    rows = [[*r[:1], "Москва", *r[2:]] for r in ROWS]
    r = load_results(write(tmp_path, csv_text(rows), encoding=encoding), STATIONS_MAPPING())
    assert r.frame["province"].to_list() == ["Москва"] * 3


def STATIONS_MAPPING() -> ColumnMapping:
    return ColumnMapping.from_dict(STATIONS)


@pytest.mark.parametrize(
    ("codec", "text", "hint"),
    [("cp1251", "Москва", "Windows-1251"), ("cp1256", "کرمان", "Windows-1256")],
)
def test_legacy_encoding_is_refused_with_the_likely_one_named(tmp_path, codec, text, hint):
    from synthetic_tables import arabic_forms

    rows = [[*r[:1], arabic_forms(text), *r[2:]] for r in ROWS]
    path = write(tmp_path, csv_text(rows), encoding=codec)
    with pytest.raises(DataValidationError) as info:
        load_results(path, STATIONS_MAPPING())
    assert hint in str(info.value) and "--encoding" in str(info.value)
    assert f"--encoding {codec}" in str(info.value)
    assert load_results(path, STATIONS_MAPPING(), encoding=codec).n_stations == 3


# --- counts: one normalizer ---------------------------------------------------------


def test_persian_digits_and_separators_in_a_station_file(tmp_path):
    rows = [[r[0], r[1], *(persian_number(int(x)) for x in r[2:])] for r in ROWS]
    rows[0][2] = "۱٬۰۰۰"  # a register of 1,000 with the Persian thousands separator
    r = load_results(write(tmp_path, csv_text(rows)), STATIONS_MAPPING())
    assert r.candidate_totals == {"A": 150, "B": 93}
    assert r.frame["registered"].to_list() == [1000, 200, 80]


def test_a_percentage_in_a_count_column_is_refused(tmp_path):
    rows = [r[:] for r in ROWS]
    rows[1][5] = "45%"
    with pytest.raises(DataValidationError, match="votes for A is a percentage"):
        load_results(write(tmp_path, csv_text(rows)), STATIONS_MAPPING())


digit_scripts = st.sampled_from(["0123456789", "۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩"])


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(st.integers(0, 10**9), min_size=1, max_size=8),
    script=digit_scripts,
    sep=st.sampled_from(["", ",", "\u066c", "\u066b"]),
)
def test_loader_reads_counts_as_parse_count_does(tmp_path_factory, values, script, sep):
    """Property: the results loader reads a cell exactly as parse_count does (the one
    normalizer the observation reader and the web import are to share): the same
    number, or a refusal, whatever the digit script and separator."""

    def spell(n: int) -> str:
        text = f"{n:,}".replace(",", sep) if sep else str(n)
        return text.translate(str.maketrans("0123456789", script))

    cells = [spell(v) for v in values]
    expected = []
    for c in cells:
        try:
            expected.append(parse_count(c))
        except ValueError:
            expected.append(None)
    rows = [[str(i), "P", "1", f'"{c}"', "0", f'"{c}"', "0"] for i, c in enumerate(cells)]
    path = write(tmp_path_factory.mktemp("p"), csv_text(rows))
    if None in expected:
        with pytest.raises(DataValidationError, match="not a whole number"):
            load_results(path, STATIONS_MAPPING(), allow_inconsistent=True)
        return
    r = load_results(path, STATIONS_MAPPING(), allow_inconsistent=True)
    assert r.frame["A"].to_list() == expected == values


def test_na_cells_are_missing_not_zero(tmp_path):
    rows = [r[:] for r in ROWS]
    rows[1][6] = "NA"
    path = write(tmp_path, csv_text(rows))
    with pytest.raises(DataValidationError, match=r"votes for B is missing.*--keep-missing"):
        load_results(path, STATIONS_MAPPING())
    r = load_results(path, STATIONS_MAPPING(), keep_missing=True)
    assert r.frame["B"].to_list() == [28, None, 20]
    assert r.missing_counts.tolist() == [False, True, False]
    assert {w.code: w.count for w in r.warnings}["missing_counts"] == 1
    assert r.complete().n_stations == 2
    assert r.complete().vote_matrix().sum() == 30 + 28 + 20 + 20
    with pytest.raises(ValueError, match="missing counts"):
        r.vote_matrix()
    assert r.frame["cast"][1] == 150  # a published count stays, the missing one is not 0


def test_skip_empty_rows_are_skipped_counted_and_listed(tmp_path):
    rows = [*ROWS, ["4", "East", "", "", "", "", ""], ["5", "East", "NA", "NA", "", "", ""]]
    path = write(tmp_path, csv_text(rows))
    with pytest.raises(DataValidationError, match=r"2 row\(s\) have no data.*--skip-empty"):
        load_results(path, STATIONS_MAPPING())
    r = load_results(path, STATIONS_MAPPING(), skip_empty=True)
    assert r.n_stations == 3
    assert [(s.row, s.station_id) for s in r.skipped] == [(4, "4"), (5, "5")]
    assert r.summary().skipped_rows == 2
    res = runner.invoke(app, ["validate", str(path), "-m", _toml(tmp_path), "--skip-empty"])
    assert res.exit_code == 0, res.output
    assert "skipped rows: 4 (4), 5 (5)" in res.output


def _toml(tmp_path: Path, mapping: dict = STATIONS) -> str:
    import json

    def val(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {val(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    path = tmp_path / "m.toml"
    path.write_text("\n".join(f"{k} = {val(v)}" for k, v in mapping.items()) + "\n")
    return str(path)


def test_missing_id_part_gets_a_generated_flagged_id(tmp_path):
    rows = [r[:] for r in ROWS] + [
        ["", "Remote e-voting", "150000", "90000", "0", "50000", "40000"]
    ]
    path = write(tmp_path, csv_text(rows))
    with pytest.raises(DataValidationError, match=r"station id is missing.*generate_missing_ids"):
        load_results(path, STATIONS_MAPPING())
    r = load_results(path, ColumnMapping.from_dict({**STATIONS, "generate_missing_ids": True}))
    assert r.frame["station_id"][3] == "~row4"
    assert r.frame["flag_generated_id"].to_list() == [False, False, False, True]


def test_pseudo_units_are_recognised_by_name_and_size_and_kept(tmp_path):
    """SYNTHETIC station file: a 150,000-register e-voting unit, ships and abroad."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(60):
        reg = int(rng.integers(800, 2500))
        a = int(reg * 0.3)
        rows.append(
            [str(i), "Region", f"Station {i}", str(reg), str(a + 50 + 5), "5", str(a), "50"]
        )
    rows.append(["e1", "Region", "Remote e-voting", "150000", "90005", "5", "60000", "30000"])
    rows.append(["s1", "Region", "Ship Akademik", "40", "30", "0", "20", "10"])
    rows.append(["x1", "Abroad", "Embassy Paris", "900", "500", "0", "300", "200"])
    header = ["station", "region", "name", "registered", "cast", "invalid", "a", "b"]
    path = write(tmp_path, csv_text(rows, header=header))
    mapping = {
        **STATIONS,
        "areas": {"region": "region"},
        "abroad": {"column": "region", "equals": ["Abroad"]},
        "pseudo_units": {"column": "name", "patterns": ["e-voting", "^ship"]},
    }
    r = load_results(path, ColumnMapping.from_dict(mapping))
    pseudo = dict(zip(r.frame["station_id"], r.pseudo_unit, strict=True))
    assert pseudo["e1"] and pseudo["s1"] and not pseudo["x1"] and not pseudo["3"]
    assert r.frame.filter(pl.col("station_id") == "e1")["flag_pseudo_by_size"][0]
    assert r.summary().pseudo_units == 2
    assert r.summary().cast == int(r.frame["cast"].sum())  # kept in totals
    assert r.subset(~r.pseudo_unit).n_stations == r.n_stations - 2
    # without name patterns, size alone marks the e-voting unit; the ratio is adjustable
    plain = load_results(path, ColumnMapping.from_dict(STATIONS | {"areas": {"region": "region"}}))
    assert plain.summary().pseudo_units == 1
    assert (
        load_results(path, plain_mapping(), pseudo_register_ratio=200).summary().pseudo_units == 0
    )
    res = runner.invoke(app, ["validate", str(path), "-m", _toml(tmp_path, mapping)])
    assert res.exit_code == 0, res.output
    assert "pseudo-units (kept in totals)" in res.output and "pseudo_unit: 2" in res.output


def plain_mapping() -> ColumnMapping:
    return ColumnMapping.from_dict(STATIONS | {"areas": {"region": "region"}})


# --- candidate ranges ---------------------------------------------------------------


@pytest.mark.parametrize("block", ["5:6", "5:", "a:b", "a:", ":b"])
def test_inclusive_ranges_and_to_the_end(tmp_path, block):
    mapping = {k: v for k, v in STATIONS.items() if k != "candidates"}
    rows = ROWS
    header = HEADER
    if block.startswith(":"):  # from the first column: a file with candidates first
        header = ["a", "b", "station", "province", "registered", "cast", "invalid"]
        rows = [[*r[5:], *r[:5]] for r in ROWS]
    m = ColumnMapping.from_dict({**mapping, "candidate_columns": block})
    r = load_results(write(tmp_path, csv_text(rows, header=header)), m)
    assert r.candidates == ["a", "b"]


def test_old_exclusive_list_form_is_refused():
    with pytest.raises(MappingError, match=r'inclusive range as a text, e.g. "21:"'):
        ColumnMapping.from_dict({**STATIONS, "candidate_columns": [5, -1]})


def test_range_that_misses_a_column_is_refused_by_the_gate(tmp_path):
    header = [*HEADER[:5], "valid", "a", "b"]
    rows = [[*r[:5], str(int(r[5]) + int(r[6])), *r[5:]] for r in ROWS * 1]
    rows = [[str(i), *r[1:]] for i, r in enumerate(rows * 4)]
    m = {k: v for k, v in STATIONS.items() if k != "candidates"}
    m |= {"valid": "valid", "candidate_columns": "6:6"}  # misses the last candidate
    with pytest.raises(DataValidationError) as info:
        load_results(write(tmp_path, csv_text(rows, header=header)), ColumnMapping.from_dict(m))
    assert "do not add up" in str(info.value) and "candidate range '6:6'" in str(info.value)
    assert "--allow-inconsistent" in str(info.value)
    r = load_results(tmp_path / "r.csv", ColumnMapping.from_dict(m), allow_inconsistent=True)
    assert r.candidates == ["a"]


# --- the Iranian constituency table in long form --------------------------------------


def test_iranian_long_table_from_a_drafted_mapping_utf8_and_windows_1256(tmp_path):
    utf8 = write_iran_long_utf8(tmp_path / "majlis.csv")
    res = runner.invoke(app, ["mappings", "init", str(utf8), "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    sidecar = tmp_path / "majlis.mapping.toml"
    draft = tomllib.loads(sidecar.read_text(encoding="utf-8"))
    assert draft["shape"] == "long"
    assert (draft["outcome"], draft["votes"], draft["seats"]) == ("نامزد", "آرا", "کرسی")
    assert draft["outcome_roles"] == {"blank": [BLANK], "invalid": [INVALID]}

    a = load_results(utf8)  # the sidecar beside it is read
    b_path = write_iran_long_cp1256(tmp_path / "majlis-1256.csv")
    res = runner.invoke(app, ["validate", str(b_path), "-m", str(sidecar)])
    assert res.exit_code == 2 and "Windows-1256" in res.output and "--encoding" in res.output
    b = load_results(b_path, sidecar, encoding="cp1256")

    for r in (a, b):
        assert r.level == "area" and not r.has_register and r.register_level is None
        assert r.has_blank and r.has_invalid
        assert r.n_stations == 3
        assert r.summary().cast == TOTAL_BALLOTS
        assert r.frame["seats"].to_list() == [3, 1, 1]
        per_area = r.outcomes_per_area()
        assert len(per_area["تهران/تهران، ری، شمیرانات"]) == 6
        assert "حسین کوهی" in per_area["یزد/یزد و اشکذر"]
        assert r.stands("حسین کوهی").tolist() == [False, False, True]
        assert r.candidate_totals["مریم یزدانی"] == 1_100_200 + 12_345
    assert a.frame["station_id"].to_list() == b.frame["station_id"].to_list()
    assert (
        a.frame["constituency" if "constituency" in a.area_levels else a.area_levels[-1]].to_list()
        == b.frame[b.area_levels[-1]].to_list()
    )
    assert a.candidate_totals == b.candidate_totals
    assert a.summary().to_dict()["cast"] == b.summary().to_dict()["cast"]
    # names are stored in the Persian forms even from the Arabic-form export
    assert "ي" not in "".join(b.candidates) and "ك" not in "".join(b.frame["station_id"])
    # a national register only: turnout over all ballots, said so
    text = sidecar.read_text(encoding="utf-8") + "national_registered = 10000000\n"
    national = tmp_path / "national.toml"
    national.write_text(text, encoding="utf-8")
    n = load_results(utf8, national)
    assert n.register_level == "national" and not n.has_register
    assert n.summary().turnout == pytest.approx(TOTAL_BALLOTS / 10_000_000)


def test_duplicate_outcome_in_an_area_is_refused(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("area,outcome,votes\nX,A,1\nX,A,2\n", encoding="utf-8")
    m = ColumnMapping.from_dict(
        {"shape": "long", "areas": {"area": "area"}, "outcome": "outcome", "votes": "votes"}
    )
    with pytest.raises(DataValidationError, match="appears twice in area 'X'"):
        load_results(path, m)


def test_against_all_is_an_outcome(tmp_path):
    path = tmp_path / "aa.csv"
    path.write_text(
        "area,outcome,votes\nX,A,10\nX,B,5\nX,Against all,20\nY,A,3\nY,Against all,1\n",
        encoding="utf-8",
    )
    m = ColumnMapping.from_dict(
        {"shape": "long", "areas": {"area": "area"}, "outcome": "outcome", "votes": "votes"}
    )
    r = load_results(path, m)
    assert r.against_all == ["Against all"] and r.winner == "A"
    assert r.frame["cast"].to_list() == [35, 4]


def test_summary_table_with_national_and_overseas_rows(tmp_path):
    """SYNTHETIC province table with a national total row and an overseas tally."""
    path = tmp_path / "provinces.csv"
    path.write_text(
        "Province,Eligible,Total,A,B\n"
        "North,1000,800,500,300\nSouth,,400,100,300\nOverseas,,50,40,10\n"
        "Total,,1250,640,610\n",
        encoding="utf-8",
    )
    m = ColumnMapping.from_dict(
        {
            "level": "area",
            "station_id": "Province",
            "areas": {"province": "Province"},
            "registered": "Eligible",
            "cast": "Total",
            "candidates": {"A": "A", "B": "B"},
            "abroad": {"column": "Province", "equals": ["Overseas"]},
            "total_rows": {"column": "Province", "equals": ["Total"]},
        }
    )
    r = load_results(path, m)
    s = r.summary()
    assert s.stations == 3 and s.stations_abroad == 1
    assert s.candidate_votes == {"A": 640, "B": 610}
    assert r.published_totals["Total"].to_list() == [1250]
    assert s.turnout == pytest.approx(0.8) and s.turnout_excluded == ["South", "Overseas"]


# --- mappings init on other languages ---------------------------------------------------


def test_draft_guesses_roles_in_russian_and_spanish_headers(tmp_path):
    ru = write(
        tmp_path,
        "region,tik,uik,Число избирателей, внесенных в список,Число недействительных "
        "бюллетеней,Число действительных бюллетеней,Иванов,Петров\n".replace(
            "Число избирателей, внесенных в список", '"Число избирателей, внесенных в список"'
        )
        + "A,B,1,100,1,50,30,20\n",
        "ru.csv",
    )
    d = draft_mapping(ru)
    assert d.roles["registered"] == ["Число избирателей, внесенных в список"]
    assert d.roles["invalid"] == ["Число недействительных бюллетеней"]
    assert d.roles["valid"] == ["Число действительных бюллетеней"]
    assert d.roles["candidate"] == ["Иванов", "Петров"]
    es = write(
        tmp_path,
        "estado,distrito,casilla,lista nominal,votos nulos,PAN,PRI,MORENA\n"
        "X,1,0001B,700,3,100,90,200\n",
        "mx.csv",
    )
    d = draft_mapping(es)
    assert d.roles["station"] == ["casilla"] and d.roles["area"] == ["estado", "distrito"]
    assert d.roles["registered"] == ["lista nominal"] and d.roles["invalid"] == ["votos nulos"]
    m = ColumnMapping.from_dict(tomllib.loads(d.toml))
    assert load_results(es, m).candidate_totals == {"PAN": 100, "PRI": 90, "MORENA": 200}


def test_sidecar_name_is_the_documented_one(tmp_path):
    from electwatch.data.mapping import sidecar_path

    assert sidecar_path(tmp_path / "2011.csv.zip").name == "2011.mapping.toml"
    assert sidecar_path(tmp_path / "results.csv").name == "results.mapping.toml"
    assert "results.mapping.toml" in (Path(__file__).parents[1] / "docs/data.md").read_text()


def test_no_register_file_validates_and_says_so(tmp_path):
    path = write(
        tmp_path,
        csv_text(
            [[r[0], r[1], r[3], r[4], r[5], r[6]] for r in ROWS],
            header=["station", "province", "cast", "invalid", "a", "b"],
        ),
    )
    m = {k: v for k, v in STATIONS.items() if k != "registered"}
    r = load_results(path, ColumnMapping.from_dict(m))
    assert not r.has_register and r.register_level is None
    assert r.frame["registered"].null_count() == 3  # absent, not zeros
    assert r.summary().turnout is None
    res = runner.invoke(app, ["validate", str(path), "-m", _toml(tmp_path, m)])
    assert res.exit_code == 0 and "not in the file" in res.output


def test_errors_are_one_line(tmp_path):
    with pytest.raises(ElectwatchError) as info:
        load_results(write(tmp_path, ""), STATIONS_MAPPING())
    assert "\n" not in str(info.value)


# --- another year of the Russian series, by the same wording patterns ----------------

CEC_2018_STYLE = [
    "region",
    "tik",
    "uik",
    "Число избирателей, включенных в список избирателей",
    "Число избирательных бюллетеней, полученных участковой избирательной комиссией",
    "Число избирательных бюллетеней, выданных избирателям, проголосовавшим досрочно",
    "Число избирательных бюллетеней, выданных в помещении для голосования в день голосования",
    "Число избирательных бюллетеней, выданных вне помещения для голосования в день голосования",
    "Число погашенных избирательных бюллетеней",
    "Число избирательных бюллетеней, содержащихся в переносных ящиках для голосования",
    "Число избирательных бюллетеней, содержащихся в стационарных ящиках для голосования",
    "Число недействительных избирательных бюллетеней",
    "Число действительных избирательных бюллетеней",
    "Число утраченных избирательных бюллетеней",
    "Число избирательных бюллетеней, не учтенных при получении",
    "Бабурин Сергей Николаевич",
    "Грудинин Павел Николаевич",
    "Путин Владимир Владимирович",
    "url",
]


def test_a_cec_file_of_another_year_is_recognised_by_its_wording(tmp_path):
    """SYNTHETIC numbers under the protocol wording of a year the project lacks (2018:
    "содержащихся в переносных ящиках"), named as the publisher names it."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CEC_2018_STYLE)
    for i in range(1, 41):
        a, b, c, inv = 10 + i, 20 + i, 300 + i, i % 3
        mobile = 15
        valid = a + b + c
        row = ["Тульская область", "Тульская", i, 1000 + i, 800, 0, valid + inv - mobile]
        row += [mobile, 800 - valid - inv, mobile, valid + inv - mobile, inv, valid, 0, 0]
        w.writerow([*row, a, b, c, "http://example.invalid"])
    path = tmp_path / "2018.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    r = load_results(path)
    assert r.source.mapping == "russia-cec"
    assert r.candidates == CEC_2018_STYLE[15:18]
    assert r.summary().registered == sum(1000 + i for i in range(1, 41))
    assert r.summary().cast == r.summary().valid + r.summary().invalid
    assert r.winner == "Путин Владимир Владимирович"
