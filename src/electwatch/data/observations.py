"""Observation records: what observers at polling stations report.

An observation is one observer's count at one station over a watch window. In
columnar form (a polars DataFrame) the canonical columns are:

``station_id``     station watched (must exist in the station frame)
``observer_id``    pseudonymous observer identifier
``window_start``   start of the watch, ``HH:MM`` (24 h clock)
``window_end``     end of the watch, ``HH:MM``; ``24:00`` means midnight
``voters``         voters counted over the window (non-negative integer)
``hourly``         optional list of counts per polling hour (see :class:`ArrivalProfile`)
``notes``          optional free text
``outcome:<name>`` optional per-outcome counts of the station's result protocol
                   (candidates/parties as written, plus ``blank`` and ``invalid``)

Every format is documented with examples in docs/observations.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

OBSERVATION_COLUMNS = ("station_id", "observer_id", "window_start", "window_end", "voters")
#: CSV column prefix of per-outcome counts (FORMATS a): ``outcome:Mousavi``
OUTCOME_PREFIX = "outcome:"
#: reserved outcome names besides candidates
RESERVED_OUTCOMES = ("blank", "invalid")
#: columns of a cumulative snapshot record (FORMATS b)
SNAPSHOT_COLUMNS = ("station_id", "observer_id", "counted_since", "time", "cumulative")


def parse_clock(value: str) -> float:
    """``"08:30"`` -> 8.5 hours; ``"24:00"`` is accepted for midnight at the end of the day."""
    text = value.strip()
    hh, sep, mm = text.partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or len(mm) != 2:
        raise ValueError(f"time {value!r} is not HH:MM")
    h, m = int(hh), int(mm)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise ValueError(f"time {value!r} is outside 00:00-24:00")
    return h + m / 60


@dataclass(frozen=True)
class ArrivalProfile:
    """Share of a day's voters arriving in each hour the polls are open.

    ``open_hour`` is when polls open; ``shares[k]`` is the share arriving in hour
    ``open_hour + k``. Used to scale a count over a partial watch window up to a
    whole-day count: whole day = counted / (share of the day watched).
    """

    open_hour: int
    shares: tuple[float, ...]

    def __post_init__(self) -> None:
        s = np.asarray(self.shares, dtype=float)
        if s.ndim != 1 or len(s) == 0 or (s < 0).any():
            raise ValueError("shares must be a non-empty list of non-negative numbers")
        if not np.isclose(s.sum(), 1.0, atol=1e-6):
            raise ValueError(f"shares must sum to 1, they sum to {s.sum():.6f}")

    @property
    def close_hour(self) -> int:
        return self.open_hour + len(self.shares)

    def covered_share(self, start: float | np.ndarray, end: float | np.ndarray) -> np.ndarray:
        """Share of the day's voters arriving in [start, end) (hours, fractional ok).

        Within an hour arrivals are taken as uniform. Vectorised over windows.
        """
        start = np.atleast_1d(np.asarray(start, dtype=float))
        end = np.atleast_1d(np.asarray(end, dtype=float))
        edges = self.open_hour + np.arange(len(self.shares) + 1, dtype=float)
        cum = np.concatenate([[0.0], np.cumsum(self.shares)])
        lo = np.interp(start, edges, cum)
        hi = np.interp(end, edges, cum)
        return np.clip(hi - lo, 0.0, 1.0)

    @classmethod
    def uniform(cls, open_hour: int, close_hour: int) -> ArrivalProfile:
        k = close_hour - open_hour
        return cls(open_hour, tuple([1.0 / k] * k))

    @classmethod
    def default(cls) -> ArrivalProfile:
        """A typical day 08:00-20:00: a morning peak, a lull, an evening peak.

        Illustrative shape only; use a profile estimated from hourly reports
        (electwatch.turnout) or published hourly turnout whenever one exists.
        """
        return cls(8, (0.05, 0.08, 0.10, 0.10, 0.09, 0.08, 0.07, 0.07, 0.08, 0.10, 0.10, 0.08))

    def to_dict(self) -> dict[str, Any]:
        return {"open_hour": self.open_hour, "shares": list(self.shares)}
