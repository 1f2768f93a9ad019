"""Regenerate the worked example of docs/forensics.md: the full forensics battery on
the 2011 Duma and 2012 presidential files (../shared/data), with the figures in
docs/img/ and the key numbers in docs/forensics_worked_example.json.

Run: PYTHONPATH=src python scripts/forensics_worked_example.py   (about a minute)

Prints the Markdown tables quoted in docs/forensics.md. Only derived figures and
numbers are written; the raw data stay in ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ELECTIONS = {
    "duma2011": ("russia-duma-2011.csv.zip", "State Duma 2011", "United Russia"),
    "pres2012": ("russia-president-2012.csv.zip", "President 2012", "Putin"),
}
#: alpha of the published Klimek et al. (2012) fits (PNAS, SI), used as a sensitivity check
PUBLISHED_ALPHA = {"duma2011": 2.3, "pres2012": 1.5}
NATIONAL_ORDER = [
    "2bl_second_digit_mean",
    "last_digit_mean",
    "last_digit_chi2",
    "c05s",
    "p05s",
    "turnout_skewness",
    "turnout_kurtosis",
    "turnout_dip",
    "klimek_fi",
    "klimek_fe",
    "klimek_fi_single_blob",
    "klimek_fe_single_blob",
    "integer_percent",
    "shpilkin_excess_votes",
    "share_turnout_slope",
    "invalid_rank",
]


def _f(x: float | None, digits: int = 3) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def _p(p: float | None) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def integer_split(arr: Any) -> dict[str, float]:
    """Observed and expected integer-percent stations, turnout and result separately.

    Same exclusions as the library's test (>= 100 ballots cast, turnout and result
    <= 99%, within 0.05 points of a whole percent); expected counts from the same
    binomial null (electwatch.forensics.integer_probability).
    """
    from electwatch.forensics.integer_percent import (
        integer_percent_setup,
        integer_probability,
        is_integer_percent,
    )

    s = integer_percent_setup(arr)
    m = s.mask
    reg = np.nan_to_num(arr.registered).astype(np.int64)[m]
    cast = arr.cast.astype(np.int64)[m]
    lead = arr.winner_votes.astype(np.int64)[m]
    pt = integer_probability(reg, cast / reg)
    pr = integer_probability(cast, lead / cast)
    it = is_integer_percent(cast, reg)
    ir = is_integer_percent(lead, cast)
    return {
        "stations_tested": int(m.sum()),
        "turnout_observed": int(it.sum()),
        "turnout_expected": float(pt.sum()),
        "result_observed": int(ir.sum()),
        "result_expected": float(pr.sum()),
        "either_observed": int((it | ir).sum()),
        "either_expected": float((1 - (1 - pt) * (1 - pr)).sum()),
    }


def run_one(key: str, img: Path, n_bootstrap: int, n_mc: int, seed: int) -> dict[str, Any]:
    from electwatch.data import load_results
    from electwatch.forensics import run_battery, station_arrays
    from electwatch.reports import figures as figs

    fname, label, _leader = ELECTIONS[key]
    results = load_results(DATA / fname)
    t0 = time.perf_counter()
    rep = run_battery(results, n_bootstrap=n_bootstrap, n_mc=n_mc, seed=seed)
    elapsed = time.perf_counter() - t0
    arr = station_arrays(results)

    assert rep.fingerprint is not None
    # the figures draw results.json (report.to_dict()) alone, as the CLI's do
    data = rep.to_dict()
    figs.forensics_fingerprint_figure(data).savefig(
        img / f"forensics-{key}-fingerprint.png", bbox_inches="tight"
    )
    if rep.shpilkin is not None:
        figs.forensics_shpilkin_figure(data).savefig(
            img / f"forensics-{key}-shpilkin.png", bbox_inches="tight"
        )
    if data.get("integer_histogram"):
        figs.forensics_integer_figure(data).savefig(img / f"forensics-{key}-integer.png")

    # Klimek fits at the alpha of the published fit (the battery fixes alpha = 2)
    from electwatch.forensics import area_groups, fit_klimek

    alpha = PUBLISHED_ALPHA[key]
    regions = area_groups(results, results.area_levels[0]).codes[rep.fingerprint.mask]
    klimek_alpha = {
        "alpha": alpha,
        "per_region": fit_klimek(rep.fingerprint, regions, alpha=alpha).to_dict(),
        "single_blob": fit_klimek(rep.fingerprint, alpha=alpha).to_dict(),
    }

    nat = {r.test: r.to_dict() for r in rep.national()}
    counts = rep.summary_counts()

    def top(test: str, level: str, n: int = 8) -> list[dict[str, Any]]:
        rows = sorted(rep.select(test=test, level=level), key=lambda r: -r.statistic)
        return [
            {
                "area": r.area,
                "statistic": r.statistic,
                "p_adjusted": r.p_adjusted,
                "flagged": r.flagged,
                "details": {
                    k: r.details.get(k)
                    for k in ("observed", "expected", "excess_share_of_leader_votes", "t0_pct")
                    if k in r.details
                },
            }
            for r in rows[:n]
        ]

    return {
        "election": label,
        "file": fname,
        "leader": rep.winner,
        "n_stations": rep.n_stations,
        "levels": rep.levels,
        # wall times are printed, not stored: the JSON regenerates byte for byte
        "battery_seconds": elapsed,
        "parameters": rep.parameters,
        "national": nat,
        "flagged_counts": counts,
        "klimek": rep.klimek.to_dict() if rep.klimek else None,
        "klimek_single_blob": rep.klimek_single_blob.to_dict() if rep.klimek_single_blob else None,
        "klimek_published_alpha": klimek_alpha,
        "integer_split": integer_split(arr),
        "top_regions_integer_percent": top("integer_percent", "region"),
        "top_regions_shpilkin": top("shpilkin_excess_votes", "region"),
        "errors": rep.errors,
    }


def print_tables(res: dict[str, dict[str, Any]]) -> None:
    keys = list(res)
    print("\n### National results\n")
    print("| test | " + " | ".join(res[k]["election"] for k in keys) + " |")
    print("|---|" + "---|" * len(keys))
    for test in NATIONAL_ORDER:
        cells = []
        for k in keys:
            r = res[k]["national"].get(test)
            if r is None:
                cells.append("–")
                continue
            s = _f(r["statistic"])
            if r["null_value"] is not None:
                s += f" (null {_f(r['null_value'])})"
            if r["ci_low"] is not None:
                s += f", CI {_f(r['ci_low'])}–{_f(r['ci_high'])}"
            if r["p_value"] is not None:
                s += f", p {_p(r['p_value'])}"
            s += ", **flagged**" if r["flagged"] else ""
            cells.append(s)
        print(f"| `{test}` | " + " | ".join(cells) + " |")

    print("\n### Areas flagged after Benjamini-Hochberg (flagged / areas tested)\n")
    levels = ["region", "tik"]
    print(
        "| test | " + " | ".join(f"{res[k]['election']} {lv}" for k in keys for lv in levels) + " |"
    )
    print("|---|" + "---|" * (len(keys) * len(levels)))
    tests = [t for t in res[keys[0]]["flagged_counts"] if not t.startswith("klimek")]
    for test in tests:
        cells = []
        for k in keys:
            for lv in levels:
                c = res[k]["flagged_counts"].get(test, {}).get(lv)
                cells.append(f"{c['flagged']:,} / {c['areas']:,}" if c else "–")
        print(f"| `{test}` | " + " | ".join(cells) + " |")

    print("\n### Integer percentages (national)\n")
    print("| | " + " | ".join(res[k]["election"] for k in keys) + " |")
    print("|---|" + "---|" * len(keys))
    rows = [
        ("stations tested", "stations_tested", 0),
        ("integer turnout: observed", "turnout_observed", 0),
        ("integer turnout: expected", "turnout_expected", 0),
        ("integer result: observed", "result_observed", 0),
        ("integer result: expected", "result_expected", 0),
        ("either: observed", "either_observed", 0),
        ("either: expected", "either_expected", 0),
    ]
    for name, field, _ in rows:
        print(f"| {name} | " + " | ".join(_f(res[k]["integer_split"][field]) for k in keys) + " |")
    cells = []
    for k in keys:
        r = res[k]["national"]["integer_percent"]
        d = r["details"]
        cells.append(
            f"{d['excess']:+,.0f} (null 95% range of the count {d['null_95_low']:,.0f}–"
            f"{d['null_95_high']:,.0f}; p {_p(r['p_value'])}, {d['n_mc']} runs)"
        )
    print("| excess (either) | " + " | ".join(cells) + " |")

    print("\n### Shpilkin and Klimek\n")
    print("| | " + " | ".join(res[k]["election"] for k in keys) + " |")
    print("|---|" + "---|" * len(keys))
    cells = []
    for k in keys:
        r = res[k]["national"]["shpilkin_excess_votes"]
        d = r["details"]
        cells.append(
            f"{r['statistic'] / 1e6:.2f} M ({d['excess_share_of_leader_votes']:.1%} of the "
            f"leader's {d['leader_votes'] / 1e6:.1f} M; t0 {d['t0_pct']}%; ±3-point range "
            f"{d['sensitivity_min'] / 1e6:.2f}–{d['sensitivity_max'] / 1e6:.2f} M)"
        )
    print("| Shpilkin anomalous votes | " + " | ".join(cells) + " |")
    for name, fit_key in (
        ("per-region clean shape", "klimek"),
        ("single blob", "klimek_single_blob"),
    ):
        for par in ("fi", "fe"):
            cells = []
            for k in keys:
                f = res[k][fit_key]
                lo, hi = f[f"{par}_ci"]
                cells.append(f"{f[par]:.3f} (95% CI {lo:.3f}–{hi:.3f}; theta {f['theta']:.2f})")
            print(f"| Klimek {par}, {name} | " + " | ".join(cells) + " |")
    for name, fit_key in (("per-region clean shape", "per_region"), ("single blob", "single_blob")):
        for par in ("fi", "fe"):
            cells = []
            for k in keys:
                f = res[k]["klimek_published_alpha"][fit_key]
                lo, hi = f[f"{par}_ci"]
                cells.append(
                    f"{f[par]:.3f} (95% CI {lo:.3f}–{hi:.3f}; alpha {f['alpha']:g}, "
                    f"theta {f['theta']:.2f})"
                )
            print(f"| Klimek {par}, {name}, published alpha | " + " | ".join(cells) + " |")

    for k in keys:
        print(f"\n{res[k]['election']}: top regions by integer-percent excess / Shpilkin excess")
        for a, b in zip(
            res[k]["top_regions_integer_percent"], res[k]["top_regions_shpilkin"], strict=False
        ):
            print(
                f"  {a['area'][:40]:40s} {a['statistic']:+8.0f} {'*' if a['flagged'] else ' '}"
                f"   {b['area'][:40]:40s} {b['statistic'] / 1e6:6.2f} M "
                f"{'*' if b['flagged'] else ' '}"
            )
        if "battery_seconds" in res[k]:
            print(f"  battery: {res[k]['battery_seconds']:.1f} s")
        print(f"  errors: {res[k]['errors'] or 'none'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--img", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument("--json", type=Path, default=ROOT / "docs" / "forensics_worked_example.json")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--monte-carlo-runs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--tables-only", action="store_true", help="print the tables from the saved JSON"
    )
    args = ap.parse_args()
    if args.tables_only:
        print_tables(json.loads(args.json.read_text(encoding="utf-8")))
        return 0
    missing = [f for f, _, _ in ELECTIONS.values() if not (DATA / f).exists()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found in {DATA}")
        return 0
    from electwatch.forensics.types import _clean

    args.img.mkdir(parents=True, exist_ok=True)
    res = {k: run_one(k, args.img, args.bootstrap, args.mc, args.seed) for k in ELECTIONS}
    stored = {k: {f: v for f, v in r.items() if f != "battery_seconds"} for k, r in res.items()}
    args.json.write_text(
        json.dumps(_clean(stored), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print_tables(res)
    print(f"\nwritten: {args.json} and figures in {args.img}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
