"""One number and name normalizer for every input path.

Loaders, the observation reader, the JSON API and the web CSV import all read counts
through :func:`parse_count`, so a value typed as ``۱۲۳``, ``١٢٣``, ``1,234``, ``۱٬۲۳۴``
or ``1 234`` means the same number everywhere, and anything else (a fraction, a sign,
``²``, ``NaN``, a boolean) is refused the same way everywhere.

Names of areas, candidates and stations are matched through :func:`name_key` and stored
through :func:`normalize_name`: Windows-1256 exports carry the Arabic letter forms
(``ي`` U+064A, ``ك`` U+0643) where Persian text has ``ی`` (U+06CC) and ``ک`` (U+06A9);
both spell the same name, so both are stored in the Persian form.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

# Persian (extended Arabic-Indic, U+06F0-06F9) and Arabic-Indic (U+0660-0669) digits.
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"

_DIGITS = str.maketrans(
    {
        **{c: str(i) for i, c in enumerate(PERSIAN_DIGITS)},
        **{c: str(i) for i, c in enumerate(ARABIC_INDIC_DIGITS)},
    }
)

# Characters that only group thousands: ASCII comma, the Arabic thousands separator
# (U+066C), the Arabic comma (U+060C, used so by some exports), apostrophe (Swiss),
# and the spaces that spreadsheets put between groups.
THOUSANDS_SEPARATORS = ",\u066c\u060c'\u2019 \u00a0\u202f\u2009\u2007"
# The Arabic decimal separator (U+066B) means a decimal point.
ARABIC_DECIMAL_SEPARATOR = "\u066b"

# Bidirectional marks that copy-paste from right-to-left text leaves around numbers.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
)
# The zero-width non-joiner (U+200C) is part of Persian spelling ("می‌شود"): names keep
# it, keys drop it (and the zero-width joiner), since sources disagree on using it.
_JOINERS = dict.fromkeys(map(ord, "\u200c\u200d"))

# Arabic letter forms -> the Persian forms under which names are stored.
_LETTERS = str.maketrans(
    {
        "\u064a": "\u06cc",  # ARABIC YEH -> FARSI YEH
        "\u0649": "\u06cc",  # ALEF MAKSURA -> FARSI YEH
        "\u0643": "\u06a9",  # ARABIC KAF -> KEHEH
        "\u0629": "\u0647",  # TEH MARBUTA -> HEH (as in Persian spelling)
        "\u06c0": "\u0647",  # HEH WITH YEH ABOVE -> HEH (ezafe written on the letter)
        "\u0640": None,  # TATWEEL (kashida): stretching only
    }
)
# Short vowels and other combining marks that do not change a name (harakat).
_HARAKAT = re.compile("[\u064b-\u065f\u0670]")
_SPACES = re.compile(r"\s+")

_GROUPED = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+$")
# ASCII only after normalize_digits: ``\d`` would also take Devanagari or Bengali
# digits, which no input here declares (and ``int()`` would silently read them)
_PLAIN = re.compile(r"^[0-9]+$")


class NumberFormatError(ValueError):
    """A text that is not the kind of number asked for; ``expected`` says which."""

    def __init__(self, text: str, expected: str) -> None:
        super().__init__(f"{text!r} is not {expected}")
        self.text = text
        self.expected = expected


def normalize_digits(text: str) -> str:
    """Persian and Arabic-Indic digits to ASCII; invisible direction marks removed."""
    return text.translate(_DIGITS).translate(_INVISIBLE).translate(_JOINERS)


def _canonical_number_text(text: str) -> str:
    text = normalize_digits(text).strip()
    for sep in "\u066c\u060c'\u2019":
        text = text.replace(sep, ",")
    # spaces between digit groups: "1 234 567" (only single spaces between groups)
    text = re.sub(r"(?<=[0-9])[ \u00a0\u202f\u2009\u2007](?=[0-9]{3}(?:[^0-9]|$))", ",", text)
    return text.replace(ARABIC_DECIMAL_SEPARATOR, ".")


def parse_count(value: object) -> int:
    """A whole number >= 0 from a cell, form field or JSON value.

    Accepts Python ints (not bools) and text of digits in any of the scripts above,
    with thousands separators only where they group by three (``1,234`` yes,
    ``12,34`` no: that is a decimal comma in many countries, and guessing would
    misread it). Refuses fractions, signs, exponents, superscripts (``²``), NaN,
    floats and booleans with :class:`NumberFormatError`.
    """
    if isinstance(value, bool):
        raise NumberFormatError(str(value), "a whole number >= 0")
    if isinstance(value, int):
        if value < 0:
            raise NumberFormatError(str(value), "a whole number >= 0")
        return value
    if not isinstance(value, str):
        raise NumberFormatError(repr(value), "a whole number >= 0")
    text = _canonical_number_text(value)
    if _PLAIN.match(text):
        return int(text)
    if _GROUPED.match(text):
        return int(text.replace(",", ""))
    raise NumberFormatError(value, "a whole number >= 0")


def parse_optional_count(
    value: object, missing: frozenset[str] = frozenset({"", "NA", "N/A", "-", "—"})
) -> int | None:
    """:func:`parse_count`, but an empty cell or a declared missing marker gives None
    (missing, never zero)."""
    if value is None:
        return None
    if isinstance(value, str) and normalize_digits(value).strip() in missing:
        return None
    return parse_count(value)


def parse_decimal(value: object) -> Decimal:
    """A decimal number (percentages, shares) in any digit script; ``٫`` or ``.`` as
    the decimal point; thousands separators grouped by three. A bare decimal comma
    (``12,5``) is refused rather than guessed."""
    if isinstance(value, bool):
        raise NumberFormatError(str(value), "a decimal number")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise NumberFormatError(repr(value), "a decimal number")
    text = _canonical_number_text(value)
    match = re.match(r"^([+-]?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.([0-9]+))?$", text)
    if not match or (match.group(2) is None and match.group(3) is None):
        raise NumberFormatError(value, "a decimal number")
    whole = (match.group(2) or "0").replace(",", "")
    try:
        return Decimal(f"{match.group(1)}{whole}.{match.group(3) or '0'}")
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only digits
        raise NumberFormatError(value, "a decimal number") from exc


def normalize_name(text: str) -> str:
    """A name as stored: NFC, Persian letter forms, harakat and kashida removed,
    direction marks removed, runs of white space as one space, trimmed. Digits are
    kept as written (a station "۱۲" stays readable), see :func:`name_key`."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE).translate(_LETTERS)
    text = _HARAKAT.sub("", text)
    return _SPACES.sub(" ", text).strip()


def name_key(text: str) -> str:
    """The key under which names are matched: :func:`normalize_name`, ASCII digits,
    case-folded. Two spellings of one name (Arabic vs Persian letter forms, Persian vs
    ASCII digits, extra spaces) have the same key."""
    return normalize_digits(normalize_name(text)).translate(_JOINERS).casefold()
