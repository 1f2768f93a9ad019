"""Drill-down: a sortable, filterable table of areas with each calibrated test's evidence,
and one section per area asked for (``--area``).

The table is plain HTML with a few lines of inline script in the report template (sort
by a column, filter by name, show flagged areas only); it works offline from the single
file. Every row has an anchor (:func:`area_anchor`) that the map and the findings link to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from markupsafe import Markup, escape

from electwatch.core import formatting as fmt
from electwatch.core.numbers import name_key
from electwatch.data import ElectionResults
from electwatch.reports.context import ReportContext
from electwatch.reports.counts import area_keys
from electwatch.reports.findings import NATIONAL, kinds_of_tests
from electwatch.reports.model import Callout, Section


def area_anchor(area: str) -> str:
    """A stable HTML id for an area (its name key hashed: any script, any spelling)."""
    return "area-" + hashlib.sha1(name_key(area).encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class AreaTotals:
    """Official totals of the areas of one level (names as the battery keys them)."""

    level: str
    names: list[str]
    stations: np.ndarray
    registered: np.ndarray
    cast: np.ndarray
    leader_votes: np.ndarray
    leader: str | None

    def turnout(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.cast / self.registered
        t[~(self.registered > 0)] = np.nan
        return t

    def leader_share(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            s = self.leader_votes / self.cast
        s[~(self.cast > 0)] = np.nan
        return s

    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}


def area_totals(results: ElectionResults, level: str) -> AreaTotals:
    """Stations, registered, cast and the leader's votes per area of ``level``."""
    keys = area_keys(results, level)
    names, codes = np.unique(keys.astype(str), return_inverse=True)
    k = len(names)
    reg = np.nan_to_num(results.registered.astype(float), nan=0.0)
    leader = results.winner
    lv = results.votes(leader).astype(float) if leader else np.zeros(len(codes))
    return AreaTotals(
        level=level,
        names=[str(n) for n in names],
        stations=np.bincount(codes, minlength=k),
        registered=np.bincount(codes, weights=reg, minlength=k),
        cast=np.bincount(codes, weights=results.cast.astype(float), minlength=k),
        leader_votes=np.bincount(codes, weights=np.nan_to_num(lv), minlength=k),
        leader=leader,
    )


