"""False-positive rate of every calibrated forensic test at its own minimum n.

SYNTHETIC clean elections from electwatch.simulate (20 regions, a capital,
urban/rural, lognormal sizes; no fraud). For each calibrated test of the battery the
usable units (counts >= 10 for last digits and C05s, valid >= 100 for P05s, ...) are
cut into ``runs`` areas of exactly the test's declared minimum n; each area is one
clean "election" at the minimum, and the test's 5%-level rejection rate over the
areas is its false-positive rate there. A calibrated test must reject 2-8% (so a
minimum cannot be set high to dodge the question). The flag rule of the Shpilkin
excess (no p-value) is measured the same way.

    .venv/bin/python scripts/forensics_fpr_study.py --runs 1000 --seed 1 \
        > docs/forensics-fpr.md

tests/test_forensics_fpr_minimum.py runs a small version (300 areas).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

from electwatch.forensics.areas import AreaGroups, StationArrays, station_arrays
from electwatch.forensics.digits import (
    adjacent_digits_test,
    c05s_test,
    last_digit_tests,
    p05s_test,
    pooled_last_digit_test,
)
from electwatch.forensics.integer_percent import integer_percent_tests
from electwatch.forensics.regression import turnout_share_tests
from electwatch.forensics.shpilkin import shpilkin_tests
from electwatch.forensics.statistics import ROW_MINIMUM
from electwatch.forensics.types import TestResult
from electwatch.simulate import ElectionParameters, simulate_election


@dataclass
class Rate:
    test: str
    subject: str
    minimum: int
    runs: int
    rejections: int

    @property
    def rate(self) -> float:
        return self.rejections / self.runs if self.runs else float("nan")


def _take(arr: StationArrays, idx: np.ndarray) -> StationArrays:
    return StationArrays(
        registered=arr.registered[idx],
        cast=arr.cast[idx],
        valid=arr.valid[idx],
        invalid=arr.invalid[idx],
        blank=arr.blank[idx],
        votes=arr.votes[idx],
        candidates=arr.candidates,
        winner_index=arr.winner_index,
        runner_up_index=arr.runner_up_index,
    )


def _areas(usable: np.ndarray, size: int, runs: int, rng: np.random.Generator) -> tuple:
    """Indices of ``runs * size`` usable units (shuffled) and their area codes."""
    idx = rng.permutation(np.flatnonzero(usable))
    k = min(runs, idx.size // size)
    idx = idx[: k * size]
    codes = np.repeat(np.arange(k), size)
    return idx, AreaGroups("run", codes, [f"r{i}" for i in range(k)])


def _rejections(rows: list[TestResult], test: str, alpha: float = 0.05) -> tuple[int, int]:
    rows = [r for r in rows if r.test == test]
    if rows and rows[0].p_value is None:
        return sum(r.flagged for r in rows), len(rows)
    return sum(r.p_value is not None and r.p_value < alpha for r in rows), len(rows)


def _areas_within(
    usable: np.ndarray, regions: np.ndarray, size: int, runs: int, rng: np.random.Generator
) -> tuple:
    """Like :func:`_areas`, but each area's units come from one region: the
    simulator draws each region's turnout and winner's share independently, so over
    20 regions of one election the two correlate by chance, and an area mixing
    regions has a real (geographic) slope; a district lies within one region."""
    parts = []
    for r in np.unique(regions[usable]):
        idx = rng.permutation(np.flatnonzero(usable & (regions == r)))
        k = idx.size // size
        parts += [idx[i * size : (i + 1) * size] for i in range(k)]
    order = rng.permutation(len(parts))[:runs]
    chosen = [parts[i] for i in order]
    idx = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    codes = np.repeat(np.arange(len(chosen)), size)
    return idx, AreaGroups("run", codes, [f"r{i}" for i in range(len(chosen))])


def clean_arrays(n_stations: int, seed: int) -> tuple[StationArrays, np.ndarray]:
    """Station arrays of a clean simulated election and each station's region code."""
    res, _ = simulate_election(ElectionParameters(n_stations=n_stations), seed=seed)
    regions = np.unique(res.frame["region"].to_numpy(), return_inverse=True)[1]
    return station_arrays(res), regions


