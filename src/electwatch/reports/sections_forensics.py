"""Sections built on the forensics battery (:func:`electwatch.forensics.run_battery`).

The battery runs once (step "forensics"); the battery table, the fingerprint, the
digit plots and the blank/invalid ranking all read its :class:`ForensicsReport`.
Without the forensics library the fingerprint is still drawn (computed here), and
the other sections say why they are not included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

import electwatch.reports.figures as figs
from electwatch.core import formatting as fmt
from electwatch.core.formatting import percent as pct
from electwatch.core.formatting import value as fmt_value
from electwatch.reports.context import ReportContext
from electwatch.reports.model import Callout, Section

NATIONAL = "national"
#: flagged areas shown in the HTML (all of them are in the CSV/Parquet tables)
MAX_FLAGGED_ROWS = 40


def _import_error() -> str | None:
    try:
        import electwatch.forensics  # noqa: F401
    except ImportError as exc:
        return (
            f"the forensics library is not available in this build ({exc}); "
            "this section is left out"
        )
    return None


def run_forensics(ctx: ReportContext) -> Any:
    """Run the battery once and keep it in ``ctx.extras['forensics']`` (or the error)."""
    if "forensics" in ctx.extras or ctx.results is None:
        return ctx.extras.get("forensics")
    err = _import_error()
    if err:
        ctx.extras["forensics_error"] = err
        return None
    from electwatch.forensics import run_battery

    try:
        options = {"seed": ctx.seed, **ctx.forensics_options}
        rep = run_battery(ctx.results, progress=ctx.step_progress, **options)
    except ValueError as exc:
        ctx.extras["forensics_error"] = f"the forensics battery could not run: {exc}"
        return None
    ctx.extras["forensics"] = rep
    ctx.extras["forensics_json"] = rep.to_dict(include_areas=False)
    return rep


def _missing(sec: Section, ctx: ReportContext) -> bool:
    if ctx.results is None:
        sec.omitted = "no results file was given (--results)"
        return True
    if ctx.extras.get("forensics") is None:
        sec.omitted = ctx.extras.get("forensics_error", "the forensics battery did not run")
        return True
    return False


def _p(p: float | None) -> str:
    return fmt.p_value(p, label=False)


# --- the battery ----------------------------------------------------------------------


def section_battery(ctx: ReportContext) -> Section:
    sec = Section(
        "forensics",
        "Forensics battery",
        references=[
            "mebane2006",
            "beber2012",
            "hartigan1985",
            "klimek2012",
            "kobak2016",
            "shpilkin2011",
            "benjamini1995",
        ],
    )
    run_forensics(ctx)
    if _missing(sec, ctx):
        return sec
    rep = ctx.extras["forensics"]
    sec.paragraphs.append(
        f"Each test compares a statistic of the official results with what a clean "
        f"election gives (the null). Leader: {rep.winner}"
        + (f"; runner-up: {rep.runner_up}" if rep.runner_up else "")
        + ". A flag means a deviation at the 5% level after Benjamini-Hochberg control "
        "across the areas of a level; a deviation is a reason to look, not proof of fraud: "
        "large elections make tiny, innocent departures significant, and several tests "
        "(turnout shape, the turnout-share slope) also respond to real political geography."
    )
    if rep.synthetic:
        sec.callouts.append(Callout("warning", "Forensics on SYNTHETIC data."))
    for step, err in rep.errors.items():
        sec.callouts.append(Callout("omitted", f"Step '{step}' could not run: {err}"))
    nat = rep.national()
    rows = [
        {
            "test": r.test,
            "subject": r.subject,
            "statistic": r.statistic,
            "null": r.null_value,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "p_value": r.p_value,
            "n": r.n,
            "flagged": r.flagged,
            "reading": r.reading,
        }
        for r in nat
    ]
    frame = pl.DataFrame(rows, infer_schema_length=None)
    n_flag = sum(r.flagged for r in nat)
    sec.callouts.append(
        Callout(
            "flag" if n_flag else "info",
            f"National level: {n_flag} of {len(nat)} tests deviate from their null (rows in red).",
        )
    )
    from electwatch.forensics import TESTS

    shown = pl.DataFrame(
        {
            "test": [r.test for r in nat],
            "what it measures": [TESTS.get(r.test, r.subject) for r in nat],
            "reading": [r.reading for r in nat],
            "flag": [r.flagged for r in nat],
        }
    )
    sec.tables.append(
        ctx.tables.save(
            frame,
            "forensics_national",
            "National results of each test",
            display=shown,
            flag_column="flag",
            max_rows=60,
            note="Statistic, null value, interval, p-value and n of each test are in the "
            "readings and, as numbers, in the table files.",
        )
    )
    if rep.klimek is not None:
        k = rep.klimek
        lo_i, hi_i = k.ci("fi")
        lo_e, hi_e = k.ci("fe")
        sec.items += [
            (
                "Klimek model: incremental fraud fi",
                f"{pct(k.fi, 1)} of stations (95% CI {pct(lo_i, 1)}–{pct(hi_i, 1)})",
            ),
            (
                "Klimek model: extreme fraud fe",
                f"{pct(k.fe, 1)} of stations (95% CI {pct(lo_e, 1)}–{pct(hi_e, 1)})",
            ),
            (
                "Klimek model: fit",
                f"binned maximum likelihood on the 1% fingerprint, alpha fixed at {k.alpha:g}; "
                "intervals conditional on the fitted shape"
                + (
                    ""
                    if np.isfinite(k.fi_se) and np.isfinite(k.fe_se)
                    else " (standard errors unavailable: singular information matrix)"
                ),
            ),
        ]
    # flagged areas, per level below national
    summary = rep.summary_counts()
    lvl_rows = [
        {"test": t, "level": lv, "areas": d["areas"], "flagged": d["flagged"]}
        for t, levels in summary.items()
        for lv, d in levels.items()
        if lv != NATIONAL
    ]
    if lvl_rows:
        sec.tables.append(
            ctx.tables.save(
                pl.DataFrame(lvl_rows),
                "forensics_flag_counts",
                "Flagged areas per test and level",
                max_rows=80,
            )
        )
    ranked = flagged_area_rows(rep)
    if ranked:
        ff = pl.DataFrame(ranked, infer_schema_length=None)
        top_level = rep.levels[1] if len(rep.levels) > 1 else None
        shown = (ff.filter(pl.col("level") == top_level) if top_level else ff).select(
            "rank", "area", "calibrated_flags", "integer_percent_z", "shpilkin_excess_share",
            "tests",
        )  # fmt: skip
        sec.tables.append(
            ctx.tables.save(
                ff,
                "forensics_flagged_areas",
                f"Flagged areas ({len(ranked):,} in all levels; {top_level or 'all'} shown)",
                max_rows=MAX_FLAGGED_ROWS,
                note="Ranked by the number of calibrated tests flagged after "
                "Benjamini-Hochberg, ties by the integer-percent z-score, then by the "
                "Shpilkin excess as a share of the leader's votes (docs/forensics.md, "
                "'Flags'). Descriptive statistics (turnout skewness, kurtosis, dip, 2BL, "
                "Sobyanin) never count.",
                display=shown,
            )
        )
    all_frame = rep.to_frame()
    sec.tables.append(
        ctx.tables.save(
            all_frame.select("test", "level", "area", "statistic", "p_adjusted", "flagged"),
            "forensics_all",
            f"Every test in every area ({all_frame.height:,} rows)",
            max_rows=0,
            full=all_frame,
        )
    )
    if rep.shpilkin is not None:
        c = rep.shpilkin
        fig, tips = figs.shpilkin_figure(
            np.asarray(c.turnout_pct),
            np.asarray(c.leader),
            np.asarray(c.others),
            np.asarray(c.expected_leader),
            leader=rep.winner,
        )
        sec.figures.append(
            ctx.figures.save(
                fig,
                "shpilkin",
                "Votes by turnout (Shpilkin)",
                f"Votes cast in each 1% turnout bin for the leader ({rep.winner}) and for "
                f"everyone else; dashed: the leader's votes if they followed the others' curve "
                f"scaled at low turnout (reference turnout {c.t0}%: {c.t0_method}). The "
                f"shaded gap is Shpilkin's excess: {c.excess:+,.0f} votes.",
                tips,
            )
        )
    return sec


def flagged_area_rows(rep: Any) -> list[dict[str, Any]]:
    """The battery's ranked flagged areas (``ForensicsReport.flagged_areas``) as table
    rows: calibrated tests only, the documented ranking rule."""
    return [
        {
            "rank": a["rank"],
            "level": a["level"],
            "area": a["area"],
            "calibrated_flags": a["calibrated_flags"],
            "integer_percent_z": a["integer_percent_z"],
            "shpilkin_excess_share": a["shpilkin_excess_share"],
            "tests": "; ".join(a["tests"]),
            "other_flags": "; ".join(a["other_flags"]),
        }
        for a in rep.flagged_areas()
    ]


# --- fingerprint ----------------------------------------------------------------------


def fingerprint_from_battery(ctx: ReportContext) -> tuple[Any, Any, Any, Any, int] | None:
    rep = ctx.extras.get("forensics")
    if rep is None or rep.fingerprint is None:
        return None
    fp = rep.fingerprint
    model = rep.klimek.model_counts.T if rep.klimek is not None else None
    return fp.counts.T, fp.edges, fp.edges, model, fp.n


# --- digit plots ----------------------------------------------------------------------


def section_digits(ctx: ReportContext) -> Section:
    sec = Section("digits", "Digit tests", references=["mebane2006", "beber2012"])
    if _missing(sec, ctx):
        return sec
    from electwatch.forensics import BENFORD_2ND

    rep = ctx.extras["forensics"]
    plots = [
        (
            "2bl_second_digit_mean",
            "digits_second",
            "Second digits (2BL)",
            np.asarray(BENFORD_2ND),
            "Benford's second-digit law",
        ),
        (
            "last_digit_mean",
            "digits_last",
            "Last digits",
            np.full(10, 0.1),
            "uniform last digits",
        ),
    ]
    for test, fig_id, title, null, null_name in plots:
        try:
            r = rep.get(test)
        except KeyError:
            sec.callouts.append(Callout("omitted", f"{title}: the test did not run."))
            continue
        counts = r.details.get("digit_counts")
        if not counts:
            sec.callouts.append(Callout("omitted", f"{title}: no digit counts were returned."))
            continue
        fig, tips = figs.digit_plot(
            np.asarray(counts, dtype=float),
            null,
            title=f"{title}: {r.subject}",
            xlabel="digit",
        )
        sec.figures.append(
            ctx.figures.save(
                fig,
                fig_id,
                title,
                f"{r.subject}: observed shares (dots; vermillion outside the band) against "
                f"{null_name} "
                f"(line) with its binomial 95% band for n = {int(np.sum(counts)):,} counts. "
                f"Test: {r.reading}.",
                tips,
            )
        )
    return sec


# --- blank and invalid ----------------------------------------------------------------


def section_blank_invalid(ctx: ReportContext) -> Section:
    sec = Section("blank_invalid", "Blank and invalid ballots")
    if _missing(sec, ctx):
        return sec
    rep = ctx.extras["forensics"]
    res = [r for r in rep.results if r.test in ("blank_rank", "invalid_rank")]
    if not res:
        sec.omitted = "the results carry no blank or invalid ballot counts"
        return sec
    for r in res:
        if r.level == NATIONAL:
            k = r.details.get("stations_beating_runner_up")
            kind = r.test.removesuffix("_rank")
            sec.items.append((f"{kind} ballots, national", r.reading))
            if k is not None and rep.runner_up:
                sec.items.append(
                    (
                        f"stations where {kind} ballots exceed the runner-up",
                        f"{k:,} (runner-up: {rep.runner_up})",
                    )
                )
    frame = pl.DataFrame(
        [
            {
                "ballots": r.test.removesuffix("_rank"),
                "level": r.level,
                "area": r.area,
                "rank": int(r.statistic),
                "of": int(r.details.get("n_candidates", 0)) + 1,
                "votes": r.details.get("votes"),
                "candidates_beaten": ", ".join(r.details.get("candidates_beaten", [])),
                "stations_beating_runner_up": r.details.get("stations_beating_runner_up"),
                "flag": r.flagged,
            }
            for r in res
        ],
        infer_schema_length=None,
    ).sort(["rank", "votes"], descending=[False, True])
    n_beat = int(frame.filter(pl.col("flag") & (pl.col("level") != NATIONAL)).height)
    sec.paragraphs.append(
        "Blank and invalid ballots ranked among the candidates in each area, best rank first. "
        f"In {n_beat:,} areas they beat at least one candidate (rows in red)."
    )
    shown = frame.with_columns(
        beats=pl.col("candidates_beaten").str.split(", ").list.len()
        * (pl.col("candidates_beaten") != "").cast(pl.Int64)
    ).select("ballots", "level", "area", "rank", "of", "votes", "beats",
             "stations_beating_runner_up", "flag")  # fmt: skip
    sec.tables.append(
        ctx.tables.save(
            frame,
            "blank_invalid_ranking",
            "Blank and invalid ballots ranked as a candidate",
            formats={"votes": fmt_value},
            flag_column="flag",
            display=shown,
            note="beats: how many candidates they beat (named in the table files).",
        )
    )
    return sec
