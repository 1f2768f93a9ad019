"""Benchmark: load + validate the 2011 CEC file vs. a plain polars.read_csv of it.

Run: python benchmarks/bench_load.py   (needs ../shared/data)
Target (issues 2 and 10): load + validation (header recognition, the one number
normalizer, the consistency gate, pseudo-units) < 2x a plain read. Peak resident
memory of the process is printed too (ru_maxrss after each phase).
"""

from __future__ import annotations

import resource
import sys
import zipfile

import polars as pl
from _util import SHARED_DATA, median_time

from electwatch.data import load_results


def main() -> int:
    path = SHARED_DATA / "russia-duma-2011.csv.zip"
    if not path.exists():
        print(f"skipped: {path} not found")
        return 0

    def plain() -> pl.DataFrame:
        with zipfile.ZipFile(path) as zf:
            return pl.read_csv(zf.read(zf.namelist()[0]))

    rows = plain().height
    t_plain, _ = median_time(plain, repeat=7)
    rss_plain = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_load, _ = median_time(lambda: load_results(path).summary(), repeat=7)
    rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file: {path.name}, {rows:,} rows")
    print(
        f"plain polars.read_csv (unzip + parse): median {t_plain * 1e3:8.1f} ms "
        f"({rows / t_plain:,.0f} rows/s)"
    )
    print(
        f"electwatch load_results + summary:     median {t_load * 1e3:8.1f} ms "
        f"({rows / t_load:,.0f} rows/s)"
    )
    print(f"peak RSS after plain reads: {rss_plain:,.0f} MiB; after loads: {rss_load:,.0f} MiB")
    ratio = t_load / t_plain
    print(
        f"ratio validated / plain: {ratio:.2f}x (target < 2x) -> "
        f"{'OK' if ratio < 2 else 'OVER TARGET'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
