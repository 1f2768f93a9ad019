"""The shared Russian series (2004-2012 and the 2020 referendum) beside published figures.

    .venv/bin/python scripts/forensics_russian_series.py > docs/forensics-russia-series.md

For every file of ../shared/data/russia-*.csv.zip: the national battery (seed 0,
1,000 Monte Carlo runs of the integer-percent null, no bootstrap; the Klimek fit with
clean shapes per region, alpha 2) and one row of national figures: turnout, the
leader, Shpilkin's excess with electwatch's t0 rule (the others' robust mode, or the
change point of the leader's share when that share is already > 10 points above its
flat level at the mode), the clean turnout and the leader's
clean share, the integer-percent excess, Klimek fi/fe, pseudo-units; then the
published figures where one was found (sources below the table). A figure that was
not found is marked "-": none is invented.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from electwatch.data import load_results
from electwatch.errors import ElectwatchError
from electwatch.forensics import run_battery

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FILES = [
    ("2004 president", "russia-president-2004.csv.zip"),
    ("2007 Duma", "russia-duma-2007.csv.zip"),
    ("2008 president", "russia-president-2008.csv.zip"),
    ("2011 Duma", "russia-duma-2011.csv.zip"),
    ("2012 president", "russia-president-2012.csv.zip"),
    ("2020 referendum", "russia-referendum-2020.csv.zip"),
]
#: published figures: (Shpilkin excess, clean turnout, leader's clean share,
#: integer-percent excess, Klimek fi, Klimek fe), with the source keys
PUBLISHED: dict[str, tuple[str, str, str, str, str, str]] = {
    "2011 Duma": ("~15 M [L]", "-", "~34% [L]", "~1,000 [K]", "0.64 [P]", "0.033 [P]"),
    "2012 president": ("~11 M [S]", "-", "-", "~1,160 [K]", "0.39 [P]", "0.021 [P]"),
    "2020 referendum": ("> 22 M [Z]", "~42% [Z]", "~65% [Z]", "-", "-", "-"),
}
SOURCES = """\
Sources (published figures, as quoted; "-": no published figure found in this work):

* [L] Lyubarev (2012), quoting Shpilkin: falsification gave United Russia about 15
  million extra votes, a true result near 34% instead of 49% (docs/forensics.md,
  "Comparison with the published analyses").
* [S] Shpilkin's estimate for the 2012 presidential election, about 11 million, as
  quoted in the project's reference facts (his blog was not re-read).
* [K] Kobak, Shpilkin & Pshenichnikov (2016), Annals of Applied Statistics 10(1):54-73,
  excess of integer-percent stations, as quoted in the project's reference facts.
* [P] Klimek, Yegorov, Hanel & Thurner (2012), PNAS 109(41), SI: single national clean
  blob, least squares, alpha fitted (2.3 in 2011, 1.5 in 2012); electwatch's fit uses
  a clean shape per region and alpha 2, so fi is not comparable (docs/forensics.md).
* [Z] Shpilkin on the 2020 vote, reported by Znak and bne IntelliNews (Russia Country
  Report, August 2020): more than 22 million "anomalous" votes; without them turnout
  about 42% and 65% for the amendments.
"""

#: written from the run of the table above (Dec 2026); re-read it when the table changes
READING = """\
Reading the table:

* **Shpilkin** agrees with the published figures for 2011 (15.12 M vs ~15 M; clean
  share 34.8% vs ~34%) and 2012 (11.04 M vs ~11 M); for 2004-2012 the leader's share
  at the others' mode is within a point of its flat level, so t0 is that mode. For
  the **2020 referendum** the others' ("No") curve has most of its mass at 75-85%
  turnout (robust mode 81%): stuffing moved whole stations, their "No" voters
  included, to target turnouts, so the others' curve is not unaffected there. t0 at
  that mode gave 14.48 M. The "Yes" share, fitted as a flat-then-rising broken line
  (Huber), is flat at 64.4% up to 46% and 18 points above that at 81%, so t0 is the
  change point, 46%: 28.61 M anomalous votes, clean turnout 41.1% and a clean "Yes"
  share of 65.0%, beside Shpilkin's > 22 M, ~42% and ~65% [Z]. The excess for t0 =
  55, 60, 65, 70, 75, 81 is 27.5, 26.6, 24.8, 22.6, 19.4 and 14.5 M: the sensitivity
  curve and the share panel in `shpilkin.png` show the whole range; quote the figure
  with its t0.
