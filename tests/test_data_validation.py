"""Malformed input gets an error naming file, row, column, value and expectation."""

from __future__ import annotations

import contextlib
import gzip
import zipfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electwatch.data import ColumnMapping, load_results
from electwatch.errors import DataValidationError, ElectwatchError, MappingError

MAPPING = ColumnMapping.from_dict(
    {
        "name": "test",
        "station_id": "station",
        "areas": {"province": "province"},
        "registered": "registered",
        "cast": "cast",
        "invalid": "invalid",
        "candidates": {"A": "a", "B": "b"},
    }
)
HEADER = "station,province,registered,cast,invalid,a,b\n"
GOOD_ROWS = "1,North,100,60,2,30,28\n2,North,200,150,5,100,45\n3,South,80,40,0,20,20\n"


def write(tmp_path: Path, text: str, name: str = "results.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str, **kw) -> DataValidationError:
    path = write(tmp_path, text)
    with pytest.raises(DataValidationError) as info:
        load_results(path, MAPPING, **kw)
    return info.value


def test_good_file_loads(tmp_path):
    r = load_results(write(tmp_path, HEADER + GOOD_ROWS), MAPPING)
    assert r.n_stations == 3
    assert r.candidate_totals == {"A": 150, "B": 93}
    assert r.summary().turnout == pytest.approx(250 / 380)
    assert r.warnings == []


def test_missing_column(tmp_path):
    err = error_for(tmp_path, "station,province,registered,cast,a,b\n1,N,1,1,1,0\n")
    assert err.column == "invalid"
    assert "column 'invalid' (invalid ballots) not found" in str(err)
    assert "one of the header columns" in err.expected


def test_text_in_count_column(tmp_path):
    err = error_for(tmp_path, HEADER + "1,N,100,60,2,30,28\n2,N,200,abc,5,100,45\n")
    assert (err.row, err.line, err.column, err.value) == (2, 3, "cast", "abc")
    assert str(err).endswith(
        "row 2, line 3, column 'cast': ballots cast is not a whole number (value 'abc'); "
        "expected a whole number >= 0"
    )


def test_decimal_in_count_column(tmp_path):
    err = error_for(tmp_path, HEADER + "1,N,100,60,2,30.5,28\n")
    assert (err.row, err.column, err.value) == (1, "a", "30.5")
    assert "votes for A is not a whole number" in err.message


def test_negative_count(tmp_path):
    err = error_for(tmp_path, HEADER + "1,N,100,60,2,30,28\n2,N,200,150,-5,100,45\n")
    assert (err.row, err.column, err.value) == (2, "invalid", -5)
    assert err.message == "invalid ballots is negative"


def test_missing_required_count(tmp_path):
    err = error_for(tmp_path, HEADER + "1,N,100,,2,30,28\n")
    assert (err.row, err.column) == (1, "cast")
    assert err.message == "ballots cast is missing"


def test_votes_exceeding_ballots_cast(tmp_path):
    err = error_for(tmp_path, HEADER + "1,N,100,60,2,30,28\n2,N,200,50,5,100,45\n")
    assert (err.row, err.column, err.value) == (2, "cast", 50)
    assert "(150) exceed ballots cast (50) at station '2'" in err.message


def test_votes_exceeding_cast_can_be_kept_as_flag(tmp_path):
    path = write(tmp_path, HEADER + "1,N,100,60,2,30,28\n2,N,200,50,5,100,45\n")
    r = load_results(path, MAPPING, allow_inconsistent=True)
    assert r.n_stations == 2
    assert r.frame["flag_votes_exceed_cast"].to_list() == [False, True]
    assert {w.code: w.example_rows for w in r.warnings}["votes_exceed_cast"] == (2,)


def test_duplicate_station_id(tmp_path):
    err = error_for(tmp_path, HEADER + GOOD_ROWS + "2,North,10,5,0,3,2\n")
    assert (err.row, err.value) == (4, "2")
    assert err.message == "duplicate station id '2' (also in row 2)"


def test_wrong_encoding(tmp_path):
    path = tmp_path / "cp1251.csv"
    path.write_bytes((HEADER + "1,Москва,100,60,2,30,28\n").encode("cp1251"))
    with pytest.raises(DataValidationError) as info:
        load_results(path, MAPPING)
    err = info.value
    assert err.line == 2
    assert "cannot decode byte" in err.message and "as utf-8" in err.message
    assert "cp1251" in err.expected
    # declaring the encoding fixes it
    m = ColumnMapping.from_dict({**_mapping_dict(), "encoding": "cp1251"})
    assert load_results(path, m).frame["province"][0] == "Москва"


def test_ragged_row(tmp_path):
    err = error_for(tmp_path, HEADER + "1,N,100,60,2,30,28\n2,N,200,150,5,100\n")
    assert (err.row, err.line) == (2, 3)
    assert err.message == "row has 6 fields but the header has 7"


def test_empty_file(tmp_path):
    err = error_for(tmp_path, "")
    assert err.message == "file is empty"


def test_header_only(tmp_path):
    err = error_for(tmp_path, HEADER)
    assert err.message == "file has a header but no data rows"


def test_missing_station_id(tmp_path):
    err = error_for(tmp_path, HEADER + ",N,100,60,2,30,28\n")
    assert (err.row, err.column) == (1, "station")
    assert err.message == "station id is missing"


def test_missing_area(tmp_path):
    err = error_for(tmp_path, HEADER + "1,,100,60,2,30,28\n")
    assert (err.row, err.column) == (1, "province")


def test_file_not_found(tmp_path):
    with pytest.raises(DataValidationError, match="file not found"):
        load_results(tmp_path / "nope.csv", MAPPING)


def test_position_out_of_range(tmp_path):
    m = ColumnMapping.from_dict({**_mapping_dict(), "registered": 40})
    with pytest.raises(DataValidationError, match=r"column position 40 .* out of range"):
        load_results(write(tmp_path, HEADER + GOOD_ROWS), m)


def test_mapping_unknown_key():
    with pytest.raises(MappingError, match=r"unknown key\(s\) \['candidate'\]"):
        ColumnMapping.from_dict({**_mapping_dict(), "candidate": {}})


def test_mapping_without_candidates():
    d = _mapping_dict()
    del d["candidates"]
    with pytest.raises(MappingError, match="give 'candidates' or 'candidate_columns'"):
        ColumnMapping.from_dict(d)


def test_inconsistencies_real_data_has_are_kept_as_flags(tmp_path):
    text = HEADER + "1,N,10,12,0,6,6\n2,N,,40,0,20,20\n3,S,500,300,5,150,140\n"
    r = load_results(write(tmp_path, text), MAPPING)
    codes = {w.code: (w.count, w.example_rows) for w in r.warnings}
    assert codes["cast_exceeds_registered"] == (1, (1,))
    assert codes["no_register"] == (1, (2,))
    assert codes["tiny_register"] == (1, (1,))
    assert codes["parts_mismatch"] == (1, (3,))  # 150 + 140 + 5 != 300
    assert r.n_stations == 3
    assert r.summary().stations_with_register == 2


def test_thousands_separator(tmp_path):
    m = ColumnMapping.from_dict({**_mapping_dict(), "thousands_separator": ","})
    text = HEADER + '1,N,"1,200","1,000",0,600,400\n'
    r = load_results(write(tmp_path, text), m)
    assert r.frame["registered"][0] == 1200


def test_zip_gz_parquet_and_excel_load_the_same(tmp_path):
    text = HEADER + GOOD_ROWS
    csv_path = write(tmp_path, text)
    zpath = tmp_path / "results.csv.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("inner.csv", text)
    gpath = tmp_path / "results.csv.gz"
    gpath.write_bytes(gzip.compress(text.encode()))
    raw = pl.read_csv(csv_path)
    ppath = tmp_path / "results.parquet"
    raw.write_parquet(ppath)
    xpath = tmp_path / "results.xlsx"
    write_xlsx(xpath, raw)
    expected = load_results(csv_path, MAPPING).candidate_totals
    for p in (zpath, gpath, ppath, xpath):
        assert load_results(p, MAPPING).candidate_totals == expected, p


def test_excel_error_names_sheet_row(tmp_path):
    xpath = tmp_path / "bad.xlsx"
    write_xlsx(
        xpath,
        pl.DataFrame(
            {
                "station": ["1", "2"],
                "province": ["N", "N"],
                "registered": [10, 20],
                "cast": ["5", "x"],
                "invalid": [0, 0],
                "a": [3, 1],
                "b": [2, 1],
            }
        ),
    )
    with pytest.raises(DataValidationError) as info:
        load_results(xpath, MAPPING)
    assert (info.value.row, info.value.line, info.value.column) == (2, 3, "cast")


def test_mapping_toml_sidecar_is_found(tmp_path):
    write(tmp_path, HEADER + GOOD_ROWS)
    (tmp_path / "results.mapping.toml").write_text(
        'station_id = "station"\ncast = "cast"\ninvalid = "invalid"\n'
        'areas = { province = "province" }\ncandidates = { A = "a", B = "b" }\n'
    )
    r = load_results(tmp_path / "results.csv")
    assert r.candidate_totals == {"A": 150, "B": 93}
    assert not r.has_registers


def write_xlsx(path: Path, frame: pl.DataFrame) -> None:
    """Write a sheet with openpyxl: numbers stay numbers, text stays text."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(frame.columns)
    for row in frame.iter_rows():
        ws.append(list(row))
    wb.save(path)


def _mapping_dict() -> dict:
    return {
        "station_id": "station",
        "areas": {"province": "province"},
        "registered": "registered",
        "cast": "cast",
        "invalid": "invalid",
        "candidates": {"A": "a", "B": "b"},
    }


# --- fuzzing: any bytes give a result or the project's own error ---------------

cell = st.one_of(
    st.integers(-5, 10**6).map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
    st.sampled_from(["", " ", "1e5", "3.0", "NaN", '"', "1,000", "\x00"]),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(cell, min_size=0, max_size=9), max_size=6), header_ok=st.booleans())
def test_fuzz_csv_loader_never_crashes(tmp_path, rows, header_ok):
    header = HEADER if header_ok else "station,cast,x\n"
    text = header + "".join(",".join(r) + "\n" for r in rows)
    path = tmp_path / "fuzz.csv"
    path.write_text(text, encoding="utf-8")
    try:
        r = load_results(path, MAPPING)
    except ElectwatchError:
        return
    # whatever loads is internally consistent
    assert r.n_stations == len(rows)
    assert (r.frame["cast"] >= 0).all()
    assert r.frame["station_id"].n_unique() == r.n_stations


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(tmp_path, data):
    path = tmp_path / "bytes.csv"
    path.write_bytes(data)
    with contextlib.suppress(ElectwatchError):
        load_results(path, MAPPING)
