"""`electwatch forensics`: end to end on SYNTHETIC elections with known fraud, bad input,
and (when ../shared/data is present) the 2011 Duma file at the national level."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from electwatch.cli.main import app
from electwatch.simulate import (
    ElectionParameters,
    FraudParameters,
    simulate_election,
    write_results,
)


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def fraud_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 stations, 10% incremental and 3% extreme ballot stuffing (SYNTHETIC)."""
    results, truth = simulate_election(
        ElectionParameters(n_stations=3000, n_regions=10),
        FraudParameters(fi=0.10, fe=0.03),
        seed=3,
    )
    assert (truth.fraud_type == 2).sum() > 50
    return write_results(results, tmp_path_factory.mktemp("sim") / "fraud.csv")


@pytest.fixture(scope="module")
def clean_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results, _ = simulate_election(ElectionParameters(n_stations=3000, n_regions=10), seed=4)
    return write_results(results, tmp_path_factory.mktemp("sim") / "clean.csv")


FAST = ["--bootstrap", "200", "--monte-carlo-runs", "200"]


def test_json_output_and_files_on_fraudulent_election(runner, fraud_file, tmp_path):
    out_dir = tmp_path / "out"
    res = runner.invoke(app, ["forensics", str(fraud_file), *FAST, "--out", str(out_dir), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["synthetic"] is True
    assert d["n_stations"] == 3000
    assert d["levels"] == ["national", "region", "district"]
    assert d["parameters"]["n_bootstrap"] == 200 and d["parameters"]["n_mc"] == 200
    assert set(d["files"]) == {"json", "csv", "fingerprint", "shpilkin", "integer"}
    nat = {r["test"]: r for r in d["results"] if r["level"] == "national"}
    # the fraud planted by the simulator is found and the digit tests stay quiet
    assert nat["klimek_fe"]["flagged"]
    assert 0.015 < nat["klimek_fe"]["statistic"] < 0.045
    assert nat["shpilkin_excess_votes"]["statistic"] > 0
    assert nat["shpilkin_excess_votes"]["flagged"]
    assert not nat["last_digit_chi2"]["flagged"]
    # the files hold the same results as stdout
    on_disk = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    assert len(on_disk["results"]) == len(d["results"])
    csv = pl.read_csv(out_dir / "results.csv")
    assert csv.height == len(d["results"])
    assert set(csv["level"].unique()) == {"national", "region", "district"}
    assert csv.filter(pl.col("test") == "klimek_fe")["flagged"].to_list() == [True]
    png = (out_dir / "fingerprint.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert (out_dir / "shpilkin.png").read_bytes()[:4] == b"\x89PNG"
    assert (out_dir / "integer.png").read_bytes()[:4] == b"\x89PNG"


def test_table_output_and_level_selection(runner, clean_file, tmp_path):
    res = runner.invoke(
        app,
        [
            *("forensics", str(clean_file), *FAST),
            *("--level", "region", "--no-klimek", "--out", str(tmp_path / "o")),
        ],
        env={"COLUMNS": "220"},
    )
    assert res.exit_code == 0, res.output
    assert "SYNTHETIC" in res.output
    assert "2bl_second_digit_mean" in res.output and "integer_percent" in res.output
    assert "/ 10" in res.output  # flagged count over the 10 regions
    assert "klimek_fi" not in res.output  # --no-klimek
    assert "district" not in res.output  # only the level asked for
    assert "written to" in res.output
    d = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))
    assert d["levels"] == ["national", "region"]
    region_rows = [r for r in d["results"] if r["level"] == "region"]
    assert {r["area"] for r in region_rows if r["test"] == "c05s"} == {
        r["area"] for r in region_rows if r["test"] == "integer_percent"
    }
    assert len({r["area"] for r in region_rows}) == 10


def test_same_seed_same_results(runner, clean_file, tmp_path):
    args = ["forensics", str(clean_file), *FAST, "--level", "national", "--no-klimek"]
    a = runner.invoke(app, [*args, "--seed", "7", "--json", "--out", str(tmp_path / "a")])
    b = runner.invoke(app, [*args, "--seed", "7", "--json", "--out", str(tmp_path / "b")])
    assert a.exit_code == b.exit_code == 0
    ra, rb = json.loads(a.stdout)["results"], json.loads(b.stdout)["results"]
    assert [r["ci_low"] for r in ra] == [r["ci_low"] for r in rb]


def test_default_output_folder(runner, clean_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(
        app, ["forensics", str(clean_file), *FAST, "--level", "national", "--no-klimek", "-q"]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "forensics-clean" / "results.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forensics", "does-not-exist.csv"], "does-not-exist.csv: file not found"),
        (["forensics", "{clean}", "--level", "province"], "no area level 'province'"),
        (
            ["forensics", "{clean}", "--bootstrap", "-5"],
            "--bootstrap and --monte-carlo-runs must be >= 0",
        ),
    ],
)
def test_bad_arguments_are_one_line_errors(runner, clean_file, tmp_path, args, message):
    args = [a.replace("{clean}", str(clean_file)) for a in args]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "o")], env={"COLUMNS": "300"})
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
    assert len([line for line in res.output.splitlines() if "error" in line]) == 1


