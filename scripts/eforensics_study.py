"""Recovery study of the eforensics fit on its own generative process (SYNTHETIC).

For each true weight vector pi on a grid (zero fraud included) and each variant, draw
``--reps`` elections of ``--stations`` stations with electwatch.simulate.eforensics,
fit, and count how often the 95% intervals cover the true weights (and, at zero
fraud, include zero), with the classification agreement and fit times.

    nice -n 10 .venv/bin/python scripts/eforensics_study.py --reps 40 --stations 600 \
        --out docs/eforensics_study.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from electwatch.forensics.eforensics import fit_eforensics
from electwatch.simulate.eforensics import simulate_eforensics

GRID = [
    (1.0, 0.0, 0.0),
    (0.97, 0.0, 0.03),
    (0.9, 0.1, 0.0),
    (0.85, 0.12, 0.03),
    (0.6, 0.3, 0.1),
]


def run(reps: int, stations: int, variants: list[str], seed: int) -> dict:
    rows = []
    for variant in variants:
        for pi in GRID:
            cover = np.zeros(3)
            zero_in = np.zeros(3)
            agree = []
            seconds = []
            converged = 0
            kept = np.zeros(2)  # boundary tests: fraud class supported
            node_ok = 0
            for rep in range(reps):
                sim = simulate_eforensics(
                    stations, pi=pi, variant=variant, seed=seed + 1000 * rep + 7
                )
                t0 = time.perf_counter()
                fit = fit_eforensics(
                    sim.eligible,
                    sim.abstentions,
                    sim.winner,
                    x_turnout=sim.x_turnout,
                    x_vote=sim.x_vote,
                    variant=variant,
                )
                seconds.append(time.perf_counter() - t0)
                converged += fit.converged
                node_ok += bool(fit.node_check and fit.node_check["passed"])
                unsupported = {t["class"] for t in fit.boundary_tests if not t["kept"]}
                kept += [c not in unsupported for c in ("incremental", "extreme")]
                for c, w in enumerate(fit.weights):
                    cover[c] += w.low - 1e-12 <= pi[c] <= w.high + 1e-12
                    zero_in[c] += w.low <= 1e-12
                agree.append(float((fit.classes == sim.z).mean()))
            row = {
                "variant": variant,
                "pi": list(pi),
                "reps": reps,
                "stations": stations,
                "coverage": (cover / reps).round(3).tolist(),
                "interval_includes_zero": (zero_in / reps).round(3).tolist(),
                "classification_agreement_min": round(min(agree), 4),
                "classification_agreement_mean": round(float(np.mean(agree)), 4),
                "converged": converged,
                "boundary_test_kept": {"incremental": int(kept[0]), "extreme": int(kept[1])},
                "node_check_passed": node_ok,
                "median_seconds": round(float(np.median(seconds)), 3),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return {"command": "scripts/eforensics_study.py", "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--stations", type=int, default=1000)
    ap.add_argument("--variants", default="bl,bbl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    result = run(args.reps, args.stations, args.variants.split(","), args.seed)
    result["arguments"] = vars(args)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
