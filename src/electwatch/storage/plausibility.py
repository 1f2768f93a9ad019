"""Plausibility checks of an observer's report (pure functions, no database).

A report that fails one is stored (nothing an observer sends is thrown away) but
*quarantined*: it waits for a coordinator, with the reasons, and never reaches the
merged records or the live estimate until released. The checks:

* more voters than the station's registered voters, or than the ballots issued
  there according to the official count;
* more voters than a station can physically admit: ``max_voters_per_hour`` (per
  election, default 600, i.e. one voter every 6 s through one ballot box) times the
  hours of the watch window; in Iran, where no registers are published, this is the
  main check;
* a malformed window: outside the election's polling hours, or hourly counts whose
  number is not the number of (started) hours in the window, or one hour above the
  hourly maximum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from electwatch.core.formatting import clock

DEFAULT_MAX_VOTERS_PER_HOUR = 600


@dataclass(frozen=True)
class StationLimits:
    registered: int | None
    ballots_issued: int | None
    open_hour: int
    close_hour: int
    max_voters_per_hour: int = DEFAULT_MAX_VOTERS_PER_HOUR


def problems(
    voters: int,
    hourly: Sequence[int] | None,
    window_start: int,
    window_end: int,
    limits: StationLimits,
) -> list[str]:
    """Why the report is implausible (empty: plausible). Windows in minutes."""
    out: list[str] = []
    if limits.registered is not None and voters > limits.registered:
        out.append(f"voters {voters} above the {limits.registered} registered at the station")
    if limits.ballots_issued is not None and voters > limits.ballots_issued:
        out.append(
            f"voters {voters} above the {limits.ballots_issued} ballots issued at the station"
        )
    hours = (window_end - window_start) / 60
    ceiling = math.floor(limits.max_voters_per_hour * hours)
    if hours > 0 and voters > ceiling:
        out.append(
            f"voters {voters} above the physical maximum {ceiling} "
            f"({limits.max_voters_per_hour} per hour over {hours:g} h)"
        )
    if window_start < limits.open_hour * 60 or window_end > limits.close_hour * 60:
        out.append(
            f"window {clock(window_start)}-{clock(window_end)} outside polling hours "
            f"{limits.open_hour:02d}:00-{limits.close_hour:02d}:00"
        )
    if hourly is not None:
        expected = math.ceil(hours) if hours > 0 else 0
        if len(hourly) != expected:
            out.append(
                f"{len(hourly)} hourly counts for a {hours:g} h window (expected {expected})"
            )
        over = [c for c in hourly if c > limits.max_voters_per_hour]
        if over:
            out.append(
                f"an hourly count of {max(over)} above the maximum "
                f"{limits.max_voters_per_hour} per hour"
            )
    return out
