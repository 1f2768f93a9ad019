"""Shpilkin's reference turnout: the old rule against the new one on turnout-target fraud.

    nice -n 10 .venv/bin/python scripts/shpilkin_t0_study.py > docs/shpilkin-t0-study.md

SYNTHETIC elections (electwatch.simulate, 20,000 stations) with a share ``ft`` of the
stations pushed to a target turnout (sd 3 points), every added ballot for the leader;
the injected votes are known (``SimulationTruth.extra["injected_target_votes"]``).
Two electorates: the simulator's default (regional turnout and vote-share offsets)
and the same with equal regional vote shares (``winner_region_sd=0``), which removes
the clean election's own excess. For each run, Shpilkin's estimate with

* the old rule: t0 = the others' robust mode (integer-percent spikes removed,
  smoothed), i.e. ``shpilkin_tests(..., t0=others_mode_pct)``;
* the new rule (the default): the mode, or the change point of the leader's share
  when the fitted share at the mode is more than 10 points above its flat level.

Error = estimate / injected - 1 (mean and mean absolute over the seeds); for clean
elections (ft = 0) the excess as a share of the leader's votes instead. About 2-4
minutes on one core.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from electwatch.forensics import national_groups, shpilkin_tests, station_arrays
from electwatch.simulate import ElectionParameters, FraudParameters, simulate_election

SEEDS = range(10)
N_STATIONS = 20_000
FT = (0.0, 0.1, 0.3, 0.5, 0.7)
TARGETS = (0.75, 0.8, 0.9)
ELECTORATES = {
    "default": ElectionParameters(n_stations=N_STATIONS),
    "equal regional shares": ElectionParameters(n_stations=N_STATIONS, winner_region_sd=0.0),
}


def run(p: ElectionParameters, ft: float, target: float, seed: int) -> dict[str, float]:
    res, truth = simulate_election(
        p, FraudParameters(ft=ft, target_turnout=target, target_sd=0.03), seed=seed
    )
    arr = station_arrays(res)
    nat = national_groups(arr.n)
    new = shpilkin_tests(arr, nat)[0][0]
    old = shpilkin_tests(arr, nat, t0=new.details["others_mode_pct"])[0][0]
    injected = float(truth.extra["injected_target_votes"])
    leader = float(new.details["leader_votes"])
    return {
        "injected": injected,
        "old": old.statistic,
        "new": new.statistic,
        "leader": leader,
        "switched": float(new.details["t0_method"] == "share change point"),
        "t0_old": float(old.details["t0_pct"]),
        "t0_new": float(new.details["t0_pct"]),
    }


def main() -> int:
    w = sys.stdout.write
    started = time.perf_counter()
    w("# Shpilkin's t0: the others' mode against the share's change point (SYNTHETIC)\n\n")
    w("Command: `nice -n 10 .venv/bin/python scripts/shpilkin_t0_study.py > "
      "docs/shpilkin-t0-study.md`\n\n")  # fmt: skip
    w((__doc__ or "").split("\n\n", 2)[2].split("About 2-4")[0].strip() + "\n\n")
    w(
        f"{len(SEEDS)} seeds per row, {N_STATIONS:,} stations. Old = t0 at the others' "
        "robust mode; new = electwatch's rule. t0: median over the seeds.\n\n"
    )
    w(
        "| electorate | ft | target | injected (mean) | old t0 | old error (mean / "
        "mean abs) | new t0 | new error (mean / mean abs) | runs switched to the "
        "change point |\n"
    )
    w("|---|---|---|---|---|---|---|---|---|\n")
    for name, p in ELECTORATES.items():
        for ft in FT:
            for target in TARGETS if ft else (None,):
                rows = [run(p, ft, target or 0.8, s) for s in SEEDS]
                a = {k: np.array([r[k] for r in rows]) for k in rows[0]}
                if ft:
                    eo, en = a["old"] / a["injected"] - 1, a["new"] / a["injected"] - 1
                    inj = f"{a['injected'].mean():,.0f}"
                    cells = [
                        f"{eo.mean():+.1%} / {np.abs(eo).mean():.1%}",
                        f"{en.mean():+.1%} / {np.abs(en).mean():.1%}",
                    ]
                else:  # clean: the excess as a share of the leader's votes
                    eo, en = a["old"] / a["leader"], a["new"] / a["leader"]
                    inj = "0 (clean; excess as % of the leader's votes)"
                    cells = [
                        f"{eo.mean():+.1%} / {np.abs(eo).mean():.1%}",
                        f"{en.mean():+.1%} / {np.abs(en).mean():.1%}",
                    ]
                w(
                    f"| {name} | {ft:g} | {'-' if target is None else f'{target:.0%}'} | "
                    f"{inj} | {np.median(a['t0_old']):.0f} | {cells[0]} | "
                    f"{np.median(a['t0_new']):.0f} | {cells[1]} | "
                    f"{int(a['switched'].sum())} / {len(SEEDS)} |\n"
                )
                sys.stdout.flush()
    w(f"\nRun time: {time.perf_counter() - started:.0f} s.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
