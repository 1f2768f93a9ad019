"""The report's eforensics section (``electwatch report --model eforensics[-bl|-bbl]``,
issue 16): on a SYNTHETIC election from the project's simulator with known extreme
fraud, the section ranks truly frauded stations first, carries the caveats, the
weights with intervals, per-area sums that add up to the totals and two figures;
results.json stores the model beside the findings, which never read it; text
covariates with more than 100 distinct values are refused in one line by ``report``
and ``forensics``."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from electwatch.reports import report_from_files
from electwatch.reports.findings import findings
from electwatch.reports.sections_eforensics import (
    BBL_CAVEAT,
    BL_CAVEAT,
    INTRODUCTION,
    MESSAGES,
    NOT_FINDINGS,
    TOP_STATIONS,
    EforensicsOptionError,
    section_eforensics,
)
from electwatch.simulate import (
    ElectionParameters,
    FraudParameters,
    simulate_election,
    write_results,
)

QUICK = {"n_bootstrap": 100, "n_mc": 100}


@pytest.fixture(scope="module")
def election(tmp_path_factory):
    # 1,500 stations in 5 regions: 10% with incremental fraud, 3% with extreme fraud
    results, truth = simulate_election(
        ElectionParameters(n_stations=1500, n_regions=5), FraudParameters(fi=0.1, fe=0.03), seed=11
    )
    path = write_results(results, tmp_path_factory.mktemp("ef") / "sim.csv")
    kind = dict(
        zip(results.frame["station_id"].cast(pl.String).to_list(), truth.fraud_type, strict=True)
    )
    return results, truth, path, kind


@pytest.fixture(scope="module")
def report(election, tmp_path_factory):
    _, _, path, _ = election
    out = report_from_files(
        tmp_path_factory.mktemp("ef-report"),
        results_path=path,
        seed=7,
        forensics_options=QUICK,
        options={"eforensics": "eforensics-bbl", "covariates": ["region"]},
    )
    data = json.loads((out.out_dir / "results.json").read_text(encoding="utf-8"))
    return out, data


def test_section_ranks_true_extreme_stations_first(election, report):
    _, truth, _, kind = election
    out, data = report
    ef = data["eforensics"]
    assert "eforensics" not in out.omitted
    assert ef["statistic"] == "eforensics_bbl" and ef["covariates"] == ["region"]
    assert ef["fit"]["converged"] and ef["fit"]["starts_agree"] and ef["notes"] == []
    top = ef["most_suspicious"]
    assert len(top) == TOP_STATIONS
    # known truth: every one of the 20 most suspicious stations was given extreme fraud
    assert [kind[s["station_id"]] for s in top] == [2] * TOP_STATIONS
    assert all(s["p_extreme"] > 0.9 for s in top)
    # ranked by P(extreme), descending
    p = [s["p_extreme"] for s in top]
    assert p == sorted(p, reverse=True)
    # the extreme weight's interval covers the simulated share of extreme stations
    ext = next(w for w in ef["weights"] if w["name"] == "pi_extreme")
    true_share = float((truth.fraud_type == 2).mean())
    assert ext["ci_low"] <= true_share <= ext["ci_high"]
    # the per-station table has every station, the same ranking as results.json
    st = pl.read_csv(out.out_dir / "tables" / "eforensics_stations.csv")
    assert st.height == ef["n"]
    assert st["station"].cast(pl.String).head(TOP_STATIONS).to_list() == [
        s["station_id"] for s in top
    ]
    probs = st.select("p_clean", "p_incremental", "p_extreme").to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)


def test_area_sums_add_up_to_the_totals(report):
    out, data = report
    ef = data["eforensics"]
    areas = pl.read_csv(out.out_dir / "tables" / "eforensics_areas.csv")
    assert areas.height == 5  # every region (results.json keeps the first 20 only)
    assert areas["stations"].sum() == ef["n"]
    man, sto = areas["expected_manufactured_votes"].sum(), areas["expected_stolen_votes"].sum()
    assert man == pytest.approx(ef["expected_manufactured_votes"], abs=1.0)
    assert sto == pytest.approx(ef["expected_stolen_votes"], abs=1.0)
    assert areas["expected_extreme_stations"].sum() == pytest.approx(
        sum(s["p_extreme"] for s in pl.read_csv(out.out_dir / "tables/eforensics_stations.csv")
            .iter_rows(named=True)), rel=1e-6,
    )  # fmt: skip


def test_html_carries_caveats_figures_and_tables(report):
    out, _ = report
    html = out.html_path.read_text(encoding="utf-8")
    sec = next(s for s in out.sections if s.id == "eforensics")
    assert [f.id for f in sec.figures] == ["eforensics_weights", "eforensics_areas"]
    for f in sec.figures:
        assert (out.out_dir / f.files["png"]).stat().st_size > 5_000
    assert 'id="eforensics"' in html
    for text in (INTRODUCTION, BBL_CAVEAT, NOT_FINDINGS):
        assert text.replace("'", "&#39;") in html
    assert BL_CAVEAT not in html  # the bbl report says the bbl caveat
    assert "not proof of fraud" in html
    assert "Ferrari, D., McAlister, K. &amp; Mebane" in html
    # the weights' intervals are in the report as text and in the figure's tooltips
    assert "mixture weight extreme" in html and "95% interval" in html
    assert sec.tables[2].title.startswith(f"The {TOP_STATIONS} most suspicious stations")
    assert len(sec.tables[2].rows) == TOP_STATIONS
    report_json = json.loads(out.json_path.read_text(encoding="utf-8"))
    assert report_json["eforensics_json"]["most_suspicious"][0]["station_id"]


def test_findings_never_read_the_model(report):
    _, data = report
    stored = data["findings"]
    without = {k: v for k, v in data.items() if k != "eforensics"}
    assert [f.to_dict() for f in findings(without)] == stored
    assert [f.to_dict() for f in findings(data)] == stored
    assert "eforensics" not in json.dumps(stored)


def test_no_section_unless_asked(election, tmp_path):
    from electwatch.reports.context import ReportContext
    from electwatch.reports.figures import FigureWriter
    from electwatch.reports.tables import TableWriter

    results, truth, *_ = election
    ctx = ReportContext(
        tmp_path, FigureWriter(tmp_path), TableWriter(tmp_path), results, None, None, 0, None
    )
    assert section_eforensics(ctx) == []
    assert "eforensics_json" not in ctx.extras
    # the binomial variant says what it does, and does it: on the simulator's stations
    # (more than binomial variation) it calls far more stations incremental than were
    ctx.options = {"eforensics": "eforensics"}
    (sec,) = section_eforensics(ctx)
    assert BL_CAVEAT in sec.paragraphs and BBL_CAVEAT not in sec.paragraphs
    data = ctx.extras["eforensics_json"]
    assert data["statistic"] == "eforensics_bl"
    true_incremental = int((truth.fraud_type == 1).sum())
    assert data["class_counts"]["incremental"] > 2 * true_incremental


def test_persian_catalogue_has_the_section():
    from electwatch.reports.language import message_ids, report_language

    fa = report_language("fa")
    assert set(MESSAGES) <= set(message_ids())
    assert fa.missing() == []
    assert fa.gettext("Station-level fraud model (eforensics)") != (
        "Station-level fraud model (eforensics)"
    )


# --- options and the covariate guard ---------------------------------------------------


def test_text_covariate_with_many_values_is_refused(election, tmp_path):
    _, _, path, _ = election
    with pytest.raises(EforensicsOptionError) as exc:
        report_from_files(
            tmp_path,
            results_path=path,
            options={"eforensics": "eforensics-bl", "covariates": ["station_id"]},
        )
    msg = str(exc.value)
    assert "\n" not in msg
    assert "'station_id' has 1,500 distinct values (at most 100 allowed" in msg
    # before any analysis ran: nothing was written
    assert not (tmp_path / "report.html").exists()
    with pytest.raises(EforensicsOptionError, match="no column 'nope'"):
        report_from_files(
            tmp_path,
            results_path=path,
            options={"eforensics": "eforensics", "covariates": ["nope"]},
        )


def _cli():
    from electwatch.cli.main import app

    return app


def test_cli_report_and_forensics_refuse_the_covariate_in_one_line(election, tmp_path):
    _, _, path, _ = election
    runner = CliRunner()
    for args in (
        ["report", "--results", str(path), "--model", "eforensics-bbl", "--covariates",
         "station_id", "-o", str(tmp_path / "r"), "-q"],
        ["forensics", str(path), "--model", "eforensics-bbl", "--covariates", "station_id",
         "-o", str(tmp_path / "f")],
    ):  # fmt: skip
        res = runner.invoke(_cli(), args)
        assert res.exit_code == 2, res.output
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1, res.output
        assert "1,500 distinct values" in lines[0]


def test_cli_usage_errors(election, tmp_path):
    _, _, path, _ = election
    runner = CliRunner()
    res = runner.invoke(
        _cli(), ["report", "--results", str(path), "--covariates", "region", "-o", str(tmp_path)]
    )
    assert res.exit_code == 2 and "--covariates needs --model" in res.output
    res = runner.invoke(
        _cli(), ["report", "--results", str(path), "--model", "mebane", "-o", str(tmp_path)]
    )
    assert res.exit_code == 2 and "--model must be one of eforensics" in res.output
    res = runner.invoke(_cli(), ["demo", "--model", "eforensics-x", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "--model must be one of" in res.output
    assert not (tmp_path / "report.html").exists()


def test_cli_report_with_the_model(election, tmp_path):
    _, _, path, _ = election
    res = CliRunner().invoke(
        _cli(),
        ["report", "--results", str(path), "--model", "eforensics-bl", "-o", str(tmp_path),
         "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    written = json.loads(res.output)
    assert "eforensics" in written["sections"]
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert data["eforensics"]["statistic"] == "eforensics_bl"
    # --json prints the model's fit beside (not inside) the findings
    assert written["eforensics"]["most_suspicious"] == data["eforensics"]["most_suspicious"]
    assert all("eforensics" not in json.dumps(f) for f in written["findings"])
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    # the reproducing command line carries the option
    assert "--model eforensics-bl" in html


def test_cli_report_prints_the_ranked_stations(election, tmp_path):
    _, _, path, kind = election
    res = CliRunner().invoke(
        _cli(),
        ["report", "--results", str(path), "--model", "eforensics-bbl", "-o", str(tmp_path),
         "-q"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    text = res.output
    assert "Station-level fraud model (eforensics_bbl)" in text
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    first = data["eforensics"]["most_suspicious"][0]
    assert f" 1. {first['station_id']}: {first['p_extreme']:.3f}" in text
    assert kind[first["station_id"]] == 2
    assert "not evidence of fraud" in " ".join(text.split())
    # after the findings, not among them
    assert text.index("Station-level fraud model") > text.index("Findings")
