"""Self-selected campaigns: the model-based estimator against design-based ones.

Over a real station frame (official ballots cast are the truth; arrivals through the
day are SYNTHETIC: each station's cast spread over 08:00-20:00 by a profile drawn
around a two-peaked day), volunteers pick stations themselves and send cumulative
snapshots ("voters since 08:00") at 1-3 random times between 09:00 and 20:00.

Three kinds of self-selection:

``covariates``    drawn toward large stations of the capital region: P(select)
                  proportional to (register / mean register)^2 x 5 in the capital --
                  selection on what the model sees (size class, region);
``high_turnout``  drawn toward stations with unusually high turnout: P(select)
                  proportional to exp(1.5 z), z the station's standardised turnout --
                  selection on what no model of the covariates sees;
``low_turnout``   the same toward low turnout, exp(-1.5 z).

Each campaign: snapshots -> windows and hourly counts
(:func:`electwatch.turnout.snapshots.snapshots_to_observations`), then the model-based
estimator (:func:`electwatch.turnout.model.model_turnout`, region random effect, size
classes) with both of its intervals -- ``model`` (empirical-Bayes prediction,
parametric bootstrap of the prediction error) and ``stations`` (the earlier station
bootstrap) -- and the design-based stratified ratio (region strata, profile
estimated). Reported: bias (points and % of the truth), coverage of the 95% intervals,
and whether the model's selection band (:class:`electwatch.turnout.model.SelectionBand`,
default d) brackets the truth, with its mean width.

Run (docs/turnout.md, "Self-selected observers study"):
      PYTHONPATH=src nice -n 10 python scripts/selfselected_study.py --campaigns 200 \
          --out docs/selfselected_study_2011.json
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

from electwatch.data.observations import ArrivalProfile  # noqa: E402
from electwatch.turnout import estimate_turnout  # noqa: E402
from electwatch.turnout.frame import StationFrame  # noqa: E402
from electwatch.turnout.model import model_turnout  # noqa: E402
from electwatch.turnout.snapshots import (  # noqa: E402
    snapshots_from_records,
    snapshots_to_observations,
)

KINDS = ("covariates", "high_turnout", "low_turnout")


def draw_selfselected(
    rng: np.random.Generator, kind: str, n: int, reg: np.ndarray, cast: np.ndarray,
    region: np.ndarray, capital: str,
) -> np.ndarray:  # fmt: skip
    if kind == "covariates":
        w = (reg / reg.mean()) ** 2 * np.where(region == capital, 5.0, 1.0)
    elif kind in ("high_turnout", "low_turnout"):
        t = cast / np.maximum(reg, 1)
        sign = 1.0 if kind == "high_turnout" else -1.0
        w = np.exp(sign * 1.5 * (t - t.mean()) / t.std())
    else:
        raise ValueError(kind)
    w = np.where(reg > 0, w, 0.0)
    keys = np.log(rng.random(reg.size)) / np.maximum(w, 1e-300)
    return np.sort(np.argpartition(-keys, n - 1)[:n])


def snapshot_records(
    rng: np.random.Generator, ids: np.ndarray, cast: np.ndarray
) -> list[dict[str, Any]]:
    base = np.asarray(ArrivalProfile.default().shares)
    recs: list[dict[str, Any]] = []
    for sid, c in zip(ids, cast, strict=True):
        p = rng.dirichlet(base * 200)
        hourly = rng.multinomial(int(c), p)
        # arrival times (hours after 08:00), uniform within their hour
        arrivals = np.sort(np.repeat(np.arange(12), hourly) + rng.random(int(c)))
        minutes = np.unique(rng.integers(60, 12 * 60 + 1, rng.integers(1, 4)))
        for m in minutes:
            seen = int(np.searchsorted(arrivals, m / 60))
            clock = 8 * 60 + int(m)
            recs.append({"station_id": sid, "observer_id": f"v-{sid}", "counted_since": "08:00",
                         "time": f"{clock // 60:02d}:{clock % 60:02d}",
                         "cumulative": int(seen)})  # fmt: skip
    return recs


def study(
    frame: StationFrame, cast: np.ndarray, *, kinds: tuple[str, ...], campaigns: int,
    n_stations: int, resamples: int, seed: int, progress: Any = None,
    turnout_campaigns: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    f = frame.frame
    reg = f["registered"].to_numpy().astype(float)
    region = f["region"].cast(pl.String).to_numpy()
    ids = f["station_id"].cast(pl.String).to_numpy()
    truth = float(cast.sum() / reg.sum())
    labels = np.unique(region)
    capital = str(labels[np.argmax([reg[region == lab].sum() for lab in labels])])
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"truth_turnout": truth, "kinds": {}}
    runs = {k: campaigns if k == "covariates" or turnout_campaigns is None else turnout_campaigns
            for k in kinds}  # fmt: skip
    step, total = 0, sum(runs.values())
    for kind in kinds:
        rec: dict[str, list[tuple[float, float, float]]] = {
            "model": [], "model (stations interval)": [], "stratified ratio": [],
        }  # fmt: skip
        band: list[tuple[float, float]] = []
        for _ in range(runs[kind]):
            rows = draw_selfselected(rng, kind, n_stations, reg, cast, region, capital)
            obs = snapshots_to_observations(
                snapshots_from_records(snapshot_records(rng, ids[rows], cast[rows])), (8, 20)
            )
            m = model_turnout(
                obs, frame, area="region", n_resamples=resamples, compare_intervals=True,
                seed=int(rng.integers(2**31)),
            )  # fmt: skip
            rec["model"].append((m.estimate, m.ci_low, m.ci_high))
            st = m.extra["intervals"]["stations"]
            rec["model (stations interval)"].append((m.estimate, st["ci_low"], st["ci_high"]))
            assert m.selection_band is not None
            band.append((m.selection_band.ci_low, m.selection_band.ci_high))
            a = estimate_turnout(
                obs, frame, strata=["region"], estimate_profile=True, polls=(8, 20),
                n_resamples=resamples, seed=int(rng.integers(2**31)), min_covered_share=0.0,
            )  # fmt: skip
            e = a.estimates["stratified ratio"]
            rec["stratified ratio"].append((e.estimate, e.ci_low, e.ci_high))
            step += 1
            if progress is not None:
                progress(kind, step / total)
        res: dict[str, Any] = {}
        for k, v in rec.items():
            arr = np.asarray(v)
            cover = float(((arr[:, 1] <= truth) & (truth <= arr[:, 2])).mean())
            res[k] = {
                "campaigns": len(v),
                "bias_points": float(arr[:, 0].mean() - truth) * 100,
                "bias_percent_of_truth": float(arr[:, 0].mean() / truth - 1) * 100,
                "rmse_points": float(np.sqrt(np.mean((arr[:, 0] - truth) ** 2))) * 100,
                "coverage": cover,
                "coverage_mc_se": float(np.sqrt(cover * (1 - cover) / len(v))),
                "mean_ci_width_points": float(np.mean(arr[:, 2] - arr[:, 1])) * 100,
            }
        bands = np.asarray(band)
        res["model"]["selection_band_brackets_truth"] = float(
            np.mean((bands[:, 0] <= truth) & (truth <= bands[:, 1]))
        )
        width = float(np.mean(bands[:, 1] - bands[:, 0])) * 100
        res["model"]["mean_selection_band_width_points"] = width
        out["kinds"][kind] = res
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "| selection | estimator | bias (points) | bias (% of truth) | RMSE (points) | "
        "95% coverage (+/- MC SE) | mean CI width (points) | selection band: brackets truth "
        "(mean width, points) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in res["kinds"].items():
        for est, c in r.items():
            br = c.get("selection_band_brackets_truth")
            bw = c.get("mean_selection_band_width_points", 0.0)
            band = "-" if br is None else f"{br:.0%} ({bw:.1f})"
            lines.append(
                f"| {kind} | {est} | {c['bias_points']:+.2f} | {c['bias_percent_of_truth']:+.1f}% "
                f"| {c['rmse_points']:.2f} | {c['coverage']:.1%} +/- {c['coverage_mc_se']:.1%} | "
                f"{c['mean_ci_width_points']:.2f} | {band} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from electwatch.data import load_results

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA / "russia-duma-2011.csv.zip")
    ap.add_argument("--campaigns", type=int, default=200)
    ap.add_argument(
        "--turnout-campaigns",
        type=int,
        default=None,
        help="campaigns of the turnout selections (default: --campaigns)",
    )
    ap.add_argument("--stations", type=int, default=500)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "selfselected_study_2011.json")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found (../shared/data is absent)")
        return 0
    t0 = time.perf_counter()
    results = load_results(args.data)
    f = results.frame.filter(pl.col("registered") > 0)
    frame = StationFrame(f.select("station_id", "registered", "region"), ("region",))
    last = [0.0]

    def progress(step: str, fraction: float) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1:
            last[0] = fraction
            print(f"  {fraction:5.0%} {step} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    res = study(
        frame, f["cast"].to_numpy().astype(float), kinds=tuple(args.kinds.split(",")),
        campaigns=args.campaigns, n_stations=args.stations, resamples=args.resamples,
        seed=args.seed, progress=progress, turnout_campaigns=args.turnout_campaigns,
    )  # fmt: skip
    res |= {
        "data_file": args.data.name,
        "stations_in_frame": int(f.height),
        "stations_register_zero_left_out": int(results.frame.height - f.height),
        "seconds": time.perf_counter() - t0,
        "command": "PYTHONPATH=src nice -n 10 python scripts/selfselected_study.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    args.out.write_text(json.dumps(res, indent=2), encoding="utf-8")
    print(markdown(res))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
