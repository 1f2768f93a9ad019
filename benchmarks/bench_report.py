"""Benchmark: the full report for the real 2012 presidential file (95,415 stations).

Run: PYTHONPATH=src python benchmarks/bench_report.py   (needs ../shared/data)
Target from issue 6: the report is produced in under 60 s. The baseline in the same
process is load + validate alone (what any analysis has to pay), so the ratio says
what the report adds on top of reading the data. Also times the built-in demo.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _util import SHARED_DATA, median_time

from electwatch.data import load_results
from electwatch.reports import demo_report, report_from_files

TARGET_S = 60.0


def main() -> int:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    path = SHARED_DATA / "russia-president-2012.csv.zip"
    with tempfile.TemporaryDirectory() as tmp:
        t_demo, _ = median_time(lambda: demo_report(Path(tmp) / "demo"), repeat=repeat, warmup=0)
        print(
            f"demo report (SYNTHETIC, 20,000 stations): median {t_demo:6.2f} s over {repeat} runs"
        )
        if not path.exists():
            print(f"skipped the real-data benchmark: {path} not found")
            return 0
        t_load, _ = median_time(lambda: load_results(path), repeat=repeat)
        last = {}

        def run() -> None:
            last["out"] = report_from_files(Path(tmp) / "real", results_path=path)

        t_report, times = median_time(run, repeat=repeat, warmup=0)
        out = last["out"]
        print(f"file: {path.name}")
        print(f"load + validate (baseline):          median {t_load:6.2f} s")
        print(
            f"full report (load, analyses, render): median {t_report:6.2f} s "
            f"(runs: {', '.join(f'{t:.2f}' for t in times)})"
        )
        print(f"ratio report / load: {t_report / t_load:.1f}x")
        steps = ", ".join(f"{k} {v:.2f}" for k, v in out.timings.items())
        print(f"last run, seconds per step: {steps}")
        if out.omitted:
            print(f"sections not included: {out.omitted}")
        print(f"target < {TARGET_S:.0f} s -> {'OK' if t_report < TARGET_S else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
