"""Benchmark: stratified bootstrap (2,000 resamples) on 2,000 observed stations drawn
from a 100,000-station SYNTHETIC frame, strata region x urban/rural x size class.

Run: PYTHONPATH=src python benchmarks/bench_turnout.py
Target from issue 4: under 2 s. Baselines in the same process: the analytic
stratified estimator (one pass) and a plain per-replicate bootstrap loop (rng.choice
per stratum per replicate), the straightforward implementation the vectorised one
replaces.
"""

from __future__ import annotations

import sys

import numpy as np
from _util import median_time

from electwatch.simulate import ElectionParameters, simulate_election, simulate_observer_campaign
from electwatch.turnout import (
    bootstrap_stratified,
    frame_from_results,
    observations_from_frame,
    stratified_estimate,
)

B = 2000
B_LOOP = 100  # the loop baseline is slow: timed on 100 replicates, scaled to B


def loop_bootstrap(y: np.ndarray, labels: np.ndarray, sizes: dict[str, int], seed: int) -> float:
    """Reference: one replicate at a time, one stratum at a time (no fpc rescaling)."""
    rng = np.random.default_rng(seed)
    groups = [(sizes[h], y[labels == h]) for h in np.unique(labels)]
    reps = np.empty(B_LOOP)
    for b in range(B_LOOP):
        reps[b] = sum(n_h * rng.choice(yh, yh.size).mean() for n_h, yh in groups)
    return float(reps.std(ddof=1))


def main() -> int:
    results, _ = simulate_election(ElectionParameters(n_stations=100_000), seed=1)
    frame = frame_from_results(results, ["region", "urban", "size_class"])
    obs, _ = simulate_observer_campaign(results, 2000, design="stratified", seed=2)
    o = observations_from_frame(obs)
    rows = frame.match(o.station_ids)
    labels = frame.stratum_labels().to_numpy()[rows]
    sizes = frame.stratum_sizes()
    y = o.voters
    elig = frame.registered_total
    print(
        f"frame: {frame.n_stations:,} stations (SYNTHETIC), {len(sizes)} strata; "
        f"observed {y.size:,} stations; {B:,} resamples"
    )

    def vectorised() -> object:
        return bootstrap_stratified(y, labels, sizes, elig, n_resamples=B, seed=3)

    t_boot, _ = median_time(vectorised, repeat=7)
    t_analytic, _ = median_time(lambda: stratified_estimate(y, labels, sizes, elig), repeat=7)
    t_loop, _ = median_time(lambda: loop_bootstrap(y, labels, sizes, 3), repeat=3, warmup=0)
    t_loop *= B / B_LOOP
    print(
        f"stratified bootstrap (vectorised, Rao-Wu weights): median {t_boot * 1e3:8.1f} ms "
        f"(target < 2000 ms) -> {'OK' if t_boot < 2 else 'OVER TARGET'}"
    )
    print(
        f"analytic stratified estimator (baseline):          median {t_analytic * 1e3:8.1f} ms"
        f"  ratio bootstrap / analytic = {t_boot / t_analytic:.1f}x"
    )
    print(
        f"per-replicate loop bootstrap (baseline; {B_LOOP} replicates timed, scaled to {B}): "
        f"median {t_loop * 1e3:8.1f} ms"
        f"  speed-up vectorised vs loop = {t_loop / t_boot:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
