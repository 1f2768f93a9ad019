"""Claims: who said what number, when, by what method, resting on which numbers.

A claim is stored in TOML (see ``examples/claims.toml``)::

    [[claims]]
    id = "observer-turnout"
    source = "Observer network report"
    date = "2024-03-02"
    subject = "example election, round 1"
    quantity = "turnout"
    value = "7.8%"                         # numbers, "7.8%", "4.76 million", "88,325"
    relation = "="                         # "=", "about", "at most", "at least", "rank"
    election = "example election"          # which election the claim is about
    area = "Yazd"                          # which area (omit: the whole election)
    round = 1                              # which round (omit: any)
    method = "naive expansion"
    formula = "per_station * stations / eligible"
    inputs = { per_station = "@observer-per-station", stations = 59000, eligible = 61000000 }

``inputs`` are the numbers the claim rests on; a string ``"@id"`` takes the stated
value of another claim. ``formula`` is an arithmetic expression over the inputs
(``+ - * / **``, parentheses, ``sum(...)``, ``min``, ``max``). The precision of a
claim is half a unit of the last digit stated ("7.8%" -> +/-0.05 points) unless
``tolerance`` is given: a figure within it is "consistent within rounding", beyond it
a conflict.

Relations: ``=`` (or ``exactly``), ``about`` (the same as ``=``: the stated digits
carry the precision, "about 56%" is 55.5%-56.5%), ``at most`` (``<=``), ``at least``
(``>=``) and ``rank`` ("came 2nd": ``quantity = "rank"``, ``candidate = "..."`` or
``quantity = "blank"``/``"invalid"``, ``value = "2nd"``).
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from electwatch.errors import ElectwatchError

RELATIONS = ("=", "<=", ">=", "about", "rank")
#: spellings a claim file may use for a relation
RELATION_ALIASES = {
    "=": "=",
    "==": "=",
    "exactly": "=",
    "equals": "=",
    "about": "about",
    "approximately": "about",
    "around": "about",
    "~": "about",
    "<=": "<=",
    "at most": "<=",
    "under": "<=",
    ">=": ">=",
    "at least": ">=",
    "over": ">=",
    "rank": "rank",
    "came": "rank",
    "ranked": "rank",
}
_ORDINAL = re.compile(r"^\s*(\d+)\s*(st|nd|rd|th)?\s*(place)?\s*$", re.I)
_ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}


def parse_relation(raw: Any) -> str:
    """The canonical relation of a spelling (``"at most"`` -> ``"<="``); ValueError if unknown."""
    key = " ".join(str(raw).strip().lower().split())
    if key not in RELATION_ALIASES:
        raise ValueError(f"relation {raw!r} is not one of {sorted(set(RELATION_ALIASES))}")
    return RELATION_ALIASES[key]


def parse_rank(raw: Any) -> int:
    """``2``, ``"2nd"``, ``"second"``, ``"2nd place"`` -> 2."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        return raw
    text = str(raw).strip().lower().removeprefix("came ").strip()
    if text in _ORDINAL_WORDS and _ORDINAL_WORDS[text] > 0:
        return _ORDINAL_WORDS[text]
    m = _ORDINAL.match(text)
    if m and int(m.group(1)) >= 1:
        return int(m.group(1))
    raise ValueError(f'cannot read a rank from {raw!r} (write 2, "2nd" or "second")')


_SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "bn": 1e9,
}
_HEDGES = re.compile(r"^(about|around|approximately|approx\.?|~|c\.|some|roughly)\s*", re.I)


class ClaimError(ElectwatchError):
    """A claim file or a claim's formula is malformed."""


