"""Quick-count (PVT) study: coverage of share, margin and turnout intervals on real frames.

Draws simulated quick counts of n ~ U{n_min..n_max} stations from the stations of a
real election (the official protocols are the truth: observers copy them), by three
designs (``random``: simple random sample; ``stratified``: proportional allocation
by region; ``capital_heavy``: stations of the region with most voters 5 times as
likely), estimates every outcome's share (parties/candidates and invalid), the margin
between the top two (share of valid votes) and turnout with
:func:`electwatch.turnout.quick_count` (stratified ratio by region: linearisation on
every campaign, the bootstrap on the first ``--bootstrap-campaigns``), and reports
bias, RMSE, 95% coverage (with its Monte Carlo SE) and mean interval width.

Run (the tables in docs/turnout.md, section "Quick count"):
      PYTHONPATH=src python scripts/quickcount_validation.py --campaigns 500 \
          --bootstrap-campaigns 200 --out docs/quickcount_validation_2011.json
      PYTHONPATH=src python scripts/quickcount_validation.py --campaigns 500 \
          --bootstrap-campaigns 200 --data ../shared/data/russia-president-2012.csv.zip \
          --out docs/quickcount_validation_2012.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "scripts"))

from turnout_studies import draw_campaign  # noqa: E402

from electwatch.turnout.shares import quick_count  # noqa: E402


def _summary(est: np.ndarray, lo: np.ndarray, hi: np.ndarray, truth: float) -> dict[str, float]:
    m = est.size
    cover = float(((lo <= truth) & (truth <= hi)).mean())
    return {
        "campaigns": m,
        "truth": truth,
        "bias_points": float(est.mean() - truth) * 100,
        "rmse_points": float(np.sqrt(np.mean((est - truth) ** 2))) * 100,
        "coverage": cover,
        "coverage_mc_se": float(np.sqrt(cover * (1 - cover) / m)),
        "mean_ci_width_points": float(np.mean(hi - lo)) * 100,
    }


def shares_study(
    region: np.ndarray,
    registered: np.ndarray,
    counts: np.ndarray,
    outcomes: Sequence[str],
    *,
    designs: Sequence[str] = ("random", "stratified", "capital_heavy"),
    campaigns: int = 500,
    bootstrap_campaigns: int = 200,
    n_range: tuple[int, int] = (1000, 7500),
    n_resamples: int = 1000,
    capital_weight: float = 5.0,
    seed: int = 0,
    progress: Any = None,
) -> dict[str, Any]:
    """Coverage of every share, the margin and turnout; per design and method."""
    names = list(outcomes)
    maj = [j for j, o in enumerate(names) if o not in ("blank", "invalid")]
    tot = counts.sum(axis=0).astype(float)
    truth_share = tot / tot.sum()
    pm = tot[maj] / tot[maj].sum()
    order = np.argsort(-pm)
    truth_margin = float(pm[order[0]] - pm[order[1]])
    truth_turnout = float(tot.sum() / registered.sum())
    labels, sizes_arr = np.unique(region, return_counts=True)
    sizes = dict(zip(labels.tolist(), sizes_arr.tolist(), strict=True))
    cap_idx = int(np.argmax([registered[region == lab].sum() for lab in labels]))
    capital = str(labels[cap_idx])
    x_frame = float(registered.sum())
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {
        "truth": {
            "shares": dict(zip(names, truth_share.tolist(), strict=True)),
            "margin": truth_margin,
            "turnout": truth_turnout,
            "leader": names[maj[order[0]]],
            "runner_up": names[maj[order[1]]],
        },
        "designs": {},
    }
    total = len(designs) * campaigns
    step = 0
    for design in designs:
        rec: dict[str, list[np.ndarray]] = {"linearisation": [], "bootstrap": []}
        ns = []
        for c in range(campaigns):
            n = int(rng.integers(n_range[0], n_range[1] + 1))
            rows = draw_campaign(
                design, n, int(rng.integers(2**31)), region, registered, capital, capital_weight
            )
            ns.append(rows.size)
            methods = ["linearisation"] + (["bootstrap"] if c < bootstrap_campaigns else [])
            for method in methods:
                q = quick_count(
                    counts[rows], names, region[rows], sizes,
                    registered=registered[rows], frame_registered=x_frame,
                    method=method,  # type: ignore[arg-type]  # the two names above
                    n_resamples=n_resamples, seed=int(rng.integers(2**31)),
                )  # fmt: skip
                ivs = [*q.shares, q.margin, q.turnout]
                rec[method].append(
                    np.array([[iv.estimate, iv.ci_low, iv.ci_high] for iv in ivs if iv])
                )
            step += 1
            if progress is not None:
                progress(f"{design}", step / total)
        res: dict[str, Any] = {"n_mean": float(np.mean(ns))}
        truths = [*truth_share.tolist(), truth_margin, truth_turnout]
        labels_q = [*names, "margin (top two, valid votes)", "turnout"]
        for method, arrs in rec.items():
            a = np.stack(arrs)  # campaigns x quantities x 3
            res[method] = {
                lab: _summary(a[:, k, 0], a[:, k, 1], a[:, k, 2], truths[k])
                for k, lab in enumerate(labels_q)
            }
        out["designs"][design] = res
    return out


def markdown(study: dict[str, Any], short: dict[str, str] | None = None) -> str:
    short = short or {}
    lines = [
        "| design | method | quantity | truth | bias (points) | RMSE (points) | "
        "95% coverage (+/- MC SE) | mean CI width (points) | campaigns |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for design, res in study["designs"].items():
        for method in ("linearisation", "bootstrap"):
            for q, s in res[method].items():
                lines.append(
                    f"| {design} | {method} | {short.get(q, q)} | {s['truth'] * 100:.2f}% | "
                    f"{s['bias_points']:+.3f} | {s['rmse_points']:.3f} | "
                    f"{s['coverage']:.1%} +/- {s['coverage_mc_se']:.1%} | "
                    f"{s['mean_ci_width_points']:.2f} | {s['campaigns']} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from electwatch.data import load_results

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA / "russia-duma-2011.csv.zip")
    ap.add_argument("--campaigns", type=int, default=500)
    ap.add_argument("--bootstrap-campaigns", type=int, default=200)
    ap.add_argument("--n-min", type=int, default=1000)
    ap.add_argument("--n-max", type=int, default=7500)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--designs", default="random,stratified,capital_heavy")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "quickcount_validation_2011.json")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found (../shared/data is absent)")
        return 0
    t0 = time.perf_counter()
    results = load_results(args.data)
    f = results.frame
    outcomes = [*results.candidates, "invalid"]
    counts = np.column_stack([results.vote_matrix(), f["invalid"].fill_null(0).to_numpy()]).astype(
        float
    )
    region = f[results.area_levels[0]].cast(str).to_numpy().astype(str)
    registered = f["registered"].to_numpy().astype(float)
    last = [0.0]

    def progress(step: str, fraction: float) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1:
            last[0] = fraction
            print(f"  {fraction:5.0%} {step} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    study = shares_study(
        region, registered, counts, outcomes,
        designs=args.designs.split(","), campaigns=args.campaigns,
        bootstrap_campaigns=args.bootstrap_campaigns, n_range=(args.n_min, args.n_max),
        n_resamples=args.resamples, seed=args.seed, progress=progress,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    study |= {
        "data_file": args.data.name,
        "stations": int(f.height),
        "n_range": [args.n_min, args.n_max],
        "resamples": args.resamples,
        "seed": args.seed,
        "seconds": elapsed,
        "command": "PYTHONPATH=src python scripts/quickcount_validation.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(study, indent=2, ensure_ascii=False), encoding="utf-8")
    short = {o: o[:40] for o in outcomes}
    print(f"{args.data.name}: {f.height:,} stations, {elapsed:.0f} s")
    print(markdown(study, short))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
