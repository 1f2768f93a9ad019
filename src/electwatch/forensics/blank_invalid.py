"""Blank and invalid ballots ranked as if they were candidates.

Where blank or invalid ballots outnumber a registered candidate, a large part of
the voters rejected the field (or ballots were spoiled on purpose); where they
come second, that is a political signal in itself. Per area, the totals of every
candidate, blank and invalid are ranked; the test reports the rank of blank/invalid
and the candidates they beat. Station-level counts of "invalid > runner-up" are
given too: stations where they beat the candidate placed second at that station (the
2012 Russian presidential election has 492 such stations) and where they beat the
national runner-up.
"""

from __future__ import annotations

import numpy as np

from electwatch.forensics.areas import AreaGroups, StationArrays
from electwatch.forensics.types import TestResult


def blank_invalid_tests(
    arr: StationArrays, groups: AreaGroups, stands: np.ndarray | None = None
) -> list[TestResult]:
    """Ranks of blank and invalid ballots among the candidates of each area.

    ``stands``: units x candidates booleans, whether the candidate was on the unit's
    ballot (constituency tables: each constituency has its own list, and a candidate
    of another constituency is not "beaten" by its blank ballots). Without it every
    candidate counts everywhere (one national list)."""
    g = groups.n_groups
    totals = np.stack(
        [groups.sums(arr.votes[:, j].astype(np.float64)) for j in range(arr.votes.shape[1])], axis=1
    )  # G x C
    if stands is None:
        standing = np.ones(totals.shape, dtype=bool)
    else:
        standing = np.stack(
            [groups.sums(stands[:, j].astype(np.float64)) > 0 for j in range(stands.shape[1])],
            axis=1,
        )
    out: list[TestResult] = []
    runner = arr.runner_up_index
    for label, col in (("blank", arr.blank), ("invalid", arr.invalid)):
        present = np.isfinite(col)
        if not present.any():
            continue
        tot = groups.sums(np.nan_to_num(col))
        has = groups.counts(present) > 0
        beaten = standing & (totals < tot[:, None])  # G x C
        rank = 1 + (standing & (totals > tot[:, None])).sum(axis=1)
        station_beats_runner = np.zeros(arr.n, dtype=bool)
        station_beats_national_runner = np.zeros(arr.n, dtype=bool)
        if runner is not None:
            # the station's own runner-up: the second-largest candidate there
            second = np.partition(arr.votes, -2, axis=1)[:, -2]
            station_beats_runner = present & (np.nan_to_num(col) > second)
            station_beats_national_runner = present & (np.nan_to_num(col) > arr.votes[:, runner])
        k_nat = groups.counts(station_beats_national_runner)
        k_st = groups.counts(station_beats_runner)
        n_st = groups.counts(present)
        for i in np.flatnonzero(has):
            names = [arr.candidates[j] for j in np.flatnonzero(beaten[i])]
            n_c = int(standing[i].sum())
            reading = f"{label} ballots ({int(tot[i]):,}) rank {rank[i]} of {n_c + 1}" + (
                f", ahead of {len(names)} candidate(s): {', '.join(names[:3])}"
                + ("…" if len(names) > 3 else "")
                if names
                else ", behind every candidate"
            )
            out.append(
                TestResult(
                    test=f"{label}_rank",
                    level=groups.level,
                    area=groups.names[i],
                    subject=f"{label} ballots vs candidates",
                    statistic=float(rank[i]),
                    null_value=None,
                    p_value=None,
                    ci_low=None,
                    ci_high=None,
                    n=int(n_st[i]),
                    reading=reading,
                    flagged=bool(names),
                    details={
                        "votes": int(tot[i]),
                        "candidates_beaten": names,
                        "n_candidates": int(n_c),
                        "stations_beating_runner_up": int(k_st[i]),
                        "stations_beating_national_runner_up": int(k_nat[i]),
                    },
                )
            )
    _ = g
    return out
