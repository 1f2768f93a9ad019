"""``electwatch report``: one self-contained HTML report (plus figures and tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from electwatch.cli.common import deprecated_option, out, print_json, progress_bar, user_errors


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    results: Path | None = typer.Option(
        None, "--results", help="Official results file: CSV (.csv/.zip/.gz), Parquet, Excel."
    ),
    results_short: Path | None = typer.Option(None, "-r", hidden=True),  # deprecated
    mapping: str | None = typer.Option(
        None, "--mapping", "-m", help="Mapping TOML file or built-in name (see `mappings`)."
    ),
    observations: Path | None = typer.Option(
        None, "--observations", help="Observer reports (CSV) for the turnout estimate."
    ),
    claims: Path | None = typer.Option(None, "--claims", help="Claims file to check."),
    out_dir: Path = typer.Option(
        Path("electwatch-report"), "--out", "-o", help="Folder for report.html, figures, tables."
    ),
    seed: int = typer.Option(0, help="Random seed of the bootstrap and Monte Carlo steps."),
    allow_inconsistent: bool = typer.Option(
        False, help="Keep stations whose votes exceed ballots cast (flagged) instead of failing."
    ),
    area: list[str] | None = typer.Option(
        None, "--area", help="An area to give its own section (repeatable; name or path)."
    ),
    geo: Path | None = typer.Option(
        None, "--geo", help="GeoJSON of the top-level areas, for the maps (with --geo-key)."
    ),
    geo_key: str = typer.Option(
        "name", "--geo-key", help="GeoJSON property holding each feature's area name."
    ),
    compare: Path | None = typer.Option(
        None, "--compare", help="Another election's results file to compare with, area by area."
    ),
    compare_mapping: str | None = typer.Option(
        None, "--compare-mapping", help="Mapping of the --compare file (default: recognised)."
    ),
    language: str = typer.Option(
        "en", "--language", help="Language of the report: en, or fa (Persian, right to left)."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Add the station-level fraud model's section: eforensics (= eforensics-bl), "
        "eforensics-bl or eforensics-bbl. Never part of the findings.",
    ),
    covariates: str | None = typer.Option(
        None,
        "--covariates",
        help="With --model: comma-separated columns for turnout and the winner's share "
        "(text columns: at most 100 distinct values).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    as_json: bool = typer.Option(
        False, "--json", help="Print what was written as JSON (implies --quiet)."
    ),
) -> None:
    """Write a self-contained HTML report for a results file, observations, claims or all."""
    if results_short is not None:
        results = deprecated_option(results_short, "-r", "--results")
    import shlex

    from electwatch.reports.builder import report_from_files

    if results is None and observations is None and claims is None:
        raise typer.BadParameter("give at least one of --results, --observations, --claims")
    # the canonical command that reproduces this report (not sys.argv: aliases, wrappers)
    argv = ["electwatch", "report"]
    for flag, value in (
        ("--results", results),
        ("--mapping", mapping),
        ("--observations", observations),
        ("--claims", claims),
    ):
        if value is not None:
            argv += [flag, str(value)]
    for name in area or []:
        argv += ["--area", name]
    if geo is not None:
        argv += ["--geo", str(geo), "--geo-key", geo_key]
    if compare is not None:
        argv += ["--compare", str(compare)]
        if compare_mapping:
            argv += ["--compare-mapping", compare_mapping]
    argv += model_arguments(model, covariates)
    argv += ["--out", str(out_dir), "--seed", str(seed)]
    if language not in ("en", "fa"):
        raise typer.BadParameter(f"--language must be en or fa, not {language!r}")
    if language != "en":
        argv += ["--language", language]
    options = {
        "language": language,
        "areas": list(area or []),
        "geo": geo,
        "geo_key": geo_key,
        "compare": compare,
        "compare_mapping": compare_mapping,
        **model_options(model, covariates),
    }
    if allow_inconsistent:
        argv.append("--allow-inconsistent")
    with user_errors(), progress_bar(quiet or as_json) as progress:
        output = report_from_files(
            out_dir,
            results_path=results,
            mapping=mapping,
            observations_path=observations,
            claims_path=claims,
            seed=seed,
            allow_inconsistent=allow_inconsistent,
            command_line=shlex.join(argv),
            progress=progress,
            options=options,
        )
    found = next((s.findings for s in output.sections if s.id == "findings"), [])
    model_data = _eforensics_data(output.json_path) if model else None
    if as_json:
        payload = {**output.to_dict(), "findings": [f.to_dict() for f in found]}
        if model_data is not None:
            payload["eforensics"] = model_data
        print_json(payload)
        return
    print_findings(found)
    if model_data is not None:
        print_eforensics(model_data)
    for section, reason in output.omitted.items():
        out.print(f"[yellow]not included[/] {section}: {reason}")
    out.print(
        f"report written to [bold]{output.html_path}[/] "
        f"({len(output.figures)} figure files, {len(output.tables)} table files)"
    )


def model_options(model: str | None, covariates: str | None) -> dict[str, Any]:
    """``--model``/``--covariates`` as report options (checked here: a bad name or a
    covariate without a model is a usage error before anything is loaded)."""
    from electwatch.forensics.eforensics.options import MODELS, parse_covariates

    cols = parse_covariates(covariates)
    if model is None:
        if cols:
            raise typer.BadParameter("--covariates needs --model eforensics[-bl|-bbl]")
        return {}
    if model not in MODELS:
        raise typer.BadParameter(f"--model must be one of {', '.join(MODELS)}, not {model!r}")
    return {"eforensics": model, "covariates": cols}


def model_arguments(model: str | None, covariates: str | None) -> list[str]:
    """The same options on the reproducing command line."""
    argv = [] if model is None else ["--model", model]
    if model is not None and covariates:
        argv += ["--covariates", covariates]
    return argv


def _eforensics_data(report_json: Path) -> dict[str, Any] | None:
    """The model's fit as the report stored it (``report.json``'s ``eforensics_json``)."""
    import json

    try:
        data = json.loads(report_json.read_text(encoding="utf-8")).get("eforensics_json")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def print_eforensics(data: dict[str, Any], top: int = 10) -> None:
    """The model's weights and most suspicious stations, after the findings and apart
    from them, with the caveat (the report's section has the rest)."""
    if not data.get("applicable", True):
        out.print(f"[yellow]eforensics not applicable[/]: {escape(str(data.get('reason')))}")
        return
    out.print(f"[bold]Station-level fraud model ({escape(str(data.get('statistic')))})[/]")
    weights = []
    for w in data.get("weights") or []:
        lo, hi = w.get("ci_low"), w.get("ci_high")
        ci = "" if lo is None or hi is None else f" ({lo:.3f}-{hi:.3f})"
        weights.append(f"{w['name'].removeprefix('pi_')} {w['estimate']:.3f}{ci}")
    out.print("   weights: " + "; ".join(weights))
    for note in data.get("notes") or []:
        out.print(f"   [yellow]note:[/] {escape(str(note))}")
    out.print("   most suspicious stations (P(extreme), expected manufactured + stolen votes):")
    for k, st in enumerate((data.get("most_suspicious") or [])[:top], start=1):
        out.print(
            f"   {k:>2}. {escape(str(st['station_id']))}: {st['p_extreme']:.3f}, "
            f"{st['expected_manufactured_votes']:,.0f} + {st['expected_stolen_votes']:,.0f}"
        )
    out.print(f"   [dim]{escape(str(data.get('caveat', '')))}[/]")


def print_findings(found: list[Any]) -> None:
    """The report's findings, as results.json has them (one function makes all three)."""
    if not found:
        return
    out.print("[bold]Findings[/]")
    for k, f in enumerate(found, start=1):
        out.print(f"{k}. {escape(f.headline)}")
        out.print(f"   [dim]strength:[/] {escape(f.strength_text)}")
        out.print(f"   [dim]does not show:[/] {escape(f.does_not_show)}")
