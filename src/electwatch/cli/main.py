"""Entry point of the ``electwatch`` command."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer
from rich.table import Table

from electwatch import __version__
from electwatch.cli.common import console, out, print_json, progress_bar, user_errors

app = typer.Typer(
    help="electwatch: turnout from observations, forensics on official results, claims, "
    "an observer intake service and reports.",
    no_args_is_help=True,
    add_completion=False,
)
simulate_app = typer.Typer(
    help="Generate SYNTHETIC elections and observer campaigns.", no_args_is_help=True
)
app.add_typer(simulate_app, name="simulate")


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        out.print(f"electwatch {__version__}")
        raise typer.Exit()


@app.command()
def validate(
    file: Path = typer.Argument(..., help="Results file: CSV (.csv/.zip/.gz), Parquet or Excel."),
    mapping: str | None = typer.Option(
        None, "--mapping", "-m", help="Mapping TOML file or built-in name (see `mappings`)."
    ),
    allow_inconsistent: bool = typer.Option(
        False, help="Keep stations whose votes exceed ballots cast (flagged) instead of failing."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Load and validate a results file; print totals and the warnings (kept, flagged rows)."""
    from electwatch.data import load_results

    with user_errors():
        results = load_results(file, mapping, allow_inconsistent=allow_inconsistent)
    summary = results.summary()
    if as_json:
        print_json(results.to_dict())
        return
    table = Table(title=f"{summary.election} — {summary.contest}", show_header=False)
    table.add_row("stations", f"{summary.stations:,}")
    table.add_row("stations abroad", f"{summary.stations_abroad:,}")
    if summary.registered is not None:
        table.add_row("registered voters", f"{summary.registered:,}")
    table.add_row("ballots cast", f"{summary.cast:,}")
    if summary.turnout is not None:
        table.add_row("turnout", f"{summary.turnout:.2%}")
    for name, votes in sorted(summary.candidate_votes.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{votes:,} ({votes / max(summary.cast, 1):.2%} of cast)")
    if summary.synthetic:
        table.add_row("data", "[bold yellow]SYNTHETIC[/]")
    out.print(table)
    for w in summary.warnings:
        console.print(
            f"[yellow]warning[/] {w.code}: {w.count:,} stations — {w.message} "
            f"(e.g. rows {', '.join(map(str, w.example_rows))})"
        )


@app.command()
def mappings() -> None:
    """List the built-in column mappings."""
    from electwatch.data import builtin_mappings

    for name, path in sorted(builtin_mappings().items()):
        out.print(f"{name}\t{path}")


@simulate_app.command("election")
def simulate_election_cmd(
    out_path: Path = typer.Option(
        Path("synthetic-election.csv"),
        "--out",
        "-o",
        help="Output CSV or Parquet (a .mapping.toml is written beside).",
    ),
    stations: int = typer.Option(20_000, help="Number of polling stations."),
    regions: int = typer.Option(20, help="Number of regions (region 0 is the capital)."),
    fi: float = typer.Option(0.0, help="Klimek incremental fraud: share of stations."),
    fe: float = typer.Option(0.0, help="Klimek extreme fraud: share of stations."),
    alpha: float = typer.Option(2.0, help="Klimek vote-stealing exponent."),
    seed: int = typer.Option(0, help="Random seed (runs are reproducible)."),
) -> None:
    """Simulate a SYNTHETIC election (Klimek et al. 2012 fraud model optional)."""
    from electwatch.simulate import (
        ElectionParameters,
        FraudParameters,
        simulate_election,
        write_results,
    )

    with user_errors():
        try:
            params = ElectionParameters(n_stations=stations, n_regions=regions)
            fraud = FraudParameters(fi=fi, fe=fe, alpha=alpha)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        results, truth = simulate_election(params, fraud, seed=seed)
        path = write_results(results, out_path)
    s = results.summary()
    out.print(
        f"[bold yellow]SYNTHETIC[/] election written to {path}: {s.stations:,} stations, "
        f"turnout {s.turnout:.2%}, stations with incremental/extreme fraud "
        f"{truth.to_dict()['stations_incremental_fraud']:,}/"
        f"{truth.to_dict()['stations_extreme_fraud']:,}"
    )


@simulate_app.command("observers")
def simulate_observers_cmd(
    results_file: Path = typer.Argument(..., help="Station frame / results file."),
    mapping: str | None = typer.Option(None, "--mapping", "-m"),
    out_path: Path = typer.Option(Path("synthetic-observations.csv"), "--out", "-o"),
    n: int = typer.Option(1_000, "--stations", help="Number of stations observed."),
    design: str = typer.Option("random", help="random | stratified | capital_heavy | large_heavy"),
    start: float = typer.Option(8.0, help="Watch window start (hour)."),
    end: float = typer.Option(20.0, help="Watch window end (hour)."),
    undercount: float = typer.Option(0.0, help="Probability an observer misses a voter."),
    seed: int = typer.Option(0),
) -> None:
    """Simulate a SYNTHETIC observer campaign over the stations of a results file."""
    from electwatch.data import load_results
    from electwatch.simulate import simulate_observer_campaign

    with user_errors():
        results = load_results(results_file, mapping)
        try:
            obs, truth = simulate_observer_campaign(
                results,
                n,
                design=design,
                window=(start, end),  # type: ignore[arg-type]
                undercount=undercount,
                seed=seed,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # CSV has no list type: hourly counts are written as "12;30;41"
    obs.with_columns(
        pl.col("hourly").list.eval(pl.element().cast(pl.String)).list.join(";")
    ).write_csv(out_path)
    out.print(
        f"[bold yellow]SYNTHETIC[/] observations of {truth.n_observed:,} stations "
        f"({design}) written to {out_path}"
    )


@app.command()
def demo(
    out_dir: Path = typer.Option(
        Path("electwatch-demo"), "--out", "-o", help="Folder for the report, figures and tables."
    ),
    seed: int = typer.Option(0),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    as_json: bool = typer.Option(
        False, "--json", help="Print what was written as JSON (implies --quiet)."
    ),
) -> None:
    """Run the whole pipeline on the built-in SYNTHETIC example and write the report."""
    from electwatch.reports import demo_report

    with user_errors(), progress_bar(quiet or as_json) as progress:
        output = demo_report(out_dir, seed=seed, progress=progress)
    if as_json:
        print_json(output.to_dict())
        return
    out.print(f"report written to [bold]{output.html_path}[/]")


def _register_plugins() -> None:
    """Commands that live beside their capability's CLI module."""
    import importlib

    for name in ("forensics", "estimate", "claims", "report", "compare", "serve"):
        try:
            module = importlib.import_module(f"electwatch.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"electwatch.cli.{name}":
                raise
            continue
        module.register(app)


_register_plugins()

if __name__ == "__main__":
    app()
