"""Declared column mappings: which source column means what, and which header they fit.

A mapping is a small TOML file (or the equivalent dict). A column is named in one of
three ways (a *column reference*):

* by header text: ``"Valid votes"`` (matched through :func:`electwatch.core.numbers.name_key`,
  so Arabic and Persian letter forms, digits and spacing do not matter);
* by 0-based position: ``3`` (negative counts from the end);
* by a pattern on the header text: ``{ pattern = "^Число недействительных" }`` (a Python
  regular expression searched case-insensitively; it must match exactly one column).
  ``{ pattern = "...", optional = true }`` is allowed for ``extra`` counts that only
  some files of a series have.

Candidate columns are either named one by one (``candidates = { "A" = "votes A" }``) or
given as a block:

* ``candidate_columns = "21:27"`` — columns 21 to 27, **both included**;
* ``candidate_columns = "21:"`` — column 21 to the last column (``":27"`` from the first);
* ``candidate_columns = "Putin:Zhirinovsky"`` — by column names, both included;
* ``candidate_columns = { after_last = "^Число", before = "url" }`` — the columns after the
  last one whose header matches the pattern, up to (not including) the column ``before``
  (or to the end). This is how the Russian CEC protocol files are read: the protocol
  lines all begin with "Число …", the candidate block follows them, the url closes it.

The old list form ``[first, stop]`` (exclusive stop) is refused with a message: it
silently dropped the last candidate when written as ``[15, -1]``.

Recognition by header (never by file name): ``header = ["pattern", ...]`` lists patterns
that a file's header must all match for the mapping to be chosen automatically.
Without it, the header names the mapping refers to are the expected header.

Example::

    name = "my-election"
    election = "Presidential election 2024"
    contest = "President"
    round = 1
    station_id = ["province", "station"]     # joined with "/" when several
    areas = { province = "province", district = "district" }   # top-down
    registered = "registered voters"         # optional
    cast = ["ballots in mobile boxes", "ballots in stationary boxes"]  # summed
    valid = "valid"
    invalid = "invalid"
    blank = "blank"
    candidates = { "Candidate A" = "votes A", "Candidate B" = 7 }
    abroad = { column = "province", equals = ["Abroad"] }
    pseudo_units = { column = "station", patterns = ["e-voting", "ship"] }
    attributes = { urban = "urban" }         # station attributes kept as strings
    extra = { early = 5 }                    # other counts to keep
    missing_values = ["", "NA"]              # cells meaning "not published" (missing, never 0)
    skip_empty = true                        # rows with no count at all: skipped, listed
    generate_missing_ids = true              # a missing id part gets a generated id, flagged
    encoding = "auto"                        # or utf-8, utf-16, cp1256, cp1251
    delimiter = ","                          # default: detected among , ; tab

Long form (``shape = "long"``): one row per area and outcome::

    shape = "long"
    areas = { province = "استان", constituency = "حوزه" }
    outcome = "نامزد"
    votes = "آرا"
    seats = "کرسی"                           # optional, per area
    outcome_roles = { blank = ["سفید"], invalid = ["باطله"], registered = ["واجدین"] }

Sidecar: ``results.csv`` is read with ``results.mapping.toml`` beside it (see
:func:`sidecar_path`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from electwatch.core.numbers import name_key
from electwatch.errors import MappingError


@dataclass(frozen=True)
class Pattern:
    """A column named by a regular expression on its header text."""

    regex: str
    optional: bool = False

    def matches(self, header: str) -> bool:
        return re.search(self.regex, header, flags=re.IGNORECASE) is not None


ColumnRef = str | int | Pattern

_KNOWN_KEYS = {
    "name",
    "election",
    "country",
    "date",
    "contest",
    "round",
    "shape",
    "level",
    "header",
    "station_id",
    "areas",
    "registered",
    "national_registered",
    "cast",
    "valid",
    "invalid",
    "blank",
    "candidates",
    "candidate_columns",
    "abroad",
    "pseudo_units",
    "pseudo_register_ratio",
    "total_rows",
    "attributes",
    "extra",
    "thousands_separator",
    "missing_values",
    "skip_empty",
    "generate_missing_ids",
    "encoding",
    "delimiter",
    "sheet",
    "zip_member",
    "synthetic",
    "outcome",
    "votes",
    "seats",
    "outcome_roles",
}

#: cells that mean "not published" in a count column (missing, never zero)
DEFAULT_MISSING_VALUES = ("", "NA", "N/A", "-", "—")
#: a unit whose register exceeds this multiple of the file's median is a pseudo-unit
DEFAULT_PSEUDO_REGISTER_RATIO = 20.0
#: outcome roles of a long-form table besides candidates
OUTCOME_ROLES = ("blank", "invalid", "against_all", "registered", "cast", "valid")


@dataclass(frozen=True)
class RowRule:
    """Rows whose ``column`` equals one of ``equals`` or matches one of ``patterns``
    (a truthy cell when neither is given)."""

    column: ColumnRef
    equals: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class CandidateBlock:
    """A block of candidate columns: ``first``..``last`` (inclusive), or the columns
    after the last header matching ``after_last`` up to ``before`` (exclusive)."""

    first: ColumnRef | None = None
    last: ColumnRef | None = None
    after_last: str | None = None
    before: ColumnRef | None = None
    text: str = ""


AbroadRule = RowRule  # the old name


@dataclass(frozen=True)
class ColumnMapping:
    name: str
    station_id: tuple[ColumnRef, ...] = ()
    cast: tuple[ColumnRef, ...] | None = None
    areas: tuple[tuple[str, ColumnRef], ...] = ()
    registered: ColumnRef | None = None
    national_registered: int | None = None
    valid: ColumnRef | None = None
    invalid: ColumnRef | None = None
    blank: ColumnRef | None = None
    candidates: tuple[tuple[str, ColumnRef], ...] = ()
    candidate_columns: CandidateBlock | None = None
    abroad: RowRule | None = None
    pseudo_units: RowRule | None = None
    pseudo_register_ratio: float = DEFAULT_PSEUDO_REGISTER_RATIO
    total_rows: RowRule | None = None
    attributes: tuple[tuple[str, ColumnRef], ...] = ()
    extra: tuple[tuple[str, ColumnRef], ...] = ()
    thousands_separator: str | None = None
    missing_values: tuple[str, ...] = DEFAULT_MISSING_VALUES
    skip_empty: bool = False
    generate_missing_ids: bool = False
    encoding: str = "auto"
    delimiter: str | None = None
    sheet: str | None = None
    zip_member: str | None = None
    election: str | None = None
    country: str | None = None
    date: str | None = None
    contest: str | None = None
    round: int = 1
    synthetic: bool = False
    shape: str = "wide"
    level: str = "station"
    header: tuple[str, ...] = ()
    outcome: ColumnRef | None = None
    votes: ColumnRef | None = None
    seats: ColumnRef | None = None
    outcome_roles: tuple[tuple[str, tuple[str, ...]], ...] = ()
    source: str | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<mapping>") -> ColumnMapping:
        unknown = set(data) - _KNOWN_KEYS
        if unknown:
            raise MappingError(
                f"{source}: unknown key(s) {sorted(unknown)}; known keys are {sorted(_KNOWN_KEYS)}"
            )
        shape = str(data.get("shape", "wide"))
        if shape not in {"wide", "long"}:
            raise MappingError(f"{source}: shape must be 'wide' or 'long', got {shape!r}")
        if shape == "wide" and "station_id" not in data:
            raise MappingError(f"{source}: 'station_id' is required (a column or list of columns)")
        if shape == "wide" and not data.get("candidates") and not data.get("candidate_columns"):
            raise MappingError(f"{source}: give 'candidates' or 'candidate_columns'")
        if shape == "long":
            for key in ("areas", "outcome", "votes"):
                if key not in data:
                    raise MappingError(f"{source}: a long-form mapping needs {key!r}")

        def ref(key: str, value: Any) -> ColumnRef:
            if isinstance(value, dict):
                if "pattern" not in value or set(value) - {"pattern", "optional"}:
                    raise MappingError(
                        f'{source}: {key} must be {{ pattern = "regex" }} (optional = true)'
                    )
                try:
                    re.compile(str(value["pattern"]))
                except re.error as exc:
                    raise MappingError(f"{source}: {key}: bad pattern: {exc}") from None
                return Pattern(str(value["pattern"]), bool(value.get("optional", False)))
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise MappingError(
                    f"{source}: {key} must be a column name, a 0-based position or "
                    f"{{ pattern = ... }}, got {value!r}"
                )
            return value

        def refs(key: str, value: Any) -> tuple[ColumnRef, ...]:
            if isinstance(value, list):
                if not value:
                    raise MappingError(f"{source}: {key} must not be an empty list")
                return tuple(ref(key, v) for v in value)
            return (ref(key, value),)

        def named(key: str) -> tuple[tuple[str, ColumnRef], ...]:
            value = data.get(key, {})
            if not isinstance(value, dict):
                raise MappingError(f"{source}: {key} must be a table of name = column")
            return tuple((str(k), ref(f"{key}.{k}", v)) for k, v in value.items())

        def strings(key: str, value: Any) -> tuple[str, ...]:
            if isinstance(value, str):
                return (value,)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise MappingError(f"{source}: {key} must be a text or a list of texts")
            return tuple(value)

        def row_rule(key: str) -> RowRule | None:
            if key not in data:
                return None
            a = data[key]
            if isinstance(a, dict):
                extra_keys = set(a) - {"column", "equals", "patterns"}
                if extra_keys or "column" not in a:
                    raise MappingError(
                        f"{source}: {key} must be {{ column = ..., equals = [...], "
                        f"patterns = [...] }}"
                    )
                return RowRule(
                    column=ref(f"{key}.column", a["column"]),
                    equals=strings(f"{key}.equals", a.get("equals", [])),
                    patterns=strings(f"{key}.patterns", a.get("patterns", [])),
                )
            return RowRule(column=ref(key, a))

        roles_raw = data.get("outcome_roles", {})
        if not isinstance(roles_raw, dict) or set(roles_raw) - set(OUTCOME_ROLES):
            raise MappingError(
                f"{source}: outcome_roles must be a table with keys among {list(OUTCOME_ROLES)}"
            )
        missing_values = data.get("missing_values", list(DEFAULT_MISSING_VALUES))
        opt = {
            k: ref(k, data[k])
            for k in ("registered", "valid", "invalid", "blank", "outcome", "votes", "seats")
            if k in data
        }
        ratio = data.get("pseudo_register_ratio", DEFAULT_PSEUDO_REGISTER_RATIO)
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or ratio <= 1:
            raise MappingError(f"{source}: pseudo_register_ratio must be a number > 1")
        national = data.get("national_registered")
        if national is not None and (isinstance(national, bool) or not isinstance(national, int)):
            raise MappingError(f"{source}: national_registered must be a whole number")
        level = str(data.get("level", "station"))
        if level not in {"station", "area"}:
            raise MappingError(f"{source}: level must be 'station' or 'area', got {level!r}")
        return cls(
            name=str(data.get("name", Path(source).stem)),
            station_id=refs("station_id", data["station_id"]) if "station_id" in data else (),
            cast=refs("cast", data["cast"]) if "cast" in data else None,
            areas=named("areas"),
            candidates=named("candidates"),
            candidate_columns=_candidate_block(data.get("candidate_columns"), source, ref),
            abroad=row_rule("abroad"),
            pseudo_units=row_rule("pseudo_units"),
            pseudo_register_ratio=float(ratio),
            total_rows=row_rule("total_rows"),
            attributes=named("attributes"),
            extra=named("extra"),
            thousands_separator=data.get("thousands_separator"),
            missing_values=strings("missing_values", missing_values),
            skip_empty=bool(data.get("skip_empty", False)),
            generate_missing_ids=bool(data.get("generate_missing_ids", False)),
            encoding=str(data.get("encoding", "auto")),
            delimiter=data.get("delimiter"),
            sheet=data.get("sheet"),
            zip_member=data.get("zip_member"),
            election=data.get("election"),
            country=data.get("country"),
            date=str(data["date"]) if "date" in data else None,
            contest=data.get("contest"),
            round=int(data.get("round", 1)),
            synthetic=bool(data.get("synthetic", False)),
            shape=shape,
            level="area" if shape == "long" else level,
            header=strings("header", data.get("header", [])),
            national_registered=national,
            outcome_roles=tuple(
                (role, strings(f"outcome_roles.{role}", v)) for role, v in roles_raw.items()
            ),
            source=source,
            **opt,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> ColumnMapping:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MappingError(f"mapping file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise MappingError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path))

    # --- header recognition ---------------------------------------------------
    def expected_header(self) -> list[str | Pattern]:
        """What this mapping expects of a header: its ``header`` patterns, or else
        every column it names by text."""
        if self.header:
            return [Pattern(p) for p in self.header]
        named: list[str | Pattern] = []
        for r in self.all_refs():
            if isinstance(r, str) or (isinstance(r, Pattern) and not r.optional):
                named.append(r)
        return named

    def all_refs(self) -> list[ColumnRef]:
        refs: list[ColumnRef | None] = [
            *self.station_id,
            *(r for _, r in self.areas),
            self.registered,
            self.valid,
            self.invalid,
            self.blank,
            *(self.cast or ()),
            *(r for _, r in self.candidates),
            *(r for _, r in self.extra),
            self.outcome,
            self.votes,
            self.seats,
        ]
        return [r for r in refs if r is not None]

    def header_fit(self, header: list[str]) -> tuple[int, int, list[str]]:
        """``(matched, expected, what is missing)`` of this mapping against a header."""
        keys = {name_key(h) for h in header}
        expected = self.expected_header()
        missing = []
        for e in expected:
            if isinstance(e, Pattern):
                if not any(e.matches(h) for h in header):
                    missing.append(f"a column matching /{e.regex}/")
            elif name_key(e) not in keys:
                missing.append(repr(e))
        return len(expected) - len(missing), len(expected), missing


def _candidate_block(value: Any, source: str, ref: Any) -> CandidateBlock | None:
    if value is None:
        return None
    if isinstance(value, list):
        raise MappingError(
            f"{source}: candidate_columns = {value!r}: the list form had an exclusive end and "
            f'silently dropped a column; write an inclusive range as a text, e.g. "21:" '
            f'(21 to the last column) or "21:27" (both included)'
        )
    if isinstance(value, str):
        if value.count(":") != 1:
            raise MappingError(
                f'{source}: candidate_columns = {value!r}: expected "first:last" (inclusive), '
                f'"first:" or ":last"'
            )
        lo, hi = (part.strip() for part in value.split(":"))

        def end(text: str) -> ColumnRef | None:
            if text == "":
                return None
            return int(text) if re.fullmatch(r"-?\d+", text) else text

        return CandidateBlock(first=end(lo), last=end(hi), text=value)
    if isinstance(value, dict):
        if set(value) - {"first", "last", "after_last", "before"}:
            raise MappingError(
                f"{source}: candidate_columns table takes first, last, after_last, before"
            )
        return CandidateBlock(
            first=ref("candidate_columns.first", value["first"]) if "first" in value else None,
            last=ref("candidate_columns.last", value["last"]) if "last" in value else None,
            after_last=str(value["after_last"]) if "after_last" in value else None,
            before=ref("candidate_columns.before", value["before"]) if "before" in value else None,
            text=str(value),
        )
    raise MappingError(f'{source}: candidate_columns must be a text like "21:" or a table')


def builtin_mappings() -> dict[str, Path]:
    """Names of the mappings shipped with electwatch -> their TOML files."""
    root = resources.files("electwatch.data") / "mappings"
    return {Path(str(p)).stem: Path(str(p)) for p in root.iterdir() if str(p).endswith(".toml")}


SIDECAR_SUFFIX = ".mapping.toml"
_DATA_SUFFIXES = (".csv.zip", ".csv.gz", ".tsv", ".txt", ".csv", ".parquet", ".xlsx", ".zip")


def sidecar_path(data_path: str | Path) -> Path:
    """``results.csv`` -> ``results.mapping.toml``; ``2011.csv.zip`` -> ``2011.mapping.toml``."""
    p = Path(data_path)
    name = p.name
    for suffix in _DATA_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return p.with_name(name + SIDECAR_SUFFIX)


def recognise(header: list[str], file: str) -> ColumnMapping:
    """The built-in mapping whose declared header this header fits, else an error
    naming the closest mapping and what its header lacks."""
    best: tuple[float, str, list[str]] | None = None
    for name, path in sorted(builtin_mappings().items()):
        m = ColumnMapping.from_toml(path)
        matched, expected, missing = m.header_fit(header)
        if expected and not missing:
            return m
        score = matched / expected if expected else 0.0
        if best is None or score > best[0]:
            best = (score, name, missing)
    hint = ""
    if best is not None:
        shown = ", ".join(best[2][:4]) + (" …" if len(best[2]) > 4 else "")
        hint = f"; closest built-in mapping {best[1]!r} lacks {shown}"
    raise MappingError(
        f"{file}: no column mapping given and the header fits no built-in mapping{hint}; "
        f"draft one with `electwatch mappings init {Path(file).name}` and pass it with "
        f"--mapping, or save it as {sidecar_path(file).name} beside the data"
    )


def resolve_mapping(
    data_path: str | Path, mapping: str | Path | ColumnMapping | None
) -> ColumnMapping | None:
    """Find the mapping for a data file.

    ``mapping`` may be a :class:`ColumnMapping`, a TOML path or a built-in name.
    Without one, a sidecar ``<name>.mapping.toml`` is used. Otherwise ``None``: the
    loader recognises a built-in mapping from the header (:func:`recognise`).
    """
    if isinstance(mapping, ColumnMapping):
        return mapping
    builtins = builtin_mappings()
    if mapping is not None:
        m = str(mapping)
        if m in builtins:
            return ColumnMapping.from_toml(builtins[m])
        if Path(m).exists():
            return ColumnMapping.from_toml(m)
        raise MappingError(
            f"mapping {m!r} is neither a file nor a built-in mapping "
            f"(built-ins: {', '.join(sorted(builtins))})"
        )
    side = sidecar_path(data_path)
    if side.exists():
        return ColumnMapping.from_toml(side)
    return None
