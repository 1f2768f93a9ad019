"""The election data model.

Election -> contest (with round) -> area hierarchy (any depth) -> polling station.

Station-level results are held column-wise in a :class:`polars.DataFrame` (one row
per station) inside :class:`ElectionResults`; typed accessors hand out numpy
arrays for the statistics code. Canonical column names:

``row``            1-based data row of the source file (for error messages)
``station_id``     unique station identifier (string)
area levels        one string column per level, top-down (e.g. ``region``, ``tik``)
``registered``     registered voters (Int64, null where a country keeps no rolls)
``cast``           ballots cast (Int64)
``valid`` / ``invalid`` / ``blank``   optional (Int64, null if not published)
``abroad``         bool
candidates         one Int64 column per candidate or party, named as the candidate
``flag_*``         bool columns set by validation (see :mod:`electwatch.data.validate`)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl

RESERVED_COLUMNS = frozenset(
    {"row", "station_id", "registered", "cast", "valid", "invalid", "blank", "abroad"}
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
            "vetting": (
                self.vetting_summary().to_dict() if self.candidates or self.vetting else None
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
        return self.frame["registered"].null_count() < self.frame.height

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
        """Stations x candidates matrix of votes (int64)."""
        return self.frame.select(self.candidates).to_numpy().astype(np.int64, copy=False)

    @property
    def candidate_totals(self) -> dict[str, int]:
        sums = self.frame.select(pl.col(c).sum() for c in self.candidates).row(0)
        return {c: int(s) for c, s in zip(self.candidates, sums, strict=True)}

    @property
    def winner(self) -> str | None:
        """The candidate with the most votes nationally (the 'leader' of the forensics)."""
        totals = self.candidate_totals
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
        """Sum of cast over sum of registered, over stations that have a register."""
        f = self.frame.filter(pl.col("registered").is_not_null())
        if f.height == 0:
            return None
        reg = int(f["registered"].sum())
        return int(f["cast"].sum()) / reg if reg else None

    # --- slicing --------------------------------------------------------------
    def subset(self, mask: np.ndarray | pl.Series | pl.Expr) -> ElectionResults:
        frame = self.frame.filter(mask)
        return ElectionResults(
            frame=frame,
            candidates=self.candidates,
            area_levels=self.area_levels,
            election=self.election,
            contest=self.contest,
            source=self.source,
            warnings=[],
            attributes=self.attributes,
            extra_counts=self.extra_counts,
        )

    def by_area(self, level: str) -> Iterator[tuple[str, ElectionResults]]:
        """Yield ``(area name, results of its stations)`` for each area of ``level``."""
        if level not in self.area_levels:
            raise KeyError(f"no area level {level!r}; levels are {self.area_levels}")
        for key, part in self.frame.group_by(level, maintain_order=True):
            yield (
                str(key[0]),
                ElectionResults(
                    frame=part,
                    candidates=self.candidates,
                    area_levels=self.area_levels,
                    election=self.election,
                    contest=self.contest,
                    source=self.source,
                    attributes=self.attributes,
                    extra_counts=self.extra_counts,
                ),
            )

    # --- summaries ------------------------------------------------------------
    def summary(self) -> ResultsSummary:
        f = self.frame

        def total(col: str) -> int | None:
            s = f[col]
            return None if s.null_count() == f.height else int(s.sum())

        return ResultsSummary(
            election=self.election.name,
            contest=self.contest.name,
            round=self.contest.round,
            stations=f.height,
            stations_abroad=int(f["abroad"].sum()),
            registered=total("registered"),
            stations_with_register=f.height - f["registered"].null_count(),
            cast=int(f["cast"].sum()),
            valid=total("valid"),
            invalid=total("invalid"),
            blank=total("blank"),
            turnout=self.national_turnout(),
            candidate_votes=self.candidate_totals,
            winner=self.winner,
            synthetic=self.synthetic,
            area_counts={lvl: f[lvl].n_unique() for lvl in self.area_levels},
            warnings=list(self.warnings),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "election": self.election.to_dict(),
            "contest": self.contest.to_dict(),
            "source": self.source.to_dict(),
            "summary": self.summary().to_dict(),
        }
