"""Arithmetic consistency of the protocols: parts must add up to the whole.

Per station: candidates' votes + blank + invalid = ballots cast (when valid votes
are published: candidates = valid and valid + invalid = cast); cast <= registered;
ballots found in the boxes = ballots issued (when the protocol publishes issued
ballots, e.g. the Russian CEC's lines 5-7 vs 9-10). Counts of violations are
reported per area; no p-value (a violation is a fact, not a statistical signal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from electwatch.data.model import ElectionResults
from electwatch.forensics.areas import AreaGroups, StationArrays
from electwatch.forensics.types import TestResult


@dataclass(frozen=True)
class ConsistencyCheck:
    """One arithmetic identity checked on every station where it applies."""

    code: str
    description: str
    checked: int
    violations: int
    example_stations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "description": self.description,
            "checked": self.checked,
            "violations": self.violations,
            "example_stations": self.example_stations,
        }


def consistency_masks(
    results: ElectionResults, arr: StationArrays
) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """code -> (description, applies mask, violation mask), vectorised over stations."""
    cand = arr.votes.sum(axis=1).astype(np.float64)
    blank = np.nan_to_num(arr.blank)
    invalid = np.nan_to_num(arr.invalid)
    valid_pub = results.count("valid")
    checks: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
    has_valid = np.isfinite(valid_pub)
    checks["candidates_eq_valid"] = (
        "candidates' votes (+ blank) add up to the valid votes",
        has_valid,
        has_valid & (cand + blank != valid_pub),
    )
    # without a published invalid count the identity cannot be checked (an unpublished
    # blank count is taken as 0: many protocols count blank ballots as invalid)
    has_invalid = np.isfinite(arr.invalid)
    checks["parts_eq_cast"] = (
        "candidates + blank + invalid = ballots cast",
        has_invalid,
        has_invalid & (cand + blank + invalid != arr.cast),
    )
    has_reg = arr.registered > 0
    checks["cast_le_registered"] = (
        "ballots cast do not exceed registered voters",
        has_reg,
        has_reg & (arr.cast > arr.registered),
    )
    extra = set(results.extra_counts)
    issued_cols = [c for c in ("issued_early", "issued_in_station", "issued_outside") if c in extra]
    if issued_cols:
        issued = sum(results.count(c) for c in issued_cols)
        ok = np.isfinite(issued)
        checks["found_le_issued"] = (
            "ballots found in the boxes do not exceed ballots issued",
            ok,
            ok & (arr.cast > issued),
        )
        if "ballots_received" in extra and "cancelled" in extra:
            received = results.count("ballots_received")
            cancelled = results.count("cancelled")
            ok2 = ok & np.isfinite(received) & np.isfinite(cancelled)
            checks["issued_plus_cancelled_le_received"] = (
                "ballots issued + cancelled do not exceed ballots received",
                ok2,
                ok2 & (issued + cancelled > received),
            )
    return checks


def consistency_tests(
    results: ElectionResults, arr: StationArrays, groups: AreaGroups
) -> tuple[list[TestResult], list[ConsistencyCheck]]:
    """Violation counts per area (TestResult rows) and national summaries."""
    ids = results.station_ids
    out: list[TestResult] = []
    summary: list[ConsistencyCheck] = []
    for code, (desc, applies, bad) in consistency_masks(results, arr).items():
        n = groups.counts(applies)
        k = groups.counts(bad)
        for i, area in enumerate(groups.names):
            if n[i] == 0:
                continue
            out.append(
                TestResult(
                    test=f"consistency_{code}",
                    level=groups.level,
                    area=area,
                    subject="station protocols",
                    statistic=float(k[i]),
                    null_value=0.0,
                    p_value=None,
                    ci_low=None,
                    ci_high=None,
                    n=int(n[i]),
                    reading=(
                        f"{k[i]:,} of {n[i]:,} stations violate: {desc}"
                        if k[i]
                        else f"all {n[i]:,} stations satisfy: {desc}"
                    ),
                    flagged=bool(k[i] > 0),
                    details={"share": float(k[i] / n[i])},
                )
            )
        if groups.n_groups == 1:
            summary.append(
                ConsistencyCheck(
                    code, desc, int(applies.sum()), int(bad.sum()), [str(s) for s in ids[bad][:5]]
                )
            )
    return out, summary
