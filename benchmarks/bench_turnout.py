"""Benchmark: stratified bootstrap (2,000 resamples) on 2,000 observed stations drawn
from a 100,000-station SYNTHETIC frame, strata region x urban/rural x size class.

Quick count (issue 13): shares of 6 outcomes on 7,500 of 143,000 SYNTHETIC stations
with 2,000 bootstrap resamples (target < 2 s; baseline: the linearisation estimator,
one pass), and `electwatch sample` of 7,500 from 143,000 stations, the library call
behind the command (target < 1 s; baseline: numpy's Generator.choice per stratum).
Peak memory of each (tracemalloc) is printed too.

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


def peak_mb(fn: object) -> float:
    import tracemalloc

    tracemalloc.start()
    fn()  # type: ignore[operator]  # a callable
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def bench_quick_count() -> None:
    import polars as pl

    from electwatch.turnout.frame import StationFrame
    from electwatch.turnout.sample import draw_sample
    from electwatch.turnout.shares import quick_count

    rng = np.random.default_rng(5)
    big_n, n = 143_000, 7_500
    region = rng.integers(0, 32, big_n).astype(str)
    urban = rng.integers(0, 2, big_n).astype(str)
    reg = rng.integers(100, 3000, big_n)
    frame = StationFrame(
        pl.DataFrame({"station_id": [f"st{i}" for i in range(big_n)], "registered": reg,
                      "region": region, "urban": urban})
    )  # fmt: skip
    t_sample, _ = median_time(
        lambda: draw_sample(frame, n, strata=["region", "urban"], reserves=2, seed=1), repeat=5
    )
    labels = frame.stratum_labels(["region", "urban"]).to_numpy()

    def choice_baseline() -> None:
        g = np.random.default_rng(1)
        for h in np.unique(labels):
            idx = np.flatnonzero(labels == h)
            g.choice(idx, max(2, round(n * idx.size / big_n)), replace=False)

    t_choice, _ = median_time(choice_baseline, repeat=3)
    print(
        f"sample 7,500 of 143,000 (64 strata, 2 reserves): median {t_sample * 1e3:8.1f} ms "
        f"(target < 1000 ms) -> {'OK' if t_sample < 1 else 'OVER TARGET'}; "
        f"baseline choice per stratum {t_choice * 1e3:.1f} ms "
        f"(ratio {t_sample / t_choice:.1f}x); peak {peak_mb(lambda: draw_sample(frame, n, strata=['region', 'urban'], reserves=2)):.0f} MB"  # noqa: E501
    )
    s = draw_sample(frame, n, strata=["region", "urban"], seed=1)
    main_rows = s.table.filter(pl.col("role") == "sample")
    rows = frame.match(main_rows["station_id"].to_numpy())
    votes = rng.multinomial(rng.integers(50, 1500, n), [0.40, 0.30, 0.15, 0.10, 0.03, 0.02]).astype(
        float
    )
    outcomes = ["A", "B", "C", "D", "blank", "invalid"]
    sizes = frame.stratum_sizes(["region", "urban"])
    lab = main_rows["stratum"].to_numpy()
    kw = dict(registered=reg[rows].astype(float), frame_registered=float(reg.sum()))

    def boot() -> object:
        return quick_count(votes, outcomes, lab, sizes, method="bootstrap", n_resamples=2000,
                           seed=2, **kw)  # fmt: skip

    t_boot, _ = median_time(boot, repeat=5)
    t_lin, _ = median_time(lambda: quick_count(votes, outcomes, lab, sizes, **kw), repeat=7)
    print(
        f"quick count, 6 outcomes, 7,500 stations, 2,000 resamples: median "
        f"{t_boot * 1e3:8.1f} ms (target < 2000 ms) -> {'OK' if t_boot < 2 else 'OVER TARGET'}; "
        f"linearisation baseline {t_lin * 1e3:.1f} ms (ratio {t_boot / t_lin:.0f}x); "
        f"peak {peak_mb(boot):.0f} MB"
    )


def main() -> int:
    bench_quick_count()
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
