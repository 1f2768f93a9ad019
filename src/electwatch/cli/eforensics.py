"""`electwatch forensics FILE --model eforensics[-bl|-bbl] [--covariates COLS]`: the
finite-mixture fraud model on station results (a thin shell over
:func:`electwatch.forensics.eforensics.eforensics`). Writes ``eforensics.json`` (the
fit, the most suspicious stations, area sums and the caveat) to the output folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.table import Table

from electwatch.cli.common import out, print_table
from electwatch.core.applicability import NotApplicable
from electwatch.errors import ElectwatchError
from electwatch.forensics.eforensics.options import MODELS, check_covariates, parse_covariates


class EforensicsCliError(ElectwatchError):
    """A user error of the eforensics command."""


def run_eforensics_cli(
    file: Path,
    model: str,
    covariates: str | None,
    mapping: str | None,
    out_dir: Path,
    level: str | None,
    seed: int,
    allow_inconsistent: bool,
    as_json: bool,
    quiet: bool,
    top: int = 20,
) -> None:
    from electwatch.data import load_results
    from electwatch.forensics.eforensics import eforensics

    if model not in MODELS:
        raise EforensicsCliError(f"--model must be one of {', '.join(MODELS)}, not {model!r}")
    if not file.exists():
        raise EforensicsCliError(f"{file}: file not found")
    results = load_results(file, mapping, allow_inconsistent=allow_inconsistent)
    cols = parse_covariates(covariates)
    try:
        check_covariates(results.frame, cols)
    except ValueError as exc:
        raise EforensicsCliError(f"{file}: {exc}") from None
    if level is not None and level != "national" and level not in results.area_levels:
        raise EforensicsCliError(
            f"{file}: no area level {level!r}; levels are {results.area_levels}"
        )
    try:
        fit = eforensics(results, MODELS[model], covariates=cols, area_level=level, seed=seed)
    except ValueError as exc:
        raise EforensicsCliError(f"{file}: {exc}") from None
    data = fit.to_dict() if isinstance(fit, NotApplicable) else fit.to_dict(top=top)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "eforensics.json"
    path.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        return
    if not data.get("applicable", True):
        out.print(f"{model}: not applicable: {data['reason']}")
        return
    if not quiet:
        table = Table(title=f"{data['statistic']} on {data['n']:,} stations ({data['winner']})")
        for col in ("parameter", "estimate", "95% interval"):
            table.add_column(col)
        for w in data["weights"] + data["magnitudes"]:
            lo, hi = w["ci_low"], w["ci_high"]
            ci = "" if lo is None else f"{lo:.4f}-{hi:.4f}"
            table.add_row(w["name"], f"{w['estimate']:.4f}", ci)
        print_table(table)
        top_table = Table(title="most suspicious stations")
        for col in ("station", "area", "P(extreme)", "P(incremental)", "manufactured", "stolen"):
            top_table.add_column(col)
        for s in data["most_suspicious"][:10]:
            top_table.add_row(
                s["station_id"],
                s["area"],
                f"{s['p_extreme']:.3f}",
                f"{s['p_incremental']:.3f}",
                f"{s['expected_manufactured_votes']:.0f}",
                f"{s['expected_stolen_votes']:.0f}",
            )
        out.print(top_table)
        out.print(data["caveat"])
    out.print(f"written to [bold]{path}[/]")
