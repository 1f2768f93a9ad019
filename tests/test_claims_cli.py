"""`electwatch claims list` and `electwatch claims check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from electwatch.cli.main import app

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "claims.toml")
runner = CliRunner()


def test_list():
    res = runner.invoke(app, ["claims", "list", EXAMPLE], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "overseas-cast" in res.output and "<= 8.2%" in res.output


def test_check_table_and_strict():
    res = runner.invoke(app, ["claims", "check", EXAMPLE], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "ok: 7, mismatch: 0, consistent: 2, conflict: 3, unverifiable: 5" in res.output
    strict = runner.invoke(app, ["claims", "check", EXAMPLE, "--strict"])
    assert strict.exit_code == 1  # the 41% official figure conflicts with the observers


def test_check_against_estimate_json(tmp_path):
    est = runner.invoke(app, [
        "estimate", "--observed-stations", "1941", "--counted", "156597",
        "--total-stations", "59000", "--eligible", "61000000", "--station-sd", "90", "--json",
    ])  # fmt: skip
    assert est.exit_code == 0, est.output
    path = tmp_path / "seed.json"
    path.write_text(est.output, encoding="utf-8")
    res = runner.invoke(app, ["claims", "check", EXAMPLE, "--estimate", str(path),
                              "--subject", "national election", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    rows = {(r["claim"], r["kind"]): r for r in d["checks"]}
    assert rows[("official-turnout", "vs_estimate")]["status"] == "conflict"
    assert rows[("observer-turnout", "vs_estimate")]["status"] == "consistent"


def test_bad_file_is_one_line_error(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[[claims]]\nid = 'a'\n", encoding="utf-8")
    res = runner.invoke(app, ["claims", "check", str(bad)])
    assert res.exit_code == 2 and "no 'source'" in res.output


def test_seed_arithmetic_through_the_cli():
    """Issue 4 seed figures, recomputed by `claims check` from the stated inputs."""
    res = runner.invoke(app, ["claims", "check", EXAMPLE, "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    rows = {r["claim"]: r for r in d["checks"] if r["kind"] == "arithmetic"}
    # 50,206 + 36,169 + 1,950 = 88,325, exactly
    assert rows["overseas-cast"]["reference"] == 50_206 + 36_169 + 1_950 == 88_325
    assert rows["overseas-cast"]["status"] == "ok"
    # 156,597 / 1,941 = 80.678...: the published 80.7 is this rounded to 0.1
    assert rows["observer-per-station"]["reference"] == pytest.approx(156_597 / 1_941)
    assert round(rows["observer-per-station"]["reference"], 1) == 80.7
    # the 41% official turnout needs 0.41 x 61,000,000 / 59,000 = 423.9 voters per station
    implied = rows["official-implied-per-station"]["reference"]
    assert implied == pytest.approx(0.41 * 61_000_000 / 59_000) and round(implied) == 424
    # "at most 8.2%" = 5,000,000 / 61,000,000 = 8.197%
    assert rows["observer-turnout-bound"]["reference"] == pytest.approx(5e6 / 61e6)
    # 7.8% from the chain 80.7 x 59,000 / 61,000,000 (the published rounding)
    assert rows["observer-turnout"]["reference"] == pytest.approx(80.7 * 59_000 / 61e6)
    assert all(r["status"] == "ok" for r in rows.values() if r["reference"] is not None)