def test_unwritable_output_folder(runner, clean_file, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output folder should go")
    res = runner.invoke(
        app,
        [*("forensics", str(clean_file), *FAST, "--level", "national", "--no-klimek"),
         *("--out", str(blocker / "sub"))],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "cannot write results" in res.output and "Traceback" not in res.output


def test_bad_value_in_file_names_row_and_column(runner, clean_file, tmp_path):
    lines = clean_file.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    col = header.index("registered")
    row5 = lines[5].split(",")
    row5[col] = "many"
    lines[5] = ",".join(row5)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = clean_file.with_name(clean_file.stem + ".mapping.toml")
    (tmp_path / "bad.mapping.toml").write_text(mapping.read_text(encoding="utf-8"))
    res = runner.invoke(app, ["forensics", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "bad.csv" in res.output and "row 5" in res.output and "many" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.realdata
def test_real_2011_national(runner, duma_2011_path, tmp_path):
    """The 2011 Duma file through the CLI, national level only (fast settings)."""
    res = runner.invoke(
        app,
        [
            *("forensics", str(duma_2011_path), "--level", "national", "--bootstrap", "100"),
            *("--monte-carlo-runs", "100", "--no-klimek", "--json", "--out", str(tmp_path / "o")),
        ],
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["n_stations"] == 95_225
    nat = {r["test"]: r for r in d["results"]}
    assert "ЕДИНАЯ РОССИЯ" in d["winner"]
    # Shpilkin's published estimate for United Russia 2011 is ~15 million anomalous votes
    assert 12e6 < nat["shpilkin_excess_votes"]["statistic"] < 18e6
    assert nat["integer_percent"]["flagged"]


def test_single_blob_klimek_rows_are_never_flagged(runner, fraud_file, tmp_path):
    """The single-blob fit is for comparison with the paper only (it confounds regions)."""
    res = runner.invoke(
        app,
        ["forensics", str(fraud_file), *FAST, "--level", "national", "--json",
         "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    rows = {r["test"]: r for r in d["results"]}
    single = [rows["klimek_fi_single_blob"], rows["klimek_fe_single_blob"]]
    assert max(r["ci_low"] for r in single) > 0  # an interval excludes 0 ...
    assert not any(r["flagged"] for r in single)  # ... and still no flag
    assert rows["klimek_fe"]["flagged"]
    assert d["summary"]["klimek_fi_single_blob"]["national"]["flagged"] == 0


@pytest.mark.parametrize("columns", ["100", "160"])
def test_table_fits_the_terminal(runner, clean_file, tmp_path, columns):
    res = runner.invoke(
        app,
        ["forensics", str(clean_file), *FAST, "--level", "region", "--no-klimek",
         "--out", str(tmp_path / "o")],
        env={"COLUMNS": columns},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [line for line in res.stdout.splitlines() if line.startswith("│")]
    assert len(rows) > 20
    assert all(line.rstrip().endswith("│") for line in rows)  # right border not cropped


def test_tests_without_p_values_keep_their_own_flag_rule(runner, clean_file, tmp_path):
    """Shpilkin flags only material excesses (> 5% of the leader's votes), even where the
    interval excludes 0; BH must not replace that rule by 'interval excludes the null'."""
    res = runner.invoke(
        app,
        ["forensics", str(clean_file), *FAST, "--no-klimek", "--json",
         "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [r for r in json.loads(res.stdout)["results"] if r["test"] == "shpilkin_excess_votes"]
    for r in rows:
        d = r["details"]
        own_rule = (
            r["ci_low"] > 0
            and d["excess_share_of_leader_votes"] > 0.05
            and d["sensitivity_min"] > 0
        )
        assert r["flagged"] == own_rule, r["area"]
    immaterial = [r for r in rows if r["ci_low"] > 0 and not r["flagged"]]
    assert immaterial  # the case the rule is about occurs in this election


def test_findings_in_results_json_equal_the_report_function(runner, fraud_file, tmp_path):
    """`forensics` writes and prints the report's findings, made by one function."""
    from electwatch.reports.findings import findings

    res = runner.invoke(
        app, ["forensics", str(fraud_file), *FAST, "--json", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["findings"], "a frauded SYNTHETIC election gives at least one finding"
    saved = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))
    recomputed = [
        f.to_dict() for f in findings({k: v for k, v in saved.items() if k != "findings"})
    ]
    assert saved["findings"] == recomputed == data["findings"]
    printed = runner.invoke(
        app, ["forensics", str(fraud_file), *FAST, "--out", str(tmp_path / "p")]
    )
    assert printed.exit_code == 0 and "Findings" in printed.stdout
    assert data["findings"][0]["headline"][:40] in printed.stdout.replace("\n", " ")


def test_quiet_prints_nothing(runner, clean_file, tmp_path):
    res = runner.invoke(app, ["forensics", str(clean_file), *FAST, "-q", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    assert (tmp_path / "results.json").exists()
