"""Declared column mappings: which source column means what.

A mapping is a small TOML file (or the equivalent dict). Columns are named by
header text or by 0-based position (an integer; negative counts from the end),
which is how the Russian CEC files with their long Russian headers are mapped.

Example (``examples/mapping.toml``)::

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
    # or: candidate_columns = [21, -1]   # a slice of positions, names from the header
    abroad = { column = "province", equals = "Abroad" }
    attributes = { urban = "urban" }         # station attributes kept as strings
    extra = { early = 5 }                    # other counts to keep
    thousands_separator = ","                # "1,131,111" -> 1131111
    encoding = "utf-8"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from electwatch.errors import MappingError

ColumnRef = str | int

_KNOWN_KEYS = {
    "name",
    "election",
    "country",
    "date",
    "contest",
    "round",
    "station_id",
    "areas",
    "registered",
    "cast",
    "valid",
    "invalid",
    "blank",
    "candidates",
    "candidate_columns",
    "abroad",
    "attributes",
    "extra",
    "thousands_separator",
    "encoding",
    "sheet",
    "zip_member",
    "synthetic",
}


@dataclass(frozen=True)
class AbroadRule:
    """A station is abroad when ``column`` equals one of ``equals`` (or is truthy)."""

    column: ColumnRef
    equals: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnMapping:
    name: str
    station_id: tuple[ColumnRef, ...]
    cast: tuple[ColumnRef, ...] | None = None
    areas: tuple[tuple[str, ColumnRef], ...] = ()
    registered: ColumnRef | None = None
    valid: ColumnRef | None = None
    invalid: ColumnRef | None = None
    blank: ColumnRef | None = None
    candidates: tuple[tuple[str, ColumnRef], ...] = ()
    candidate_columns: tuple[int, int] | None = None
    abroad: AbroadRule | None = None
    attributes: tuple[tuple[str, ColumnRef], ...] = ()
    extra: tuple[tuple[str, ColumnRef], ...] = ()
    thousands_separator: str | None = None
    encoding: str = "utf-8"
    sheet: str | None = None
    zip_member: str | None = None
    election: str | None = None
    country: str | None = None
    date: str | None = None
    contest: str | None = None
    round: int = 1
    synthetic: bool = False
    source: str | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<mapping>") -> ColumnMapping:
        unknown = set(data) - _KNOWN_KEYS
        if unknown:
            raise MappingError(
                f"{source}: unknown key(s) {sorted(unknown)}; known keys are {sorted(_KNOWN_KEYS)}"
            )
        if "station_id" not in data:
            raise MappingError(f"{source}: 'station_id' is required (a column or list of columns)")
        if not data.get("candidates") and not data.get("candidate_columns"):
            raise MappingError(f"{source}: give 'candidates' or 'candidate_columns'")

        def ref(key: str, value: Any) -> ColumnRef:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise MappingError(
                    f"{source}: {key} must be a column name or 0-based position, got {value!r}"
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

        abroad = None
        if "abroad" in data:
            a = data["abroad"]
            if isinstance(a, dict):
                eq = a.get("equals", ())
                eq = (eq,) if isinstance(eq, str) else tuple(str(x) for x in eq)
                abroad = AbroadRule(column=ref("abroad.column", a.get("column")), equals=eq)
            else:
                abroad = AbroadRule(column=ref("abroad", a))

        cc = data.get("candidate_columns")
        if cc is not None and (
            not isinstance(cc, list) or len(cc) != 2 or not all(isinstance(x, int) for x in cc)
        ):
            raise MappingError(f"{source}: candidate_columns must be [first, stop] positions")

        opt = {k: ref(k, data[k]) for k in ("registered", "valid", "invalid", "blank") if k in data}
        return cls(
            name=str(data.get("name", Path(source).stem)),
            station_id=refs("station_id", data["station_id"]),
            cast=refs("cast", data["cast"]) if "cast" in data else None,
            areas=named("areas"),
            candidates=named("candidates"),
            candidate_columns=(cc[0], cc[1]) if cc else None,
            abroad=abroad,
            attributes=named("attributes"),
            extra=named("extra"),
            thousands_separator=data.get("thousands_separator"),
            encoding=str(data.get("encoding", "utf-8")),
            sheet=data.get("sheet"),
            zip_member=data.get("zip_member"),
            election=data.get("election"),
            country=data.get("country"),
            date=str(data["date"]) if "date" in data else None,
            contest=data.get("contest"),
            round=int(data.get("round", 1)),
            synthetic=bool(data.get("synthetic", False)),
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
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path))


def builtin_mappings() -> dict[str, Path]:
    """Names of the mappings shipped with electwatch -> their TOML files."""
    root = resources.files("electwatch.data") / "mappings"
    return {Path(str(p)).stem: Path(str(p)) for p in root.iterdir() if str(p).endswith(".toml")}


def sidecar_path(data_path: str | Path) -> Path:
    """``results.csv`` -> ``results.mapping.toml`` (the simulator writes one)."""
    p = Path(data_path)
    name = p.name
    for suffix in (".csv.zip", ".csv.gz", ".csv", ".parquet", ".xlsx", ".zip"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return p.with_name(name + ".mapping.toml")


def resolve_mapping(
    data_path: str | Path, mapping: str | Path | ColumnMapping | None
) -> ColumnMapping:
    """Find the mapping for a data file.

    ``mapping`` may be a :class:`ColumnMapping`, a TOML path or a built-in name.
    Without one, a sidecar ``<name>.mapping.toml`` is used, then the header is
    matched against the built-in mappings (the Russian CEC files are recognised).
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
    name = Path(data_path).name.lower()
    if name.startswith(("russia-duma", "russia-president")) or name in {"2011.csv", "2012.csv"}:
        return ColumnMapping.from_toml(builtins["russia-cec"])
    if name.startswith("iran-president-2009"):
        return ColumnMapping.from_toml(builtins["iran-2009-province"])
    raise MappingError(
        f"{data_path}: no column mapping given and none found; pass --mapping with a TOML file "
        f"or one of the built-ins ({', '.join(sorted(builtins))}), or put a sidecar "
        f"{side.name} beside the data"
    )
