"""The full forensics battery: one call, every test, every area level.

``run_battery(results)`` runs the tests of issue 3 on the national level and on each
area level of the results (or the one asked for), applies Benjamini-Hochberg across
the areas of each level, and returns a :class:`ForensicsReport` with ``to_dict()``
(JSON) and ``to_frame()`` (one flat row per test and area, CSV-friendly).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from electwatch.data.model import ElectionResults
from electwatch.forensics.areas import (
    AreaGroups,
    StationArrays,
    area_groups,
    resolve_levels,
    station_arrays,
)
from electwatch.forensics.blank_invalid import blank_invalid_tests
from electwatch.forensics.consistency import ConsistencyCheck, consistency_tests
from electwatch.forensics.digits import (
    c05s_test,
    last_digit_tests,
    p05s_test,
    second_digit_test,
)
from electwatch.forensics.fingerprint import Fingerprint, fingerprint
from electwatch.forensics.integer_percent import integer_percent_tests
from electwatch.forensics.klimek import KlimekFit, fit_klimek
from electwatch.forensics.multiple import adjust_results
from electwatch.forensics.regression import turnout_share_tests
from electwatch.forensics.shpilkin import ShpilkinCurves, shpilkin_tests
from electwatch.forensics.turnout_shape import turnout_shape_tests
from electwatch.forensics.types import NATIONAL, TestResult, _clean

Progress = Callable[[str, float], None]

#: test names in the order of the issue, with a short description
TESTS: dict[str, str] = {
    "2bl_second_digit_mean": "2BL: mean of second digits of the winner's counts (null 4.187)",
    "last_digit_mean": "mean of last digits of the winner's counts (null 4.5)",
    "last_digit_chi2": "chi-square uniformity of last digits (Beber & Scacco 2012)",
    "c05s": "share of counts ending in 0 or 5 (null 0.2)",
    "p05s": "share of rounded percentages ending in 0 or 5 (null 0.2)",
    "turnout_skewness": "skewness of station turnout (null 0)",
    "turnout_kurtosis": "kurtosis of station turnout (null 3)",
    "turnout_dip": "Hartigan's dip test of unimodal turnout",
    "klimek_fi": "Klimek et al. 2012 model: share of stations with incremental fraud",
    "klimek_fe": "Klimek et al. 2012 model: share of stations with extreme fraud",
    "klimek_fi_single_blob": "Klimek fi with one national clean blob (the paper's fit; "
    "confounds regional heterogeneity with fraud)",
    "klimek_fe_single_blob": "Klimek fe with one national clean blob",
    "integer_percent": "excess of integer-percent turnout/result stations (Kobak et al. 2016)",
    "shpilkin_excess_votes": "Shpilkin's anomalous votes for the leader",
    "share_turnout_slope": "weighted slope of winner's share on turnout",
    "blank_rank": "rank of blank ballots among the candidates",
    "invalid_rank": "rank of invalid ballots among the candidates",
}


@dataclass
class ForensicsReport:
    """Everything the battery found, per test and area."""

    election: str
    contest: str
    synthetic: bool
    n_stations: int
    winner: str
    runner_up: str | None
    levels: list[str]
    results: list[TestResult]
    fingerprint: Fingerprint | None = None
    klimek: KlimekFit | None = None
    klimek_single_blob: KlimekFit | None = None
    shpilkin: ShpilkinCurves | None = None
    consistency: list[ConsistencyCheck] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def select(
        self, test: str | None = None, level: str | None = None, area: str | None = None
    ) -> list[TestResult]:
        return [
            r
            for r in self.results
            if (test is None or r.test == test)
            and (level is None or r.level == level)
            and (area is None or r.area == area)
        ]

    def get(self, test: str, level: str = NATIONAL, area: str = NATIONAL) -> TestResult:
        """The single result of ``test`` in ``area`` (KeyError if the test did not run)."""
        for r in self.results:
            if r.test == test and r.level == level and r.area == area:
                return r
        raise KeyError(f"no result for {test!r} at {level}/{area}")

    def national(self) -> list[TestResult]:
        return self.select(level=NATIONAL)

    def flagged(self, level: str | None = None) -> list[TestResult]:
        return [r for r in self.results if r.flagged and (level is None or r.level == level)]

    def summary_counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """test -> level -> {areas, flagged}."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for r in self.results:
            d = out.setdefault(r.test, {}).setdefault(r.level, {"areas": 0, "flagged": 0})
            d["areas"] += 1
            d["flagged"] += int(r.flagged)
        return out

    def to_dict(self, include_areas: bool = True) -> dict[str, Any]:
        res = self.results if include_areas else self.national()
        return {
            "election": self.election,
            "contest": self.contest,
            "synthetic": self.synthetic,
            "n_stations": self.n_stations,
            "winner": self.winner,
            "runner_up": self.runner_up,
            "levels": self.levels,
            "tests": TESTS,
            "summary": self.summary_counts(),
            "results": [r.to_dict() for r in res],
            "fingerprint": self.fingerprint.to_dict() if self.fingerprint else None,
            "klimek": _clean(self.klimek.to_dict()) if self.klimek else None,
            "klimek_single_blob": (
                _clean(self.klimek_single_blob.to_dict()) if self.klimek_single_blob else None
            ),
            "shpilkin_curves": _clean(self.shpilkin.to_dict()) if self.shpilkin else None,
            "consistency": [c.to_dict() for c in self.consistency],
            "parameters": self.parameters,
            "timings": self.timings,
            "errors": self.errors,
        }

    def to_frame(self) -> pl.DataFrame:
        """One row per (test, level, area); details flattened to a JSON string."""
        import json

        rows = []
        for r in self.results:
            d = r.to_dict()
            d["details"] = json.dumps(d["details"], ensure_ascii=False, default=str)
            rows.append(d)
        schema = {
            "test": pl.String,
            "level": pl.String,
            "area": pl.String,
            "subject": pl.String,
            "statistic": pl.Float64,
            "null_value": pl.Float64,
            "p_value": pl.Float64,
            "p_adjusted": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "n": pl.Int64,
            "flagged": pl.Boolean,
            "reading": pl.String,
            "details": pl.String,
        }
        return (
            pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
        )


