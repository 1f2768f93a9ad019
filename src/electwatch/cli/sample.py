"""``electwatch sample``: a stratified random sample of stations for a quick count.

Thin shell over :mod:`electwatch.turnout.sample`::

    electwatch sample results.csv --size 1500 --strata region,urban --reserves 2 -o deploy/
    electwatch sample results.csv --margin-of-error 0.01 --design-effect 4 --strata region
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from electwatch.cli.common import out, print_json, print_table, user_errors


def register(app: typer.Typer) -> None:
    app.command()(sample)


def sample(
    frame: Path = typer.Argument(
        ...,
        help="Station frame: a results file or a CSV of "
        "station_id, registered and stratum columns.",
    ),
    size: int | None = typer.Option(None, "--size", help="Stations to sample."),
    margin_of_error: float | None = typer.Option(
        None, help="Instead of --size: target margin of error of a share (e.g. 0.01)."
    ),
    share: float = typer.Option(0.5, help="Expected share for the sample-size formula."),
    design_effect: float = typer.Option(
        1.0, help="Design effect of a station sample (1 = the NDI formula's assumption)."
    ),
    confidence: float = typer.Option(0.95, help="Confidence level of the margin of error."),
    strata: str | None = typer.Option(
        None, help="Comma-separated stratum columns, e.g. region,urban,size_class."
    ),
    allocation: str = typer.Option("proportional", help="proportional or neyman."),
    neyman_column: str = typer.Option(
        "registered", help="Neyman allocation: column whose within-stratum SD sets n_h."
    ),
    reserves: int = typer.Option(0, help="Reserve stations per stratum, in random order."),
    seed: int = typer.Option(0, help="Random seed (the same seed gives the same sample)."),
    mapping: str | None = typer.Option(None, "--mapping", "-m", help="Frame's mapping."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder: writes sample.csv there."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the design as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
) -> None:
    """Draw a seeded stratified random sample of stations, with reserves and design weights."""
    from electwatch.errors import ElectwatchError
    from electwatch.turnout.frame import load_station_frame
    from electwatch.turnout.sample import draw_sample, sample_size

    if (size is None) == (margin_of_error is None):
        raise typer.BadParameter("give --size or --margin-of-error (one of them)")
    if allocation not in ("proportional", "neyman"):
        raise typer.BadParameter("--allocation is proportional or neyman")
    cols = [c.strip() for c in strata.split(",")] if strata else []
    result: dict[str, object] = {}
    with user_errors():
        try:
            sframe = load_station_frame(frame, cols, mapping=mapping)
            n = size
            if margin_of_error is not None:
                reg = sframe.registered_total
                if not reg:
                    raise ValueError("--margin-of-error needs registered voters in the frame")
                ss = sample_size(
                    margin_of_error, voters_per_station=reg / sframe.n_stations, share=share,
                    confidence=confidence, voters=reg, design_effect=design_effect,
                )  # fmt: skip
                result["sample_size"] = ss.to_dict()
                n = ss.stations
            assert n is not None
            s = draw_sample(
                sframe, n, strata=cols, allocation=allocation,  # type: ignore[arg-type]  # checked above
                neyman_column=neyman_column, reserves=reserves, seed=seed,
            )  # fmt: skip
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        result["design"] = s.to_dict()
        if out_dir is not None:
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
                path = s.write_csv(out_dir / "sample.csv")
            except OSError as exc:
                raise ElectwatchError(f"cannot write to {out_dir}: {exc}") from None
            result["file"] = str(path)
    if as_json:
        print_json(result)
        return
    if quiet:
        return
    t = Table(title=f"Sample of {n:,} stations ({allocation} allocation, seed {seed})")
    for c in ("stratum", "stations N_h", "sampled n_h", "weight N_h/n_h"):
        t.add_column(c, justify="left" if c == "stratum" else "right")
    for row in s.to_dict()["strata"][:40]:  # type: ignore[index]
        t.add_row(
            row["stratum"], f"{row['N_h']:,}", f"{row['n_h']:,}", f"{row['N_h'] / row['n_h']:.2f}"
        )
    print_table(t)
    if "sample_size" in result:
        ss_d = result["sample_size"]
        out.print(
            f"sample size for +/-{margin_of_error:.2%} at {confidence:.0%}: {n:,} stations "
            f"(NDI formula, design effect {design_effect:g})"
        )
        del ss_d
    if "file" in result:
        out.print(f"written {result['file']} ({s.table.height:,} rows, with reserves)")
    else:
        out.print("no --out folder given: nothing written")
