"""The shared number and name normalizer (electwatch.core.numbers)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from electwatch.core.numbers import (
    ARABIC_INDIC_DIGITS,
    PERSIAN_DIGITS,
    NumberFormatError,
    name_key,
    normalize_name,
    parse_count,
    parse_decimal,
    parse_optional_count,
)


def _in_script(text: str, digits: str) -> str:
    return "".join(digits[int(c)] if c.isdigit() else c for c in text)


def _grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


@given(
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(["0123456789", PERSIAN_DIGITS, ARABIC_INDIC_DIGITS]),
    st.sampled_from(["", ",", "\u066c", "\u202f", " ", "\u00a0"]),
)
def test_parse_count_reads_any_script_and_separator(n, digits, sep):
    text = _in_script(_grouped(n, sep) if sep else str(n), digits)
    assert parse_count(text) == n
    assert parse_count(f"\u200f {text} \u200e") == n  # direction marks and padding


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "-1",
        "1.5",
        "12,34",
        "1,2345",
        "1e5",
        "²",
        "NaN",
        "inf",
        "۱۲a",
        "1_000",
        True,
        1.0,
        float("nan"),
        None,
        -3,
    ],
)
def test_parse_count_refuses_what_is_not_a_whole_number(bad):
    with pytest.raises(NumberFormatError):
        parse_count(bad)


def test_optional_count_is_missing_not_zero():
    assert parse_optional_count("NA") is None
    assert parse_optional_count("") is None
    assert parse_optional_count(None) is None
    assert parse_optional_count("۰") == 0


@pytest.mark.parametrize(
    ("text", "value"),
    [("۴۵٫۶", "45.6"), ("45.6", "45.6"), ("١٬٢٣٤٫٥", "1234.5"), ("-0.25", "-0.25"), (".5", "0.5")],
)
def test_parse_decimal(text, value):
    assert parse_decimal(text) == Decimal(value)


@pytest.mark.parametrize("bad", ["12,5", "1.2.3", "", "%", "abc"])
def test_parse_decimal_refuses(bad):
    with pytest.raises(NumberFormatError):
        parse_decimal(bad)


def test_arabic_letter_forms_are_stored_as_persian():
    # "Yazd" and "Kerman" as a Windows-1256 export spells them (Arabic yeh and kaf)
    assert normalize_name("\u064a\u0632\u062f") == "یزد"
    assert normalize_name("\u0643\u0631\u0645\u0627\u0646") == "کرمان"
    assert name_key("  كرمان ") == name_key("کرمان")


def test_name_key_ignores_digits_script_case_and_joiners():
    assert name_key("Station ۱۲") == name_key("station 12")
    assert name_key("می\u200cشود") == name_key("میشود")
    assert "\u200c" in normalize_name("می\u200cشود")  # stored spelling keeps the ZWNJ


@given(st.text())
def test_normalize_name_is_idempotent(text):
    once = normalize_name(text)
    assert normalize_name(once) == once
    assert name_key(name_key(text)) == name_key(text)