def run_battery(
    results: ElectionResults,
    *,
    level: str | list[str] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    progress: Progress | None = None,
    n_mc: int = 1000,
    klimek: bool = True,
    klimek_alpha: float = 2.0,
    alpha: float = 0.05,
) -> ForensicsReport:
    """Run every forensic test on ``results``.

    ``level``: None = national + every area level; a level name (or list) = national
    + those. ``n_bootstrap``: bootstrap resamples for the digit/share intervals;
    ``n_mc``: Monte Carlo runs of the integer-percent null; ``progress(step, fraction)``
    is called as the steps complete. Deterministic for a given ``seed``.
    """
    report_progress = progress or (lambda step, fraction: None)
    rng = np.random.default_rng(seed)
    levels = resolve_levels(results, level)
    arr = station_arrays(results)
    groups = [area_groups(results, lv) for lv in levels]
    out: list[TestResult] = []
    timings: dict[str, float] = {}
    errors: dict[str, str] = {}
    winner = arr.winner
    subject = f"winner's votes ({winner})"

    steps: list[tuple[str, Callable[[], None]]] = []

    def per_level(fn: Callable[[AreaGroups], list[TestResult]]) -> Callable[[], None]:
        def run() -> None:
            for g in groups:
                out.extend(fn(g))

        return run

    steps.append(
        (
            "digit tests",
            per_level(
                lambda g: [
                    *second_digit_test(
                        arr.winner_votes, g, subject=subject, n_bootstrap=n_bootstrap, rng=rng
                    ),
                    *last_digit_tests(
                        arr.winner_votes, g, subject=subject, n_bootstrap=n_bootstrap, rng=rng
                    ),
                    *c05s_test(
                        arr.winner_votes, g, subject=subject, n_bootstrap=n_bootstrap, rng=rng
                    ),
                    *p05s_test(
                        arr.winner_votes,
                        arr.valid,
                        g,
                        subject=f"winner's % of valid ({winner})",
                        n_bootstrap=n_bootstrap,
                        rng=rng,
                    ),
                ]
            ),
        )
    )
    steps.append(
        (
            "turnout shape",
            per_level(
                lambda g: turnout_shape_tests(arr.turnout(), g, n_bootstrap=n_bootstrap, rng=rng)
            ),
        )
    )

    holder: dict[str, Any] = {}

    def do_fingerprint() -> None:
        fp = fingerprint(arr)
        holder["fingerprint"] = fp
        if not klimek or fp.n < 50:
            return
        single = fit_klimek(fp, alpha=klimek_alpha)
        holder["klimek_single"] = single
        top = results.area_levels[0] if results.area_levels else None
        fit = single
        if top is not None:
            g = area_groups(results, top)
            if 2 <= g.n_groups <= 500:
                fit = fit_klimek(fp, g.codes[fp.mask], alpha=klimek_alpha)
        holder["klimek"] = fit
        rows = fit.as_results()
        if fit is not single:
            rows = [replace(r, details=r.details | {"clean_shape": f"per {top}"}) for r in rows]
            rows += [
                replace(
                    r,
                    test=r.test + "_single_blob",
                    reading=r.reading + " [single national clean blob, as in the paper]",
                    flagged=False,
                )
                for r in single.as_results()
            ]
        out.extend(rows)

    steps.append(("fingerprint and Klimek fit", do_fingerprint))
    steps.append(
        (
            "integer percentages",
            lambda: out.extend(integer_percent_tests(arr, groups, n_mc=n_mc, rng=rng)),
        )
    )

    def do_shpilkin() -> None:
        for g in groups:
            res, curves = shpilkin_tests(arr, g)
            out.extend(res)
            if curves is not None:
                holder["shpilkin"] = curves

    steps.append(("Shpilkin excess votes", do_shpilkin))

    def do_regression() -> None:
        # clusters: the level just below in the results' hierarchy (not in the levels
        # asked for: with level="district" the national SE must still cluster by region)
        hierarchy = [NATIONAL, *results.area_levels]
        for g in groups:
            k = hierarchy.index(g.level)
            below = area_groups(results, hierarchy[k + 1]) if k + 1 < len(hierarchy) else None
            out.extend(turnout_share_tests(arr, g, below))

    steps.append(("turnout-share regression", do_regression))
    steps.append(("blank/invalid ranks", per_level(lambda g: blank_invalid_tests(arr, g))))

    def do_consistency() -> None:
        for g in groups:
            res, summ = consistency_tests(results, arr, g)
            out.extend(res)
            if summ:
                holder["consistency"] = summ

    steps.append(("arithmetic consistency", do_consistency))

    for k, (name, fn) in enumerate(steps):
        report_progress(name, k / len(steps))
        t0 = time.perf_counter()
        try:
            fn()
        except (ValueError, np.linalg.LinAlgError) as exc:  # a test that cannot run here
            errors[name] = str(exc)
        timings[name] = time.perf_counter() - t0
    report_progress("done", 1.0)

    adjusted = adjust_results(out, alpha)
    return ForensicsReport(
        election=results.election.name,
        contest=results.contest.name,
        synthetic=results.synthetic,
        n_stations=results.n_stations,
        winner=winner,
        runner_up=(
            arr.candidates[arr.runner_up_index] if arr.runner_up_index is not None else None
        ),
        levels=levels,
        results=adjusted,
        fingerprint=holder.get("fingerprint"),
        klimek=holder.get("klimek"),
        klimek_single_blob=holder.get("klimek_single"),
        shpilkin=holder.get("shpilkin"),
        consistency=holder.get("consistency", []),
        parameters={
            "level": level,
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "n_mc": n_mc,
            "klimek_alpha": klimek_alpha,
            "alpha": alpha,
        },
        timings=timings,
        errors=errors,
    )


__all__ = ["TESTS", "ForensicsReport", "StationArrays", "run_battery"]
