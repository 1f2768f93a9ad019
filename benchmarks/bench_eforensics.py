"""Benchmark: the eforensics model (bl) on 2,000 stations and on the 95k 2011 Duma file.

Run: python benchmarks/bench_eforensics.py            (a few minutes on 2 cores)
     python benchmarks/bench_eforensics.py --quick    (one run each)

Targets (issue 16): the bl fit on eforensics' own 2,000-unit simulation at least 100x
faster than eforensics' 91.7 s (R + JAGS, 500 iterations x 2 chains, peers README),
with the same accuracy (weights inside eforensics' HPD intervals, classification
agreeing with z_true); the bl fit on russia-duma-2011.csv.zip (95,225 stations,
loaded with electwatch's loader, loading not timed) under 60 s.

Baseline in the same process: eforensics cannot run here (no R), so its published
time is the reference; as an in-process baseline the fixed-rule (3-node) likelihood
is maximised by scipy's L-BFGS-B from the same start (one start, no intervals, no
boundary tests), and the ratio is printed.
Peak memory: tracemalloc peak of a separate fit (NumPy allocations; never the timed
run) and the process's peak resident set (ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
import polars as pl
from _util import ROOT, SHARED_DATA, median_time
from scipy import optimize

from electwatch.data.loaders import load_results
from electwatch.forensics.eforensics import EforensicsFit, fit_eforensics
from electwatch.forensics.eforensics.fit import starting_points
from electwatch.forensics.eforensics.model import Likelihood, ModelData

PEERS = ROOT.parent / "shared" / "peers"
EFORENSICS_SECONDS = 91.7


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_sim(repeat: int) -> None:
    df = pl.read_csv(PEERS / "eforensics-bl-sim-2000.csv")
    ref = pl.read_csv(PEERS / "eforensics-bl-sim-2000-fit.csv")
    args = (df["N"].to_numpy(), df["a"].to_numpy(), df["w"].to_numpy())
    kw = {"x_turnout": df["x1.a"].to_numpy(), "x_vote": df["x1.w"].to_numpy()}

    def run() -> object:
        return fit_eforensics(*args, variant="bl", **kw)

    med, times = median_time(run, repeat=repeat)
    cpu = []
    for _ in range(repeat):
        c0 = time.process_time()
        run()
        cpu.append(time.process_time() - c0)
    med_cpu = float(np.median(cpu))
    fit = fit_eforensics(*args, variant="bl", **kw)
    print("eforensics-bl-sim-2000 (2,000 units), bl, 2 starts, intervals included")
    print(f"  wall: median {med:.3f} s over {len(times)} runs: {[round(t, 3) for t in times]}")
    print(f"  CPU (process time; the wall time on an unloaded core): median {med_cpu:.3f} s")
    ratio_wall, ratio_cpu = EFORENSICS_SECONDS / med, EFORENSICS_SECONDS / med_cpu
    print(f"  speed-up vs eforensics' {EFORENSICS_SECONDS} s:", end=" ")
    print(f"wall {ratio_wall:.0f}x, CPU {ratio_cpu:.0f}x")
    hpd = {r["Parameter"]: (r["HPD.lower"], r["HPD.upper"]) for r in ref.iter_rows(named=True)}
    for k, w in enumerate(fit.weights, start=1):
        lo, hi = hpd[f"pi[{k}]"]
        inside = lo <= w.estimate <= hi
        print(f"  {w.name}: {w.estimate:.4f} in eforensics HPD [{lo:.4f}, {hi:.4f}]: {inside}")
    agree = float((fit.classes == df["z_true"].to_numpy()).mean())
    print(f"  classification agreeing with z_true: {agree:.4f}")
    print(f"  quadrature {fit.quadrature}, node check {fit.node_check}")
    print(f"  boundary tests kept: {[(t['class'], t['kept']) for t in fit.boundary_tests]}")

    # in-process baseline: plain L-BFGS-B on the fixed-rule (3-node) likelihood, one
    # start, no intervals, no boundary tests
    data = ModelData.build(*args, **kw)
    lik = Likelihood(data, "bl", 3)
    th0 = starting_points(lik)[0]

    def lbfgs() -> object:
        return optimize.minimize(
            lambda t: (lambda e: (-e.loglik, -e.gradient))(lik.evaluate(t)),
            th0,
            jac=True,
            method="L-BFGS-B",
        )

    med_b, _ = median_time(lbfgs, repeat=max(1, repeat // 2), warmup=0)
    print(f"  baseline L-BFGS-B (1 start, no intervals): {med_b:.3f} s; ratio {med_b / med:.2f}")
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"  tracemalloc peak of one fit: {peak:.1f} MB")


def bench_2011(repeat: int, quick: bool) -> None:
    path = SHARED_DATA / "russia-duma-2011.csv.zip"
    if not path.exists():
        print(f"skipped: {path} not found")
        return
    t0 = time.perf_counter()
    results = load_results(path)
    loaded = time.perf_counter() - t0
    print(f"russia-duma-2011: loaded {results.n_stations:,} stations in {loaded:.1f} s (not timed)")
    reg = results.registered
    cast = results.cast.astype(float)
    ok = np.isfinite(reg) & (reg > 0) & (cast <= reg)
    w = results.votes(results.winner or results.candidates[0]).astype(float)
    args = (reg[ok], reg[ok] - cast[ok], w[ok])
    rss_before = peak_rss_mb()

    def run() -> EforensicsFit:
        return fit_eforensics(*args, variant="bl")

    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fit = run()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    n_fit = int(ok.sum())
    print(
        f"  bl fit on {n_fit:,} stations: wall median {np.median(walls):.1f} s "
        f"{[round(t, 1) for t in walls]}, CPU median {np.median(cpus):.1f} s"
    )
    print(f"  converged {fit.converged}, starts agree {fit.starts_agree}, passes {fit.evaluations}")
    print(f"  quadrature {fit.quadrature}, node check {fit.node_check}")
    print("  weights: " + ", ".join(f"{x.name} {x.estimate:.4f}" for x in fit.weights))
    print(f"  peak RSS {peak_rss_mb():.0f} MB (after loading: {rss_before:.0f} MB)")
    if quick:
        return
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"  tracemalloc peak of one fit: {peak:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    bench_sim(1 if args.quick else 5)
    bench_2011(1 if args.quick else 3, args.quick)


if __name__ == "__main__":
    main()
