"""``electwatch validate`` and ``electwatch mappings``: loading and describing results."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from electwatch.cli.common import console, out, print_json, print_table, user_errors

mappings_app = typer.Typer(
    help="Built-in column mappings, and drafting a mapping from a file's header.",
    invoke_without_command=True,
)

ENCODING_HELP = "Text encoding: auto (UTF-8 with/without BOM, UTF-16), or e.g. cp1256, cp1251."
DELIMITER_HELP = "Field delimiter: , ; or tab (default: detected from the header)."


def validate(
    file: Path = typer.Argument(..., help="Results file: CSV (.csv/.zip/.gz), Parquet or Excel."),
    mapping: str | None = typer.Option(
        None, "--mapping", "-m", help="Mapping TOML file or built-in name (see `mappings`)."
    ),
    allow_inconsistent: bool = typer.Option(
        False,
        "--allow-inconsistent",
        help="Keep stations whose votes exceed ballots cast (flagged), and tables whose "
        "parts do not add up, instead of failing.",
    ),
    skip_empty: bool = typer.Option(
        False, "--skip-empty", help="Skip rows with no data (counted and listed)."
    ),
    keep_missing: bool = typer.Option(
        False,
        "--keep-missing",
        help="Keep rows where a count is missing (empty/NA): missing, never 0, flagged.",
    ),
    encoding: str | None = typer.Option(None, "--encoding", help=ENCODING_HELP),
    delimiter: str | None = typer.Option(None, "--delimiter", help=DELIMITER_HELP),
    pseudo_register_ratio: float | None = typer.Option(
        None,
        "--pseudo-register-ratio",
        help="A register above this multiple of the median marks a pseudo-unit (default 20).",
    ),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Also write the summary as validation.json in this folder."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no warnings."),
) -> None:
    """Load and validate a results file; print totals and the warnings (kept, flagged rows)."""
    from electwatch.data import load_results

    with user_errors():
        results = load_results(
            file,
            mapping,
            allow_inconsistent=allow_inconsistent,
            skip_empty=skip_empty or None,
            keep_missing=keep_missing or None,
            encoding=encoding,
            delimiter=delimiter,
            pseudo_register_ratio=pseudo_register_ratio,
        )
    summary = results.summary()
    data = results.to_dict()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "validation.json").write_text(
            json.dumps(data, default=str, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    if as_json:
        print_json(data)
        return
    unit = "stations" if summary.level == "station" else "areas"
    table = Table(title=f"{summary.election} — {summary.contest}", show_header=False)
    table.add_row("mapping", f"{results.source.mapping}")
    table.add_row(unit, f"{summary.stations:,}")
    table.add_row(f"{unit} abroad", f"{summary.stations_abroad:,}")
    if summary.pseudo_units:
        table.add_row("pseudo-units (kept in totals)", f"{summary.pseudo_units:,}")
    if summary.skipped_rows:
        table.add_row("rows skipped (no data)", f"{summary.skipped_rows:,}")
    if summary.registered is not None:
        label = "registered voters" + (
            " (national figure only)" if summary.register_level == "national" else ""
        )
        if summary.turnout_excluded:
            label += f" ({summary.stations_with_register:,} {unit} with a register)"
        table.add_row(label, f"{summary.registered:,}")
    else:
        table.add_row("registered voters", "not in the file")
    table.add_row("ballots cast", f"{summary.cast:,}")
    for label, value in (
        ("valid ballots", summary.valid),
        ("invalid ballots", summary.invalid),
        ("blank ballots", summary.blank),
    ):
        if value is not None:
            table.add_row(label, f"{value:,}")
    if summary.turnout is not None:
        note = ""
        if summary.turnout_excluded:
            shown = ", ".join(summary.turnout_excluded[:5])
            more = " …" if len(summary.turnout_excluded) > 5 else ""
            note = (
                f" over {summary.stations - len(summary.turnout_excluded):,} {unit} with a "
                f"register; excluded: {shown}{more}"
            )
        table.add_row("turnout", f"{summary.turnout:.2%}{note}")
    for name, votes in sorted(summary.candidate_votes.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{votes:,} ({votes / max(summary.cast, 1):.2%} of cast)")
    if summary.synthetic:
        table.add_row("data", "[bold yellow]SYNTHETIC[/]")
    print_table(table)
    if quiet:
        return
    for w in summary.warnings:
        console.print(
            f"[yellow]warning[/] {w.code}: {w.count:,} {unit} — {w.message} "
            f"(e.g. rows {', '.join(map(str, w.example_rows))})",
            highlight=False,
        )
    if results.skipped:
        rows = ", ".join(f"{s.row} ({s.station_id})" for s in results.skipped[:20])
        more = " …" if len(results.skipped) > 20 else ""
        console.print(f"skipped rows: {rows}{more}", highlight=False)


@mappings_app.callback()
def mappings(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print {name: path} as JSON."),
) -> None:
    """List the built-in column mappings (or draft one: `mappings init FILE`)."""
    if ctx.invoked_subcommand is None:
        list_mappings(as_json)


@mappings_app.command("list")
def list_mappings(
    as_json: bool = typer.Option(False, "--json", help="Print {name: path} as JSON."),
) -> None:
    """List the built-in column mappings."""
    from electwatch.data import builtin_mappings

    found = {name: str(path) for name, path in sorted(builtin_mappings().items())}
    if as_json:
        print_json(found)
        return
    for name, path in found.items():
        typer.echo(f"{name}\t{path}")


@mappings_app.command("init")
def mappings_init(
    file: Path = typer.Argument(..., help="A results file whose header the draft is made from."),
    out_path: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Write the draft here (a folder gets <name>.mapping.toml, the sidecar name); "
        "default: print it.",
    ),
    encoding: str = typer.Option("auto", "--encoding", help=ENCODING_HELP),
    delimiter: str | None = typer.Option(None, "--delimiter", help=DELIMITER_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing mapping file."),
    as_json: bool = typer.Option(False, "--json", help="Print the draft and the guesses as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Draft a mapping TOML from FILE's header (roles guessed from English, Russian,
    Persian and Spanish column names) for you to review."""
    from electwatch.data.draft import draft_mapping
    from electwatch.data.mapping import sidecar_path
    from electwatch.errors import DataValidationError

    with user_errors():
        draft = draft_mapping(file, encoding=encoding, delimiter=delimiter)
        target = out_path
        if target is not None and target.is_dir():
            target = target / sidecar_path(file).name
        if target is not None:
            if target.exists() and not force:
                raise DataValidationError(
                    str(target), "exists already", expected="another path, or --force"
                )
            target.write_text(draft.toml, encoding="utf-8")
    if as_json:
        print_json(
            {
                "toml": draft.toml,
                "shape": draft.shape,
                "roles": draft.roles,
                "unassigned": draft.unassigned,
                "written": str(target) if target else None,
            }
        )
    elif target is None:
        typer.echo(draft.toml, nl=False)
    elif not quiet:
        out.print(f"draft mapping written to {target}; review it before use", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.add_typer(mappings_app, name="mappings")