def _calibrated_rows(rep: Any, level: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Calibrated tests run at ``level`` (in battery order) and, per area and test, the
    strongest row (smallest adjusted p; per-candidate tests have several)."""
    kinds = kinds_of_tests({})
    try:
        from electwatch.reports.counts import _battery

        kinds = kinds_of_tests({"battery": _battery(rep)})
    except ImportError:  # pragma: no cover - counts is part of this package
        pass
    tests: list[str] = []
    best: dict[str, dict[str, Any]] = {}
    for r in rep.results:
        if r.level != level or kinds.get(r.test) != "calibrated":
            continue
        if r.test not in tests:
            tests.append(r.test)
        cell = best.setdefault(r.area, {})
        old = cell.get(r.test)
        p = r.p_adjusted if r.p_adjusted is not None else (r.p_value if r.p_value else 1.0)
        if old is None or (r.flagged, -p) > (old.flagged, -(old.p_adjusted or 1.0)):
            cell[r.test] = r
    return tests, best


def _cell(r: Any) -> tuple[str, str, str]:
    """(text, sort key, title) of one test's evidence in an area."""
    if r is None:
        return "—", "", "not applicable or not run"
    p = r.p_adjusted if r.p_adjusted is not None else r.p_value
    text = fmt.significant(r.statistic)
    if p is not None:
        text += f" ({fmt.p_value(p)})"
    sort = "" if p is None else repr(float(p))
    return text, sort, f"{r.subject}: {r.reading}"


def drilldown_html(
    totals: AreaTotals, tests: list[str], best: dict[str, dict[str, Any]], table_id: str
) -> str:
    """The table with its filter controls (escaped; scripts live in the template)."""
    head = [
        "<th scope='col'>area</th>",
        "<th scope='col' data-num='1'>stations</th>",
        "<th scope='col' data-num='1'>turnout</th>",
        "<th scope='col' data-num='1'>leader's share</th>",
        "<th scope='col' data-num='1'>calibrated tests flagged</th>",
        *(f"<th scope='col' data-num='1'>{escape(t)}</th>" for t in tests),
    ]
    turnout, share = totals.turnout(), totals.leader_share()
    body = []
    for i, name in enumerate(totals.names):
        cells = best.get(name, {})
        n_flag = sum(bool(r.flagged) for r in cells.values())
        row = [
            f"<tr id='{area_anchor(name)}' data-area='{escape(name)}' data-flags='{n_flag}'"
            + (" class='flag'>" if n_flag else ">"),
            f"<td>{escape(name)}</td>",
            f"<td class='num' data-sort='{int(totals.stations[i])}'>"
            f"{fmt.count(totals.stations[i])}</td>",
            f"<td class='num' data-sort='{_sort(turnout[i])}'>{fmt.percent(turnout[i], 1)}</td>",
            f"<td class='num' data-sort='{_sort(share[i])}'>{fmt.percent(share[i], 1)}</td>",
            f"<td class='num' data-sort='{n_flag}'>{n_flag}</td>",
        ]
        for t in tests:
            r = cells.get(t)
            text, sort, title = _cell(r)
            cls = "num hit" if r is not None and r.flagged else "num"
            row.append(
                f"<td class='{cls}' data-sort='{escape(sort)}' title='{escape(title)}'>"
                f"{escape(text)}</td>"
            )
        body.append("".join(row) + "</tr>")
    return (
        f"<div class='drill' data-table='{table_id}'>"
        "<p class='drillctl'><label>Filter areas: <input type='search' class='drill-filter' "
        "placeholder='name…' autocomplete='off'></label> "
        "<label><input type='checkbox' class='drill-flagged'> flagged only</label> "
        "<span class='drill-count' aria-live='polite'></span></p>"
        f"<div class='tablewrap drillwrap'><table id='{table_id}' class='sortable drilldown'>"
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        "</div>"
    )


def _sort(x: float) -> str:
    return "" if fmt.is_missing(x) else repr(float(x))


def section_drilldown(ctx: ReportContext) -> Section:
    sec = Section("drilldown", "Areas: drill-down")
    r = ctx.results
    rep = ctx.extras.get("forensics")
    if r is None or not r.area_levels:
        sec.omitted = "the results have no area levels"
        return sec
    if rep is None:
        sec.omitted = ctx.extras.get("forensics_error", "the forensics battery did not run")
        return sec
    level = r.area_levels[0]
    totals = area_totals(r, level)
    tests, best = _calibrated_rows(rep, level)
    ctx.extras["area_totals"] = totals
    ctx.extras["area_flags"] = {
        n: sum(bool(x.flagged) for x in best.get(n, {}).values()) for n in totals.names
    }
    sec.paragraphs.append(
        f"Every {level} with its totals and the evidence of each calibrated test (statistic, "
        "with the p-value adjusted across the areas; red cells deviate). Click a column to "
        "sort, type to filter, tick to keep the flagged areas only; hover a cell for the "
        "test's reading. Lower levels are in the table files."
    )
    sec.html.append(Markup(drilldown_html(totals, tests, best, "drilldown-table")))
    frame = pl.DataFrame(
        {
            "area": totals.names,
            "stations": totals.stations,
            "registered": totals.registered,
            "cast": totals.cast,
            "turnout": totals.turnout(),
            "leader_share": totals.leader_share(),
            "calibrated_flags": [
                sum(bool(x.flagged) for x in best.get(n, {}).values()) for n in totals.names
            ],
        }
    )
    sec.tables.append(
        ctx.tables.save(frame, f"drilldown_{level}", f"Drill-down by {level} (files)", max_rows=0)
    )
    return sec


def find_area(results: ElectionResults, wanted: str) -> tuple[str, str] | None:
    """(level, area key) of an area named ``wanted``: the full path or its last part,
    matched with :func:`name_key`, top level first."""
    key = name_key(wanted)
    for level in results.area_levels:
        keys = sorted(set(area_keys(results, level).astype(str).tolist()))
        for k in keys:
            if name_key(k) == key or name_key(k.split(" / ")[-1]) == key:
                return level, k
    return None


def area_sections(ctx: ReportContext) -> list[Section]:
    """One section per ``--area`` asked for: totals and every test in that area."""
    wanted: list[str] = list(ctx.options.get("areas") or [])
    r = ctx.results
    if not wanted or r is None:
        return []
    rep = ctx.extras.get("forensics")
    out = []
    kinds = kinds_of_tests({})
    for name in wanted:
        sec = Section(f"{area_anchor(name)}-section", f"Area: {name}")
        found = find_area(r, name)
        if found is None:
            sec.omitted = f"no area {name!r} in the results (levels: {', '.join(r.area_levels)})"
            out.append(sec)
            continue
        level, key = found
        sec.title = f"Area: {key} ({level})"
        keys = area_keys(r, level).astype(str)
        sub = r.subset(keys == key)
        s = sub.summary()
        sec.items += [
            ("stations", fmt.count(s.stations)),
            ("registered voters", fmt.count(s.registered)),
            ("ballots cast", fmt.count(s.cast)),
            ("turnout", fmt.percent(s.turnout)),
            (
                f"leader ({r.winner})",
                fmt.percent(
                    (s.candidate_votes.get(r.winner or "", 0) / s.cast) if s.cast else None
                ),
            ),
        ]
        if rep is None:
            sec.callouts.append(Callout("omitted", "The forensics battery did not run."))
            out.append(sec)
            continue
        rows = [x for x in rep.results if x.level == level and x.area == key]
        frame = pl.DataFrame(
            [
                {
                    "test": x.test,
                    "kind": kinds.get(x.test, "check"),
                    "subject": x.subject,
                    "statistic": x.statistic,
                    "null": x.null_value,
                    "ci_low": x.ci_low,
                    "ci_high": x.ci_high,
                    "p_adjusted": x.p_adjusted,
                    "n": x.n,
                    "flag": x.flagged,
                    "reading": x.reading,
                }
                for x in rows
            ],
            infer_schema_length=None,
        )
        n_flag = sum(bool(x.flagged) and kinds.get(x.test) == "calibrated" for x in rows)
        sec.callouts.append(
            Callout(
                "flag" if n_flag else "info",
                f"{n_flag} calibrated test(s) deviate in this {level}."
                + (
                    f" Its row in the drill-down: #{area_anchor(key)}."
                    if level == r.area_levels[0]
                    else ""
                ),
            )
        )
        if frame.height:
            sec.tables.append(
                ctx.tables.save(
                    frame,
                    f"area_{area_anchor(key)}",
                    f"Every test in {key}",
                    flag_column="flag",
                    formats={"p_adjusted": lambda p: fmt.p_value(p, label=False)},
                    max_rows=80,
                )
            )
        out.append(sec)
    return out


__all__ = [
    "NATIONAL",
    "AreaTotals",
    "area_anchor",
    "area_sections",
    "area_totals",
    "drilldown_html",
    "find_area",
    "section_drilldown",
]
