"""Benchmark: the full forensics battery on the 2011 Duma file and on 1,000,000 stations.

Run: python benchmarks/bench_forensics.py            (about 4 minutes on 2 cores)
     python benchmarks/bench_forensics.py --quick    (one run each, no memory runs)

Targets from issue 3, on a 2-core machine: full battery (1,000 bootstrap resamples,
1,000 Monte Carlo runs of the integer-percent null, every area level, the Klimek fit)
under 10 s on the 95,225 stations of russia-duma-2011.csv.zip and under 60 s on a
1,000,000-station SYNTHETIC election. Loading/simulating the data is timed apart and
not counted.

Peak memory is measured in a fresh subprocess per workload:
* tracemalloc peak during ``run_battery`` (Python and NumPy allocations; polars'
  Rust allocations are not traced);
* peak resident set during the battery: the kernel's VmHWM mark is reset through
  /proc/self/clear_refs after loading, and read after the battery (includes the
  resident data, interpreter and libraries, printed apart);
* ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` before the reset: the peak of
  loading or simulating the data, for comparison.
tracemalloc slows NumPy down, so the memory run is never the timed run.

The battery is the full one: digit tests on every candidate, the ballots cast and
each unit's leader, Beber & Scacco's pooled tests, every area level. CPU time of
the process (all threads) is printed beside the wall time.

Side by side with EFToolkit (R): the Albania 2013 file of ../shared/peers in
``--compat eftoolkit`` mode at the national level (the same 21 statistics and 1,000
resamples that took EFToolkit 122-222 s in R, 27.9 s with 200 resamples; README there).

Baseline in the same process: the second-digit (2BL) test against ``benford_py``
(``benford.second_digit``) on the same counts (the winner's votes per station); the
digit frequencies must agree exactly, and the time ratio is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _util import SHARED_DATA, median_time

from electwatch.data.model import ElectionResults

DUMA_2011 = SHARED_DATA / "russia-duma-2011.csv.zip"  # 95,225 stations
TARGETS = {"duma2011": 10.0, "sim1m": 60.0}


def load_workload(name: str) -> ElectionResults:
    if name == "duma2011":
        from electwatch.data import load_results

        return load_results(DUMA_2011)
    if name == "sim1m":
        from electwatch.simulate import ElectionParameters, FraudParameters, simulate_election

        # 85 regions x 10 districts, like Russia's federal subjects; some fraud so that
        # every test has something to find (SYNTHETIC)
        results, _ = simulate_election(
            ElectionParameters(n_stations=1_000_000, n_regions=85),
            FraudParameters(fi=0.05, fe=0.01),
            seed=0,
        )
        return results
    raise ValueError(name)


def battery(results: ElectionResults) -> Any:
    from electwatch.forensics import run_battery

    return run_battery(results, n_bootstrap=1000, n_mc=1000, seed=0)


def _status_mb(field: str) -> float | None:
    """VmRSS / VmHWM of this process from /proc (Linux), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_child(name: str) -> None:
    """Runs in a subprocess: peak memory of one battery run, as JSON on stdout."""
    results = load_workload(name)
    gc.collect()
    rss_loaded = _status_mb("VmRSS")
    maxrss_loading = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB
    reset = _reset_peak_rss()
    tracemalloc.start()
    battery(results)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "tracemalloc_peak_mb": peak / 2**20,
                "rss_after_loading_mb": rss_loaded,
                # peak resident set during the battery if the mark could be reset,
                # else the whole process's peak (loading included)
                "peak_rss_mb": _status_mb("VmHWM") if reset else None,
                "maxrss_loading_mb": maxrss_loading,
            }
        )
    )


