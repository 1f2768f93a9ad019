"""Benchmark: the full report for the real 2012 presidential file (95,415 stations),
with the maps and the drill-down (issue 15: under 60 s).

Run: PYTHONPATH=src:tests python benchmarks/bench_report.py [repeat]   (needs ../shared/data)

The baseline in the same process is load + validate alone (what any analysis has to
pay), so the ratio says what the report adds on top of reading the data. The map is
drawn from a generated GeoJSON (SYNTHETIC squares, one per region, as the browser test
uses): what is timed is reading, matching and drawing 85 polygons, not their shape.
Prints wall and CPU time (medians), and the peak resident memory of the process.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from _util import ROOT, SHARED_DATA, median_time

from electwatch.data import load_results
from electwatch.reports import demo_report, report_from_files

sys.path.insert(0, str(ROOT / "tests"))
from report_geo import grid_geojson

TARGET_S = 60.0


def main() -> int:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    path = SHARED_DATA / "russia-president-2012.csv.zip"
    with tempfile.TemporaryDirectory() as tmp:
        t_demo, _ = median_time(lambda: demo_report(Path(tmp) / "demo"), repeat=1, warmup=0)
        print(f"demo report (SYNTHETIC, 20,000 stations): {t_demo:6.2f} s")
        if not path.exists():
            print(f"skipped the real-data benchmark: {path} not found")
            return 0
        t_load, _ = median_time(lambda: load_results(path), repeat=repeat)
        regions = sorted(load_results(path).frame["region"].unique().to_list())
        geo = grid_geojson(regions, [], Path(tmp) / "regions.geojson")
        last: dict[str, object] = {}
        cpu: list[float] = []

        def run() -> None:
            c0 = time.process_time()
            last["out"] = report_from_files(
                Path(tmp) / "real",
                results_path=path,
                options={"geo": geo, "geo_key": "name", "areas": [regions[0]]},
            )
            cpu.append(time.process_time() - c0)

        t_report, times = median_time(run, repeat=repeat, warmup=0)
        out = last["out"]
        cpu_med = sorted(cpu)[len(cpu) // 2]
        print(f"file: {path.name}")
        print(f"load + validate (baseline):          median {t_load:6.2f} s")
        print(
            f"report with map and drill-down:      median {t_report:6.2f} s wall, "
            f"{cpu_med:6.2f} s CPU (runs: {', '.join(f'{t:.2f}' for t in times)})"
        )
        print(f"ratio report / load: {t_report / t_load:.1f}x")
        steps = ", ".join(f"{k} {v:.2f}" for k, v in out.timings.items())  # type: ignore[attr-defined]
        print(f"last run, seconds per step: {steps}")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak resident memory: {peak_mb:,.0f} MB")
        if out.omitted:  # type: ignore[attr-defined]
            print(f"sections not included: {out.omitted}")  # type: ignore[attr-defined]
        print(f"target < {TARGET_S:.0f} s -> {'OK' if t_report < TARGET_S else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
