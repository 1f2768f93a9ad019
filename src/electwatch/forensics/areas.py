"""Station arrays and area groupings shared by all tests.

An area level is encoded as one integer code per station (0..G-1), so that every
per-area statistic is a ``np.bincount``/``np.add.reduceat`` over stations instead of
a Python loop. The key of a level is the path of names from the top level down
("Region / District") so that equal sub-area names in different regions stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from electwatch.data.model import ElectionResults
from electwatch.forensics.types import NATIONAL


@dataclass(frozen=True)
class AreaGroups:
    """Integer codes of the stations' areas at one level."""

    level: str
    codes: np.ndarray  # int64, one per station
    names: list[str]

    @property
    def n_groups(self) -> int:
        return len(self.names)

    def counts(self, mask: np.ndarray | None = None) -> np.ndarray:
        codes = self.codes if mask is None else self.codes[mask]
        return np.bincount(codes, minlength=self.n_groups)

    def sums(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if mask is None:
            return np.bincount(self.codes, weights=values, minlength=self.n_groups)
        return np.bincount(self.codes[mask], weights=values[mask], minlength=self.n_groups)


def national_groups(n: int) -> AreaGroups:
    return AreaGroups(NATIONAL, np.zeros(n, dtype=np.int64), [NATIONAL])


def area_groups(results: ElectionResults, level: str) -> AreaGroups:
    """Codes for ``level`` ('national' or one of ``results.area_levels``)."""
    if level == NATIONAL:
        return national_groups(results.n_stations)
    if level not in results.area_levels:
        raise KeyError(f"no area level {level!r}; levels are {results.area_levels}")
    upto = results.area_levels[: results.area_levels.index(level) + 1]
    key = pl.concat_str([pl.col(c).cast(pl.String).fill_null("?") for c in upto], separator=" / ")
    keys = results.frame.select(key.alias("k"))["k"]
    uniq = keys.unique().sort()
    codes = keys.replace_strict(uniq, pl.Series(np.arange(uniq.len())), return_dtype=pl.Int64)
    return AreaGroups(level, codes.to_numpy(), uniq.to_list())


def resolve_levels(results: ElectionResults, level: str | list[str] | None) -> list[str]:
    """``None`` means national plus every area level; a name means national plus it."""
    if level is None:
        return [NATIONAL, *results.area_levels]
    wanted = [level] if isinstance(level, str) else list(level)
    for lv in wanted:
        if lv != NATIONAL and lv not in results.area_levels:
            raise KeyError(f"no area level {lv!r}; levels are {results.area_levels}")
    return [NATIONAL, *[lv for lv in wanted if lv != NATIONAL]]


@dataclass(frozen=True)
class StationArrays:
    """Per-station numbers the tests need (float64 with NaN for 'not published')."""

    registered: np.ndarray
    cast: np.ndarray
    valid: np.ndarray
    invalid: np.ndarray
    blank: np.ndarray
    votes: np.ndarray  # stations x candidates, int64
    candidates: list[str]
    winner_index: int
    runner_up_index: int | None

    @property
    def winner(self) -> str:
        return self.candidates[self.winner_index]

    @property
    def winner_votes(self) -> np.ndarray:
        return self.votes[:, self.winner_index]

    @property
    def n(self) -> int:
        return self.cast.shape[0]

    def turnout(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.cast / self.registered
        t[~(self.registered > 0)] = np.nan
        return t

    def winner_share(self) -> np.ndarray:
        """Winner's votes over valid votes (NaN where no valid votes)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            s = self.winner_votes / self.valid
        s[~(self.valid > 0)] = np.nan
        return s


def station_arrays(results: ElectionResults) -> StationArrays:
    votes = results.vote_matrix()
    cast = results.cast.astype(np.float64)
    invalid = results.count("invalid")
    blank = results.count("blank")
    valid = results.count("valid")
    total_votes = votes.sum(axis=1).astype(np.float64)
    # valid votes: published, else the sum of candidates' votes
    valid = np.where(np.isnan(valid), total_votes, valid)
    totals = votes.sum(axis=0)
    order = np.argsort(-totals, kind="stable")
    return StationArrays(
        registered=results.registered,
        cast=cast,
        valid=valid,
        invalid=invalid,
        blank=blank,
        votes=votes,
        candidates=list(results.candidates),
        winner_index=int(order[0]),
        runner_up_index=int(order[1]) if len(order) > 1 else None,
    )
