"""When a statistic applies: one protocol for forensics, estimators and fraud models.

Every statistic declares what it needs before it runs — inputs (a register column,
station-level rows, at least two candidates, ...) and a minimum sample with the reason
and a citation — and answers :class:`NotApplicable` with that reason instead of
crashing, running on too little, or printing a p-value it cannot stand behind.

The shape follows scipy.stats (``_axis_nan_policy``: a test knows its ``too_small``
and warns with ``SmallSampleWarning``) and Datasette's facets (each facet first asks
whether it applies to the table, then runs)::

    class LastDigitMean(Statistic[Table, TestResult]):
        name = "last_digit_mean"
        requires = (Requirement("station_rows", "counts of single stations",
                                lambda t: t.level == "station"),)
        minimum = MinimumSample(
            50, "the last-digit mean's normal approximation needs about 50 counts",
            "Beber & Scacco 2012, Political Analysis 20(2)")

        def sample_size(self, t): return t.n_counts
        def compute(self, t): ...

    outcome = LastDigitMean().run(table)   # a TestResult or a NotApplicable
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

InputT = TypeVar("InputT")
ResultT = TypeVar("ResultT")


class SmallSampleWarning(UserWarning):
    """A statistic was asked to run on fewer units than its declared minimum."""


@dataclass(frozen=True)
class Requirement(Generic[InputT]):
    """One input a statistic needs: ``holds(data)`` says whether ``data`` has it;
    ``needs`` is the plain text shown when it does not ("a register (eligible voters)
    per station")."""

    name: str
    needs: str
    holds: Callable[[InputT], bool]


@dataclass(frozen=True)
class MinimumSample:
    """The smallest number of units a statistic stands behind, with the reason and a
    citation (a paper, a simulation in docs, or both)."""

    n: int
    reason: str
    citation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "reason": self.reason, "citation": self.citation}


@dataclass(frozen=True)
class NotApplicable:
    """The answer of a statistic that does not apply: which one, where, and why.

    ``missing`` names the requirement that failed (``"register"``, ``"minimum_n"``,
    ...); ``n`` is the sample size seen when the minimum was the reason."""

    statistic: str
    reason: str
    missing: str
    n: int | None = None
    minimum: MinimumSample | None = None
    area: str | None = None
    level: str | None = None

    applicable: ClassVar[bool] = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "applicable": False,
            "reason": self.reason,
            "missing": self.missing,
            "n": self.n,
            "minimum": None if self.minimum is None else self.minimum.to_dict(),
            "area": self.area,
            "level": self.level,
        }

    def __str__(self) -> str:
        return f"{self.statistic}: not applicable: {self.reason}"


def too_small(
    statistic: str,
    n: int,
    minimum: MinimumSample,
    *,
    warn: bool = False,
    area: str | None = None,
    level: str | None = None,
) -> NotApplicable | None:
    """:class:`NotApplicable` when ``n`` is below ``minimum.n``, else None (scipy's
    ``too_small`` check); with ``warn`` also a :class:`SmallSampleWarning`."""
    if n >= minimum.n:
        return None
    reason = f"n = {n} is below the minimum of {minimum.n}: {minimum.reason}"
    if minimum.citation:
        reason += f" ({minimum.citation})"
    if warn:
        warnings.warn(f"{statistic}: {reason}", SmallSampleWarning, stacklevel=2)
    return NotApplicable(
        statistic, reason, "minimum_n", n=n, minimum=minimum, area=area, level=level
    )


def unmet(
    statistic: str,
    requirements: Sequence[Requirement[InputT]],
    data: InputT,
    *,
    area: str | None = None,
    level: str | None = None,
) -> NotApplicable | None:
    """The first requirement ``data`` does not meet, as a :class:`NotApplicable`."""
    for requirement in requirements:
        if not requirement.holds(data):
            return NotApplicable(
                statistic, f"needs {requirement.needs}", requirement.name, area=area, level=level
            )
    return None


class Statistic(Generic[InputT, ResultT]):
    """A statistic that first checks that it applies, then computes.

    Subclasses set ``name``, ``requires`` and ``minimum`` (or None: no minimum beyond
    the requirements) and implement :meth:`sample_size` and :meth:`compute`.
    :meth:`run` never calls :meth:`compute` on data that fails a requirement or the
    minimum."""

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[Requirement[Any], ...]] = ()
    minimum: ClassVar[MinimumSample | None] = None

    def sample_size(self, data: InputT) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def compute(self, data: InputT) -> ResultT:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(
        self, data: InputT, *, area: str | None = None, level: str | None = None
    ) -> NotApplicable | None:
        """None when the statistic applies to ``data``, else why not."""
        missing = unmet(self.name, self.requires, data, area=area, level=level)
        if missing is not None or self.minimum is None:
            return missing
        return too_small(self.name, self.sample_size(data), self.minimum, area=area, level=level)

    def run(
        self, data: InputT, *, area: str | None = None, level: str | None = None
    ) -> ResultT | NotApplicable:
        return self.check(data, area=area, level=level) or self.compute(data)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What the statistic needs, for documentation and ``--json`` listings."""
        return {
            "statistic": cls.name,
            "requires": [{"name": r.name, "needs": r.needs} for r in cls.requires],
            "minimum": None if cls.minimum is None else cls.minimum.to_dict(),
        }
