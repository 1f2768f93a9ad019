"""Validation of the turnout estimators on real station-level results (known truth).

Draws observer campaigns of 1,000-2,000 stations from the stations of a real
election (default: Russian State Duma 2011, 95,225 stations; ../shared/data), by
four designs (random, stratified by region, capital-heavy, large-station-heavy),
estimates national turnout with every estimator and reports bias and 95% CI
coverage. Writes a JSON file and prints the markdown table used in docs/turnout.md.

Run (the tables in docs/turnout.md):
      PYTHONPATH=src python scripts/turnout_validation.py --campaigns 1000 \
          --out docs/turnout_validation.json
      PYTHONPATH=src python scripts/turnout_validation.py --campaigns 1000 \
          --data ../shared/data/russia-president-2012.csv.zip \
          --out docs/turnout_validation_2012.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    from turnout_studies import ESTIMATORS, validation_study

    from electwatch.data import load_results

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA / "russia-duma-2011.csv.zip")
    ap.add_argument("--campaigns", type=int, default=500)
    ap.add_argument("--n-min", type=int, default=1000)
    ap.add_argument("--n-max", type=int, default=2000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--size-classes", type=int, default=10)
    ap.add_argument("--capital-weight", type=float, default=5.0)
    ap.add_argument("--designs", default="random,stratified,capital_heavy,large_heavy")
    ap.add_argument("--estimators", default=",".join(ESTIMATORS))
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "turnout_validation.json")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found (../shared/data is absent)")
        return 0
    t0 = time.perf_counter()
    results = load_results(args.data)
    last = [0.0]

    def progress(step: str, fraction: float) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1:
            last[0] = fraction
            print(f"  {fraction:5.0%} {step} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    study = validation_study(
        results,
        campaigns=args.campaigns,
        designs=args.designs.split(","),
        estimators=args.estimators.split(","),
        n_range=(args.n_min, args.n_max),
        n_resamples=args.resamples,
        size_classes=args.size_classes,
        capital_weight=args.capital_weight,
        seed=args.seed,
        progress=progress,
    )
    elapsed = time.perf_counter() - t0
    out = study.to_dict() | {
        "data_file": args.data.name,
        "resamples": args.resamples,
        "size_classes": args.size_classes,
        "capital_weight": args.capital_weight,
        "seconds": elapsed,
        "command": "PYTHONPATH=src python scripts/turnout_validation.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    print(
        f"{args.data.name}: {study.stations:,} stations, true turnout {study.truth:.4%}, "
        f"{args.campaigns} campaigns per design of {args.n_min}-{args.n_max} stations, "
        f"{elapsed:.0f} s"
    )
    print(study.markdown())
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
