"""Partial-window study: coverage when most observers watch part of the day and the
arrival profile is estimated from the observers' own hourly counts.

Each campaign draws 300 stations of a real frame (random, stratified by region, or
capital-heavy); 10% of them are watched all day, the others over a window
(08:00-12:00 or 08:00-17:00). Every observer reports hourly counts. The station's
true voters are its official ballots cast, spread over 08:00-20:00 by a profile
that varies between stations (Dirichlet around a two-peaked day, concentration 200:
SYNTHETIC arrivals over real totals). The analysis estimates the profile (design-
weighted, re-estimated in every bootstrap replicate) and runs every estimator of
:func:`electwatch.turnout.estimate_turnout` with the frame's region strata.

Run (the table in docs/turnout.md, "Partial windows"):
      PYTHONPATH=src python scripts/partial_window_study.py --campaigns 200 \
          --out docs/partial_window_study.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "scripts"))

from turnout_studies import draw_campaign  # noqa: E402

from electwatch.data.observations import ArrivalProfile  # noqa: E402
from electwatch.turnout import estimate_turnout  # noqa: E402
from electwatch.turnout.frame import StationFrame  # noqa: E402
from electwatch.turnout.observations import observations_from_frame  # noqa: E402


def campaign_observations(
    rng: np.random.Generator,
    station_ids: np.ndarray,
    cast: np.ndarray,
    window_end: int,
    full_share: float = 0.1,
    concentration: float = 200.0,
) -> pl.DataFrame:
    """SYNTHETIC hourly counts over real station totals (see module doc)."""
    base = np.asarray(ArrivalProfile.default().shares)
    n = cast.size
    prof = rng.dirichlet(base * concentration, size=n)
    hourly = np.array([rng.multinomial(int(c), p) for c, p in zip(cast, prof, strict=True)])
    full = np.zeros(n, dtype=bool)
    full[rng.choice(n, max(2, round(full_share * n)), replace=False)] = True
    end = np.where(full, 20, window_end)
    hours = 8 + np.arange(12)
    hourly = np.where(hours[None, :] < end[:, None], hourly, 0)
    return pl.DataFrame(
        {
            "station_id": station_ids,
            "observer_id": [f"synthetic-{k}" for k in range(n)],
            "window_start": "08:00",
            "window_end": [f"{e:02d}:00" for e in end],
            "voters": hourly.sum(axis=1),
            "hourly": hourly.tolist(),
            "notes": "SYNTHETIC arrivals over real station totals",
        }
    )


def study(
    frame: StationFrame,
    cast: np.ndarray,
    region: np.ndarray,
    registered: np.ndarray,
    *,
    designs: tuple[str, ...] = ("random", "stratified", "capital_heavy"),
    windows: tuple[int, ...] = (12, 17),
    campaigns: int = 200,
    n_stations: int = 300,
    resamples: int = 500,
    seed: int = 0,
    progress: Any = None,
) -> dict[str, Any]:
    truth = float(cast.sum() / registered.sum())
    labels = np.unique(region)
    capital = str(labels[np.argmax([registered[region == lab].sum() for lab in labels])])
    ids = frame.frame["station_id"].cast(pl.String).to_numpy()
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"truth_turnout": truth, "cells": []}
    total = len(designs) * len(windows) * campaigns
    step = 0
    for design in designs:
        for w_end in windows:
            rec: dict[str, list[tuple[float, float, float]]] = {}
            for _ in range(campaigns):
                rows = draw_campaign(
                    design, n_stations, int(rng.integers(2**31)), region, registered, capital
                )
                obs = observations_from_frame(
                    campaign_observations(rng, ids[rows], cast[rows], w_end)
                )
                a = estimate_turnout(
                    obs, frame, strata=["region"], estimate_profile=True, polls=(8, 20),
                    n_resamples=resamples, seed=int(rng.integers(2**31)),
                )  # fmt: skip
                for k, e in a.estimates.items():
                    rec.setdefault(k, []).append((e.estimate, e.ci_low, e.ci_high))
                step += 1
                if progress is not None:
                    progress(f"{design} 08-{w_end}", step / total)
            for k, v in rec.items():
                arr = np.asarray(v)
                cover = float(((arr[:, 1] <= truth) & (truth <= arr[:, 2])).mean())
                out["cells"].append(
                    {
                        "design": design,
                        "window": f"08:00-{w_end}:00",
                        "estimator": k,
                        "campaigns": len(v),
                        "bias_points": float(arr[:, 0].mean() - truth) * 100,
                        "rmse_points": float(np.sqrt(np.mean((arr[:, 0] - truth) ** 2))) * 100,
                        "coverage": cover,
                        "coverage_mc_se": float(np.sqrt(cover * (1 - cover) / len(v))),
                        "mean_ci_width_points": float(np.mean(arr[:, 2] - arr[:, 1])) * 100,
                    }
                )
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "| design | window | estimator | bias (points) | RMSE (points) | 95% coverage "
        "(+/- MC SE) | mean CI width (points) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for c in res["cells"]:
        lines.append(
            f"| {c['design']} | {c['window']} | {c['estimator']} | {c['bias_points']:+.2f} | "
            f"{c['rmse_points']:.2f} | {c['coverage']:.1%} +/- {c['coverage_mc_se']:.1%} | "
            f"{c['mean_ci_width_points']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from electwatch.data import load_results

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA / "russia-duma-2011.csv.zip")
    ap.add_argument("--campaigns", type=int, default=200)
    ap.add_argument("--stations", type=int, default=300)
    ap.add_argument("--resamples", type=int, default=500)
    ap.add_argument("--designs", default="random,stratified,capital_heavy")
    ap.add_argument("--windows", default="12,17")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "partial_window_study.json")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found (../shared/data is absent)")
        return 0
    t0 = time.perf_counter()
    results = load_results(args.data)
    f = results.frame
    frame = StationFrame(f.select("station_id", "registered", "region"), ("region",))
    last = [0.0]

    def progress(step: str, fraction: float) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1:
            last[0] = fraction
            print(f"  {fraction:5.0%} {step} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    res = study(
        frame, f["cast"].to_numpy().astype(float), f["region"].cast(str).to_numpy().astype(str),
        f["registered"].to_numpy().astype(float), designs=tuple(args.designs.split(",")),
        windows=tuple(int(w) for w in args.windows.split(",")), campaigns=args.campaigns,
        n_stations=args.stations, resamples=args.resamples, seed=args.seed, progress=progress,
    )  # fmt: skip
    res |= {
        "data_file": args.data.name,
        "seconds": time.perf_counter() - t0,
        "command": "PYTHONPATH=src python scripts/partial_window_study.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    args.out.write_text(json.dumps(res, indent=2), encoding="utf-8")
    print(markdown(res))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
