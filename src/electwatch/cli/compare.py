"""``electwatch compare A B``: turnout and leader-share shifts by area between two
elections, with intervals (and, with ``--evidence``, how the forensic evidence changed).

::

    electwatch compare russia-duma-2011.csv.zip russia-president-2012.csv.zip -o cmp/

A thin shell over :func:`electwatch.reports.compare.compare_results`.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from electwatch.cli.common import out, print_json, print_table, progress_bar, user_errors
from electwatch.core import formatting as fmt


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)


def compare(
    first: Path = typer.Argument(..., help="Results of election A (the earlier one)."),
    second: Path = typer.Argument(..., help="Results of election B."),
    mapping: str | None = typer.Option(
        None, "--mapping", "-m", help="Mapping of A (and of B unless --mapping-b)."
    ),
    mapping_b: str | None = typer.Option(None, "--mapping-b", help="Mapping of B."),
    level: str | None = typer.Option(
        None, "--level", help="Area level to compare (default: the top level both share)."
    ),
    evidence: bool = typer.Option(
        False, "--evidence", help="Run the forensics battery on both to compare the evidence."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the batteries (with --evidence)."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for compare.json and compare.csv."
    ),
    rows: int = typer.Option(15, "--rows", help="Areas shown, largest turnout shift first."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Compare two elections area by area (turnout, the leader's share, evidence)."""
    from electwatch.data import load_results
    from electwatch.reports.compare import calibrated_flags, compare_results

    with user_errors(), progress_bar(quiet or as_json) as progress:
        progress("Loading A", 0.0)
        a = load_results(first, mapping)
        progress("Loading B", 0.2)
        b = load_results(second, mapping_b or mapping)
        flags_a = flags_b = None
        chosen = level or next((lv for lv in a.area_levels if lv in b.area_levels), None)
        if evidence and chosen is not None:
            from electwatch.forensics import run_battery

            progress("Forensics on A", 0.4)
            flags_a = calibrated_flags(run_battery(a, level=chosen, seed=seed), chosen)
            progress("Forensics on B", 0.7)
            flags_b = calibrated_flags(run_battery(b, level=chosen, seed=seed), chosen)
        try:
            comp = compare_results(a, b, level=chosen, flags_a=flags_a, flags_b=flags_b)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        progress("done", 1.0)
    data = comp.to_dict()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "compare.json").write_text(
            json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        comp.to_frame().write_csv(out_dir / "compare.csv")
    if as_json:
        print_json(data)
        return
    t = Table(
        title=f"{escape(comp.election_b)} (B) vs {escape(comp.election_a)} (A), by {comp.level}",
        caption="shift = B - A in points; 95% interval from the between-station variation",
    )
    for col in ("area", "turnout A→B", "points [95%]", "leader A→B", "points [95%]", "evidence"):
        t.add_column(col, justify="left" if col == "area" else "right", overflow="fold")
    ordered = sorted(
        comp.areas, key=lambda x: -abs(x.turnout_shift) if x.turnout_shift == x.turnout_shift else 0
    )
    for x in ordered[:rows]:
        t.add_row(
            escape(x.area),
            f"{fmt.percent(x.turnout_a, 1)} → {fmt.percent(x.turnout_b, 1)}",
            f"{x.turnout_shift * 100:+.1f} [{x.turnout_shift_low * 100:+.1f}, "
            f"{x.turnout_shift_high * 100:+.1f}]",
            f"{fmt.percent(x.share_a, 1)} → {fmt.percent(x.share_b, 1)}",
            f"{x.share_shift * 100:+.1f} [{x.share_shift_low * 100:+.1f}, "
            f"{x.share_shift_high * 100:+.1f}]",
            "" if x.evidence_change is None else f"{x.flags_a} → {x.flags_b}",
        )
    print_table(t)
    if comp.unmatched_a or comp.unmatched_b:
        out.print(
            f"not matched by name: A {escape('; '.join(comp.unmatched_a) or '-')}; "
            f"B {escape('; '.join(comp.unmatched_b) or '-')}"
        )