* **Integer percentages** agree with Kobak, Shpilkin & Pshenichnikov (2016) where
  quoted (2011: +974 vs ~1,000; 2012: +1,133 vs ~1,160); 2008 and 2020 have the
  largest excesses of the series.
* **Klimek fi** is not comparable with the paper's (per-region clean shapes here, a
  single blob there; docs/forensics.md); **fe** agrees in 2011 (0.033) and is close
  in 2012 (0.026 vs 0.021).
* **Pseudo-units**: the shared files hold no remote e-voting units (the 2020 file's
  largest register is 8,306 against a median of 1,025); the units counted are the
  loader's flags or registers above 20x the median.
"""


def row(label: str, path: Path) -> str:
    started = time.perf_counter()
    res = load_results(path)
    rep = run_battery(res, level="national", n_bootstrap=0, n_mc=1000, seed=0)
    turnout = res.national_turnout()
    cells = [label, f"{res.n_stations:,}", f"{turnout:.1%}" if turnout else "-"]
    try:
        sh = rep.get("shpilkin_excess_votes")
        d = sh.details
        cells += [
            f"{sh.statistic / 1e6:.2f} M (t0 {d['t0_pct']}%"
            + (
                f", the share's change point; others' mode {d['others_mode_pct']}%"
                if d["t0_method"] == "share change point"
                else ""
            )
            + f"; {d['sensitivity_min'] / 1e6:.2f}-"
            f"{d['sensitivity_max'] / 1e6:.2f})",
            f"{d['clean_turnout']:.1%}",
            f"{d['leader_clean_share']:.1%} (official {d['official_leader_share']:.1%})",
        ]
    except KeyError:
        cells += ["n/a", "n/a", "n/a"]
    try:
        ip = rep.get("integer_percent")
        cells.append(f"{ip.statistic:+,.0f} ({ip.ci_low:,.0f} to {ip.ci_high:,.0f})")
    except KeyError:
        cells.append("n/a")
    k = rep.klimek
    cells.append(f"{k.fi:.3f} / {k.fe:.3f}" if k is not None else "n/a")
    pu = rep.pseudo_units
    cells.append(f"{pu.get('count', 0):,}")
    pub = PUBLISHED.get(label, ("-",) * 6)
    cells += [pub[0], pub[1], pub[2], pub[3], f"{pub[4]} / {pub[5]}"]
    cells.append(f"{time.perf_counter() - started:.0f} s")
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    w = sys.stdout.write
    w("# The Russian series: electwatch beside published figures\n\n")
    w("Command: `.venv/bin/python scripts/forensics_russian_series.py > "
      "docs/forensics-russia-series.md`\n\n")  # fmt: skip
    w(
        "National battery, seed 0, 1,000 Monte Carlo runs; Shpilkin with electwatch's t0 "
        "rule (the others' robust mode, or the change point of the leader's share when the "
        "share at that mode is more than 10 points above its flat level; range over t0 ± 3 "
        "points); leader = the candidate, party or answer with most "
        "votes; pseudo-units (register > 20x the median) excluded from the tests.\n\n"
    )
    w(
        "| election | stations | turnout | Shpilkin excess | clean turnout | leader's "
        "clean share | integer-percent excess (null 95%) | Klimek fi / fe | pseudo-units "
        "| published excess | published clean turnout | published clean share | "
        "published integer excess | published fi / fe | time |\n"
    )
    w("|" + "---|" * 15 + "\n")
    for label, name in FILES:
        path = DATA / name
        if not path.exists():
            w(f"| {label} | file not found: {path} |" + " |" * 14 + "\n")
            continue
        try:
            w(row(label, path) + "\n")
        except ElectwatchError as exc:  # say so in the table; never a silent gap
            w(f"| {label} | could not load: {exc} |" + " |" * 13 + "\n")
        sys.stdout.flush()
    w("\n" + SOURCES + "\n" + READING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
