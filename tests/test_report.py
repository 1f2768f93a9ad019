"""Reports: figures, tables, the HTML, the CLI, and the whole pipeline on simulated and
real data."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from markupsafe import escape as html_escape
from typer.testing import CliRunner

from electwatch.core.formatting import percent as pct
from electwatch.reports import build_report
from electwatch.reports import figures as figs
from electwatch.reports.builder import sha256_file
from electwatch.reports.tables import TableWriter
from electwatch.simulate import (
    ElectionParameters,
    FraudParameters,
    simulate_election,
    write_results,
)
from report_fixtures import demo_output, real_2012_output

EXTERNAL = re.compile(
    r"(?:src|href|action|poster)\s*=\s*[\"']?\s*(?:https?:)?//"
    r"|url\(\s*[\"']?(?:https?:)?//|@import",
    re.I,
)


def assert_self_contained(html: str) -> None:
    """Nothing in the page can make the browser fetch from the network."""
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "<script src" not in html and "<link" not in html
    # every <img>/<image> is inline data
    for m in re.finditer(r"<(?:img|image)\b[^>]*?(?:xlink:href|src)=\"([^\"]+)\"", html):
        assert m.group(1).startswith("data:"), m.group(0)[:120]


# --- figures ------------------------------------------------------------------------


def test_integer_percent_histogram_counts_whole_percent_bins(tmp_path):
    # 700 stations at exactly 50.0%, 300 at 50.1%, 200 at 49.96% (inside the 50% bin)
    x = np.r_[np.full(700, 50.0), np.full(300, 50.1), np.full(200, 49.96)]
    fig, tips = figs.integer_percent_histogram(x, xlabel="x", title="t", fig_id="h")
    assert set(tips) == {"int50"}
    assert tips["int50"].startswith("50% (±0.05): 900 stations")
    # neighbours: bins 49.8, 49.9, 50.1, 50.2 hold 0, 0, 300, 0 -> mean 75
    assert "average 75.0" in tips["int50"]
    ref = figs.FigureWriter(tmp_path).save(fig, "h", "t", "c", tips)
    assert (tmp_path / "figures/h.png").stat().st_size > 1000
    assert (tmp_path / "figures/h.svg").exists()
    assert '<g id="h-int50" class="tip"><title>50% (±0.05): 900 stations' in ref.svg


def test_integer_percent_histogram_scales_to_interior_bins():
    # 100% turnout piles up (tiny and special stations): 2,000 there, at most 60 elsewhere
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(60, 8, 20_000).clip(0.2, 99.8), np.full(2_000, 100.0)]
    fig, tips = figs.integer_percent_histogram(x, xlabel="x", title="t", fig_id="h")
    counts, _ = np.histogram(x, bins=np.arange(-0.05, 100.1, 0.1))
    ax = fig.axes[0]
    assert ax.get_ylim()[1] == pytest.approx(1.1 * counts[1:-1].max())
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["100%: 2,000 ↑"]  # the off-scale bin says its count
    # ...and is drawn up to the top of the axes, not beyond (tooltip targets stay inside)
    heights = [p.get_height() for p in ax.patches if p.get_gid()]
    assert max(heights) == pytest.approx(ax.get_ylim()[1])
    assert tips["int100"].startswith("100% (±0.05): 2,000 stations")


def test_inline_svg_prefixes_every_id_and_reference(tmp_path):
    fig, tips = figs.digit_plot(
        np.array([5, 5, 10]), np.array([0.25, 0.25, 0.5]), title="d", xlabel="digit"
    )
    ref = figs.FigureWriter(tmp_path).save(fig, "dg", "d", "c", tips)
    ids = re.findall(r'\bid="([^"]+)"', ref.svg)
    assert ids and all(i.startswith("dg-") for i in ids)
    for target in re.findall(r'href="#([^"]+)"', ref.svg) + re.findall(r"url\(#([^)]+)\)", ref.svg):
        assert target in ids, target
    head = ref.svg[: ref.svg.index(">")]
    assert "viewBox" in head and " width=" not in head and 'class="fig"' in head
    assert ref.svg.count('class="tip"') == 3
    assert "digit 2: observed 0.5000 (10 of 20), null 0.5000 ± " in ref.svg


def test_fingerprint_counts_places_stations_in_one_percent_cells():
    turnout = np.array([0.505, 0.505, 0.995, np.nan])
    share = np.array([0.701, 0.709, 1.0, 0.5])
    counts, xe, _ = figs.fingerprint_counts(turnout, share)
    assert counts.shape == (100, 100) and counts.sum() == 3
    assert counts[70, 50] == 2  # y = share bin 70%, x = turnout bin 50%
    assert counts[99, 99] == 1  # 100% share falls in the last (closed) bin
    assert xe[0] == 0 and xe[-1] == 1


def test_digit_plot_null_band_is_binomial():
    p = np.full(10, 0.1)
    obs = np.full(10, 100)
    fig, _ = figs.digit_plot(obs, p, title="last digit", xlabel="d")
    band = fig.axes[0].collections[0]  # fill_between
    ys = band.get_paths()[0].vertices[:, 1]
    half = 1.96 * np.sqrt(0.1 * 0.9 / 1000)
    assert np.isclose(ys.max(), 0.1 + half) and np.isclose(ys.min(), 0.1 - half)


def test_interval_chart_draws_each_point_with_its_interval(tmp_path):
    pts = [
        figs.IntervalPoint("estimate A", 0.40, 0.38, 0.42),
        figs.IntervalPoint("claim B", 0.082, kind="claim", note="at most"),
        figs.IntervalPoint("official", 0.41, kind="official"),
    ]
    fig, tips = figs.interval_chart(pts, xlabel="turnout, %", title="t")
    assert tips["pt0"] == "estimate A: 40.00% (95% CI 38.00–42.00%)"
    assert tips["pt1"] == "claim B: 8.20% — at most"
    segs = fig.axes[0].collections[0].get_segments()[0]
    assert np.allclose(segs[:, 0], [38, 42])


# --- tables -------------------------------------------------------------------------


def test_table_writer_round_trips_and_truncates_display(tmp_path):
    frame = pl.DataFrame(
        {
            "area": [f"a{i}" for i in range(50)],
            "votes": np.arange(50) * 1000,
            "share": np.linspace(0, 1, 50),
            "flag": [i % 7 == 0 for i in range(50)],
        }
    )
    ref = TableWriter(tmp_path, max_rows=10).save(
        frame, "t", "T", formats={"share": pct}, flag_column="flag"
    )
    assert pl.read_parquet(tmp_path / "tables/t.parquet").equals(frame)
    assert pl.read_csv(tmp_path / "tables/t.csv").equals(frame)
    assert len(ref.rows) == 10 and ref.total_rows == 50
    assert ref.columns == ["area", "votes", "share"]
    assert ref.rows[1] == ["a1", "1,000", "2.04%"]
    assert ref.row_classes[0] == "flag" and ref.row_classes[1] == ""
    assert "First 10 of 50 rows" in ref.note
    assert ref.numeric == [False, True, True]


# --- whole reports ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_election(tmp_path_factory):
    results, truth = simulate_election(
        ElectionParameters(n_stations=3000, n_regions=5), FraudParameters(fi=0.1, fe=0.02), seed=11
    )
    path = write_results(results, tmp_path_factory.mktemp("sim") / "small.csv")
    return results, truth, path


def test_report_without_inputs_says_what_is_missing(tmp_path):
    out = build_report(tmp_path, seed=5)
    html = out.html_path.read_text(encoding="utf-8")
    assert out.omitted["summary"] == "no results file was given (--results)"
    assert "Not included: no results file was given (--results)" in html
    assert_self_contained(html)


#: fewer resamples than the defaults (1000) keep the small-election tests fast
QUICK = {"n_bootstrap": 200, "n_mc": 200}


@pytest.fixture(scope="module")
def small_report(small_election, tmp_path_factory):
    from electwatch.reports import report_from_files

    _, _, path = small_election
    steps: list[tuple[str, float]] = []
    out = report_from_files(
        tmp_path_factory.mktemp("small-report"),
        results_path=path,
        seed=7,
        progress=lambda s, f: steps.append((s, f)),
        forensics_options=QUICK,
    )
    return out, steps


def test_report_of_simulated_election(small_election, small_report):
    results, _, path = small_election
    out, steps = small_report
    tmp_path = out.out_dir
    html = out.html_path.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "SYNTHETIC DATA" in html and out.synthetic
    # the data summary carries the simulated totals
    assert f"{results.summary().cast:,}" in html
    # every figure is written twice and inlined once
    for fig_id in ("turnout_hist", "share_hist", "fingerprint"):
        assert (tmp_path / f"figures/{fig_id}.png").exists()
        assert (tmp_path / f"figures/{fig_id}.svg").exists()
        assert f'id="fig-{fig_id}"' in html
    # tables: CSV and Parquet with the same content; totals add up to the results
    by_region = pl.read_parquet(tmp_path / "tables/by_region.parquet")
    assert pl.read_csv(tmp_path / "tables/by_region.csv").shape == by_region.shape
    assert by_region["cast"].sum() == results.summary().cast
    assert by_region["stations"].sum() == 3000
    # reproducibility: hash of the input file, seed, version
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest in html and out.inputs[0].sha256 == digest == sha256_file(path)
    meta = json.loads(out.json_path.read_text(encoding="utf-8"))
    assert meta["seed"] == 7 and meta["inputs"][0]["sha256"] == digest
    assert meta["electwatch_version"]
    # progress: non-decreasing fractions ending at 1
    fractions = [f for _, f in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # methods cite the papers of the sections shown
    assert "Klimek, P., Yegorov, Y., Hanel, R. &amp; Thurner, S. (2012)" in html
    assert "Kobak, D., Shpilkin, S. &amp; Pshenichnikov, M. S. (2016)" in html


def test_fingerprint_of_stuffed_election_reaches_the_corner():
    """Extreme fraud (Klimek's fe) puts stations near 100% turnout and 100% leader share."""
    results, truth = simulate_election(
        ElectionParameters(n_stations=4000, n_regions=4), FraudParameters(fe=0.05), seed=2
    )
    keep = results.registered >= 100
    share = results.votes("Leader") / results.cast
    counts, _, _ = figs.fingerprint_counts(results.turnout()[keep], share[keep])
    corner = counts[90:, 90:].sum()
    expected = ((truth.fraud_type == 2) & keep).sum()
    # nearly every extreme-fraud station lands in the top-right 10% x 10% corner, and
    # almost no clean station does (clean turnout ~ 60% +- 7%)
    assert 0.8 * expected <= corner <= 1.1 * expected and expected > 100


def test_forensics_sections_of_simulated_election(small_election, small_report):
    pytest.importorskip("electwatch.forensics", reason="electwatch.forensics not merged yet")
    results, _, _ = small_election
    out, _ = small_report
    assert not {"forensics", "digits", "blank_invalid", "fingerprint"} & set(out.omitted)
    html = out.html_path.read_text(encoding="utf-8")
    nat = pl.read_parquet(out.out_dir / "tables/forensics_national.parquet")
    assert {"2bl_second_digit_mean", "last_digit_mean", "integer_percent"} <= set(nat["test"])
    # every national test is a row of the HTML table, with its reading
    for reading in nat["reading"]:
        assert str(html_escape(reading)) in html
    for fig_id in ("digits_second", "digits_last", "fingerprint"):
        assert (out.out_dir / f"figures/{fig_id}.svg").exists()
    # the digit plot shows the counts the battery tested: n = all winner counts used
    n_digits = int(nat.filter(pl.col("test") == "last_digit_mean")["n"][0])
    assert f"n = {n_digits:,} counts" in html
    ranking = pl.read_parquet(out.out_dir / "tables/blank_invalid_ranking.parquet")
    national = ranking.filter(pl.col("level") == "national")
    assert national["votes"].to_list() == [results.summary().invalid]
    meta = json.loads(out.json_path.read_text(encoding="utf-8"))
    assert meta["forensics_json"]["parameters"]["n_bootstrap"] == QUICK["n_bootstrap"]


def test_demo_report_runs_the_whole_pipeline():
    out = demo_output()
    html = out.html_path.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert out.synthetic and "SYNTHETIC DATA" in html
    assert {i.role for i in out.inputs} >= {"results", "observations"}
    for i in out.inputs:
        assert Path(i.path).exists() and sha256_file(i.path) == i.sha256
    assert "electwatch demo --out" in html and "--seed 3" in html
    assert out.progress_steps[-1] == ("done", 1.0)  # type: ignore[attr-defined]
    # a section that cannot run is shown as such, never silently dropped
    for reason in out.omitted.values():
        assert f"Not included: {html_escape(reason)}" in html


def test_demo_turnout_and_claims_section():
    pytest.importorskip("electwatch.turnout", reason="electwatch.turnout not merged yet")
    pytest.importorskip("electwatch.claims", reason="electwatch.claims not merged yet")
    out = demo_output()
    assert "turnout" not in out.omitted
    assert (out.out_dir / "figures/claims_vs_estimates.svg").exists()
    checks = pl.read_parquet(out.out_dir / "tables/claims_checks.parquet")
    arith = checks.filter(pl.col("check") == "arithmetic")
    status = dict(zip(arith["claim"], arith["status"], strict=True))
    # demo_claims injects an 8% slip into the blog's multiplication and nowhere else
    assert status["blog-voters"] == "mismatch"
    assert status["observers-per-station"] == "ok" and status["observers-turnout"] == "ok"
    official = checks.filter(
        (pl.col("check") == "vs_official") & (pl.col("claim") == "commission-turnout")
    )
    # 55.7% against 55.73%: within the claim's stated precision (+/-0.05 points)
    assert official["status"].to_list() == ["consistent within rounding"]
    by_claim = {(c, k): st for c, k, st in checks.select("claim", "check", "status").iter_rows()}
    # "about 56%" (+/-0.5 points) holds; "came 2nd" holds; the region's invalid ballots
    # are checked against that region's own total, not the whole election's
    assert by_claim[("newspaper-turnout", "vs_official")] == "consistent within rounding"
    assert by_claim[("runner-up-second", "vs_official")] == "consistent"
    assert by_claim[("region-invalid", "vs_official")] == "consistent"
    region_row = checks.filter(
        (pl.col("claim") == "region-invalid") & (pl.col("check") == "vs_official")
    )
    assert region_row["against"][0].startswith("official results, ")  # the region named
    # claims are held against the report's main estimate only: one row per claim
    per_estimate = checks.filter(pl.col("check") == "vs_estimate")
    assert per_estimate["claim"].n_unique() == per_estimate.height
    # the naive expansion in closed form: mean count x stations / registered voters
    obs = pl.read_csv(out.out_dir / "inputs/demo-observations.csv")
    res = pl.read_csv(out.out_dir / "inputs/demo-election.csv")
    naive = obs["voters"].mean() * res.height / res["registered"].sum()
    est = pl.read_parquet(out.out_dir / "tables/turnout_estimates.parquet")
    assert est.filter(pl.col("estimator") == "naive")["estimate"][0] == pytest.approx(naive)
    lo, hi = est.filter(pl.col("estimator") == "stratified").select("ci_low", "ci_high").row(0)
    assert lo < est.filter(pl.col("estimator") == "stratified")["estimate"][0] < hi


@pytest.mark.realdata
def test_report_of_real_2012_file(president_2012_path):
    out = real_2012_output(president_2012_path)
    html = out.html_path.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert not out.synthetic and "SYNTHETIC DATA" not in html
    # the built-in mapping was found from the file name alone
    assert "russia-cec" in html
    # published totals (../shared/data/README.md): stations and registered voters
    assert "95,415" in html and "109,860,331" in html
    assert "Путин Владимир Владимирович" in html
    by_region = pl.read_parquet(out.out_dir / "tables/by_region.parquet")
    assert by_region["stations"].sum() == 95_415
    assert by_region["registered"].sum() == 109_860_331
    assert out.inputs[0].sha256 == sha256_file(president_2012_path)
    details = json.loads((out.out_dir / "report.json").read_text(encoding="utf-8"))
    sections = {d["id"]: d for d in details["section_details"]}
    assert list(sections) == [
        "findings", "summary", "warnings", "turnout", "forensics", "drilldown", "map",
        "fingerprint", "distributions",
        "digits", "blank_invalid", "methods", "reproducibility",
    ]  # fmt: skip
    # results only: the turnout section stays, saying why it is empty; the rest is filled
    assert [k for k, d in sections.items() if d["omitted"]] == ["turnout"]
    assert "no observations" in sections["turnout"]["omitted"]
    # SPEC check value: in 492 stations invalid ballots exceed the runner-up
    blank = dict(sections["blank_invalid"]["items"])
    assert blank["stations where invalid ballots exceed the runner-up"].startswith("492 ")


def test_cli_report_json(tmp_path):
    from electwatch.cli.main import app

    results, _ = simulate_election(ElectionParameters(n_stations=300, n_regions=2), seed=1)
    path = write_results(results, tmp_path / "tiny.csv")
    res = CliRunner().invoke(
        app,
        ["report", "--results", str(path), "--out", str(tmp_path / "r"), "--seed", "4", "--json"],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["html"] == str(tmp_path / "r" / "report.html")
    assert Path(data["html"]).exists()
    assert data["inputs"][0]["sha256"] == sha256_file(path)
    html = Path(data["html"]).read_text(encoding="utf-8")
    assert "electwatch report --results" in html  # the command line is recorded
    # the CLI's findings are results.json's (one function makes both)
    stored = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))
    assert data["findings"] == stored["findings"] and 1 <= len(data["findings"]) <= 5
    # without --json the same findings are printed, first headline included
    res2 = CliRunner().invoke(
        app, ["report", "--results", str(path), "--out", str(tmp_path / "r2"), "-q"]
    )
    assert res2.exit_code == 0, res2.output
    assert "Findings" in res2.output
    assert stored["findings"][0]["headline"][:40] in " ".join(res2.output.split())


def test_cli_report_bad_input_is_one_line_error(tmp_path):
    from electwatch.cli.main import app

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    res = CliRunner().invoke(
        app, ["report", "--results", str(bad), "--out", str(tmp_path / "o"), "--quiet"]
    )
    assert res.exit_code == 2
    assert "no column mapping given" in res.output
    res = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "--results" in res.output


def test_cli_demo_json(tmp_path):
    from electwatch.cli.main import app

    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)  # nothing but JSON on stdout: no progress bar, no prose
    assert data["html"] == str(tmp_path / "d" / "report.html")
    assert Path(data["html"]).exists()
    assert data["synthetic"] is True
    assert not data["omitted"], data["omitted"]
