"""``electwatch forensics``: the full forensics battery on a results file.

::

    electwatch forensics russia-duma-2011.csv.zip --level region --out forensics-2011/

Runs :func:`electwatch.forensics.run_battery` (digit tests, turnout shape, the Klimek
et al. 2012 fingerprint fit, integer percentages, Shpilkin's excess votes, the
turnout-share regression, blank/invalid ranks, arithmetic consistency; Benjamini-
Hochberg across the areas of each level), prints a summary table and writes
``results.json``, ``results.csv``, ``fingerprint.png``, ``shpilkin.png`` and
``integer.png`` into the output folder (docs/forensics.md describes every test). The
figures are drawn by :mod:`electwatch.reports.figures` from results.json alone; a
statistic that does not apply is listed with its reason, not drawn.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from electwatch.cli.common import (
    console,
    deprecated_option,
    out,
    print_table,
    progress_bar,
    user_errors,
)
from electwatch.core import formatting
from electwatch.errors import ElectwatchError

if TYPE_CHECKING:
    from electwatch.data.model import ElectionResults
    from electwatch.forensics import ForensicsReport, TestResult


class ForensicsCliError(ElectwatchError):
    """Bad arguments or input for ``electwatch forensics`` (one-line message)."""


# the one formatting module (electwatch.core.formatting); thin names kept for this file
_num = formatting.compact


def _p(p: float | None) -> str:
    return formatting.p_value(p, missing="")


def _stat_vs_null(r: TestResult) -> str:
    null = "" if r.null_value is None else f" vs {_num(r.null_value)}"
    return f"{_num(r.statistic)}{null}"


def _p_ci(r: TestResult) -> str:
    """p-value above the interval (two short lines keep the column narrow)."""
    parts = []
    if r.p_value is not None:
        parts.append(_p(r.p_value))
    if r.ci_low is not None and r.ci_high is not None:
        parts.append(f"{_num(r.ci_low)} – {_num(r.ci_high)}")
    return "\n".join(parts) or "n/a"


def _area_reading(rows: list[TestResult]) -> str:
    """Which areas of a level are flagged, the most significant first."""
    flagged = [r for r in rows if r.flagged]
    if not flagged:
        return "no area flagged"

    def strength(r: TestResult) -> float:
        if r.p_adjusted is not None and math.isfinite(r.p_adjusted):
            return r.p_adjusted
        return -abs(r.statistic)

    top = sorted(flagged, key=strength)[:3]
    names = "; ".join(r.area.split(" / ")[-1][:30] for r in top)
    more = f" (+{len(flagged) - len(top)} more)" if len(flagged) > len(top) else ""
    return f"e.g. {names}{more}"


def summary_table(report: ForensicsReport) -> Table:
    """One row per test and level: the national figures, then the flagged counts."""
    name = report.election
    if report.contest and report.contest != report.election:
        name += f" — {report.contest}"
    title = f"Forensics — {name} ({report.n_stations:,} stations)"
    if report.synthetic:
        title += " [SYNTHETIC]"
    t = Table(
        title=title,
        caption="flagged: areas deviating from the null after Benjamini-Hochberg across the "
        "areas of the level (tests without a p-value: by their own rule, see docs/forensics.md)",
    )
    # long test names fold so that the plain reading keeps a readable width
    t.add_column("test", max_width=22, overflow="fold")
    t.add_column("level", no_wrap=True)
    t.add_column("areas", justify="right", no_wrap=True)
    t.add_column("statistic vs null", justify="right", max_width=16)
    t.add_column("p / 95% CI", justify="right", min_width=9)
    t.add_column("flagged", justify="right", no_wrap=True)
    t.add_column("reading", overflow="fold")  # no min_width: Rich then crops the border
    by_test: dict[str, dict[str, list[TestResult]]] = {}
    winner_subjects = {r.subject for r in report.results if report.winner in r.subject}
    for r in report.results:
        label = r.test
        if r.subject not in winner_subjects and r.test.startswith(("last_digit", "c05s", "p05s")):
            label = f"{r.test}: {r.subject}"
        by_test.setdefault(label, {}).setdefault(r.level, []).append(r)
    for test, levels in by_test.items():
        first = True
        for level in report.levels:
            rows = levels.get(level)
            if not rows:
                continue
            n_flag = sum(r.flagged for r in rows)
            flag_txt = f"[bold red]{n_flag:,}[/]" if n_flag else "0"
            if len(rows) == 1 and level == "national":
                r = rows[0]
                t.add_row(
                    test if first else "",
                    level,
                    "1",
                    _stat_vs_null(r),
                    _p_ci(r),
                    flag_txt,
                    r.reading,
                )
            else:
                stats = sorted(r.statistic for r in rows if math.isfinite(r.statistic))
                med = stats[len(stats) // 2] if stats else float("nan")
                t.add_row(
                    test if first else "",
                    level,
                    f"{len(rows):,}",
                    f"median {_num(med)}",
                    "",
                    f"{flag_txt} / {len(rows):,}",
                    _area_reading(rows),
                )
            first = False
    return t


def write_outputs(
    report: ForensicsReport,
    out_dir: Path,
    data: dict[str, Any] | None = None,
    results: ElectionResults | None = None,
) -> dict[str, Path]:
    """results.json, results.csv and the figures; returns what was written.

    ``data``: ``report.to_dict()`` if the caller already has it (it is large). The
    figures are drawn from ``data`` alone (:mod:`electwatch.reports.figures`), so every
    number in them is one of results.json; a figure whose statistic did not apply is
    not drawn. ``results`` is accepted for backward compatibility and unused."""
    from electwatch.reports import figures as figs

    del results
    data = data if data is not None else report.to_dict()
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    path = out_dir / "results.json"
    path.write_text(json.dumps(data, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    files["json"] = path
    path = out_dir / "results.csv"
    report.to_frame().write_csv(path)
    files["csv"] = path
    titles = figs.forensics_figure_titles(data)
    drawers = {
        "fingerprint": figs.forensics_fingerprint_figure,
        "shpilkin": figs.forensics_shpilkin_figure,
        "integer": figs.forensics_integer_figure,
    }
    for key, draw in drawers.items():
        if key not in titles:
            continue
        path = out_dir / f"{key}.png"
        draw(data).savefig(path, bbox_inches="tight")
        files[key] = path
    return files


def _alpha(text: str) -> float | None:
    if text.strip().lower() == "profile":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ForensicsCliError(
            f"--klimek-alpha must be a number or 'profile', not {text!r}"
        ) from None
    if not value > 0:
        raise ForensicsCliError(f"--klimek-alpha must be positive, not {text}")
    return value


def run(
    file: Path,
    mapping: str | None,
    levels: list[str] | None,
    n_bootstrap: int,
    n_mc: int,
    seed: int,
    klimek: bool,
    allow_inconsistent: bool,
    progress: Any,
    t0: int | None = None,
    include_pseudo_units: bool = False,
    all_candidates: bool = True,
    compat: str | None = None,
    klimek_alpha: float | None = 2.0,
) -> tuple[ElectionResults, ForensicsReport]:
    from electwatch.data import load_results
    from electwatch.forensics import run_battery

    if not file.exists():
        raise ForensicsCliError(f"{file}: file not found")
    if file.is_dir():
        raise ForensicsCliError(f"{file}: is a folder, expected a results file")
    if n_bootstrap < 0 or n_mc < 0:
        raise ForensicsCliError("--bootstrap and --monte-carlo-runs must be >= 0")
    if t0 is not None and not 0 <= t0 <= 99:
        raise ForensicsCliError(f"--t0 must be a whole percent from 0 to 99, not {t0}")
    if compat not in (None, "eftoolkit"):
        raise ForensicsCliError(f"--compat must be 'eftoolkit', not {compat!r}")
    progress(f"loading {file.name}", 0.0)
    results = load_results(file, mapping, allow_inconsistent=allow_inconsistent)
    wanted = [lv for lv in levels or [] if lv != "all"]
    for lv in wanted:
        if lv != "national" and lv not in results.area_levels:
            raise ForensicsCliError(
                f"{file}: no area level {lv!r}; levels are "
                f"{', '.join(['national', *results.area_levels])} (or 'all')"
            )

    def battery_progress(step: str, fraction: float) -> None:
        progress(step, 0.1 + 0.8 * fraction)

    try:
        return results, run_battery(
            results,
            level=wanted or None,
            n_bootstrap=n_bootstrap,
            n_mc=n_mc,
            seed=seed,
            progress=battery_progress,
            klimek=klimek,
            t0=t0,
            include_pseudo_units=include_pseudo_units,
            all_candidates=all_candidates,
            compat=compat,
            klimek_alpha=klimek_alpha,
        )
    except (ValueError, KeyError) as exc:  # input the tests cannot work with
        raise ForensicsCliError(f"{file}: {exc}") from None


def forensics(
    file: Path = typer.Argument(..., help="Results file: CSV (.csv/.zip/.gz), Parquet or Excel."),
    mapping: str | None = typer.Option(
        None, "--mapping", "-m", help="Mapping TOML file or built-in name (see `mappings`)."
    ),
    level: list[str] | None = typer.Option(
        None,
        "--level",
        metavar="LEVEL",
        help="Area level(s) to test besides national; repeat the option. "
        "Default: every level of the file. 'national' alone: national only.",
    ),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the CIs."),
    mc: int = typer.Option(
        1000, "--monte-carlo-runs", help="Monte Carlo runs of the integer-percent null."
    ),
    mc_old: int | None = typer.Option(None, "--mc", hidden=True),  # deprecated spelling
    level_short: list[str] | None = typer.Option(None, "-l", hidden=True),  # deprecated
    seed: int = typer.Option(0, help="Random seed (runs are reproducible)."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default: forensics-<file stem>/)."
    ),
    no_klimek: bool = typer.Option(False, "--no-klimek", help="Skip the Klimek model fit."),
    klimek_alpha: str = typer.Option(
        "2",
        "--klimek-alpha",
        help="Klimek model's vote-stealing exponent: a number (the paper's 2), or "
        "'profile' to fit it by profile likelihood over a grid (slower).",
    ),
    t0: int | None = typer.Option(
        None,
        "--t0",
        help="Shpilkin's reference turnout in whole percent (default: the mode of the "
        "others' votes-by-turnout curve with integer-percent spikes removed).",
    ),
    include_pseudo_units: bool = typer.Option(
        False,
        "--include-pseudo-units",
        help="Keep pseudo-units (remote e-voting, postal; register > 20x the median or "
        "the loader's flag) in the statistical tests; they are always in totals.",
    ),
    winner_only: bool = typer.Option(
        False,
        "--winner-only",
        help="Digit tests on the winner's counts only (default: every candidate, the "
        "ballots cast and each unit's leader too).",
    ),
    compat: str | None = typer.Option(
        None,
        "--compat",
        help="'eftoolkit': EFToolkit's digit conventions (every count's last digit, every "
        "denominator, half-even rounding) to compare with the R toolkit.",
    ),
    allow_inconsistent: bool = typer.Option(
        False, help="Keep stations whose votes exceed ballots cast (flagged) instead of failing."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the results as JSON on stdout (implies --quiet)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no table."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="eforensics, eforensics-bl or eforensics-bbl: fit Mebane's "
        "finite-mixture model instead of the battery (writes eforensics.json).",
    ),
    covariates: str | None = typer.Option(
        None,
        "--covariates",
        help="With --model: comma-separated columns for turnout and share (text columns: "
        "at most 100 distinct values).",
    ),
) -> None:
    """Run the forensics battery on a results file; write results.json/.csv and figures."""
    if mc_old is not None:
        mc = deprecated_option(mc_old, "--mc", "--monte-carlo-runs")
    if level_short:
        level = [*(level or []), *deprecated_option(level_short, "-l", "--level")]
    if out_dir is None:
        stem = file.name.split(".")[0] or "results"
        out_dir = Path(f"forensics-{stem}")
    if model is not None:  # the eforensics model (electwatch.cli.eforensics)
        from electwatch.cli.eforensics import run_eforensics_cli

        with user_errors():
            lv = next((x for x in level or [] if x not in ("all", "national")), None)
            run_eforensics_cli(
                file,
                model,
                covariates,
                mapping,
                out_dir,
                lv,
                seed,
                allow_inconsistent,
                as_json,
                quiet,
            )
        return
    with user_errors(), progress_bar(quiet or as_json) as progress:
        results, report = run(
            file,
            mapping,
            level,
            bootstrap,
            mc,
            seed,
            not no_klimek,
            allow_inconsistent,
            progress,
            t0=t0,
            include_pseudo_units=include_pseudo_units,
            all_candidates=not winner_only,
            compat=compat,
            klimek_alpha=_alpha(klimek_alpha),
        )
        progress("writing results and figures", 0.92)
        from electwatch.reports.findings import findings

        data = report.to_dict()
        # the same findings as the report's (one function makes them for the report,
        # the CLI and results.json)
        found = findings(data)
        data["findings"] = [f.to_dict() for f in found]
        try:
            files = write_outputs(report, out_dir, data, results)
        except OSError as exc:
            raise ForensicsCliError(f"{out_dir}: cannot write results ({exc})") from None
    if as_json:
        data["files"] = {k: str(v) for k, v in files.items()}
        # plain json.dumps: Rich's highlighter is slow on the tens of thousands of
        # area rows a national file gives
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        return
    if not quiet:
        from electwatch.cli.report import print_findings

        print_table(summary_table(report))
        print_findings(found)
        for na in report.not_applicable:
            if na.level in (None, "national"):
                console.print(f"[yellow]not applicable[/] {escape(str(na))}", highlight=False)
        n_area_na = sum(na.level not in (None, "national") for na in report.not_applicable)
        if n_area_na:
            console.print(
                f"[yellow]not applicable[/] in {n_area_na:,} area rows (below the test's "
                "minimum n; listed with reasons in results.json, 'not_applicable')"
            )
        pu = report.pseudo_units
        if pu.get("count"):
            what = "excluded from" if pu.get("excluded_from_tests") else "kept in"
            console.print(
                f"{pu['count']:,} pseudo-units ({escape(str(pu['rule']))}) {what} the "
                "statistical tests; kept in totals and checks"
            )
    if quiet:
        return
    n_flag = len(report.flagged())
    figures = [str(files[k]) for k in ("fingerprint", "shpilkin", "integer") if k in files]
    out.print(
        f"{len(report.results):,} test results ({n_flag:,} flagged after Benjamini-Hochberg) "
        f"written to [bold]{files['json']}[/] and [bold]{files['csv']}[/]"
        + (f"; figures: {', '.join(figures)}" if figures else "")
    )


def register(app: typer.Typer) -> None:
    app.command("forensics")(forensics)
