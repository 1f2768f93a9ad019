"""The full forensics battery: one call, every test, every area level.

``run_battery(results)`` runs the tests of issue 3 on the national level and on each
area level of the results (or the one asked for), applies Benjamini-Hochberg across
the areas of each level, and returns a :class:`ForensicsReport` with ``to_dict()``
(JSON) and ``to_frame()`` (one flat row per test and area, CSV-friendly).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from electwatch.core.applicability import NotApplicable
from electwatch.data.model import ElectionResults
from electwatch.forensics.areas import (
    AreaGroups,
    StationArrays,
    area_groups,
    resolve_levels,
    station_arrays,
)
from electwatch.forensics.consistency import ConsistencyCheck
from electwatch.forensics.fingerprint import Fingerprint
from electwatch.forensics.klimek import KlimekFit
from electwatch.forensics.multiple import adjust_results
from electwatch.forensics.shpilkin import ShpilkinCurves
from electwatch.forensics.types import NATIONAL, TestResult, _clean

#: a unit whose register exceeds this multiple of the median register is a pseudo-unit
#: (when the loader gives no flag); a remote e-voting unit of 100,000 registered among
#: stations of ~1,500 is 60x the median, the largest real stations are ~3-5x
PSEUDO_REGISTER_RATIO = 20.0
#: fewer units than this: a province table, not stations; no register rule
PSEUDO_MIN_UNITS = 100

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
    "pooled_last_digit_chi2": "chi-square of the last digits of every candidate's counts, "
    "pooled (Beber & Scacco 2012)",
    "adjacent_digits": "share of counts whose last two digits are not adjacent "
    "(Beber & Scacco 2012; null 0.70)",
    "beber_scacco": "Beber & Scacco's 2009 joint probability of a last-digit spike and dip "
    "and few non-adjacent pairs, exact (descriptive; calibrated p-value for n <= 300)",
    "share_turnout_slope": "weighted slope of winner's share on turnout",
    "sobyanin": "EFToolkit's Sobyanin: OLS slope of a candidate's share of ballots cast on "
    "turnout minus the mean share (descriptive)",
    "turnout_share_correlation": "correlation of turnout and a candidate's share of "
    "ballots cast (EFToolkit; descriptive)",
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
    not_applicable: list[NotApplicable] = field(default_factory=list)
    pseudo_units: dict[str, Any] = field(default_factory=dict)
    integer_histogram: dict[str, Any] | None = None

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

    def flagged_areas(self, level: str | None = None) -> list[dict[str, Any]]:
        """Areas ranked by calibrated evidence (docs/forensics.md, "Flags"):

        1. the number of calibrated tests (test x subject) flagged after
           Benjamini-Hochberg in the area, most first;
        2. ties: the integer-percent z-score (excess over the Monte Carlo null's SD);
        3. then the Shpilkin excess as a share of the leader's votes in the area.

        Descriptive statistics never count; estimates and checks are listed beside."""
        from electwatch.forensics.statistics import CALIBRATED, kind_of

        areas: dict[tuple[str, str], dict[str, Any]] = {}
        for r in self.results:
            if r.level == NATIONAL or (level is not None and r.level != level):
                continue
            a = areas.setdefault(
                (r.level, r.area),
                {
                    "level": r.level,
                    "area": r.area,
                    "calibrated_flags": 0,
                    "tests": [],
                    "other_flags": [],
                    "integer_percent_z": None,
                    "shpilkin_excess_share": None,
                },
            )
            if r.test == "integer_percent":
                a["integer_percent_z"] = _clean(r.details.get("z"))
            if r.test == "shpilkin_excess_votes":
                a["shpilkin_excess_share"] = _clean(r.details.get("excess_share_of_leader_votes"))
            if not r.flagged:
                continue
            if kind_of(r.test) == CALIBRATED:
                a["calibrated_flags"] += 1
                a["tests"].append(f"{r.test} ({r.subject})")
            else:
                a["other_flags"].append(r.test)

        def key(a: dict[str, Any]) -> tuple[float, float, float]:
            z = a["integer_percent_z"]
            sh = a["shpilkin_excess_share"]
            return (
                -a["calibrated_flags"],
                -(z if z is not None else -np.inf),
                -(sh if sh is not None else -np.inf),
            )

        ranked = sorted((a for a in areas.values() if a["calibrated_flags"] > 0), key=key)
        for k, a in enumerate(ranked, 1):
            a["rank"] = k
        return ranked

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
            "battery": _battery_description(),
            "summary": self.summary_counts(),
            "not_applicable": [n.to_dict() for n in self.not_applicable],
            "pseudo_units": self.pseudo_units,
            "flagged_areas": self.flagged_areas(),
            "integer_histogram": self.integer_histogram,
            "klimek_model_cells": _model_cells(self.klimek),
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


def _battery_description() -> list[dict[str, Any]]:
    from electwatch.forensics.statistics import describe_battery

    return describe_battery()


def _model_cells(fit: KlimekFit | None) -> dict[str, list[Any]] | None:
    """The fitted Klimek model's expected fingerprint, cells above 0.01 unit."""
    if fit is None:
        return None
    m = np.asarray(fit.model_counts)
    nz = np.nonzero(m > 0.01)
    return {
        "turnout_bin": nz[0].tolist(),
        "share_bin": nz[1].tolist(),
        "expected": np.round(m[nz], 3).tolist(),
    }


def pseudo_unit_mask(results: ElectionResults, registered: np.ndarray) -> tuple[np.ndarray, str]:
    """Units that are not polling stations (remote e-voting, postal or pooled units).

    The loader's flag is used when the results carry one (a boolean column
    ``pseudo_unit``); otherwise a unit whose register exceeds
    :data:`PSEUDO_REGISTER_RATIO` times the median register is taken as a pseudo-unit
    (Russia 2020: remote e-voting units of 100,000+ registered among stations of
    ~1,500). Files of areas (provinces) are not stations: the rule needs at least
    :data:`PSEUDO_MIN_UNITS` units. Returns the mask and how it was decided."""
    if "pseudo_unit" in results.frame.columns:
        flag = results.frame["pseudo_unit"].cast(pl.Boolean).fill_null(False).to_numpy()
        return flag.astype(bool), "the loader's pseudo_unit flag"
    reg = np.asarray(registered, dtype=np.float64)
    ok = reg > 0
    if ok.sum() < PSEUDO_MIN_UNITS:
        return np.zeros(reg.shape, dtype=bool), "none (too few units for the register rule)"
    median = float(np.median(reg[ok]))
    return ok & (reg > PSEUDO_REGISTER_RATIO * median), (
        f"register > {PSEUDO_REGISTER_RATIO:g} x the median register ({median:,.0f})"
    )


def _subset_arrays(arr: StationArrays, keep: np.ndarray) -> StationArrays:
    return StationArrays(
        registered=arr.registered[keep],
        cast=arr.cast[keep],
        valid=arr.valid[keep],
        invalid=arr.invalid[keep],
        blank=arr.blank[keep],
        votes=arr.votes[keep],
        candidates=arr.candidates,
        winner_index=arr.winner_index,
        runner_up_index=arr.runner_up_index,
    )


def _integer_histogram(arr: StationArrays) -> dict[str, Any] | None:
    """Units per 0.1-point bin of turnout and of the leader's result (% of ballots
    cast), units with >= 100 ballots cast: what the integer-percent figure draws."""
    ok = (arr.cast >= 100) & (arr.registered > 0)
    if not ok.any():
        return None
    t = 100 * arr.cast[ok] / arr.registered[ok]
    r = 100 * arr.winner_votes[ok] / arr.cast[ok]
    edges = np.arange(0, 100.1, 0.1) - 0.05
    return {
        "bin_centres_pct": np.round((edges[:-1] + edges[1:]) / 2, 2).tolist(),
        "turnout": np.histogram(t, edges)[0].tolist(),
        "leader_result": np.histogram(r, edges)[0].tolist(),
        "n": int(ok.sum()),
        "min_cast": 100,
    }


def run_battery(
    results: ElectionResults,
    *,
    level: str | list[str] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    progress: Progress | None = None,
    n_mc: int = 1000,
    klimek: bool = True,
    klimek_alpha: float | None = 2.0,
    alpha: float = 0.05,
    t0: int | None = None,
    include_pseudo_units: bool = False,
    all_candidates: bool = True,
    compat: str | None = None,
) -> ForensicsReport:
    """Run every statistic of :data:`~electwatch.forensics.statistics.BATTERY`.

    ``level``: None = national + every area level; a level name (or list) = national
    + those. ``n_bootstrap``: bootstrap resamples for the digit/share intervals;
    ``n_mc``: Monte Carlo runs of the integer-percent null; ``klimek_alpha``: the
    Klimek model's vote-stealing exponent (None: profile likelihood over a grid,
    about 6x the fit's time); ``t0``: Shpilkin's
    reference turnout (None: the robust mode); ``include_pseudo_units``: keep units
    flagged as pseudo-units in the statistical tests (they always stay in totals and
    checks); ``all_candidates``: digit tests for every candidate, the ballots cast and
    each unit's leader besides the winner; ``compat="eftoolkit"``: EFToolkit's digit
    conventions (every count's last digit, every denominator, half-even rounding).
    ``progress(step, fraction)`` is called as the steps complete. Deterministic for a
    given ``seed``. A statistic that does not apply is listed in ``not_applicable``
    with its reason; nothing crashes on a file without a register or with few rows.
    """
    from electwatch.forensics.statistics import (
        BATTERY,
        BatteryInput,
        kind_of,
        split_by_minimum,
    )

    if compat not in (None, "eftoolkit"):
        raise ValueError(f"compat must be None or 'eftoolkit', not {compat!r}")
    report_progress = progress or (lambda step, fraction: None)
    rng = np.random.default_rng(seed)
    levels = resolve_levels(results, level)
    all_arr = station_arrays(results)
    all_groups = [area_groups(results, lv) for lv in levels]
    pseudo, pseudo_rule = pseudo_unit_mask(results, all_arr.registered)
    keep = np.ones(all_arr.n, dtype=bool) if include_pseudo_units else ~pseudo
    if keep.all():
        arr, groups = all_arr, all_groups
    else:
        arr = _subset_arrays(all_arr, keep)
        groups = [AreaGroups(g.level, g.codes[keep], g.names) for g in all_groups]
    hierarchy = [NATIONAL, *results.area_levels]
    clusters: list[AreaGroups | None] = []
    for g in all_groups:
        # clusters: the level just below in the results' hierarchy (not in the levels
        # asked for: with level="district" the national SE must still cluster by region)
        k = hierarchy.index(g.level)
        below = area_groups(results, hierarchy[k + 1]) if k + 1 < len(hierarchy) else None
        if below is not None and not keep.all():
            below = AreaGroups(below.level, below.codes[keep], below.names)
        clusters.append(below)
    options: dict[str, Any] = {
        "n_bootstrap": n_bootstrap,
        "n_mc": n_mc,
        "klimek": klimek,
        "klimek_alpha": klimek_alpha,
        "t0": t0,
        "all_candidates": all_candidates,
    }
    if compat == "eftoolkit":
        options.update(min_count=0, min_denominator=1, rounding="half_even", p05s_of="cast")
    data = BatteryInput(
        results, arr, groups, all_arr, all_groups, clusters, rng, options=options, keep=keep
    )
    out: list[TestResult] = []
    not_applicable: list[NotApplicable] = []
    timings: dict[str, float] = {}
    errors: dict[str, str] = {}
    for k, cls in enumerate(BATTERY):
        stat = cls()
        step = cls.step or cls.name
        report_progress(step, k / len(BATTERY))
        started = time.perf_counter()
        outcome: list[TestResult] | NotApplicable
        try:
            outcome = stat.run(data, level=NATIONAL, area=NATIONAL)
        except (ValueError, np.linalg.LinAlgError) as exc:  # a test that cannot run here
            errors[cls.name] = str(exc)
            outcome = NotApplicable(cls.name, f"could not run: {exc}", "error")
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - started
        if isinstance(outcome, NotApplicable):
            not_applicable.append(outcome)
            continue
        kept, dropped = split_by_minimum(outcome)
        out += kept
        not_applicable += dropped
    report_progress("done", 1.0)

    adjusted = adjust_results(out, alpha, calibrated=lambda t: kind_of(t) == "calibrated")
    fp = data.extras.get("fingerprint")
    return ForensicsReport(
        election=results.election.name,
        contest=results.contest.name,
        synthetic=results.synthetic,
        n_stations=results.n_stations,
        winner=all_arr.winner,
        runner_up=(
            all_arr.candidates[all_arr.runner_up_index]
            if all_arr.runner_up_index is not None
            else None
        ),
        levels=levels,
        results=adjusted,
        fingerprint=fp,
        klimek=data.extras.get("klimek"),
        klimek_single_blob=data.extras.get("klimek_single"),
        shpilkin=data.extras.get("shpilkin"),
        consistency=data.extras.get("consistency", []),
        parameters={
            "level": level,
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "n_mc": n_mc,
            "klimek_alpha": klimek_alpha,
            "alpha": alpha,
            "t0": t0,
            "include_pseudo_units": include_pseudo_units,
            "all_candidates": all_candidates,
            "compat": compat,
        },
        timings=timings,
        errors=errors,
        not_applicable=not_applicable,
        pseudo_units={
            "rule": pseudo_rule,
            "count": int(pseudo.sum()),
            "registered": float(np.nansum(all_arr.registered[pseudo])),
            "cast": float(np.nansum(all_arr.cast[pseudo])),
            "excluded_from_tests": bool(pseudo.any() and not include_pseudo_units),
            "examples": [str(s) for s in results.station_ids[pseudo][:5]],
        },
        integer_histogram=_integer_histogram(arr),
    )


__all__ = ["TESTS", "ForensicsReport", "StationArrays", "pseudo_unit_mask", "run_battery"]
