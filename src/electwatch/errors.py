"""The project's own exception types.

Every error a user can cause with bad input is an :class:`ElectwatchError`; the
CLI turns it into a message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class ElectwatchError(Exception):
    """Base class of every error electwatch raises on purpose."""


@dataclass
class DataValidationError(ElectwatchError):
    """A value in an input file is not what the column mapping declares.

    ``row`` is the 1-based data row (the header is not counted); ``line`` is the
    1-based physical line of a CSV file when it is known.
    """

    file: str
    message: str
    row: int | None = None
    column: str | None = None
    value: object = None
    expected: str | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = ", ".join(where) + f": {self.message}"
        if self.value is not None:
            text += f" (value {self.value!r})"
        if self.expected:
            text += f"; expected {self.expected}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "line": self.line,
            "column": self.column,
            "value": None if self.value is None else str(self.value),
            "expected": self.expected,
            "message": self.message,
        }


class MappingError(ElectwatchError):
    """A column mapping (TOML file or dict) is malformed."""
