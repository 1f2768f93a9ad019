"""Solar Hijri (Jalali) dates, the civil calendar of Iran and Afghanistan.

The conversion uses Borkowski's arithmetic approximation of the astronomical
calendar (K. M. Borkowski, "The Persian calendar for 3000 years", Earth, Moon and
Planets 74 (1996) 223-230): the leap years are fixed by a short list of "break"
years between which leap years recur every four years inside 33-year cycles. It
agrees with the official calendar for Jalali years -61 to 3177.

Months 1-6 have 31 days, 7-11 have 30, Esfand (12) has 29, or 30 in a leap year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

#: Jalali years at which the 33-year leap cycle shifts (Borkowski 1996, table 1)
_BREAKS = (
    -61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210,
    1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178,
)  # fmt: skip

MONTHS_FA = (
    "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
    "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
)  # fmt: skip
MONTHS_EN = (
    "Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar",
    "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand",
)  # fmt: skip


def _div(a: int, b: int) -> int:
    """Integer division truncated toward zero (the algorithm is stated with it)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _mod(a: int, b: int) -> int:
    return a - _div(a, b) * b


def _year_info(jy: int) -> tuple[bool, int]:
    """(is ``jy`` a leap year, the March day of Gregorian year jy+621 that is 1 Farvardin)."""
    if not _BREAKS[0] <= jy < _BREAKS[-1]:
        raise ValueError(f"Jalali year {jy} is outside {_BREAKS[0]}..{_BREAKS[-1] - 1}")
    gy = jy + 621
    leap_j = -14
    jp = _BREAKS[0]
    jump = 0
    for jm in _BREAKS[1:]:
        jump = jm - jp
        if jy < jm:
            break
        leap_j += _div(jump, 33) * 8 + _div(_mod(jump, 33), 4)
        jp = jm
    n = jy - jp
    # leap years since the last break, then the Gregorian leap days up to gy
    leap_j += _div(n, 33) * 8 + _div(_mod(n, 33) + 3, 4)
    if _mod(jump, 33) == 4 and jump - n == 4:
        leap_j += 1
    leap_g = _div(gy, 4) - _div((_div(gy, 100) + 1) * 3, 4) - 150
    march = 20 + leap_j - leap_g
    if jump - n < 6:
        n = n - jump + _div(jump + 4, 33) * 33
    leap = _mod(_mod(n + 1, 33) - 1, 4)
    return (leap == 0, march)


@dataclass(frozen=True, order=True)
class JalaliDate:
    year: int
    month: int
    day: int

    def isoformat(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def nowruz(jalali_year: int) -> date:
    """The Gregorian date of 1 Farvardin of ``jalali_year``."""
    return date(jalali_year + 621, 3, _year_info(jalali_year)[1])


def is_leap(jalali_year: int) -> bool:
    return _year_info(jalali_year)[0]


def to_jalali(d: date) -> JalaliDate:
    """Gregorian -> Solar Hijri (``date(2024, 3, 20)`` -> 1403-01-01)."""
    jy = d.year - 621
    start = nowruz(jy)
    if d < start:
        jy -= 1
        start = nowruz(jy)
    days = (d - start).days
    if days < 186:
        return JalaliDate(jy, days // 31 + 1, days % 31 + 1)
    days -= 186
    return JalaliDate(jy, 7 + days // 30, days % 30 + 1)


def from_jalali(year: int, month: int, day: int) -> date:
    """Solar Hijri -> Gregorian; refuses a day that does not exist."""
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} is not 1-12")
    length = 31 if month <= 6 else 30 if month <= 11 else (30 if is_leap(year) else 29)
    if not 1 <= day <= length:
        raise ValueError(f"day {day} is not in month {month} of {year} (1-{length})")
    offset = (month - 1) * 31 if month <= 7 else 186 + (month - 7) * 30
    return nowruz(year) + timedelta(days=offset + day - 1)
