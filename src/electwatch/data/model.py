"""The election data model: one results object for three shapes of tables.

Election -> contest (with round) -> area hierarchy (any depth) -> unit (a polling
station, or an area when only area totals are published).

API for the statistics code (forensics, turnout, reports)
--------------------------------------------------------
An :class:`ElectionResults` holds one row per *unit* in ``frame`` (polars) and answers:

``results.level``            ``"station"`` (rows are polling stations) or ``"area"``
                             (rows are constituencies/provinces: long-form and summary
                             tables). Station-level statistics should refuse ``"area"``.
``results.has_register``     True when at least one unit has a registered-voter count.
                             Without one (Iran: no station rolls) the ``registered``
                             column is all null — never zeros — and
                             ``results.register_level`` says ``"unit"``, ``"national"``
                             (only ``national_registered`` is known) or ``None``.
``results.registered``       float array, NaN where a unit has no register (missing).
``results.has_blank`` / ``results.has_invalid``   whether those counts were published.
``results.outcomes_per_area()``  ``{area id: [outcomes on its ballot]}`` (long form:
                             each area its own candidate list; wide: every candidate).
``results.stands(candidate)``  bool array: the candidate was on the unit's ballot
                             (wide tables: all true; long form: only where listed — the
                             vote columns hold 0 elsewhere, so use this mask).
``results.outcomes``         long form only: ``area_id, <area levels>, outcome, kind,
                             votes`` (kind: candidate, blank, invalid, against_all).
``results.against_all``      candidate columns that are "against all" outcomes.
``results.pseudo_unit``      bool array: units that are not polling stations (remote
                             e-voting, abroad, ships, hospitals, or a register above
                             ``pseudo_register_ratio`` x the median); they are kept in
                             every total; exclude them with ``results.subset(~mask)``.
``results.missing_counts``   bool array: a count of the unit is missing (null, never 0).
``results.complete()``       the results without units that have a missing count.
``results.turnout_units()``  ``(units in the turnout base, units excluded for lack of a
                             register)``; ``national_turnout()`` uses only the former.
``results.skipped``          rows skipped by ``--skip-empty`` (row, id).

Canonical columns of ``frame``:

``row``            1-based data row of the source file (for error messages)
``station_id``     unique unit identifier (string; the area path for area rows)
area levels        one string column per level, top-down (e.g. ``region``, ``tik``)
``registered``     registered voters (Int64, null where not published)
``cast``           ballots cast (Int64)
``valid`` / ``invalid`` / ``blank``   optional (Int64, null if not published)
``seats``          seats of a multi-seat area (Int64; long form with a seats column)
``abroad`` / ``pseudo_unit``   bool
candidates         one Int64 column per candidate or party, named as the candidate
``flag_*``         bool columns set by validation (see :mod:`electwatch.data.loaders`)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl

RESERVED_COLUMNS = frozenset(
    {
        "row",
        "station_id",
        "registered",
        "cast",
        "valid",
        "invalid",
        "blank",
        "abroad",
        "pseudo_unit",
        "seats",
    }
)


class CandidateStatus(StrEnum):
    """Where a candidate stands in the vetting process."""

    REGISTERED = "registered"
    APPROVED = "approved"
    DISQUALIFIED = "disqualified"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Candidate:
    name: str
    status: CandidateStatus = CandidateStatus.APPROVED
    party: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "party": self.party}


@dataclass(frozen=True)
class Vetting:
    """Candidate vetting statistics for a contest.

    Often only the counts are published (e.g. "about 600 registered, 7 approved"),
    so the counts are kept even when the individual names are not known.
    """

    registered: int
    approved: int
    disqualified: int | None = None

    def __post_init__(self) -> None:
        if self.registered < 0 or self.approved < 0:
            raise ValueError("vetting counts must be non-negative")
        if self.approved > self.registered:
            raise ValueError(
                f"approved ({self.approved}) cannot exceed registered ({self.registered})"
            )

    @property
    def approval_rate(self) -> float:
        return self.approved / self.registered if self.registered else float("nan")

    @classmethod
    def from_candidates(cls, candidates: list[Candidate]) -> Vetting:
        approved = sum(c.status == CandidateStatus.APPROVED for c in candidates)
        disqualified = sum(c.status == CandidateStatus.DISQUALIFIED for c in candidates)
        return cls(registered=len(candidates), approved=approved, disqualified=disqualified)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "approval_rate": self.approval_rate}


@dataclass
class Contest:
    """One contest of an election (a round of a presidential vote, a party list...)."""

    name: str
    round: int = 1
    candidates: list[Candidate] = field(default_factory=list)
    vetting: Vetting | None = None

    @property
    def approved(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status == CandidateStatus.APPROVED]

    def vetting_summary(self) -> Vetting:
        """Published vetting counts if known, else counted from the candidate list."""
        return self.vetting or Vetting.from_candidates(self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "round": self.round,
            "candidates": [c.to_dict() for c in self.candidates],
            # vetting figures only when someone gave them (published counts or
            # candidate statuses), never derived from a plain list of names
            "vetting": (
                self.vetting_summary().to_dict()
                if self.vetting is not None
                or any(c.status != CandidateStatus.APPROVED for c in self.candidates)
                else None
            ),
        }


@dataclass
class Election:
    name: str
    country: str | None = None
    date: str | None = None
    contests: list[Contest] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "country": self.country,
            "date": self.date,
            "contests": [c.to_dict() for c in self.contests],
        }


@dataclass(frozen=True)
class SourceInfo:
    """Where a results table came from; ``synthetic`` marks simulator output."""

    path: str
    sha256: str | None = None
    mapping: str | None = None
    synthetic: bool = False
    note: str | None = None
    encoding: str | None = None
    delimiter: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ValidationWarning:
    """A kept-but-flagged inconsistency (real data has them: ships, abroad, tiny rolls)."""

    code: str
    message: str
    count: int
    example_rows: tuple[int, ...] = ()
    example_stations: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["example_rows"] = list(self.example_rows)
        d["example_stations"] = list(self.example_stations)
        return d


@dataclass(frozen=True)
class SkippedRow:
    """A source row skipped because it had no data (``--skip-empty``)."""

    row: int
    station_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ResultsSummary:
    election: str
    contest: str
    round: int
    stations: int
    stations_abroad: int
    registered: int | None
    stations_with_register: int
    cast: int
    valid: int | None
    invalid: int | None
    blank: int | None
    turnout: float | None
    candidate_votes: dict[str, int]
    winner: str | None
    synthetic: bool
    area_counts: dict[str, int]
    warnings: list[ValidationWarning]
    level: str = "station"
    register_level: str | None = "unit"
    #: units (ids) left out of the turnout because they have no register
    turnout_excluded: list[str] = field(default_factory=list)
    pseudo_units: int = 0
    skipped_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warnings"] = [w.to_dict() for w in self.warnings]
        return d


@dataclass
class ElectionResults:
    """Station-level official results of one contest."""

    frame: pl.DataFrame
    candidates: list[str]
    area_levels: list[str]
    election: Election
    contest: Contest
    source: SourceInfo
    warnings: list[ValidationWarning] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    extra_counts: list[str] = field(default_factory=list)
    level: str = "station"
    national_registered: int | None = None
    skipped: list[SkippedRow] = field(default_factory=list)
    outcomes: pl.DataFrame | None = None
    against_all: list[str] = field(default_factory=list)
    published_totals: pl.DataFrame | None = None

    def _like(self, frame: pl.DataFrame, warnings: list[ValidationWarning]) -> ElectionResults:
        outcomes = self.outcomes
        if outcomes is not None:
            outcomes = outcomes.filter(pl.col("area_id").is_in(frame["station_id"].implode()))
        return ElectionResults(
            frame=frame,
            candidates=self.candidates,
            area_levels=self.area_levels,
            election=self.election,
            contest=self.contest,
            source=self.source,
            warnings=warnings,
            attributes=self.attributes,
            extra_counts=self.extra_counts,
            level=self.level,
            national_registered=None,
            outcomes=outcomes,
            against_all=self.against_all,
        )

    # --- what the statistics code asks ------------------------------------------
    @property
    def has_register(self) -> bool:
        """At least one unit has a registered-voter count."""
        return self.frame["registered"].null_count() < self.frame.height

    @property
    def register_level(self) -> str | None:
        """``"unit"`` (per row), ``"national"`` (only a national figure) or None."""
        if self.has_register:
            return "unit"
        return "national" if self.national_registered is not None else None

    @property
    def has_blank(self) -> bool:
        return self.frame["blank"].null_count() < self.frame.height

    @property
    def has_invalid(self) -> bool:
        return self.frame["invalid"].null_count() < self.frame.height

    @property
    def pseudo_unit(self) -> np.ndarray:
        """Units that are not polling stations (kept in totals)."""
        if "pseudo_unit" not in self.frame.columns:
            return np.zeros(self.frame.height, dtype=bool)
        return self.frame["pseudo_unit"].to_numpy()

    @property
    def missing_counts(self) -> np.ndarray:
        if "flag_missing_counts" not in self.frame.columns:
            return np.zeros(self.frame.height, dtype=bool)
        return self.frame["flag_missing_counts"].to_numpy()

    def complete(self) -> ElectionResults:
        """The units with every count present."""
        return self.subset(~self.missing_counts)

    def outcomes_per_area(self) -> dict[str, list[str]]:
        """Outcomes on each area's ballot (candidates, then blank/invalid if published)."""
        if self.outcomes is not None:
            grouped = self.outcomes.group_by("area_id", maintain_order=True).agg("outcome")
            return dict(zip(grouped["area_id"], grouped["outcome"].to_list(), strict=True))
        extra = [k for k, has in (("invalid", self.has_invalid), ("blank", self.has_blank)) if has]
        return {sid: [*self.candidates, *extra] for sid in self.frame["station_id"]}

    def stands(self, candidate: str) -> np.ndarray:
        """Bool per unit: ``candidate`` was on that unit's ballot."""
        if candidate not in self.candidates:
            raise KeyError(f"no candidate {candidate!r}; candidates are {self.candidates}")
        if self.outcomes is None:
            return np.ones(self.frame.height, dtype=bool)
        areas = self.outcomes.filter(pl.col("outcome") == candidate)["area_id"]
        return self.frame["station_id"].is_in(areas.implode()).to_numpy()

    def turnout_units(self) -> tuple[list[str], list[str]]:
        """``(ids in the turnout base, ids excluded because they have no register)``."""
        has = self.frame["registered"].is_not_null() & (self.frame["registered"] > 0)
        ids = self.frame["station_id"]
        return ids.filter(has).to_list(), ids.filter(~has).to_list()

    # --- typed accessors -------------------------------------------------------
    @property
    def n_stations(self) -> int:
        return self.frame.height

    @property
    def synthetic(self) -> bool:
        return self.source.synthetic

    @property
    def station_ids(self) -> np.ndarray:
        return self.frame["station_id"].to_numpy()

    @property
    def registered(self) -> np.ndarray:
        """Registered voters as float64; NaN where the station has no roll."""
        return self.frame["registered"].cast(pl.Float64).fill_null(np.nan).to_numpy()

    @property
    def has_registers(self) -> bool:
        """Old name of :attr:`has_register`."""
        return self.has_register

    @property
    def cast(self) -> np.ndarray:
        return self.frame["cast"].to_numpy()

    def count(self, column: str) -> np.ndarray:
        """An optional count column (valid/invalid/blank/extra) as float64, NaN if null."""
        return self.frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy()

    def votes(self, candidate: str) -> np.ndarray:
        if candidate not in self.candidates:
            raise KeyError(f"no candidate {candidate!r}; candidates are {self.candidates}")
        return self.frame[candidate].to_numpy()

    def vote_matrix(self) -> np.ndarray:
        """Stations x candidates matrix of votes (int64).

        Raises ValueError when a unit has a missing vote count (use :meth:`complete`).
        """
        nulls = self.frame.select(pl.col(c).null_count() for c in self.candidates).row(0)
        if any(nulls):
            raise ValueError(
                f"{sum(1 for x in nulls if x)} candidate column(s) have missing counts; "
                "use results.complete() for the units with every count"
            )
        return self.frame.select(self.candidates).to_numpy().astype(np.int64, copy=False)

    @property
    def candidate_totals(self) -> dict[str, int]:
        sums = self.frame.select(pl.col(c).sum() for c in self.candidates).row(0)
        return {c: int(s or 0) for c, s in zip(self.candidates, sums, strict=True)}

    @property
    def winner(self) -> str | None:
        """The candidate with the most votes nationally (the 'leader' of the forensics);
        an "against all" outcome is not a candidate who can lead."""
        totals = {c: v for c, v in self.candidate_totals.items() if c not in self.against_all}
        return max(totals, key=totals.__getitem__) if totals else None

    @property
    def abroad(self) -> np.ndarray:
        return self.frame["abroad"].to_numpy()

    def turnout(self) -> np.ndarray:
        """Per-station turnout cast/registered; NaN without a positive register."""
        reg = self.registered
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.cast / reg
        t[~(reg > 0)] = np.nan
        return t

    def national_turnout(self) -> float | None:
        """Sum of cast over sum of registered, over the units that have a register
        (:meth:`turnout_units` names those left out); with only a national register,
        all ballots cast over it; None without any register."""
        if not self.has_register:
            if self.national_registered:
                return int(self.frame["cast"].sum()) / self.national_registered
            return None
        f = self.frame.filter(pl.col("registered").is_not_null() & (pl.col("registered") > 0))
        if f.height == 0:
            return None
        reg = int(f["registered"].sum())
        return int(f["cast"].sum()) / reg if reg else None

    # --- slicing --------------------------------------------------------------
    def subset(self, mask: np.ndarray | pl.Series | pl.Expr) -> ElectionResults:
        return self._like(self.frame.filter(mask), [])

    def by_area(self, level: str) -> Iterator[tuple[str, ElectionResults]]:
        """Yield ``(area name, results of its units)`` for each area of ``level``."""
        if level not in self.area_levels:
            raise KeyError(f"no area level {level!r}; levels are {self.area_levels}")
        for key, part in self.frame.group_by(level, maintain_order=True):
            yield str(key[0]), self._like(part, [])

    # --- summaries ------------------------------------------------------------
    def summary(self) -> ResultsSummary:
        f = self.frame

        def total(col: str) -> int | None:
            s = f[col]
            return None if s.null_count() == f.height else int(s.sum())

        excluded = self.turnout_units()[1] if self.has_register else []
        registered = total("registered")
        if registered is None and self.national_registered is not None:
            registered = self.national_registered
        return ResultsSummary(
            election=self.election.name,
            contest=self.contest.name,
            round=self.contest.round,
            stations=f.height,
            stations_abroad=int(f["abroad"].sum()),
            registered=registered,
            stations_with_register=f.height - f["registered"].null_count(),
            cast=int(f["cast"].sum()),
            valid=total("valid"),
            invalid=total("invalid"),
            blank=total("blank"),
            turnout=self.national_turnout(),
            candidate_votes=self.candidate_totals,
            winner=self.winner,
            synthetic=self.synthetic,
            area_counts=self._area_counts(),
            warnings=list(self.warnings),
            level=self.level,
            register_level=self.register_level,
            turnout_excluded=excluded,
            pseudo_units=int(self.pseudo_unit.sum()),
            skipped_rows=len(self.skipped),
        )

    def _area_counts(self) -> dict[str, int]:
        """Distinct areas per level, each counted within its parent (two territorial
        commissions of the same name in two regions are two)."""
        counts = {}
        for i, lvl in enumerate(self.area_levels):
            counts[lvl] = self.frame.select(self.area_levels[: i + 1]).n_unique()
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "election": self.election.to_dict(),
            "contest": self.contest.to_dict(),
            "source": self.source.to_dict(),
            "summary": self.summary().to_dict(),
            "skipped": [s.to_dict() for s in self.skipped],
        }