def measure_memory(name: str) -> dict[str, float] | None:
    proc = subprocess.run(
        [sys.executable, __file__, "--memory-child", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(f"  memory run failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_battery(name: str, results: ElectionResults, repeat: int) -> float:
    times: list[float] = []
    cpu: list[float] = []
    steps: list[dict[str, float]] = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        report = battery(results)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        steps.append(report.timings)
    med = statistics.median(times)
    target = TARGETS[name]
    print(
        f"  full battery: median {med:6.2f} s over {repeat} run(s) "
        f"({', '.join(f'{t:.2f}' for t in times)}); target < {target:.0f} s -> "
        f"{'OK' if med < target else 'OVER TARGET'}"
    )
    print(
        f"  CPU time of this process (all threads): median {statistics.median(cpu):6.2f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(wall time above the CPU time means waiting for a core)"
    )
    print(
        "  median time per step: "
        + ", ".join(f"{k} {statistics.median(s[k] for s in steps):.2f} s" for k in steps[0])
    )
    print(
        f"  levels {report.levels}, {len(report.results):,} test results, "
        f"errors: {report.errors or 'none'}"
    )
    return med


ALBANIA = SHARED_DATA.parent / "peers" / "albania-2013-precincts.csv"
ALBANIA_MAPPING = """
name = "albania-2013"
election = "Albania 2013"
contest = "Parliament"
station_id = 0
registered = "Registered"
cast = "Ballots"
candidates = { C035 = "C035", C050 = "C050" }
"""


def compare_eftoolkit(repeat: int) -> None:
    """EFToolkit's statistics on Albania 2013 in compat mode, beside R's run time."""
    import tempfile

    from electwatch.data import load_results
    from electwatch.forensics import run_battery

    if not ALBANIA.exists():
        print(f"\nskipped EFToolkit comparison: {ALBANIA} not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        mapping = Path(tmp) / "albania.toml"
        mapping.write_text(ALBANIA_MAPPING, encoding="utf-8")
        results = load_results(ALBANIA, mapping, allow_inconsistent=True)

    def run() -> Any:
        return run_battery(
            results, level="national", compat="eftoolkit", n_bootstrap=1000, n_mc=0,
            klimek=False,
        )  # fmt: skip

    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    print(f"\n== EFToolkit side by side: Albania 2013, {results.n_stations:,} precincts")
    print(
        f"  electwatch --compat eftoolkit, national, 1,000 resamples: median {med:.2f} s "
        f"wall, {statistics.median(cpu):.2f} s CPU over {repeat} run(s)"
    )
    print(
        "  EFToolkit (R 4.2.2, ../shared/peers/README.md): 122-222 s with 1,000 "
        f"resamples, 27.9 s with 200 -> ratio EFToolkit / electwatch >= {122 / med:.0f}x"
    )


def compare_benford(label: str, counts: np.ndarray) -> None:
    """2BL second-digit test: electwatch vs benford_py on the same counts."""
    import benford

    from electwatch.forensics import national_groups, second_digit_test

    x = np.asarray(counts, dtype=np.int64)
    groups = national_groups(x.size)

    def ours(n_bootstrap: int) -> Callable[[], Any]:
        return lambda: second_digit_test(
            x, groups, n_bootstrap=n_bootstrap, rng=np.random.default_rng(0)
        )

    def theirs() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a pandas attribute warning inside benford_py
            return benford.second_digit(
                x.astype(np.float64),
                decimals=0,
                verbose=False,
                show_plot=False,
                chi_square=True,
                confidence=95,
            )

    ours_counts = ours(0)()[0].details["digit_counts"]
    df = theirs()
    their_counts = [int(df.loc[d, "Counts"]) for d in range(10)]
    agree = ours_counts == their_counts
    t_theirs, _ = median_time(theirs, repeat=9)
    t_ours0, _ = median_time(ours(0), repeat=9)
    t_ours, _ = median_time(ours(1000), repeat=9)
    print(f"  2BL second digit on {label} ({sum(ours_counts):,} counts >= 10):")
    print(f"    digit frequencies identical to benford_py: {'yes' if agree else 'NO'}")
    print(f"    benford_py second_digit (chi-square, Z scores): median {t_theirs * 1e3:7.1f} ms")
    print(
        f"    electwatch second_digit_test, no bootstrap:      median {t_ours0 * 1e3:7.1f} ms "
        f"(ratio electwatch / benford_py {t_ours0 / t_theirs:.2f}x)"
    )
    print(
        f"    electwatch second_digit_test, 1,000 bootstrap:   median {t_ours * 1e3:7.1f} ms "
        f"(ratio {t_ours / t_theirs:.2f}x)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run each, no memory runs")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return 0

    from electwatch.forensics import station_arrays

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    workloads = ["duma2011", "sim1m"]
    if not DUMA_2011.exists():
        print(f"skipped duma2011: {DUMA_2011} not found")
        workloads.remove("duma2011")
    compare_eftoolkit(repeat=1 if args.quick else 3)
    for name in workloads:
        t0 = time.perf_counter()
        results = load_workload(name)
        t_load = time.perf_counter() - t0
        what = "load + validate" if name == "duma2011" else "simulate (SYNTHETIC)"
        print(
            f"\n== {name}: {results.n_stations:,} stations, levels {results.area_levels} "
            f"({what}: {t_load:.2f} s, not counted)"
        )
        # warm-up: imports, first-touch page faults, scipy/matplotlib lazy loads
        if not args.quick:
            battery(results)
        time_battery(name, results, repeat=1 if args.quick else 3)
        compare_benford(name, station_arrays(results).winner_votes)
        del results
        if not args.quick:
            mem = measure_memory(name)
            if mem:
                print(
                    f"  peak memory of one battery run (fresh process): tracemalloc peak "
                    f"{mem['tracemalloc_peak_mb']:,.0f} MB (Python + NumPy allocations during "
                    "the battery)"
                )
                if mem["peak_rss_mb"] is not None:
                    print(
                        f"  peak RSS during the battery (VmHWM after resetting it via "
                        f"/proc/self/clear_refs): {mem['peak_rss_mb']:,.0f} MB, of which "
                        f"{mem['rss_after_loading_mb']:,.0f} MB resident before it (data, "
                        "interpreter, libraries)"
                    )
                print(
                    f"  for comparison, ru_maxrss while loading/simulating the data: "
                    f"{mem['maxrss_loading_mb']:,.0f} MB"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
