"""``electwatch forensics``: the full forensics battery on a results file.

::

    electwatch forensics russia-duma-2011.csv.zip --level region --out forensics-2011/

Runs :func:`electwatch.forensics.run_battery` (digit tests, turnout shape, the Klimek
et al. 2012 fingerprint fit, integer percentages, Shpilkin's excess votes, the
turnout-share regression, blank/invalid ranks, arithmetic consistency; Benjamini-
Hochberg across the areas of each level), prints a summary table and writes
``results.json``, ``results.csv``, ``fingerprint.png``, ``shpilkin.png`` and
``integer.png`` into the output folder (docs/forensics.md describes every test).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from electwatch.cli.common import console, out, progress_bar, user_errors
from electwatch.core import formatting
from electwatch.errors import ElectwatchError

if TYPE_CHECKING:
    from electwatch.data.model import ElectionResults
    from electwatch.forensics import ForensicsReport, StationArrays, TestResult


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
    for r in report.results:
        by_test.setdefault(r.test, {}).setdefault(r.level, []).append(r)
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

    ``data``: ``report.to_dict()`` if the caller already has it (it is large);
    ``results``: the station results, for the integer-percent histogram.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    path = out_dir / "results.json"
    path.write_text(
        json.dumps(data if data is not None else report.to_dict(), ensure_ascii=False, default=str)
        + "\n",
        encoding="utf-8",
    )
    files["json"] = path
    path = out_dir / "results.csv"
    report.to_frame().write_csv(path)
    files["csv"] = path
    if report.fingerprint is not None and report.fingerprint.n > 0:
        from electwatch.forensics import fingerprint_figure

        model = report.klimek.model_counts if report.klimek is not None else None
        label = "SYNTHETIC: " if report.synthetic else ""
        fig = fingerprint_figure(
            report.fingerprint,
            title=f"{label}{report.election[:60]}\n{report.fingerprint.n:,} stations",
            model=model,
        )
        path = out_dir / "fingerprint.png"
        fig.savefig(path, bbox_inches="tight")
        files["fingerprint"] = path
    if report.shpilkin is not None:
        path = out_dir / "shpilkin.png"
        shpilkin_figure(report).savefig(path, bbox_inches="tight")
        files["shpilkin"] = path
    if results is not None:
        from electwatch.forensics import station_arrays

        arr = station_arrays(results)
        if (arr.cast >= 100).any():
            path = out_dir / "integer.png"
            label = "SYNTHETIC: " if report.synthetic else ""
            integer_figure(arr, f"{label}{report.election[:50]}").savefig(path)
            files["integer"] = path
    return files


def integer_figure(arr: StationArrays, title: str) -> Any:
    """Stations per 0.1-point bin of turnout and of the leader's result: the spikes at
    whole, and especially round, percentages of Kobak, Shpilkin & Pshenichnikov (2016).

    Stations with at least 100 ballots cast; the leader's result is a share of all
    ballots cast, as in the integer-percent test.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import numpy as np
    from matplotlib.figure import Figure

    ok = (arr.cast >= 100) & (arr.registered > 0)
    t = 100 * arr.cast[ok] / arr.registered[ok]
    r = 100 * arr.winner_votes[ok] / arr.cast[ok]
    edges = np.arange(0, 100.1, 0.1) - 0.05
    lo = max(0.0, float(np.floor(min(np.quantile(t, 0.01), np.quantile(r, 0.01)) / 5) * 5))
    fig = Figure(figsize=(8, 4.6), dpi=100)
    for k, (x, label) in enumerate(((t, "turnout (%)"), (r, "leader's result (% of cast)"))):
        ax = fig.add_subplot(2, 1, k + 1)
        h, _ = np.histogram(x, edges)
        ax.plot((edges[:-1] + edges[1:]) / 2, h, lw=0.6, color="k")
        for v in range(0, 101, 5):
            ax.axvline(v, color="tab:red", lw=0.4, alpha=0.4)
        ax.set_xlim(lo, 100)
        ax.set_ylabel("stations / 0.1 pt")
        ax.set_xlabel(label)
    fig.suptitle(f"{title}: stations with >= 100 ballots cast, 0.1-point bins")
    fig.tight_layout()
    return fig


def shpilkin_figure(report: ForensicsReport) -> Any:
    """Votes by 1% turnout bin: leader, others, and the leader's expected curve."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    c = report.shpilkin
    assert c is not None
    fig = Figure(figsize=(6.4, 3.8), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    x = c.turnout_pct
    ax.plot(x, c.leader / 1e6, color="tab:blue", label=f"leader ({report.winner[:30]})")
    ax.plot(x, c.others / 1e6, color="tab:gray", label="all others")
    ax.plot(x, c.expected_leader / 1e6, "--", color="tab:blue", label="leader, expected")
    ax.fill_between(
        x, c.expected_leader / 1e6, c.leader / 1e6, where=x > c.t0, color="tab:red", alpha=0.3
    )
    ax.axvline(c.t0, color="k", lw=0.6, ls=":")
    ax.set_xlabel("turnout (%)")
    ax.set_ylabel("votes per 1% turnout bin (millions)")
    ax.set_title(f"Shpilkin: {c.excess / 1e6:,.2f} million anomalous votes (t0 = {c.t0}%)")
    ax.legend(fontsize=8)
    return fig


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
) -> tuple[ElectionResults, ForensicsReport]:
    from electwatch.data import load_results
    from electwatch.forensics import run_battery

    if not file.exists():
        raise ForensicsCliError(f"{file}: file not found")
    if file.is_dir():
        raise ForensicsCliError(f"{file}: is a folder, expected a results file")
    if n_bootstrap < 0 or n_mc < 0:
        raise ForensicsCliError("--bootstrap and --mc must be >= 0")
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
        "-l",
        metavar="LEVEL",
        help="Area level(s) to test besides national; repeat the option. "
        "Default: every level of the file. 'national' alone: national only.",
    ),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the CIs."),
    mc: int = typer.Option(1000, "--mc", help="Monte Carlo runs of the integer-percent null."),
    seed: int = typer.Option(0, help="Random seed (runs are reproducible)."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default: forensics-<file stem>/)."
    ),
    no_klimek: bool = typer.Option(False, "--no-klimek", help="Skip the Klimek model fit."),
    allow_inconsistent: bool = typer.Option(
        False, help="Keep stations whose votes exceed ballots cast (flagged) instead of failing."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the results as JSON on stdout (implies --quiet)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no table."),
) -> None:
    """Run the forensics battery on a results file; write results.json/.csv and figures."""
    if out_dir is None:
        stem = file.name.split(".")[0] or "results"
        out_dir = Path(f"forensics-{stem}")
    with user_errors(), progress_bar(quiet or as_json) as progress:
        results, report = run(
            file, mapping, level, bootstrap, mc, seed, not no_klimek, allow_inconsistent, progress
        )
        progress("writing results and figures", 0.92)
        data = report.to_dict()
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
        out.print(summary_table(report))
        for step, message in report.errors.items():
            console.print(f"[yellow]not run[/] {step}: {message}")
    n_flag = len(report.flagged())
    figures = [str(files[k]) for k in ("fingerprint", "shpilkin", "integer") if k in files]
    out.print(
        f"{len(report.results):,} test results ({n_flag:,} flagged after Benjamini-Hochberg) "
        f"written to [bold]{files['json']}[/] and [bold]{files['csv']}[/]"
        + (f"; figures: {', '.join(figures)}" if figures else "")
    )


def register(app: typer.Typer) -> None:
    app.command("forensics")(forensics)
