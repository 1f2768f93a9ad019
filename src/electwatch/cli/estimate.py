"""``electwatch estimate``: turnout from observed stations (thin shell over electwatch.turnout).

Two modes:

* summary figures (what a published observer report gives)::

    electwatch estimate --observed-stations 1941 --counted 156597 \\
        --total-stations 59000 --eligible 61000000 --claim 41%

* observation records and a station frame (results file)::

    electwatch estimate --observations obs.csv --frame results.csv --strata region,size_class

Option names follow the CLI conventions (docs/architecture.md): ``-o/--out`` is the
output folder. Until issue 11 ``-o`` meant ``--observations`` here; reusing the
letter for both would be ambiguous, so the old short spelling is gone (a clean
break, documented in docs/turnout.md): spell ``--observations`` out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from electwatch.cli.common import (
    console,
    deprecated_option,
    out,
    print_json,
    print_table,
    user_errors,
)
from electwatch.core import formatting


def _pct(x: float | None, digits: int = 1) -> str:
    return formatting.percent(x, digits, missing="n/a")


def _num(x: float | None, digits: int = 0) -> str:
    return formatting.fixed(x, digits, grouped=True)


def _fmt_value(est: Any, v: float) -> str:
    return formatting.quantity_value(est.quantity, v, missing="n/a")


def _print_estimates(estimates: dict[str, Any]) -> None:
    t = Table(title="Estimates")
    for col in ("estimator", "estimate", "95% CI", "SE", "voters", "per station", "n", "reg. 0"):
        t.add_column(col, justify="right" if col != "estimator" else "left")
    for est in estimates.values():
        t.add_row(
            est.method,
            _fmt_value(est, est.estimate),
            f"[{_fmt_value(est, est.ci_low)}, {_fmt_value(est, est.ci_high)}]",
            _fmt_value(est, est.standard_error),
            _num(est.total_voters),
            _num(est.per_station, 1),
            f"{est.n:,}",
            str(est.extra.get("register_zero", "-")),
        )
    print_table(t)
    for est in estimates.values():
        for note in est.notes:
            console.print(f"[yellow]note[/] ({est.method}): {note}")
        if est.empty_strata:
            console.print(
                f"[yellow]empty strata[/] ({est.method}): {len(est.empty_strata)} strata "
                f"without observations: {', '.join(est.empty_strata[:8])}"
                + (" ..." if len(est.empty_strata) > 8 else "")
            )


def _print_reconciliation(rec: Any, est: Any) -> None:
    t = Table(title="Reconciliation with the claim", show_header=False)
    if rec.claimed_turnout is not None:
        t.add_row("claimed turnout", _pct(rec.claimed_turnout))
    t.add_row("claimed voters", _num(rec.claimed_voters))
    t.add_row(
        "implied voters per station",
        f"{_num(rec.implied_per_station)} (observed {_num(rec.observed_per_station, 1)})",
    )
    t.add_row("claim / estimate", f"{rec.ratio:.2f}x")
    t.add_row("undercount that would reconcile", _pct(rec.undercount_needed))
    t.add_row(
        "selection ratio that would reconcile",
        f"{rec.selection_ratio_needed:.3f} (observed stations averaging "
        f"{_pct(rec.selection_ratio_needed, 0)} of the national mean, or a watch covering "
        f"{_pct(rec.selection_ratio_needed, 0)} of arrivals)",
    )
    if rec.undercount_needed_at_ci is not None:
        t.add_row("undercount needed at the CI's upper end", _pct(rec.undercount_needed_at_ci))
    if rec.p_value is not None:
        t.add_row(
            "p-value of the claim (sampling only)",
            f"{rec.p_value:.3g} (log10 p = {rec.log10_p_value:.1f}, z = {rec.z:.1f})",
        )
    if rec.max_station_sd_consistent is not None:
        t.add_row(
            "per-station SD needed for the claim to be in the 95% CI",
            f">= {_num(rec.max_station_sd_consistent)} voters",
        )
    print_table(t)


def _print_sensitivity(table: Any) -> None:
    t = Table(title="Sensitivity: estimate / ((1 - undercount) x selection ratio)")
    t.add_column("undercount \\ selection ratio")
    for k in table.selection_ratios:
        t.add_column(f"{k:g}", justify="right")
    for u, row in zip(table.undercounts, table.values, strict=True):
        cells = [_pct(v) if table.quantity == "turnout" else _num(v) for v in row]
        t.add_row(f"{u:.0%}", *cells)
    print_table(t)
    if table.quantity == "turnout" and (table.values > 1).any():
        out.print("cells above 100% are impossible: that combination cannot hold alone")


def _print_quick_count(qc: Any) -> None:
    t = Table(title=f"Quick count: vote shares ({qc.method}, n = {qc.n:,})")
    for col in ("outcome", "share", f"{qc.confidence:.0%} CI", "SE", "share of valid"):
        t.add_column(col, justify="left" if col == "outcome" else "right")
    valid = {s.name: s for s in qc.majority_shares}
    for s in sorted(qc.shares, key=lambda s: -s.estimate):
        v = valid.get(s.name)
        t.add_row(
            s.name,
            _pct(s.estimate, 2),
            f"[{_pct(s.ci_low, 2)}, {_pct(s.ci_high, 2)}]",
            _pct(s.standard_error, 2),
            f"{_pct(v.estimate, 2)} [{_pct(v.ci_low, 2)}, {_pct(v.ci_high, 2)}]" if v else "-",
        )
    m = qc.margin
    t.add_row(
        f"margin {qc.leader} - {qc.runner_up}",
        _pct(m.estimate, 2),
        f"[{_pct(m.ci_low, 2)}, {_pct(m.ci_high, 2)}]",
        _pct(m.standard_error, 2),
        "of valid votes",
    )
    if qc.turnout is not None:
        tu = qc.turnout
        t.add_row(
            qc.turnout_quantity,
            _pct(tu.estimate, 2),
            f"[{_pct(tu.ci_low, 2)}, {_pct(tu.ci_high, 2)}]",
            _pct(tu.standard_error, 2),
            "",
        )
    print_table(t)
    out.print(
        f"P({qc.leader} above 50% of valid votes) = {qc.p_leader_majority:.3f} "
        f"({qc.method}; the run-off call)"
    )


def register(app: typer.Typer) -> None:
    app.command()(estimate)


def estimate(
    observed_stations: int | None = typer.Option(
        None, help="Summary mode: number of stations observed."
    ),
    counted: int | None = typer.Option(None, help="Summary mode: voters counted at them in total."),
    total_stations: int | None = typer.Option(
        None, help="Stations nationwide (summary mode; default: the frame's)."
    ),
    eligible: float | None = typer.Option(
        None, help="Eligible voters (default: the frame's registered total)."
    ),
    claim: str | None = typer.Option(
        None, help="Claimed figure to reconcile: '41%' or a number of voters."
    ),
    station_sd: float | None = typer.Option(
        None, help="Summary mode: per-station SD of counts, for a sampling interval."
    ),
    observations: Path | None = typer.Option(
        None, "--observations", help="Observation records (CSV or JSON; docs/observations.md)."
    ),
    snapshots: Path | None = typer.Option(
        None,
        "--snapshots",
        help="Cumulative snapshot readings (CSV or JSON; docs/observations.md).",
    ),
    frame_short: Path | None = typer.Option(None, "-f", hidden=True),  # deprecated
    frame: Path | None = typer.Option(
        None,
        "--frame",
        help="Station frame: a results file, or a CSV of station_id, "
        "registered and stratum columns.",
    ),
    sample: Path | None = typer.Option(
        None,
        "--sample",
        help="Sample file written by `electwatch sample` (strata, design weights).",
    ),
    mapping: str | None = typer.Option(None, "--mapping", "-m", help="Frame's mapping."),
    allow_inconsistent: bool = typer.Option(
        False, help="Keep frame stations whose votes exceed ballots cast (flagged)."
    ),
    strata: str | None = typer.Option(
        None, help="Comma-separated stratum columns, e.g. region,urban,size_class."
    ),
    profile: str | None = typer.Option(
        None, help="Arrival shares per polling hour, comma-separated (sum to 1)."
    ),
    polls: str = typer.Option("08:00-20:00", help="Polling hours, e.g. 08:00-20:00."),
    estimate_profile: bool = typer.Option(
        False, help="Estimate the arrival profile from hourly counts."
    ),
    min_covered_share: float = typer.Option(
        0.2, help="Exclude (and report) stations whose watch covered less of the day's arrivals."
    ),
    resamples: int = typer.Option(2000, help="Bootstrap resamples."),
    confidence: float = typer.Option(0.95, help="Confidence level."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder: writes estimate.json there."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors (and --json)."),
) -> None:
    """Estimate turnout and vote shares from observed stations; reconcile with a claim."""
    if frame_short is not None:
        frame = deprecated_option(frame_short, "-f", "--frame")
    result = _run(
        observed_stations, counted, total_stations, eligible, claim, station_sd, observations,
        snapshots, frame, sample, mapping, allow_inconsistent, strata, profile, polls,
        estimate_profile, min_covered_share, resamples, confidence, seed,
    )  # fmt: skip
    if out_dir is not None:
        with user_errors():
            from electwatch.errors import ElectwatchError

            try:
                out_dir.mkdir(parents=True, exist_ok=True)
                (out_dir / "estimate.json").write_text(
                    json.dumps(result["json"], indent=2, default=str, ensure_ascii=False),
                    encoding="utf-8",
                )
            except OSError as exc:
                raise ElectwatchError(f"cannot write to {out_dir}: {exc}") from None
    if as_json:
        print_json(result["json"])
        return
    if quiet:
        return
    _print_result(result, counted, observed_stations, total_stations, eligible, station_sd)


def _run(
    observed_stations: int | None, counted: int | None, total_stations: int | None,
    eligible: float | None, claim: str | None, station_sd: float | None,
    observations: Path | None, snapshots: Path | None, frame: Path | None,
    sample: Path | None, mapping: str | None, allow_inconsistent: bool, strata: str | None,
    profile: str | None, polls: str, estimate_profile: bool, min_covered_share: float,
    resamples: int, confidence: float, seed: int,
) -> dict[str, Any]:  # fmt: skip
    from electwatch.data.observations import ArrivalProfile, parse_clock
    from electwatch.turnout import (
        SummaryFigures,
        load_observations,
        naive_from_summary,
        parse_claim,
        reconcile,
        round_up_bound,
        sensitivity_table,
        station_sd_for_upper_bound,
    )

    summary_mode = observed_stations is not None or counted is not None
    record_mode = observations is not None or snapshots is not None
    if summary_mode == record_mode:
        raise typer.BadParameter(
            "give either --observed-stations/--counted/--total-stations (summary figures) "
            "or --observations (or --snapshots) with --frame"
        )
    result: dict[str, Any] = {}
    analysis = None
    with user_errors():
        try:
            if summary_mode:
                if observed_stations is None or counted is None or total_stations is None:
                    raise typer.BadParameter(
                        "summary mode needs --observed-stations, --counted and --total-stations"
                    )
                figs = SummaryFigures(observed_stations, counted, total_stations, eligible)
                est = naive_from_summary(figs, station_sd=station_sd, confidence=confidence)
                estimates = {"naive": est}
                bound, bound_turnout = round_up_bound(figs.total_voters, eligible)
                result["summary"] = figs.to_dict()
                result["round_up_bound"] = {"voters": bound, "turnout": bound_turnout}
                if bound_turnout is not None:
                    sd_needed = station_sd_for_upper_bound(est, round(bound_turnout, 3))
                    result["round_up_bound"]["station_sd_for_sampling_bound"] = sd_needed
            else:
                if frame is None:
                    raise typer.BadParameter("--observations needs --frame")
                from electwatch.turnout import estimate_turnout
                from electwatch.turnout.frame import load_station_frame
                from electwatch.turnout.sample import read_sample_design
                from electwatch.turnout.snapshots import read_snapshots, snapshots_to_observations

                cols = [c.strip() for c in strata.split(",")] if strata else []
                sframe = load_station_frame(
                    frame, cols, mapping=mapping, eligible=eligible,
                    allow_inconsistent=allow_inconsistent,
                )  # fmt: skip
                open_s, _, close_s = polls.partition("-")
                day = (int(parse_clock(open_s)), int(parse_clock(close_s)))
                if observations is not None and snapshots is not None:
                    raise typer.BadParameter("give --observations or --snapshots, not both")
                if observations is not None:
                    obs = load_observations(observations)
                else:
                    assert snapshots is not None
                    obs = snapshots_to_observations(read_snapshots(snapshots), day)
                    if not estimate_profile and profile is None:
                        estimate_profile = bool(obs.has_hourly.any())
                prof = None
                if profile:
                    shares = tuple(float(s) for s in profile.split(","))
                    prof = ArrivalProfile(day[0], shares)
                design = read_sample_design(sample) if sample is not None else None
                analysis = estimate_turnout(
                    obs, sframe, strata=cols, profile=prof,
                    estimate_profile=estimate_profile, polls=day, eligible=eligible,
                    n_resamples=resamples, confidence=confidence, seed=seed, design=design,
                    min_covered_share=min_covered_share,
                )  # fmt: skip
                estimates = analysis.estimates
                est = estimates.get("stratified", estimates["naive"])
                result["analysis"] = {
                    k: v for k, v in analysis.to_dict().items() if k != "estimates"
                }
            result["estimates"] = {k: v.to_dict() for k, v in estimates.items()}
            rec = None
            if claim:
                _turnout, voters = parse_claim(claim, est.eligible)
                rec = reconcile(est, voters)
                result["reconciliation"] = rec.to_dict()
            sens = sensitivity_table(est)
            result["sensitivity"] = sens.to_dict()
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return {
        "json": result, "summary_mode": summary_mode, "estimates": estimates, "est": est,
        "rec": rec, "sens": sens, "analysis": analysis, "confidence": confidence,
    }  # fmt: skip


def _print_result(
    r: dict[str, Any],
    counted: int | None,
    observed_stations: int | None,
    total_stations: int | None,
    eligible: float | None,
    station_sd: float | None,
) -> None:
    result, est, confidence = r["json"], r["est"], r["confidence"]
    if r["summary_mode"]:
        figs_d = result["summary"]
        t = Table(title="Naive extrapolation from the summary figures", show_header=False)
        t.add_row(
            "voters per observed station",
            f"{figs_d['per_station']:.1f} ({counted:,} / {observed_stations:,})",
        )
        t.add_row(
            "voters nationwide",
            f"{figs_d['total_voters'] / 1e6:.2f} million ({figs_d['total_voters']:,.0f} = "
            f"{counted:,} x {total_stations:,} / {observed_stations:,})",
        )
        if eligible:
            t.add_row(
                "turnout",
                f"{_pct(figs_d['turnout'])} ({_pct(figs_d['turnout'], 3)} of "
                f"{eligible:,.0f} eligible)",
            )
            b = result["round_up_bound"]
            t.add_row(
                "upper bound 'at most'",
                f"at most {_pct(b['turnout'])}: {b['voters']:,.0f} / {eligible:,.0f} "
                f"(the {figs_d['total_voters'] / 1e6:.2f} million rounded up to the next "
                f"million; not a sampling bound)",
            )
            sd_b = b.get("station_sd_for_sampling_bound")
            if sd_b is not None:
                t.add_row(
                    "as a 95% sampling bound",
                    f"only if the per-station SD were ~{sd_b:,.0f} voters"
                    + (f" (given SD {station_sd:g})" if station_sd is not None else ""),
                )
        if station_sd is not None:
            t.add_row(
                f"{confidence:.0%} sampling interval",
                f"[{_fmt_value(est, est.ci_low)}, {_fmt_value(est, est.ci_high)}]",
            )
        print_table(t)
    else:
        _print_estimates(r["estimates"])
        analysis = r["analysis"]
        for qc in analysis.quick_counts.values():
            _print_quick_count(qc)
        out.print(
            f"stations with register 0: {analysis.register_zero_observed} observed, "
            f"{analysis.register_zero_frame} in the frame (kept by every estimator); "
            f"excluded for a watch under {analysis.min_covered_share:.0%} of the day: "
            f"{analysis.excluded_low_coverage}"
        )
        for note in result["analysis"]["notes"]:
            console.print(f"[yellow]note[/]: {note}")
    if r["rec"] is not None:
        _print_reconciliation(r["rec"], est)
    _print_sensitivity(r["sens"])
