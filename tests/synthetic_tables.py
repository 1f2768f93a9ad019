"""SYNTHETIC results tables for the loader tests (invented numbers and names).

An Iranian-style constituency table in long form: province, constituency, outcome,
votes, seats; each constituency has its own candidate list, one is multi-seat, and
blank and invalid ballots are outcome rows. Written as UTF-8 with Persian digits and
the Persian thousands separator, or as a Windows-1256 export (Arabic letter forms
ي ك, ASCII digits), as Iranian offices and spreadsheets produce them.
"""

from __future__ import annotations

from pathlib import Path

from electwatch.core.numbers import PERSIAN_DIGITS

PROVINCE, CONSTITUENCY, OUTCOME, VOTES, SEATS = "استان", "حوزه انتخابیه", "نامزد", "آرا", "کرسی"
BLANK, INVALID = "آرای سفید", "آرای باطله"

# constituency -> (province, seats, {outcome: votes}) — SYNTHETIC
CONSTITUENCIES: dict[str, tuple[str, int, dict[str, int]]] = {
    "تهران، ری، شمیرانات": (
        "تهران",
        3,
        {
            "علی کریمی": 1_234_567,
            "مریم یزدانی": 1_100_200,
            "رضا کاظمی": 987_654,
            "زهرا پاکزاد": 45_321,
            BLANK: 120_000,
            INVALID: 34_567,
        },
    ),
    "کرمان و راور": (
        "کرمان",
        1,
        {"محمد یکتا": 98_765, "کاظم کیانی": 87_001, BLANK: 1_234, INVALID: 2_345},
    ),
    "یزد و اشکذر": (
        "یزد",
        1,
        {"حسین کوهی": 76_543, "مریم یزدانی": 12_345, BLANK: 987, INVALID: 1_111},
    ),
}
TOTAL_BALLOTS = sum(sum(v.values()) for _, _, v in CONSTITUENCIES.values())


def persian_number(n: int) -> str:
    """1234567 -> ۱٬۲۳۴٬۵۶۷ (Persian digits, Arabic thousands separator U+066C)."""
    grouped = f"{n:,}".replace(",", "\u066c")
    return grouped.translate(str.maketrans("0123456789", PERSIAN_DIGITS))


def arabic_forms(text: str) -> str:
    """Persian ی ک as the Arabic ي ك that Windows-1256 exports carry."""
    return text.replace("ی", "ي").replace("ک", "ك")


def iran_long_rows() -> list[list[str | int]]:
    rows: list[list[str | int]] = []
    for constituency, (province, seats, outcomes) in CONSTITUENCIES.items():
        for outcome, votes in outcomes.items():
            rows.append([province, constituency, outcome, votes, seats])
    return rows


def write_iran_long_utf8(path: Path) -> Path:
    lines = [",".join([PROVINCE, CONSTITUENCY, OUTCOME, VOTES, SEATS])]
    for province, constituency, outcome, votes, seats in iran_long_rows():
        lines.append(
            f'{province},"{constituency}",{outcome},{persian_number(int(votes))},'
            f"{persian_number(int(seats))}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_iran_long_cp1256(path: Path) -> Path:
    lines = [",".join([PROVINCE, CONSTITUENCY, OUTCOME, VOTES, SEATS])]
    for province, constituency, outcome, votes, seats in iran_long_rows():
        lines.append(f'{province},"{constituency}",{outcome},{votes},{seats}')
    path.write_bytes(arabic_forms("\r\n".join(lines) + "\r\n").encode("cp1256"))
    return path