@dataclass(frozen=True)
class StatedNumber:
    """A number as published, with the precision implied by the digits stated."""

    value: float
    half_unit: float  # half a unit of the last stated digit
    text: str
    percent: bool = False

    @classmethod
    def parse(cls, raw: Any) -> StatedNumber:
        """Parse ``80.7``, ``"7.8%"``, ``"4.76 million"``, ``"88,325"``, ``"about 41%"``."""
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not a number")
        if isinstance(raw, int):
            return cls(float(raw), 0.5, str(raw))
        if isinstance(raw, float):
            return cls._from_decimal(repr(raw), 1.0, False, repr(raw))
        if not isinstance(raw, str):
            raise ValueError(f"{raw!r} is not a number")
        text = raw.strip()
        body = _HEDGES.sub("", text).replace(",", "").replace("\u202f", "").replace(" ", "")
        percent = body.endswith("%")
        if percent:
            body = body[:-1]
        scale = 1.0
        m = re.fullmatch(r"([-+]?[0-9.eE+-]+)([a-zA-Z]*)", body)
        if not m:
            raise ValueError(f"cannot read a number from {raw!r}")
        number, word = m.groups()
        if word:
            if word.lower() not in _SCALES:
                raise ValueError(f"unknown scale {word!r} in {raw!r}")
            scale = _SCALES[word.lower()]
        if percent:
            scale = 0.01
        return cls._from_decimal(number, scale, percent, text)

    @classmethod
    def _from_decimal(cls, number: str, scale: float, percent: bool, text: str) -> StatedNumber:
        try:
            d = Decimal(number)
        except InvalidOperation:
            raise ValueError(f"cannot read a number from {text!r}") from None
        exponent = d.as_tuple().exponent
        assert isinstance(exponent, int)
        half = 0.5 * 10.0**exponent * scale
        return cls(float(d) * scale, half, text, percent)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "precision": self.half_unit, "text": self.text}


@dataclass(frozen=True)
class Claim:
    """One published claim."""

    id: str
    source: str
    quantity: str
    stated: StatedNumber
    date: str | None = None
    subject: str | None = None
    method: str | None = None
    relation: str = "="
    formula: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    tolerance: float | None = None
    url: str | None = None
    notes: str | None = None
    #: which election, area and round the claim is about (None: not stated)
    election: str | None = None
    area: str | None = None
    round: int | None = None
    #: the candidate a rank or share claim is about
    candidate: str | None = None

    @property
    def value(self) -> float:
        return self.stated.value

    @property
    def precision(self) -> float:
        return self.tolerance if self.tolerance is not None else self.stated.half_unit

    def interval(self) -> tuple[float, float]:
        """Values compatible with the claim as stated (rounding and relation)."""
        lo, hi = self.value - self.precision, self.value + self.precision
        if self.relation == "<=":
            return (-math.inf, hi)
        if self.relation == ">=":
            return (lo, math.inf)
        if self.relation == "rank":
            return (self.value, self.value)
        return (lo, hi)

    @property
    def relation_text(self) -> str:
        return {"<=": "at most", ">=": "at least", "about": "about", "rank": "came"}.get(
            self.relation, "="
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "date": self.date,
            "subject": self.subject,
            "quantity": self.quantity,
            "value": self.value,
            "stated": self.stated.text,
            "precision": self.precision,
            "relation": self.relation,
            "method": self.method,
            "formula": self.formula,
            "inputs": dict(self.inputs),
            "url": self.url,
            "notes": self.notes,
            "election": self.election,
            "area": self.area,
            "round": self.round,
            "candidate": self.candidate,
        }


# --- safe arithmetic ------------------------------------------------------------------

_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_FUNCS: dict[str, Callable[..., float]] = {"sum": lambda *a: math.fsum(a), "min": min, "max": max}


def evaluate(formula: str, names: Mapping[str, float]) -> float:
    """Evaluate an arithmetic formula over named numbers (no other Python allowed)."""
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise ClaimError(
            f"formula {formula!r} is not an arithmetic expression: {exc.msg}"
        ) from None

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ClaimError(f"formula {formula!r} uses {node.id!r}, which is not an input")
            return float(names[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise ClaimError(f"formula {formula!r} divides by zero")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCS
            and not node.keywords
        ):
            return float(_FUNCS[node.func.id](*(ev(a) for a in node.args)))
        raise ClaimError(f"formula {formula!r}: {ast.dump(node)[:60]} is not allowed")

    return ev(tree)
