"""The report's eforensics section (``electwatch report --model eforensics[-bl|-bbl]``):
Mebane's finite-mixture fraud model fitted to the stations (Ferrari, McAlister & Mebane
2018; Mebane 2016), read through :func:`electwatch.forensics.eforensics.eforensics`.

The section shows the mixture weights with their intervals, the expected manufactured
and stolen votes per area, the most suspicious stations and, first, the caveats a
reader needs. It runs only when asked for, and its output never enters the report's
findings or flags: the findings are made only of tests whose false-positive rate was
checked on clean simulated elections, and the model's station probabilities are
conditional on a model that real clean elections do not follow (docs/reports.md,
"The eforensics section").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

import electwatch.reports.figures as figs
from electwatch.core.formatting import count as fmt_count
from electwatch.core.formatting import percent as pct
from electwatch.errors import ElectwatchError
from electwatch.reports.context import ReportContext
from electwatch.reports.model import Callout, Section

#: stations listed in the report (results.json and the table files: the same 20; the
#: per-station CSV/Parquet has every station)
TOP_STATIONS = 20
#: areas drawn in the figure (the table has them all)
TOP_AREAS_FIGURE = 15

# the section's fixed paragraphs: message ids of the ``reports`` catalogue (Persian in
# reports.po; declared in electwatch.reports.language.message_ids)
INTRODUCTION = (
    "This section fits a statistical model to every station; its probabilities are "
    "not proof of fraud. The model assumes that clean stations follow one smooth pattern "
    "of turnout and the winner's share, and asks for each station whether its numbers fit "
    "that pattern, or the pattern of votes added from abstainers and taken from other "
    "candidates (incremental fraud: some; extreme fraud: nearly all). Local differences "
    "the model does not know (a loyal district, a hospital, a barracks, a different "
    "register practice) look like fraud to it. Use the list of stations to choose which "
    "protocols, observers' reports and complaints to check."
)
BL_CAVEAT = (
    "This is the binomial variant (bl): it allows clean stations no more variation than "
    "chance, so it reads the extra variation real clean stations have as incremental "
    "fraud and can call half of the stations frauded. Prefer the beta-binomial variant "
    "(--model eforensics-bbl) and covariates for known differences (--covariates)."
)
BBL_CAVEAT = (
    "This is the beta-binomial variant (bbl): it allows clean stations extra variation, "
    "which can also absorb modest incremental fraud, and without incremental fraud it "
    "can give the name 'incremental' to clean stations with tiny fraud shares (the "
    "notes below say so when it does)."
)
NOT_FINDINGS = (
    "The model's output never enters the findings or the flags of this report: its rate "
    "of false alarms on clean elections has not been calibrated, and on an election from "
    "electwatch's simulator the binomial variant called over half of the stations "
    "incremental where one in ten was."
)
MESSAGES = (INTRODUCTION, BL_CAVEAT, BBL_CAVEAT, NOT_FINDINGS)


class EforensicsOptionError(ElectwatchError):
    """A bad ``--model`` or ``--covariates`` of the report (a user error, one line)."""


def check_options(ctx: ReportContext) -> None:
    """Fail before any analysis runs on an unknown model or an unusable covariate
    (a missing column, a text column with more than 100 distinct values)."""
    model = ctx.options.get("eforensics")
    covariates = list(ctx.options.get("covariates") or [])
    if not model:
        if covariates:
            raise EforensicsOptionError("--covariates needs --model eforensics[-bl|-bbl]")
        return
    from electwatch.forensics.eforensics.options import check_covariates, variant_of

    try:
        variant_of(str(model))
        if ctx.results is not None:
            check_covariates(ctx.results.frame, covariates)
    except ValueError as exc:
        raise EforensicsOptionError(str(exc)) from None


def _ci_text(w: dict[str, Any]) -> str:
    lo, hi = w.get("ci_low"), w.get("ci_high")
    if lo is None or hi is None:
        return f"{pct(w['estimate'], 1)} (no interval: not identified)"
    return f"{pct(w['estimate'], 1)} (95% interval {pct(lo, 1)}–{pct(hi, 1)})"


def _station_frame(fit: Any) -> pl.DataFrame:
    """Every station, most suspicious first (the fit's own ranking)."""
    order = np.asarray(fit.ranking())
    post = np.asarray(fit.posterior)[order]
    eligible = np.asarray(fit.eligible, dtype=float)[order]
    abst = np.asarray(fit.abstentions, dtype=float)[order]
    win = np.asarray(fit.winner_votes, dtype=float)[order]
    cast = eligible - abst
    with np.errstate(divide="ignore", invalid="ignore"):
        turnout = np.where(eligible > 0, cast / eligible, np.nan)
        share = np.where(cast > 0, win / cast, np.nan)
    classes = np.array(["clean", "incremental", "extreme"])[post.argmax(axis=1)]
    return pl.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "station": np.asarray(fit.station_ids)[order].astype(str),
            "area": np.asarray(fit.areas)[order].astype(str),
            "eligible": eligible.astype(np.int64),
            "turnout": turnout,
            "winner_share": share,
            "p_clean": post[:, 0],
            "p_incremental": post[:, 1],
            "p_extreme": post[:, 2],
            "most_likely": classes,
            "expected_manufactured": np.asarray(fit.expected_manufactured)[order],
            "expected_stolen": np.asarray(fit.expected_stolen)[order],
        }
    )


