"""The one place numbers become text: reports, CLI tables, web pages, readings.

Every function takes a number (or ``None``/NaN for "not available") and returns a
string; ``missing`` is what a missing value prints as ("—" in reports, "n/a" in the
terminal). Standard library only, so that statistics packages (whose one-line
readings carry numbers) and the presentation layers share it (docs/architecture.md,
shared pieces).
"""

from __future__ import annotations

import math
from typing import Any

#: what a missing number prints as in reports (terminal output passes "n/a")
DASH = "—"


def is_missing(x: Any) -> bool:
    """``None``, NaN or an infinity: nothing to print."""
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fixed(x: float | None, digits: int = 3, *, missing: str = "n/a", grouped: bool = False) -> str:
    """``x`` with ``digits`` decimals (``grouped``: thousands separators)."""
    if is_missing(x):
        return missing
    assert x is not None
    return f"{float(x):,.{digits}f}" if grouped else f"{float(x):.{digits}f}"


def count(x: float | None, *, missing: str = DASH) -> str:
    """A whole number with thousands separators: ``91,113``."""
    if is_missing(x):
        return missing
    assert x is not None
    return f"{round(float(x)):,}"


def significant(x: float | None, digits: int = 4, *, missing: str = DASH) -> str:
    """``digits`` significant digits; 1,000 and above as a grouped whole number."""
    if is_missing(x):
        return missing
    assert x is not None
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def compact(x: float | None, digits: int = 3, *, missing: str = "n/a") -> str:
    """Terminal-width numbers: 100 and above whole, 10-100 one decimal, else ``digits``
    decimals (tiny non-zero values in ``digits`` significant digits)."""
    if is_missing(x):
        return missing
    assert x is not None
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"


def percent(share: Any, digits: int = 2, *, missing: str = DASH, grouped: bool = False) -> str:
    """A share in [0, 1] as a percentage: ``0.6527 -> "65.27%"``."""
    if is_missing(share):
        return missing
    return f"{float(share) * 100:{',' if grouped else ''}.{digits}f}%"


def points(x: float | None, digits: int = 1, *, missing: str = DASH) -> str:
    """A difference of two shares in percentage points, signed: ``+2.3 points``."""
    if is_missing(x):
        return missing
    assert x is not None
    return f"{float(x) * 100:+.{digits}f} points"


def p_value(p: float | None, *, label: bool = True, missing: str | None = None) -> str:
    """``p = 0.012`` / ``p < 0.001`` (``label=False``: ``0.012`` / ``< 0.001``)."""
    if is_missing(p):
        if missing is not None:
            return missing
        return "p n/a" if label else DASH
    assert p is not None
    text = "< 0.001" if p < 0.001 else f"{p:.3f}"
    if not label:
        return text
    return f"p {text}" if p < 0.001 else f"p = {text}"


def value(v: Any) -> str:
    """Default display of a table cell: grouped integers, four significant digits,
    yes/no for booleans, "—" for missing, lists joined with commas."""
    if v is None:
        return DASH
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isnan(v):
            return DASH
        if v == 0 or 1e-3 <= abs(v) < 1e6:
            return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.1f}"
        return f"{v:.3e}"
    if isinstance(v, list | tuple):
        return ", ".join(value(x) for x in v)
    return str(v)


def stated(x: float, is_percent: bool = False) -> str:
    """A figure held against a published claim: as a percentage when the claim was
    stated in percent, grouped whole numbers from 100,000, else six significant digits."""
    if is_percent:
        return f"{x * 100:.4g}%"
    if x != 0 and abs(x) >= 1e5:
        return f"{x:,.0f}"
    return f"{x:.6g}"


def interval(
    low: float | None, high: float | None, fmt: Any = significant, *, missing: str = DASH
) -> str:
    """``[low, high]`` with ``fmt`` for each end."""
    if is_missing(low) or is_missing(high):
        return missing
    return f"[{fmt(low)}, {fmt(high)}]"


def quantity_value(quantity: str, v: float | None, digits: int = 2, *, missing: str = DASH) -> str:
    """An estimate of ``quantity``: turnout as a percentage, voters as a grouped count."""
    if quantity == "turnout":
        return percent(v, digits, missing=missing)
    return fixed(v, 0, missing=missing, grouped=True)


def large(x: float | None, *, missing: str = DASH) -> str:
    """Counts for a headline: ``11.0 million``, ``29,303`` (below a million as is)."""
    if is_missing(x):
        return missing
    assert x is not None
    if abs(x) >= 1e9:
        return f"{x / 1e9:.1f} billion"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.1f} million"
    return count(x)


def clock(minutes: int) -> str:
    """Minutes after midnight as a clock time, ``HH:MM`` (the service's windows and
    snapshot times)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
