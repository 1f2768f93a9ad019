"""The one place that counts stations and areas for the report, its sections and the CLI.

Every count a report shows comes from :func:`report_counts` (and is written to
``results.json`` under ``counts``), so that the summary, the battery table, the
fingerprint and the histograms cannot disagree (issue 11: one report showed "areas: tik
2,730" against 2,746 in the battery, and 91,113 stations in the fingerprint against
91,114 in the histogram).

* ``stations``: rows of the results file (every station, none dropped).
* ``areas[level]``: distinct areas of a level, keyed by the path of names from the top
  level down ("Region / District"), as the forensics battery keys them, so equal
  district names in two regions are two areas.
* ``flagged[level]``: distinct areas of a level flagged by at least one calibrated test
  (:func:`electwatch.reports.findings.flagged_areas`).
* ``analysed_stations``: stations in the fingerprint and the histograms: at least
  :data:`MIN_VOTERS` registered voters, turnout at most 100%, some valid votes
  (Klimek et al. 2012's selection; the battery's fingerprint mask when it ran).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from electwatch.data import ElectionResults

#: stations with fewer registered voters are left out of the histograms and the
#: fingerprint (Klimek et al. 2012; Kobak et al. 2016): they take few distinct values
MIN_VOTERS = 100
NATIONAL = "national"
#: how the analysed stations are chosen, as captions say it
ANALYSED = f"at least {MIN_VOTERS} registered voters, turnout at most 100%, some valid votes"


@dataclass(frozen=True)
class ReportCounts:
    stations: int
    areas: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)
    analysed_stations: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stations": self.stations,
            "areas": dict(self.areas),
            "flagged_areas": dict(self.flagged),
            "analysed_stations": self.analysed_stations,
            "min_registered_voters": MIN_VOTERS,
        }


def area_keys(results: ElectionResults, level: str) -> np.ndarray:
    """Each station's area at ``level`` as the path of names from the top level."""
    upto = results.area_levels[: results.area_levels.index(level) + 1]
    cols = [results.frame[c].cast(str).fill_null("?").to_numpy() for c in upto]
    keys = cols[0].astype(object)
    for c in cols[1:]:
        keys = keys + " / " + c.astype(object)
    return np.asarray(keys, dtype=object)


def analysed_mask(results: ElectionResults, forensics: Any = None) -> np.ndarray:
    """Stations of the fingerprint and the histograms (see the module docstring)."""
    fp = getattr(forensics, "fingerprint", None)
    mask = getattr(fp, "mask", None)
    if mask is not None and len(mask) == results.n_stations:
        return np.asarray(mask, dtype=bool)
    t = results.turnout()
    valid = results.count("valid") if "valid" in results.frame.columns else results.cast
    with np.errstate(invalid="ignore"):
        ok = (
            (results.registered >= MIN_VOTERS)
            & np.isfinite(t)
            & (t <= 1)
            & (np.asarray(valid, dtype=float) > 0)
        )
    return np.asarray(ok, dtype=bool)


def _battery(forensics: Any) -> list[dict[str, Any]]:
    """The battery's description of its tests' kinds, when the forensics library has it."""
    try:
        from electwatch.forensics.statistics import (  # type: ignore[import-not-found,unused-ignore]  # added by the forensics work (issue 12)
            describe_battery,
        )
    except ImportError:
        return []
    return list(describe_battery())


def report_counts(results: ElectionResults, forensics: Any = None) -> ReportCounts:
    """Stations, areas per level, flagged areas per level, analysed stations."""
    areas = {level: len(set(area_keys(results, level).tolist())) for level in results.area_levels}
    flagged: dict[str, int] = {}
    if forensics is not None:
        from electwatch.reports.findings import flagged_areas, kinds_of_tests

        kinds = kinds_of_tests({"battery": _battery(forensics)})
        by_level = flagged_areas(
            [(r.test, r.level, r.area, r.flagged) for r in forensics.results], kinds
        )
        flagged = {level: len(by_level.get(level, ())) for level in results.area_levels}
    return ReportCounts(
        stations=results.n_stations,
        areas=areas,
        flagged=flagged,
        analysed_stations=int(analysed_mask(results, forensics).sum()),
    )
