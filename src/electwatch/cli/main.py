"""Entry point of the ``electwatch`` command."""

from __future__ import annotations

from pathlib import Path
from typing import cast, get_args

import polars as pl
import typer
from rich.markup import escape

from electwatch import __version__
from electwatch.cli.common import (
    deprecated_option,
    guard_commands,
    out,
    print_json,
    progress_bar,
    set_debug,
    user_errors,
)

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
    debug: bool = typer.Option(
        False,
        "--debug",
        envvar="ELECTWATCH_DEBUG",
        help="Show the full traceback of an error instead of the one-line message.",
    ),
) -> None:
    set_debug(debug)
    if version:
        out.print(f"electwatch {__version__}")
        raise typer.Exit()


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
    incremental_fraud: float = typer.Option(
        0.0, help="Klimek et al. 2012 incremental fraud f_i: share of stations."
    ),
    extreme_fraud: float = typer.Option(
        0.0, help="Klimek et al. 2012 extreme fraud f_e: share of stations."
    ),
    vote_stealing_exponent: float = typer.Option(
        2.0, help="Klimek et al. 2012 vote-stealing exponent alpha."
    ),
    target_fraud: float = typer.Option(
        0.0,
        help="Turnout-target fraud: share of stations pushed to --target-turnout, every "
        "added ballot for the winner (the Russia 2020 pattern).",
    ),
    target_turnout: float = typer.Option(0.8, help="Target turnout of --target-fraud."),
    target_sd: float = typer.Option(0.03, help="Spread (sd) of the target turnouts."),
    seed: int = typer.Option(0, help="Random seed (runs are reproducible)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    fi_old: float | None = typer.Option(None, "--fi", hidden=True),
    fe_old: float | None = typer.Option(None, "--fe", hidden=True),
    alpha_old: float | None = typer.Option(None, "--alpha", hidden=True),
) -> None:
    """Simulate a SYNTHETIC election (Klimek et al. 2012 fraud model optional)."""
    from electwatch.simulate import (
        ElectionParameters,
        FraudParameters,
        simulate_election,
        write_results,
    )

    # the short spellings of 0.1 stay one release (docs/architecture.md, CLI conventions)
    fi = deprecated_option(fi_old, "--fi", "--incremental-fraud")
    fe = deprecated_option(fe_old, "--fe", "--extreme-fraud")
    alpha = deprecated_option(alpha_old, "--alpha", "--vote-stealing-exponent")
    with user_errors():
        try:
            params = ElectionParameters(n_stations=stations, n_regions=regions)
            fraud = FraudParameters(
                fi=incremental_fraud if fi is None else fi,
                fe=extreme_fraud if fe is None else fe,
                alpha=vote_stealing_exponent if alpha is None else alpha,
                ft=target_fraud,
                target_turnout=target_turnout,
                target_sd=target_sd,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        results, truth = simulate_election(params, fraud, seed=seed)
        path = write_results(results, out_path)
    s = results.summary()
    truth_dict = truth.to_dict()
    if as_json:
        print_json(
            {
                "synthetic": True,
                "path": str(path),
                "stations": s.stations,
                "turnout": s.turnout,
                "truth": truth_dict,
            }
        )
        return
    if quiet:
        return
    out.print(
        f"[bold yellow]SYNTHETIC[/] election written to {escape(str(path))}: "
        f"{s.stations:,} stations, turnout {s.turnout:.2%}, stations with "
        f"incremental/extreme fraud {truth_dict['stations_incremental_fraud']:,}/"
        f"{truth_dict['stations_extreme_fraud']:,}"
        + (
            f", turnout-target fraud {truth_dict['stations_target_fraud']:,} "
            f"({truth_dict['injected_target_votes']:,.0f} votes added)"
            if truth_dict["stations_target_fraud"]
            else ""
        )
    )


@simulate_app.command("observers")
def simulate_observers_cmd(
    results_file: Path = typer.Argument(..., help="Station frame / results file."),
    mapping: str | None = typer.Option(
        None, "--mapping", "-m", help="Mapping TOML file or built-in name (see `mappings`)."
    ),
    out_path: Path = typer.Option(
        Path("synthetic-observations.csv"), "--out", "-o", help="Output CSV of observations."
    ),
    n: int = typer.Option(1_000, "--stations", help="Number of stations observed."),
    design: str = typer.Option("random", help="random | stratified | capital_heavy | large_heavy"),
    start: float = typer.Option(8.0, help="Watch window start (hour)."),
    end: float = typer.Option(20.0, help="Watch window end (hour)."),
    undercount: float = typer.Option(0.0, help="Probability an observer misses a voter."),
    seed: int = typer.Option(0, help="Random seed (runs are reproducible)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Simulate a SYNTHETIC observer campaign over the stations of a results file."""
    from electwatch.data import load_results
    from electwatch.simulate import simulate_observer_campaign
    from electwatch.simulate.observers import Design

    if design not in get_args(Design):
        raise typer.BadParameter(
            f"{design!r}; expected one of {', '.join(get_args(Design))}", param_hint="--design"
        )
    with user_errors():
        results = load_results(results_file, mapping)
        try:
            obs, truth = simulate_observer_campaign(
                results,
                n,
                design=cast(Design, design),  # checked against Design above
                window=(start, end),
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
    if as_json:
        print_json(
            {
                "synthetic": True,
                "path": str(out_path),
                "stations_observed": truth.n_observed,
                "design": design,
            }
        )
        return
    if quiet:
        return
    out.print(
        f"[bold yellow]SYNTHETIC[/] observations of {truth.n_observed:,} stations "
        f"({design}) written to {escape(str(out_path))}"
    )


@app.command()
def demo(
    out_dir: Path = typer.Option(
        Path("electwatch-demo"), "--out", "-o", help="Folder for the report, figures and tables."
    ),
    seed: int = typer.Option(0),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Add the station-level fraud model's section: eforensics (= eforensics-bl), "
        "eforensics-bl or eforensics-bbl.",
    ),
    covariates: str | None = typer.Option(
        None, "--covariates", help="With --model: comma-separated columns (e.g. region)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    as_json: bool = typer.Option(
        False, "--json", help="Print what was written as JSON (implies --quiet)."
    ),
) -> None:
    """Run the whole pipeline on the built-in SYNTHETIC example and write the report."""
    from electwatch.cli.report import model_options
    from electwatch.reports import demo_report

    options = model_options(model, covariates)
    with user_errors(), progress_bar(quiet or as_json) as progress:
        output = demo_report(out_dir, seed=seed, progress=progress, options=options)
    if as_json:
        print_json(output.to_dict())
        return
    out.print(f"report written to [bold]{output.html_path}[/]")


def _register_plugins() -> None:
    """Commands that live beside their capability's CLI module."""
    import importlib

    for name in ("data", "forensics", "estimate", "sample", "claims", "report", "compare", "serve"):
        try:
            module = importlib.import_module(f"electwatch.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"electwatch.cli.{name}":
                raise
            continue
        module.register(app)


_register_plugins()
# every command, including the plugins', turns any exception into one line (exit 2)
guard_commands(app)

if __name__ == "__main__":
    app()
