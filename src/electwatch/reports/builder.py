"""Assemble the report: run each analysis, draw its figures, write its tables, render HTML.

:func:`build_report` takes loaded inputs; :func:`report_from_files` loads files first
(and records their SHA-256). Each section is built by its own function; a section
whose analysis fails or whose input is missing is kept in the report with a visible
"not included" note and the reason, so that a reader never mistakes a missing
analysis for a clean result.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from jinja2 import Environment, PackageLoader, select_autoescape

import electwatch.reports.figures as figs
from electwatch import __version__
from electwatch.core.formatting import percent as pct
from electwatch.core.formatting import value as fmt_value
from electwatch.data import ElectionResults, load_results
from electwatch.reports.compare import section_compare
from electwatch.reports.context import ReportContext
from electwatch.reports.counts import ANALYSED, MIN_VOTERS, analysed_mask, report_counts
from electwatch.reports.drilldown import area_anchor, area_sections, section_drilldown
from electwatch.reports.findings import render_headline
from electwatch.reports.language import report_language
from electwatch.reports.maps import load_shapes, section_map
from electwatch.reports.methods import METHODS, REFERENCES
from electwatch.reports.model import (
    Callout,
    InputFile,
    ProgressCallback,
    ReportOutput,
    Section,
    no_progress,
)
from electwatch.reports.sections_eforensics import check_options, section_eforensics
from electwatch.reports.sections_findings import section_findings, write_results_json
from electwatch.reports.sections_forensics import (
    fingerprint_from_battery,
    run_forensics,
    section_battery,
    section_blank_invalid,
    section_digits,
)
from electwatch.reports.sections_turnout import section_turnout
from electwatch.reports.tables import Formatter, TableWriter


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_file(role: str, path: str | Path) -> InputFile:
    p = Path(path)
    return InputFile(role=role, path=str(p), sha256=sha256_file(p), size=p.stat().st_size)


@dataclass
class _Step:
    id: str
    label: str
    weight: float
    run: Callable[[ReportContext], Section | list[Section]]


class _Progress:
    """Maps per-step progress to the overall fraction the callback expects."""

    def __init__(self, callback: ProgressCallback, weights: Sequence[float]) -> None:
        self.callback = callback
        total = float(sum(weights)) or 1.0
        self.starts = np.concatenate([[0.0], np.cumsum(weights)[:-1]]) / total
        self.widths = np.asarray(weights, dtype=float) / total

    def step(self, i: int, label: str, fraction: float = 0.0) -> None:
        self.callback(label, float(self.starts[i] + self.widths[i] * min(max(fraction, 0), 1)))


# --- data summary ----------------------------------------------------------------


def _leader_share(r: ElectionResults) -> np.ndarray:
    cast = r.cast.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = r.votes(r.winner).astype(float) / cast if r.winner else np.full(len(cast), np.nan)
    share[~(cast > 0)] = np.nan
    return share


def section_summary(ctx: ReportContext) -> list[Section]:
    r = ctx.results
    if r is None:
        return [Section("summary", "Data summary", omitted="no results file was given (--results)")]
    s = r.summary()
    sec = Section("summary", "Data summary")
    if s.synthetic:
        sec.callouts.append(
            Callout(
                "warning",
                "These are SYNTHETIC results from the electwatch "
                f"simulator ({r.source.note or 'simulated'}).",
            )
        )
    counts = report_counts(r, run_forensics(ctx))
    ctx.extras["counts"] = counts
    sec.items += [
        ("election", s.election),
        ("contest", f"{s.contest} (round {s.round})"),
        ("source", r.source.path),
        ("column mapping", r.source.mapping or "—"),
        ("stations", f"{counts.stations:,}"),
        ("stations abroad", f"{s.stations_abroad:,}"),
        ("stations with a register", f"{s.stations_with_register:,}"),
        ("registered voters", fmt_value(s.registered)),
        ("ballots cast", f"{s.cast:,}"),
        (
            "valid / invalid / blank",
            " / ".join(fmt_value(v) for v in (s.valid, s.invalid, s.blank)),
        ),
        ("turnout (cast / registered)", pct(s.turnout)),
        ("leader", s.winner or "—"),
    ]
    for level, k in counts.areas.items():
        sec.items.append((f"areas: {level}", f"{k:,}"))
    for level, k in counts.flagged.items():
        sec.items.append((f"flagged areas: {level}", f"{k:,} of {counts.areas[level]:,}"))
    cand = (
        pl.DataFrame(
            {
                "candidate": list(s.candidate_votes),
                "votes": list(s.candidate_votes.values()),
            }
        )
        .with_columns(share_of_cast=pl.col("votes") / max(s.cast, 1))
        .sort("votes", descending=True)
    )
    sec.tables.append(
        ctx.tables.save(cand, "candidates", "Votes by candidate", formats={"share_of_cast": pct})
    )
    if r.area_levels:
        level = r.area_levels[0]
        leader = r.winner
        area = (
            r.frame.group_by(level)
            .agg(
                stations=pl.len(),
                registered=pl.col("registered").sum(),
                cast=pl.col("cast").sum(),
                invalid=pl.col("invalid").sum(),
                leader_votes=pl.col(leader).sum() if leader else pl.lit(None),
            )
            .with_columns(
                turnout=pl.col("cast") / pl.col("registered"),
                leader_share=pl.col("leader_votes") / pl.col("cast"),
                invalid_share=pl.col("invalid") / pl.col("cast"),
            )
            .sort("cast", descending=True)
        )
        f: dict[str, Formatter] = {"turnout": pct, "leader_share": pct, "invalid_share": pct}
        sec.tables.append(
            ctx.tables.save(
                area,
                f"by_{level}",
                f"Totals by {level}",
                note=f"Leader: {leader}. Sorted by ballots cast; click a column to sort.",
                formats=f,
            )
        )

    warn = Section("warnings", "Validation warnings")
    if not s.warnings:
        warn.paragraphs.append(
            "No inconsistencies were flagged: every station's parts add up, "
            "and no register is missing, tiny or exceeded."
        )
    else:
        warn.paragraphs.append(
            "Rows are never dropped. These inconsistencies were found, kept and flagged; they "
            "are included in every analysis below unless a section says otherwise."
        )
        wf = pl.DataFrame(
            {
                "code": [w.code for w in s.warnings],
                "stations": [w.count for w in s.warnings],
                "meaning": [w.message for w in s.warnings],
                "example_rows": [", ".join(map(str, w.example_rows)) for w in s.warnings],
                "example_stations": [", ".join(w.example_stations) for w in s.warnings],
            }
        )
        warn.tables.append(ctx.tables.save(wf, "validation_warnings", "Flagged stations"))
    warn.references = []
    return [sec, warn]


# --- histograms -------------------------------------------------------------------


def section_histograms(ctx: ReportContext) -> Section:
    sec = Section("distributions", "Turnout and vote-share distributions", references=["kobak2016"])
    r = ctx.results
    if r is None:
        sec.omitted = "no results file was given (--results)"
        return sec
    keep = analysed_mask(r, ctx.extras.get("forensics"))
    n_keep = int(keep.sum())
    if n_keep == 0:
        sec.omitted = (
            f"no station has {MIN_VOTERS} or more registered voters "
            "(or the results carry no registers)"
        )
    else:
        turnout = r.turnout()[keep] * 100
        fig, tips = figs.integer_percent_histogram(
            turnout, xlabel="turnout, %", title="Turnout by station", fig_id="turnout_hist"
        )
        sec.figures.append(
            ctx.figures.save(
                fig,
                "turnout_hist",
                "Turnout by station",
                f"{n_keep:,} stations ({ANALYSED}), in 0.1-point "
                "bins; bins on whole percents in vermillion (tap or hover a bar for its count). "
                "Spikes at whole (and round) percents are what falsified protocols leave.",
                tips,
            )
        )
    share = _leader_share(r)
    keep_s = (r.cast >= MIN_VOTERS) if r.has_registers is False else keep
    if not r.has_registers:
        n_keep = int(keep_s.sum())
    if r.winner and int(keep_s.sum()):
        fig, tips = figs.integer_percent_histogram(
            share[keep_s] * 100,
            xlabel=f"share of ballots cast for {r.winner}, %",
            title=f"Leader's share by station: {r.winner}",
            fig_id="share_hist",
        )
        sec.figures.append(
            ctx.figures.save(
                fig,
                "share_hist",
                "Leader's share by station",
                f"Share of ballots cast for the leader, {r.winner}, at the same "
                f"{int(keep_s.sum()):,} stations ({ANALYSED}) and in the same bins as "
                "above; whole-percent bins in vermillion.",
                tips,
            )
        )
    return sec


# --- fingerprint -----------------------------------------------------------------


def section_fingerprint(ctx: ReportContext) -> Section:
    sec = Section("fingerprint", "Election fingerprint", references=["klimek2012", "kobak2012"])
    r = ctx.results
    if r is None:
        sec.omitted = "no results file was given (--results)"
        return sec
    if not r.has_registers or not r.winner:
        sec.omitted = "the results carry no registered-voter counts, so there is no turnout"
        return sec
    from_battery = fingerprint_from_battery(ctx)
    model = None
    if from_battery is not None:
        counts, xe, ye, model, n = from_battery
        share_of = "valid votes"
    else:
        keep = analysed_mask(r)
        n = int(keep.sum())
        counts, xe, ye = figs.fingerprint_counts(r.turnout()[keep], _leader_share(r)[keep])
        share_of = "ballots cast"
        sec.callouts.append(
            Callout(
                "info",
                "Computed by the report itself: "
                + ctx.extras.get("forensics_error", "no battery ran"),
            )
        )
    fig = figs.fingerprint_heatmap(
        counts, xe, ye, title="Turnout vs. leader's share",
        ylabel=f"{r.winner}, % of {share_of}", model=model,
    )  # fmt: skip
    sec.figures.append(
        ctx.figures.save(
            fig,
            "fingerprint",
            "Election fingerprint",
            f"Stations ({n:,}: {ANALYSED}) counted in 1% × 1% "
            f"cells of turnout and the leader's share of {share_of}; log colour scale. A fair "
            "election is one compact blob; a streak towards the top-right corner (100% "
            "turnout, 100% for the leader) is the pattern ballot stuffing produces."
            + (
                " White contours (dark-edged): the fitted Klimek et al. model, enclosing 50%, 90% "
                "and 99% of its stations."
                if model is not None
                else ""
            ),
            narrow=True,
        )
    )
    return sec


# --- methods and reproducibility ---------------------------------------------------


def section_methods(sections: list[Section]) -> Section:
    sec = Section("methods", "Methods")
    for m in METHODS.values():
        refs = "; ".join(REFERENCES[k].short for k in m.refs)
        sec.items.append((m.title, m.text + (f" [{refs}]" if refs else "")))
        for k in m.refs:
            if k not in sec.references:
                sec.references.append(k)
    return sec


def _versions() -> dict[str, str]:
    out = {"electwatch": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "polars", "matplotlib", "jinja2"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[pkg] = "not installed"
    return out


def section_reproducibility(
    ctx: ReportContext, inputs: list[InputFile], command_line: str | None, generated: str
) -> Section:
    sec = Section("reproducibility", "Reproducibility")
    v = _versions()
    sec.items += [
        ("electwatch version", v["electwatch"]),
        ("generated (UTC)", generated),
        ("command line", command_line or "(called from Python: electwatch.reports.build_report)"),
        ("seed", str(ctx.seed)),
        ("software", ", ".join(f"{k} {val}" for k, val in v.items() if k != "electwatch")),
        ("platform", f"{platform.system()} {platform.machine()}"),
    ]
    for f in inputs:
        sec.items.append((f"input: {f.role}", f"{f.path} — {f.size:,} bytes — SHA-256 {f.sha256}"))
    if ctx.results is not None and ctx.results.source.sha256:
        sec.items.append(("results table (decompressed) SHA-256", ctx.results.source.sha256))
    for key, value in ctx.extras.get("seeds", {}).items():
        sec.items.append((f"seed: {key}", str(value)))
    rep = ctx.extras.get("forensics")
    if rep is not None:
        params = ", ".join(f"{k}={v}" for k, v in rep.parameters.items())
        sec.items.append(("forensics battery parameters", params))
    if "turnout_json" in ctx.extras:
        from electwatch.reports.sections_turnout import N_RESAMPLES

        sec.items.append(
            ("turnout bootstrap", f"{N_RESAMPLES} resamples within strata, seed {ctx.seed}")
        )
    if command_line:
        sec.paragraphs.append(
            "Re-run the same command with the same inputs (check the hashes) "
            "and seed to reproduce every number in this report."
        )
    return sec


# --- the driver ------------------------------------------------------------------


def _step_detail(bar: _Progress, i: int, label: str, detail: str, fraction: float) -> None:
    bar.step(i, f"{label}: {detail}", fraction)


def _guard(step: _Step, ctx: ReportContext) -> list[Section]:
    """Run one section builder; a failure becomes a visible note, not a crash."""
    try:
        out = step.run(ctx)
    except Exception as exc:
        return [
            Section(
                step.id, step.label, omitted=f"the analysis failed: {type(exc).__name__}: {exc}"
            )
        ]
    return out if isinstance(out, list) else [out]


def _run_battery(ctx: ReportContext) -> list[Section]:
    run_forensics(ctx)
    return []


def default_steps() -> list[_Step]:
    return [
        # the battery runs first (every section and count reads it); no section of its own
        _Step("battery", "Forensics battery", 12.0, _run_battery),
        _Step("summary", "Data summary", 1.0, section_summary),
        _Step("turnout", "Turnout estimate vs. claims", 2.0, section_turnout),
        _Step("forensics", "Forensics battery", 0.5, section_battery),
        _Step("drilldown", "Areas: drill-down", 0.5, section_drilldown),
        _Step("map", "Maps", 0.5, section_map),
        _Step("areas", "Selected areas", 0.2, area_sections),
        _Step("compare", "Comparison with another election", 4.0, section_compare),
        _Step("fingerprint", "Election fingerprint", 1.5, section_fingerprint),
        _Step("distributions", "Turnout and vote-share distributions", 2.5, section_histograms),
        _Step("digits", "Digit tests", 1.0, section_digits),
        _Step("blank_invalid", "Blank and invalid ballots", 0.5, section_blank_invalid),
        # only with options["eforensics"] (--model); never read by the findings
        _Step("eforensics", "Station-level fraud model (eforensics)", 8.0, section_eforensics),
    ]


def build_report(
    out_dir: str | Path,
    *,
    results: ElectionResults | None = None,
    observations: Any = None,
    claims: Any = None,
    inputs: Sequence[InputFile] = (),
    seed: int = 0,
    official_turnout: float | None = None,
    command_line: str | None = None,
    title: str | None = None,
    progress: ProgressCallback | None = None,
    extras: dict[str, Any] | None = None,
    forensics_options: dict[str, Any] | None = None,
    figure_formats: tuple[str, ...] = ("png", "svg"),
    options: dict[str, Any] | None = None,
) -> ReportOutput:
    """Write ``report.html`` (self-contained), ``report.json``, figures/ and tables/.

    ``options``: ``areas`` (names given a section each), ``geo`` and ``geo_key`` (a
    GeoJSON file and the property naming the top-level areas, for the maps),
    ``compare`` (another election's results for the comparison section),
    ``eforensics`` (``eforensics``, ``eforensics-bl`` or ``eforensics-bbl``: add the
    station-level fraud model's section; never part of the findings) and
    ``covariates`` (its covariate columns).

    ``progress(step, fraction)`` is called as the work advances (fraction of the whole
    report in [0, 1]). ``forensics_options`` go to
    :func:`electwatch.forensics.run_battery` (e.g. ``n_bootstrap``, ``n_mc``,
    ``klimek``); ``figure_formats`` are the files written per figure (each is also
    inlined in the HTML as SVG). Returns what was written, section by section.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    callback = progress or no_progress
    ctx = ReportContext(
        out_dir=out,
        figures=figs.FigureWriter(out, formats=figure_formats),
        tables=TableWriter(out),
        results=results,
        observations=observations,
        claims=claims,
        seed=seed,
        official_turnout=official_turnout,
        extras=dict(extras or {}),
        forensics_options=dict(forensics_options or {}),
        options=dict(options or {}),
    )
    if ctx.options.get("geo"):
        load_shapes(ctx.options["geo"], str(ctx.options.get("geo_key") or "name"))  # fail early
    check_options(ctx)  # --model/--covariates: fail before any analysis runs
    steps = default_steps()
    if not ctx.options.get("eforensics"):
        steps = [s for s in steps if s.id != "eforensics"]
    bar = _Progress(callback, [s.weight for s in steps] + [0.5])
    sections: list[Section] = []
    timings: dict[str, float] = {}
    for i, step in enumerate(steps):
        bar.step(i, step.label)
        ctx.step_progress = functools.partial(_step_detail, bar, i, step.label)
        t0 = time.perf_counter()
        sections += _guard(step, ctx)
        timings[step.id] = time.perf_counter() - t0
    bar.step(len(steps), "Writing the report")
    t0 = time.perf_counter()
    # findings first: computed from the results.json written beside the report
    sections.insert(0, *_guard(_Step("findings", "Findings", 0.0, section_findings), ctx))
    write_results_json(ctx)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    sections.append(section_methods(sections))
    sections.append(section_reproducibility(ctx, list(inputs), command_line, generated))
    synthetic = bool(results is not None and results.synthetic) or bool(ctx.extras.get("synthetic"))
    html_path = out / "report.html"
    html_path.write_text(
        render_html(
            sections,
            title=title or _title(results),
            subtitle=_subtitle(results, ctx),
            synthetic=synthetic,
            generated=generated,
            language=str(ctx.options.get("language") or "en"),
        ),
        encoding="utf-8",
    )
    timings["render"] = time.perf_counter() - t0
    output = ReportOutput(
        out_dir=out,
        html_path=html_path,
        json_path=out / "report.json",
        figures=list(ctx.figures.written),
        tables=list(ctx.tables.written),
        sections=sections,
        inputs=list(inputs),
        timings=timings,
        synthetic=synthetic,
    )
    payload = {
        **output.to_dict(),
        "electwatch_version": __version__,
        "generated_utc": generated,
        "command_line": command_line,
        "seed": seed,
        "section_details": [s.to_dict() for s in sections],
        **{k: v for k, v in ctx.extras.items() if k.endswith("_json")},
    }
    output.json_path.write_text(
        json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    callback("done", 1.0)
    return output


def _title(results: ElectionResults | None) -> str:
    if results is None:
        return "electwatch report"
    return f"electwatch report: {results.election.name}"


def _subtitle(results: ElectionResults | None, ctx: ReportContext) -> list[str]:
    lines = []
    if results is not None:
        s = results.summary()
        lines.append(
            f"{s.contest}: {s.stations:,} stations, {s.cast:,} ballots cast"
            + (f", turnout {pct(s.turnout)}" if s.turnout is not None else "")
        )
    n_obs = getattr(ctx.observations, "n", None)
    if n_obs is not None:
        lines.append(f"Observations: {n_obs:,} station reports")
    if ctx.claims is not None and hasattr(ctx.claims, "__len__"):
        lines.append(f"Claims: {len(ctx.claims):,}")
    return lines


def render_html(
    sections: list[Section],
    *,
    title: str,
    subtitle: list[str],
    synthetic: bool,
    generated: str,
    language: str = "en",
) -> str:
    env = Environment(
        loader=PackageLoader("electwatch.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    used: list[str] = []
    for s in sections:
        for k in s.references:
            if k not in used:
                used.append(k)
    refs = [REFERENCES[k] for k in used]
    env.globals["area_anchor"] = area_anchor
    tr = report_language(language)
    env.globals["_"] = tr.gettext
    env.globals["digits"] = tr.digits

    def headline(f: Any) -> str:
        if f.values or f.family == "none":
            return tr.digits(render_headline(f.family, f.values, tr.gettext))
        return str(f.headline)

    env.globals["headline"] = headline
    return env.get_template("report.html.j2").render(
        lang=tr.locale,
        dir=tr.direction,
        title=title,
        subtitle=subtitle,
        synthetic=synthetic,
        sections=sections,
        references=refs,
        ref_numbers={r.key: i + 1 for i, r in enumerate(refs)},
        version=__version__,
        generated=generated,
    )


def report_from_files(
    out_dir: str | Path,
    *,
    results_path: str | Path | None = None,
    mapping: str | None = None,
    observations_path: str | Path | None = None,
    claims_path: str | Path | None = None,
    seed: int = 0,
    allow_inconsistent: bool = False,
    command_line: str | None = None,
    progress: ProgressCallback | None = None,
    extras: dict[str, Any] | None = None,
    **options: Any,
) -> ReportOutput:
    """Load the given files (hashing each), then :func:`build_report` (``options``
    are passed on: ``forensics_options``, ``figure_formats``)."""
    callback = progress or no_progress
    inputs: list[InputFile] = []
    results = None
    if results_path is not None:
        callback("Loading results", 0.0)
        results = load_results(results_path, mapping, allow_inconsistent=allow_inconsistent)
        inputs.append(input_file("results", results_path))
        if mapping is not None and Path(mapping).exists():
            inputs.append(input_file("mapping", mapping))
    observations = None
    if observations_path is not None:
        callback("Loading observations", 0.0)
        observations = _load_observations(observations_path)
        inputs.append(input_file("observations", observations_path))
    claims = None
    if claims_path is not None:
        claims = _load_claims(claims_path)
        inputs.append(input_file("claims", claims_path))
    return build_report(
        out_dir,
        results=results,
        observations=observations,
        claims=claims,
        inputs=inputs,
        seed=seed,
        command_line=command_line,
        progress=callback,
        extras=extras,
        **options,
    )


def _load_observations(path: str | Path) -> Any:
    """Observation records via :func:`electwatch.turnout.load_observations`.

    Without the turnout library the path itself is kept: the turnout section then
    says why it is not included.
    """
    try:
        from electwatch.turnout import load_observations
    except ImportError:
        return Path(path)
    return load_observations(path)


def _load_claims(path: str | Path) -> Any:
    """A claims ledger via :func:`electwatch.claims.load_claims` (or the path, as above)."""
    try:
        from electwatch.claims import load_claims
    except ImportError:
        return Path(path)
    return load_claims(path)