def _area_frame(fit: Any) -> pl.DataFrame:
    rows = [a.to_dict() for a in fit.by_area()]
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.with_columns(
        expected_frauded_votes=pl.col("expected_manufactured_votes")
        + pl.col("expected_stolen_votes")
    )


def _p(x: Any) -> str:
    return "—" if x is None else f"{float(x):.3f}"


def _votes(x: Any) -> str:
    return fmt_count(x)


def section_eforensics(ctx: ReportContext) -> list[Section]:
    """The section, or nothing when the report was not asked for the model."""
    model = ctx.options.get("eforensics")
    if not model:
        return []
    from electwatch.core.applicability import NotApplicable
    from electwatch.forensics.eforensics import eforensics
    from electwatch.forensics.eforensics.options import check_covariates, variant_of

    variant = variant_of(str(model))
    covariates = list(ctx.options.get("covariates") or [])
    sec = Section(
        "eforensics",
        "Station-level fraud model (eforensics)",
        references=["ferrari2018", "mebane2016"],
    )
    r = ctx.results
    if r is None:
        sec.omitted = "no results file was given (--results)"
        return [sec]
    check_covariates(r.frame, covariates)
    ctx.step_progress(f"fitting eforensics-{variant}", 0.05)
    fit = eforensics(r, variant, covariates=covariates, seed=ctx.seed)
    if isinstance(fit, NotApplicable):
        sec.omitted = f"the eforensics model does not apply: {fit.reason}"
        ctx.extras["eforensics_json"] = fit.to_dict()
        return [sec]
    data = fit.to_dict(top=TOP_STATIONS)
    data["covariates"] = covariates
    data["model_option"] = str(model)
    ctx.extras["eforensics_json"] = data
    ctx.extras["eforensics"] = fit
    sec.paragraphs += [INTRODUCTION, BL_CAVEAT if variant == "bl" else BBL_CAVEAT, NOT_FINDINGS]
    sec.callouts.append(Callout("warning", str(data.get("caveat") or "")))
    for note in data.get("notes") or []:
        sec.callouts.append(Callout("warning", f"Note from the fit: {note}"))
    fit_info = data.get("fit") or {}
    if r.synthetic:
        sec.callouts.append(Callout("warning", "The model fitted to SYNTHETIC data."))
    excluded = data.get("excluded") or {}
    counts = data.get("class_counts") or {}
    weights = data.get("weights") or []
    mags = data.get("magnitudes") or []
    sec.items += [
        ("model", f"{data.get('model')} (--model {model})"),
        ("winner", str(data.get("winner") or "—")),
        ("stations fitted", f"{int(data.get('n') or 0):,}"),
        (
            "stations left out",
            "; ".join(f"{v:,} {k}" for k, v in excluded.items()) or "none",
        ),
        ("covariates (turnout and the winner's share)", ", ".join(covariates) or "none"),
    ]
    for w in weights:
        sec.items.append((f"mixture weight {w['name'].removeprefix('pi_')}", _ci_text(w)))
    sec.items += [
        (
            "stations by most likely class",
            " / ".join(f"{counts.get(k, 0):,} {k}" for k in ("clean", "incremental", "extreme")),
        ),
        (
            "expected manufactured / stolen votes (all stations)",
            f"{_votes(data.get('expected_manufactured_votes'))} / "
            f"{_votes(data.get('expected_stolen_votes'))} (model readings, not counts)",
        ),
        (
            "fit",
            f"maximum likelihood; converged: {'yes' if fit_info.get('converged') else 'NO'}; "
            f"starting points agree: {'yes' if fit_info.get('starts_agree') else 'NO'}; "
            f"{fit_info.get('seconds', 0):.1f} s",
        ),
    ]
    said = any("converg" in str(n) for n in data.get("notes") or [])
    if not fit_info.get("converged", True) and not said:
        sec.callouts.append(
            Callout(
                "warning",
                "The fit did not meet its convergence criterion: its numbers are not reliable.",
            )
        )
    # figure 1: weights and fraud shares with their intervals
    labels = {
        "pi_clean": "clean",
        "pi_incremental": "incremental",
        "pi_extreme": "extreme",
        "iota_m": "incr.: manufactured",
        "iota_s": "incr.: stolen",
        "chi_m": "extreme: manufactured",
        "chi_s": "extreme: stolen",
    }

    def rows(ps: list[dict[str, Any]], check_ident: bool) -> list[Any]:
        return [
            (
                labels.get(p["name"], p["name"]),
                float(p["estimate"] or 0.0),
                None if check_ident and not p.get("identified", True) else p.get("ci_low"),
                None if check_ident and not p.get("identified", True) else p.get("ci_high"),
            )
            for p in ps
        ]

    fig, tips = figs.eforensics_weights_figure(
        rows(weights, False),
        rows(mags, True),
        title=f"eforensics-{variant}: mixture weights and fraud shares",
    )
    sec.figures.append(
        ctx.figures.save(
            fig,
            "eforensics_weights",
            "Mixture weights and fraud shares",
            "Left: the model's estimated shares of clean, incremental-fraud and extreme-fraud "
            "stations; right: the mean share of abstainers turned into winner's votes "
            "(manufactured) and of other candidates' votes moved to the winner (stolen) in "
            "each fraud class. Bars: 95% intervals (Wald; a weight at 0 has a likelihood-ratio "
            "upper limit); a hollow dot has no interval (a class too small to identify). "
            "Tap or hover a dot for its value.",
            tips,
        )
    )
    area_frame = _area_frame(fit)
    level = str(data.get("area_level") or "area")
    area_rows = [
        (
            str(a["area"]),
            float(a["expected_manufactured_votes"]),
            float(a["expected_stolen_votes"]),
            int(a["stations"]),
        )
        for a in area_frame.iter_rows(named=True)
    ]
    if level != "national" and len(area_rows) > 1:
        fig, tips = figs.eforensics_area_figure(
            area_rows,
            title=f"Expected manufactured and stolen votes by {level} "
            f"(top {min(TOP_AREAS_FIGURE, len(area_rows))})",
            top=TOP_AREAS_FIGURE,
        )
        sec.figures.append(
            ctx.figures.save(
                fig,
                "eforensics_areas",
                f"Expected frauded votes by {level}",
                f"Sum over each {level}'s stations of the expected manufactured (blue) and stolen "
                f"(vermillion) votes, each station weighted by its probability of fraud; the "
                f"{min(TOP_AREAS_FIGURE, len(area_rows))} {level}s with the most. These are "
                "readings of the model, not counts: a region whose clean stations simply differ "
                "from the national pattern gets votes here too.",
                tips,
            )
        )
    else:
        sec.callouts.append(
            Callout("info", "No area level in the results: the area figure is not drawn.")
        )
    # tables
    param_rows = [
        {
            "parameter": p["name"],
            "covariate": p.get("covariate"),
            "estimate": p.get("estimate"),
            "ci_low": p.get("ci_low"),
            "ci_high": p.get("ci_high"),
            "identified": p.get("identified"),
            "note": p.get("note", ""),
        }
        for p in [*weights, *mags, *(data.get("parameters") or [])]
    ]
    sec.tables.append(
        ctx.tables.save(
            pl.DataFrame(param_rows, infer_schema_length=None),
            "eforensics_parameters",
            "Model parameters (weights, mean fraud shares, regression coefficients)",
            max_rows=7,
            formats={"identified": lambda v: "yes" if v else "no"},
            note="Weights and mean fraud shares with 95% intervals; the logistic-regression "
            "coefficients (turnout beta_tau, winner's share beta_nu, fraud shares) are in the "
            "table files.",
        )
    )
    shown_area = area_frame.select(
        pl.col("area"),
        pl.col("stations"),
        pl.col("expected_incremental_stations").alias("incremental (exp.)"),
        pl.col("expected_extreme_stations").alias("extreme (exp.)"),
        pl.col("expected_manufactured_votes").alias("manufactured"),
        pl.col("expected_stolen_votes").alias("stolen"),
        pl.col("share_of_winner_votes").alias("of winner's votes"),
    )
    sec.tables.append(
        ctx.tables.save(
            area_frame,
            "eforensics_areas",
            f"Expected frauded stations and votes by {level}",
            max_rows=20,
            display=shown_area,
            formats={
                "of winner's votes": lambda v: pct(v, 1),
                "manufactured": _votes,
                "stolen": _votes,
                "incremental (exp.)": lambda v: f"{v:,.1f}",
                "extreme (exp.)": lambda v: f"{v:,.1f}",
            },
            note="Expected numbers of incremental and extreme stations (sums of the "
            "stations' probabilities) and expected manufactured and stolen votes; sorted by "
            "expected frauded votes. Of winner's votes: expected frauded votes as a share of "
            "the winner's votes there.",
        )
    )
    stations = _station_frame(fit)
    shown = stations.head(TOP_STATIONS).select(
        pl.col("rank"),
        pl.col("station"),
        pl.col("area"),
        pl.col("eligible"),
        pl.col("turnout"),
        pl.col("winner_share").alias("winner"),
        pl.col("p_clean").alias("P(clean)"),
        pl.col("p_incremental").alias("P(incr.)"),
        pl.col("p_extreme").alias("P(extreme)"),
        pl.col("expected_manufactured").alias("manufactured"),
        pl.col("expected_stolen").alias("stolen"),
    )
    sec.tables.append(
        ctx.tables.save(
            stations,
            "eforensics_stations",
            f"The {TOP_STATIONS} most suspicious stations (of {stations.height:,})",
            max_rows=TOP_STATIONS,
            display=shown,
            formats={
                "turnout": lambda v: pct(v, 1),
                "winner": lambda v: pct(v, 1),
                "P(clean)": _p,
                "P(incr.)": _p,
                "P(extreme)": _p,
                "manufactured": _votes,
                "stolen": _votes,
            },
            note="winner: the winner's share of ballots cast; manufactured, stolen: expected "
            "votes. Ranked by the probability of extreme fraud, then of any fraud, then by "
            "expected frauded votes. A station where everyone voted for the winner shows 0 "
            "expected votes: its counts no longer say how many were added. A high "
            "probability means 'fits the fraud pattern much better than the clean one', not "
            "'frauded'. Every station's probabilities are in the table files.",
        )
    )
    return [sec]