def fpr_at_minimum(runs: int, seed: int) -> list[Rate]:
    """Rejection rates of the calibrated tests at their minimum n on clean data."""
    rng = np.random.default_rng(seed)
    need = runs * max(m.n for m in ROW_MINIMUM.values())
    arr, regions = clean_arrays(max(need * 3, 20_000), seed)
    out: list[Rate] = []

    def add(test: str, subject: str, rows: list[TestResult]) -> None:
        k, n = _rejections(rows, test)
        out.append(Rate(test, subject, ROW_MINIMUM[test].n, n, k))

    subjects = (
        [("winner", arr.winner_votes)]
        + [
            (name, arr.votes[:, j])
            for j, name in enumerate(arr.candidates)
            if j != arr.winner_index
        ]
        + [("ballots cast", arr.cast)]
    )
    for label, counts in subjects:
        for test in ("last_digit_mean", "last_digit_chi2"):
            idx, g = _areas(counts >= 10, ROW_MINIMUM[test].n, runs, rng)
            if g.n_groups:
                add(test, label, last_digit_tests(counts[idx], g, n_bootstrap=0))
        idx, g = _areas(counts >= 10, ROW_MINIMUM["c05s"].n, runs, rng)
        if g.n_groups:
            add("c05s", label, c05s_test(counts[idx], g, n_bootstrap=0))
    for label, j in [("winner", arr.winner_index)]:
        idx, g = _areas(arr.valid >= 100, ROW_MINIMUM["p05s"].n, runs, rng)
        add("p05s", label, p05s_test(arr.votes[idx, j], arr.valid[idx], g, n_bootstrap=0))
    # pooled tests: the minimum is in counts, pooled over candidates; areas of
    # stations whose candidates' usable counts add up to about the minimum
    usable = (arr.votes >= 10).sum(axis=1)
    per_station = max(1, int(np.median(usable)))
    for test, fn in (
        ("pooled_last_digit_chi2", pooled_last_digit_test),
        ("adjacent_digits", adjacent_digits_test),
    ):
        size = int(np.ceil(ROW_MINIMUM[test].n / per_station))
        idx, g = _areas(usable == per_station, size, runs, rng)
        add(test, f"{per_station} candidates x {size} stations", fn(arr.votes[idx], g))
    ok = (arr.cast >= 100) & (arr.registered > 0)
    idx, g = _areas(ok, ROW_MINIMUM["integer_percent"].n, runs, rng)
    add(
        "integer_percent",
        "turnout or leader's result",
        integer_percent_tests(_take(arr, idx), [g], n_mc=200, rng=rng),
    )
    m = ROW_MINIMUM["share_turnout_slope"].n
    idx, g = _areas_within(arr.registered > 0, regions, m, runs, rng)
    add(
        "share_turnout_slope",
        "winner's share on turnout (HC3), areas within a region",
        turnout_share_tests(_take(arr, idx), g, min_stations=ROW_MINIMUM["share_turnout_slope"].n),
    )
    m = ROW_MINIMUM["shpilkin_excess_votes"].n
    idx, g = _areas_within(arr.registered > 0, regions, m, runs, rng)
    add(
        "shpilkin_excess_votes",
        "flag rule (no p-value), areas within a region",
        shpilkin_tests(_take(arr, idx), g, min_stations=ROW_MINIMUM["shpilkin_excess_votes"].n)[0],
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    started = time.perf_counter()
    rates = fpr_at_minimum(args.runs, args.seed)
    w = sys.stdout.write
    w("# False-positive rates at each test's minimum n (SYNTHETIC clean elections)\n\n")
    w(f"Command: `.venv/bin/python scripts/forensics_fpr_study.py --runs {args.runs} "
      f"--seed {args.seed} > docs/forensics-fpr.md`\n\n")  # fmt: skip
    w("Each row: the test run on clean areas of exactly its declared minimum n (usable\n")
    w("units), rejection at the 5% level (flag rule for Shpilkin). Calibrated: 2-8%.\n\n")
    w("| test | subject | minimum n | areas | rejected | rate |\n|---|---|---:|---:|---:|---:|\n")
    for r in rates:
        w(f"| {r.test} | {r.subject} | {r.minimum} | {r.runs} | {r.rejections} | {r.rate:.1%} |\n")
    w(f"\nRun time {time.perf_counter() - started:.0f} s.\n")


if __name__ == "__main__":
    main()
