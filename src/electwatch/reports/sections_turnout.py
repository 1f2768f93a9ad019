"""The "turnout estimate vs. claims" section: estimates from observed stations with
their intervals, the official figure, and each published claim on one axis; the
reconciliation of the official figure with the observations; the claims ledger checks.

Uses :mod:`electwatch.turnout` (Cochran 1977 expansion, ratio and stratified
estimators; Rao & Wu 1988 rescaled bootstrap) and :mod:`electwatch.claims`.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

import electwatch.reports.figures as figs
from electwatch.core import formatting as fmt
from electwatch.core.formatting import percent as pct
from electwatch.core.formatting import value as fmt_value
from electwatch.reports.context import ReportContext
from electwatch.reports.model import Callout, Section

#: bootstrap resamples of the turnout interval (the CLI's `estimate` default is 2000)
N_RESAMPLES = 2000
_BAD = ("mismatch", "conflict")


def _value(est: Any, v: float | None) -> str:
    return fmt.quantity_value(est.quantity, v)


def estimates_frame(estimates: dict[str, Any]) -> pl.DataFrame:
    rows = []
    for name, e in estimates.items():
        rows.append(
            {
                "estimator": name,
                "method": e.method,
                "quantity": e.quantity,
                "estimate": e.estimate,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "standard_error": e.standard_error,
                "confidence": e.confidence,
                "stations_observed": e.n,
                "total_stations": e.total_stations,
                "voters": e.total_voters,
                "voters_per_station": e.per_station,
                "eligible": e.eligible,
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)


def _claim_points(ledger: Any, quantity: str) -> list[figs.IntervalPoint]:
    pts = []
    for c in ledger:
        if c.quantity != quantity:
            continue
        lo, hi = c.interval()
        rel = {"<=": "at most ", ">=": "at least "}.get(c.relation, "")
        pts.append(
            figs.IntervalPoint(
                f"{c.source}: {c.stated.text}"
                if rel == ""
                else f"{c.source}: {rel}{c.stated.text}",
                c.value,
                lo if math.isfinite(lo) else None,
                hi if math.isfinite(hi) else None,
                kind="claim",
                note=f"claim {c.id}" + (f", {c.method}" if c.method else ""),
            )
        )
    return pts


def _scoped_claims(ctx: ReportContext, sec: Section) -> Any:
    """The claims about this report's election, round and whole area (the others are
    named in a note, never plotted: a claim about another election is not evidence
    about this one)."""
    if ctx.claims is None or not hasattr(ctx.claims, "claims"):
        return None
    r = ctx.results
    if r is None:
        return ctx.claims
    from electwatch.claims.ledger import Ledger, claim_scope

    mine: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for c in ctx.claims:
        ok, why = claim_scope(c, r.election.name, r.contest.round)
        (mine if ok else other)[c.id] = c if ok else why
    if other:
        sec.callouts.append(
            Callout(
                "info",
                f"{len(other)} of {len(ctx.claims)} claims are not about this election "
                f"({r.election.name}) and are left out: "
                + "; ".join(f"{k} {why}" for k, why in list(other.items())[:5])
                + (" ..." if len(other) > 5 else "")
                + '. Give a claim election = "..." (and area, round) to place it.',
            )
        )
    return Ledger({k: c for k, c in mine.items() if not c.area}, ctx.claims.file)


def section_turnout(ctx: ReportContext) -> Section:
    sec = Section("turnout", "Turnout estimate vs. claims", references=["cochran1977", "rao1988"])
    if ctx.observations is None and ctx.claims is None:
        sec.omitted = (
            "no observations (--observations) or claims (--claims) were given, so "
            "there is no turnout estimate or claim to show"
        )
        return sec
    try:
        from electwatch.claims import check_ledger, claims_table_rows, official_figures
        from electwatch.turnout import estimate_turnout, frame_from_results, reconcile
    except ImportError as exc:
        sec.omitted = (
            f"the turnout and claims libraries are not available in this build "
            f"({exc}); the estimate and the claims chart are left out"
        )
        return sec
    r = ctx.results
    estimates: dict[str, Any] = {}
    main = None
    if ctx.observations is not None:
        if r is None:
            sec.callouts.append(
                Callout(
                    "omitted",
                    "Observations were given without a results file (--results): "
                    "without the frame of all stations there is nothing to expand them to.",
                )
            )
        else:
            strata = [r.area_levels[0]] if r.area_levels else []
            frame = frame_from_results(r, strata)
            try:
                analysis = estimate_turnout(
                    ctx.observations, frame, strata=strata, n_resamples=N_RESAMPLES, seed=ctx.seed
                )
            except ValueError as exc:
                sec.callouts.append(Callout("omitted", f"No estimate: {exc}"))
            else:
                estimates = analysis.estimates
                main = estimates.get("stratified") or estimates.get("naive")
                for note in analysis.notes:
                    sec.callouts.append(Callout("info", note))
                ctx.extras["turnout_json"] = analysis.to_dict()
    official = official_figures(r.summary()) if r is not None else None
    points: list[figs.IntervalPoint] = []
    for e in estimates.values():
        if e.quantity == "turnout":
            points.append(
                figs.IntervalPoint(
                    f"estimate: {e.method}",
                    e.estimate,
                    e.ci_low,
                    e.ci_high,
                    kind="estimate",
                    note=e.method,
                )
            )
    if official and "turnout" in official:
        points.append(
            figs.IntervalPoint(
                "official results",
                official["turnout"],
                kind="official",
                note="ballots cast / registered",
            )
        )
    claims = _scoped_claims(ctx, sec)
    if claims is not None:
        points += _claim_points(claims, "turnout")
    if estimates:
        assert main is not None  # estimates came with their main estimator
        sec.paragraphs.append(
            f"Observers counted voters at {main.n:,} of {main.total_stations:,} stations. "
            "Each estimator expands those counts to all stations; the horizontal lines are "
            f"{main.confidence:.0%} confidence intervals and cover sampling error only — not "
            "how the stations were chosen, watch hours or observer undercount."
        )
        f = estimates_frame(estimates)
        pf = {
            c: (pct if main.quantity == "turnout" else fmt_value)
            for c in ("estimate", "ci_low", "ci_high", "standard_error")
        }
        sec.tables.append(
            ctx.tables.save(
                f, "turnout_estimates", "Turnout estimates", formats={**pf, "confidence": pct}
            )
        )
    if points:
        fig, tips = figs.interval_chart(
            points, xlabel="turnout, %", title="Turnout: estimates, official figure and claims"
        )
        sec.figures.append(
            ctx.figures.save(
                fig,
                "claims_vs_estimates",
                "Claims vs. estimates",
                "Each estimate (blue, with its 95% interval), the official figure (black) and each "
                "published turnout claim (vermillion; the line is the range the claim's stated "
                "digits allow) on one axis. Tap or hover a point for its numbers.",
                tips,
            )
        )
    if main is not None and official and r is not None and main.total_voters:
        rec = reconcile(main, float(r.summary().cast))
        sec.items += [
            ("official ballots cast", f"{r.summary().cast:,}"),
            (
                f"estimate ({main.method})",
                f"{_value(main, main.estimate)} "
                f"[{_value(main, main.ci_low)}, "
                f"{_value(main, main.ci_high)}]",
            ),
            ("official / estimated voters", f"{rec.ratio:.3f}×"),
            ("undercount that would reconcile them", pct(rec.undercount_needed, 1)),
            (
                "selection ratio that would reconcile them",
                f"{rec.selection_ratio_needed:.3f} (observed stations averaging that share of "
                "the national mean per station)",
            ),
        ]
        if rec.p_value is not None:
            sec.items.append(
                (
                    "p-value of the official figure (sampling only)",
                    f"{rec.p_value:.3g} (z = {rec.z:.1f})",
                )
            )
        ctx.extras["reconciliation_json"] = rec.to_dict()
    if ctx.claims is not None:
        from electwatch.claims import ClaimError
        from electwatch.claims.ledger import check_against_results

        # claims are held against the report's main estimate only (one row per claim,
        # not one per estimator), and against their own area's official figures
        main_only = {main.method: main} if main is not None else None
        scoped = None
        if r is not None:
            scoped = check_against_results(ctx.claims, r, estimates=main_only)
            report = scoped.report
        else:
            try:
                report = check_ledger(ctx.claims, estimates=main_only)
            except ClaimError as exc:
                sec.callouts.append(
                    Callout("warning", f"Claims were checked for their own arithmetic only: {exc}")
                )
                report = check_ledger(ctx.claims)
        rows = claims_table_rows(report)
        cols = ["claim", "check", "status", "stated", "reference", "against", "detail"]
        claims_frame = (
            pl.DataFrame([list(r) for r in rows], schema=cols, orient="row")
            if rows
            else (pl.DataFrame(schema=dict.fromkeys(cols, pl.String)))
        )
        claims_frame = claims_frame.with_columns(flag=pl.col("status").is_in(list(_BAD)))
        counts = report.counts()
        bad = counts.get("mismatch", 0) + counts.get("conflict", 0)
        sec.callouts.append(
            Callout(
                "flag" if bad else "info",
                f"{len(report.claims)} claims, {len(report.checks)} checks: "
                + ", ".join(f"{v} {k}" for k, v in counts.items() if v)
                + (". Rows in red failed." if bad else "."),
            )
        )
        sec.tables.append(
            ctx.tables.save(
                claims_frame,
                "claims_checks",
                "Claims: arithmetic, consistency, vs. estimates and official results",
                flag_column="flag",
                max_rows=60,
            )
        )
        ctx.extras["claims_json"] = scoped.to_dict() if scoped is not None else report.to_dict()
    return sec
