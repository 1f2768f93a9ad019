"""Compare two elections area by area: turnout and leader-share shifts with intervals.

:func:`compare_results` matches the top-level areas of two results files by
:func:`electwatch.core.numbers.name_key` and returns, per area, each election's turnout
(ballots cast / registered) and its leader's share of ballots cast, the shifts (B - A)
and a 95% interval for each shift.

The interval: an area's turnout is a ratio of totals R = sum(cast) / sum(registered)
over its stations. Treating the stations as draws from the population of stations the
area could have had, its variance is the ratio estimator's linearisation (Cochran 1977,
*Sampling Techniques*, 3rd ed., eq. 6.13 without the finite-population correction):
``v(R) = n / (n - 1) * sum((c_i - R r_i)^2) / (sum r_i)^2``. The two elections are
independent, so ``v(R_B - R_A) = v(R_A) + v(R_B)``, and the interval is the shift
+/- 1.96 sqrt(v). It measures how much of a shift rests on a few stations, not
sampling error of a census: every station's count is known. The leader's share is the
same ratio with the leader's votes over ballots cast; each election's own leader.

The "evidence changed" column compares the number of calibrated forensic tests that
deviate in the area in each election (when both batteries are given).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from electwatch.core.numbers import name_key
from electwatch.data import ElectionResults
from electwatch.reports.counts import area_keys

Z95 = 1.959963984540054


@dataclass(frozen=True)
class RatioByArea:
    """sum(y) / sum(x) per area with the linearised variance of the ratio."""

    names: list[str]
    stations: np.ndarray
    ratio: np.ndarray
    variance: np.ndarray


def ratio_by_area(codes: np.ndarray, names: list[str], y: np.ndarray, x: np.ndarray) -> RatioByArea:
    """Per area: R = sum(y)/sum(x) over stations with x > 0, and Cochran's v(R)."""
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    c, yy, xx = codes[ok], y[ok], x[ok]
    k = len(names)
    n = np.bincount(c, minlength=k).astype(float)
    sy = np.bincount(c, weights=yy, minlength=k)
    sx = np.bincount(c, weights=xx, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = sy / sx
        resid = yy - r[c] * xx
        ss = np.bincount(c, weights=resid**2, minlength=k)
        v = n / (n - 1) * ss / sx**2
    v[n < 2] = np.nan
    r[sx <= 0] = np.nan
    return RatioByArea(names, n.astype(int), r, v)


@dataclass(frozen=True)
class AreaShift:
    area: str
    area_b: str
    stations_a: int
    stations_b: int
    turnout_a: float
    turnout_b: float
    turnout_shift: float
    turnout_shift_low: float
    turnout_shift_high: float
    share_a: float
    share_b: float
    share_shift: float
    share_shift_low: float
    share_shift_high: float
    flags_a: int | None = None
    flags_b: int | None = None

    @property
    def evidence_change(self) -> int | None:
        if self.flags_a is None or self.flags_b is None:
            return None
        return self.flags_b - self.flags_a


@dataclass
class Comparison:
    election_a: str
    election_b: str
    level: str
    leader_a: str | None
    leader_b: str | None
    areas: list[AreaShift]
    unmatched_a: list[str] = field(default_factory=list)
    unmatched_b: list[str] = field(default_factory=list)
    national: dict[str, float] = field(default_factory=dict)

    def to_frame(self) -> pl.DataFrame:
        rows = [{**a.__dict__, "evidence_change": a.evidence_change} for a in self.areas]
        return pl.DataFrame(rows, infer_schema_length=None)

    def most_changed_evidence(self, k: int = 10) -> list[AreaShift]:
        have = [a for a in self.areas if a.evidence_change is not None]
        return sorted(have, key=lambda a: (-abs(a.evidence_change or 0), a.area))[:k]

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not np.isfinite(v) else v

        return {
            "election_a": self.election_a,
            "election_b": self.election_b,
            "level": self.level,
            "leader_a": self.leader_a,
            "leader_b": self.leader_b,
            "national": {k: clean(v) for k, v in self.national.items()},
            "areas": [
                {
                    k: clean(v)
                    for k, v in {**a.__dict__, "evidence_change": a.evidence_change}.items()
                }
                for a in self.areas
            ],
            "unmatched_a": self.unmatched_a,
            "unmatched_b": self.unmatched_b,
            "interval": "95%, between-station variation (Cochran 1977, ratio linearisation)",
        }


def _level_codes(results: ElectionResults, level: str) -> tuple[np.ndarray, list[str]]:
    keys = area_keys(results, level).astype(str)
    names, codes = np.unique(keys, return_inverse=True)
    return codes, [str(n) for n in names]


def _ratios(results: ElectionResults, level: str) -> tuple[list[str], RatioByArea, RatioByArea]:
    codes, names = _level_codes(results, level)
    cast = results.cast.astype(float)
    reg = results.registered.astype(float)
    turnout = ratio_by_area(codes, names, cast, reg)
    leader = results.winner
    lv = results.votes(leader).astype(float) if leader else np.full(len(cast), np.nan)
    share = ratio_by_area(codes, names, lv, cast)
    return names, turnout, share


def compare_results(
    a: ElectionResults,
    b: ElectionResults,
    *,
    level: str | None = None,
    flags_a: dict[str, int] | None = None,
    flags_b: dict[str, int] | None = None,
) -> Comparison:
    """Turnout and leader-share shifts (B - A) per area of ``level`` (default: the top
    level both share), matched by :func:`name_key`; ``flags_*``: calibrated tests
    deviating per area (from each election's battery) for the evidence change."""
    if level is None:
        common = [lv for lv in a.area_levels if lv in b.area_levels]
        if not common:
            raise ValueError(
                f"the two files share no area level ({a.area_levels} vs {b.area_levels})"
            )
        level = common[0]
    names_a, ta, sa = _ratios(a, level)
    names_b, tb, sb = _ratios(b, level)
    index_b = {name_key(n): i for i, n in enumerate(names_b)}
    used_b: set[int] = set()
    shifts: list[AreaShift] = []
    unmatched_a: list[str] = []
    for i, name in enumerate(names_a):
        j = index_b.get(name_key(name))
        if j is None:
            unmatched_a.append(name)
            continue
        used_b.add(j)
        dt = tb.ratio[j] - ta.ratio[i]
        st = float(np.sqrt(ta.variance[i] + tb.variance[j]))
        ds = sb.ratio[j] - sa.ratio[i]
        ss = float(np.sqrt(sa.variance[i] + sb.variance[j]))
        shifts.append(
            AreaShift(
                area=name,
                area_b=names_b[j],
                stations_a=int(ta.stations[i]),
                stations_b=int(tb.stations[j]),
                turnout_a=float(ta.ratio[i]),
                turnout_b=float(tb.ratio[j]),
                turnout_shift=float(dt),
                turnout_shift_low=float(dt - Z95 * st),
                turnout_shift_high=float(dt + Z95 * st),
                share_a=float(sa.ratio[i]),
                share_b=float(sb.ratio[j]),
                share_shift=float(ds),
                share_shift_low=float(ds - Z95 * ss),
                share_shift_high=float(ds + Z95 * ss),
                flags_a=None if flags_a is None else int(flags_a.get(name, 0)),
                flags_b=None if flags_b is None else int(flags_b.get(names_b[j], 0)),
            )
        )
    na, nb = a.summary(), b.summary()
    national = {
        "turnout_a": float(na.turnout) if na.turnout is not None else float("nan"),
        "turnout_b": float(nb.turnout) if nb.turnout is not None else float("nan"),
    }
    national["turnout_shift"] = national["turnout_b"] - national["turnout_a"]
    return Comparison(
        election_a=a.election.name,
        election_b=b.election.name,
        level=level,
        leader_a=a.winner,
        leader_b=b.winner,
        areas=shifts,
        unmatched_a=unmatched_a,
        unmatched_b=[n for j, n in enumerate(names_b) if j not in used_b],
        national=national,
    )


def calibrated_flags(report: Any, level: str) -> dict[str, int]:
    """Calibrated tests deviating per area of ``level`` in a forensics report."""
    from electwatch.reports.counts import _battery
    from electwatch.reports.findings import kinds_of_tests

    kinds = kinds_of_tests({"battery": _battery(report)})
    out: dict[str, int] = {}
    for r in report.results:
        if r.level == level and r.flagged and kinds.get(r.test) == "calibrated":
            out[r.area] = out.get(r.area, 0) + 1
    return out


def section_compare(ctx: Any) -> Any:
    """The report's comparison with another election (``report --compare B``)."""
    import electwatch.reports.figures as figs
    from electwatch.core import formatting as fmt
    from electwatch.data import load_results
    from electwatch.reports.counts import analysed_mask
    from electwatch.reports.model import Callout, Section

    sec = Section("compare", "Comparison with another election")
    other = ctx.options.get("compare")
    if not other:
        return []  # not asked for: no section
    a = ctx.results
    if a is None:
        sec.omitted = "no results file was given (--results)"
        return sec
    b = load_results(other, ctx.options.get("compare_mapping"))
    flags_a = ctx.extras.get("area_flags")
    flags_b = None
    level = next((lv for lv in a.area_levels if lv in b.area_levels), None)
    if level is not None and flags_a is not None:
        from electwatch.forensics import run_battery

        options = {"seed": ctx.seed, **ctx.forensics_options}
        try:
            flags_b = calibrated_flags(run_battery(b, level=level, **options), level)
        except ValueError as exc:
            sec.callouts.append(Callout("omitted", f"No battery on {other}: {exc}"))
    try:
        comp = compare_results(a, b, level=level, flags_a=flags_a, flags_b=flags_b)
    except ValueError as exc:
        sec.omitted = str(exc)
        return sec
    ctx.extras["compare_json"] = comp.to_dict()
    sec.paragraphs.append(
        f"{comp.election_b} (B) against {comp.election_a} (A), by {comp.level}: the shift "
        "is B - A in percentage points with a 95% interval from the between-station "
        "variation (how much of the shift rests on a few stations; every count is known). "
        f"Leader's share: each election's own leader ({comp.leader_a}; {comp.leader_b})."
    )
    n = comp.national
    sec.items.append(
        ("national turnout", f"{fmt.percent(n['turnout_a'])} → {fmt.percent(n['turnout_b'])} "
         f"({fmt.points(n['turnout_shift'], 2)})")
    )  # fmt: skip
    if comp.unmatched_a or comp.unmatched_b:
        sec.callouts.append(
            Callout(
                "info",
                f"Not matched by name: {len(comp.unmatched_a)} areas of A "
                f"({'; '.join(comp.unmatched_a[:5])}), {len(comp.unmatched_b)} of B "
                f"({'; '.join(comp.unmatched_b[:5])}).",
            )
        )
    frame = comp.to_frame()
    if frame.height:
        frame = frame.sort(pl.col("turnout_shift").abs(), descending=True, nulls_last=True)
        shown = frame.select(
            "area",
            pl.col("turnout_a").alias("turnout A"),
            pl.col("turnout_b").alias("turnout B"),
            pl.col("turnout_shift").alias("turnout shift"),
            pl.format("[{}, {}]", (pl.col("turnout_shift_low") * 100).round(1),
                      (pl.col("turnout_shift_high") * 100).round(1)).alias("95% interval, points"),
            pl.col("share_a").alias("leader A"),
            pl.col("share_b").alias("leader B"),
            pl.col("share_shift").alias("leader shift"),
            pl.format("[{}, {}]", (pl.col("share_shift_low") * 100).round(1),
                      (pl.col("share_shift_high") * 100).round(1)).alias("95% interval (leader)"),
            pl.col("evidence_change").alias("evidence change"),
        )  # fmt: skip
        pp = lambda v: fmt.points(v, 1)  # noqa: E731 - a table formatter
        pc = lambda v: fmt.percent(v, 1)  # noqa: E731
        sec.tables.append(
            ctx.tables.save(
                frame,
                "compare_areas",
                f"Shifts by {comp.level}, largest turnout shift first",
                display=shown,
                formats={
                    "turnout A": pc,
                    "turnout B": pc,
                    "turnout shift": pp,
                    "leader A": pc,
                    "leader B": pc,
                    "leader shift": pp,
                },
                max_rows=40,
                note="evidence change: calibrated tests deviating in B minus in A.",
            )
        )
    changed = comp.most_changed_evidence(5)
    if changed:
        sec.items.append(
            (
                "evidence changed most",
                "; ".join(f"{c.area} ({c.flags_a} → {c.flags_b})" for c in changed),
            )
        )
    for label, res, fig_id in (("A", a, "fingerprint_a"), ("B", b, "fingerprint_b")):
        if not res.has_registers or not res.winner:
            continue
        keep = analysed_mask(res)
        t = res.turnout()[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (res.votes(res.winner).astype(float) / res.cast.astype(float))[keep]
        counts, xe, ye = figs.fingerprint_counts(t, s)
        fig = figs.fingerprint_heatmap(
            counts, xe, ye, title=f"{label}: {res.election.name}"[:70],
            ylabel=f"leader ({label}), % of ballots cast",
        )  # fmt: skip
        sec.figures.append(
            ctx.figures.save(
                fig,
                fig_id,
                f"Fingerprint {label}",
                f"{res.election.name}: {int(keep.sum()):,} stations; leader {res.winner}.",
                narrow=True,
            )
        )
    return sec
