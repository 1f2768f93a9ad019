"""Per-outcome counts of a station's result protocol (FORMATS.md a), one reader for
the JSON API, the observer form and the web CSV import.

Outcome names are the candidate or list names as written on the protocol (stored
through :func:`electwatch.core.numbers.normalize_name`, so ``علي`` and ``علی`` are one
name) plus the reserved ``blank`` and ``invalid``; counts are whole numbers >= 0 read
by :func:`electwatch.core.numbers.parse_count` (any digit script).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from electwatch.core.numbers import NumberFormatError, normalize_name, parse_count

RESERVED = ("blank", "invalid")
MAX_OUTCOMES = 100
MAX_NAME = 200
MAX_COUNT = 100_000
#: CSV column prefix (``outcome:Mousavi``)
CSV_PREFIX = "outcome:"


class OutcomeError(ValueError):
    """A bad outcome name or count; ``name`` is the outcome concerned."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def outcome_name(raw: str) -> str:
    name = normalize_name(raw)
    if name.lower() in RESERVED:
        return name.lower()
    if not name:
        raise OutcomeError(raw, "an outcome name is empty")
    if len(name) > MAX_NAME:
        raise OutcomeError(raw[:40], f"an outcome name is longer than {MAX_NAME} characters")
    return name


def outcome_count(name: str, value: object) -> int:
    try:
        n = parse_count(value)
    except NumberFormatError as exc:
        raise OutcomeError(name, f"votes for {name!r}: {exc}") from None
    if n > MAX_COUNT:
        raise OutcomeError(name, f"votes for {name!r}: more than {MAX_COUNT}")
    return n


def parse_outcomes(pairs: Any) -> dict[str, int] | None:
    """``{name: count}`` (or ``[(name, count)]``) -> normalized outcomes; None or empty
    -> None. Two spellings of one name are refused, never summed."""
    if pairs is None:
        return None
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    if len(items) > MAX_OUTCOMES:
        raise OutcomeError("", f"more than {MAX_OUTCOMES} outcomes")
    out: dict[str, int] = {}
    for raw, value in items:
        if not isinstance(raw, str):
            raise OutcomeError(str(raw), "an outcome name must be text")
        name = outcome_name(raw)
        if name in out:
            raise OutcomeError(name, f"outcome {name!r} is given twice")
        out[name] = outcome_count(name, value)
    return out or None


def _validate(value: Any) -> dict[str, int] | None:
    if value is not None and not isinstance(value, dict):
        raise ValueError("outcomes must be an object of name: count")
    try:
        return parse_outcomes(value)
    except OutcomeError as exc:
        raise ValueError(str(exc)) from None


#: the API field: an object of outcome name -> whole number (integer or digit string)
OutcomesField = Annotated[
    dict[str, int] | None,
    BeforeValidator(_validate),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "maxProperties": MAX_OUTCOMES,
                    "additionalProperties": {
                        "anyOf": [
                            {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
                            {"type": "string", "pattern": r"^\S.*$", "maxLength": 20},
                        ]
                    },
                },
                {"type": "null"},
            ],
            "description": "votes per outcome from the result protocol (names as written, "
            "plus 'blank' and 'invalid'); counts are whole numbers, as integers or as "
            "digits in any script",
            "examples": [{"Mousavi": 120, "blank": 3}],
        }
    ),
    Field(default=None),
]
