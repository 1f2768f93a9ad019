"""Fuzz: every broken input a user can give ends in one line naming the file and exit
code 2, never a traceback (truncated/corrupt archives, wrong encodings, delimiters,
missing sheets, empty files). SYNTHETIC files only."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from electwatch.cli.main import app

runner = CliRunner()
MAPPING = (
    'station_id = "station"\nareas = { province = "province" }\nregistered = "registered"\n'
    'cast = "cast"\ninvalid = "invalid"\ncandidates = { A = "a", B = "b" }\n'
)
GOOD = "station,province,registered,cast,invalid,a,b\n" + "".join(
    f"{i},North,100,60,2,30,28\n" for i in range(40)
)


def zipped(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("results.csv", text)
    return buf.getvalue()


def run_validate(path: Path, mapping: Path | None, *extra: str):
    args = ["validate", str(path), *(["-m", str(mapping)] if mapping else []), *extra]
    return runner.invoke(app, args)


def assert_one_line_error(res, path: Path) -> None:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    text = " ".join(res.output.split())  # rich may wrap; the message itself is one line
    assert text.startswith("error:") and "Traceback" not in res.output
    assert path.name in text.replace(" ", "") or path.name in text


@pytest.fixture
def mapping(tmp_path) -> Path:
    p = tmp_path / "m.toml"
    p.write_text(MAPPING, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("empty.csv", b""),
        ("blank.csv", b"\n\n  \n"),
        ("truncated.csv.zip", zipped(GOOD)[:60]),
        ("corrupt.zip", b"PK\x03\x04" + b"\x00garbage" * 20),
        ("notzip.zip", b"station,cast\n1,2\n"),
        ("truncated.csv.gz", gzip.compress(GOOD.encode())[:30]),
        (
            "cp1256.csv",
            ("station,province,registered,cast,invalid,a,b\n1,کرمان,1,1,0,1,0\n")
            .replace("ک", "ك")
            .encode("cp1256"),
        ),
        (
            "cp1251.csv",
            "station,province,registered,cast,invalid,a,b\n1,Тула,1,1,0,1,0\n".encode("cp1251"),
        ),
        ("semicolon.csv", GOOD.replace(",", ";").replace("station;", "station,", 1).encode()),
        ("broken.xlsx", b"PK\x03\x04 not a workbook"),
        ("broken.parquet", b"PAR1 not parquet"),
        ("ragged.csv", (GOOD + "1,2\n").encode()),
    ],
)
def test_broken_inputs_give_one_line_and_exit_2(tmp_path, mapping, name, payload):
    path = tmp_path / name
    path.write_bytes(payload)
    assert_one_line_error(run_validate(path, mapping), path)


def test_missing_sheet_and_folder_and_missing_file(tmp_path, mapping):
    from openpyxl import Workbook

    book = tmp_path / "book.xlsx"
    wb = Workbook()
    wb.active.append(["station", "cast"])
    wb.save(book)
    m = tmp_path / "sheet.toml"
    m.write_text(MAPPING + 'sheet = "Results"\n', encoding="utf-8")
    res = run_validate(book, m)
    assert_one_line_error(res, book)
    assert "Results" in res.output
    assert_one_line_error(run_validate(tmp_path, mapping), tmp_path)
    assert_one_line_error(run_validate(tmp_path / "nope.csv", mapping), tmp_path / "nope.csv")


def test_wrong_delimiter_override_and_unknown_encoding(tmp_path, mapping):
    path = tmp_path / "good.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert run_validate(path, mapping).exit_code == 0
    assert_one_line_error(run_validate(path, mapping, "--delimiter", ";"), path)
    res = run_validate(path, mapping, "--encoding", "klingon")
    assert res.exit_code == 2 and "unknown encoding" in res.output


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 399), st.integers(0, 255)), max_size=4),
    suffix=st.sampled_from([".csv.zip", ".csv.gz", ".csv"]),
)
def test_fuzz_damaged_files_never_give_a_traceback(tmp_path, cut, flips, suffix):
    raw = {
        ".csv.zip": zipped(GOOD),
        ".csv.gz": gzip.compress(GOOD.encode()),
        ".csv": GOOD.encode(),
    }[suffix]
    data = bytearray(raw[: max(cut, 1)] if cut < len(raw) else raw)
    for pos, byte in flips:
        if pos < len(data):
            data[pos] = byte
    path = tmp_path / f"damaged{suffix}"
    path.write_bytes(bytes(data))
    m = tmp_path / "m.toml"
    m.write_text(MAPPING, encoding="utf-8")
    res = run_validate(path, m, "--json")
    assert res.exit_code in (0, 2), (res.exit_code, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    if res.exit_code == 2:
        assert "Traceback" not in res.output
