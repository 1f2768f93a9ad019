"""Loaders for station-level results: CSV (plain, .zip, .gz), Parquet and Excel.

Every file is read through a declared :class:`~electwatch.data.mapping.ColumnMapping`
and validated column-wise (vectorised polars expressions, no Python loop over
rows). The first bad value raises :class:`~electwatch.errors.DataValidationError`
naming file, row, column, value and what was expected. Inconsistencies that real
data does have (cast > registered on ships and abroad, tiny rolls, parts that do
not add up) are kept and reported as :class:`ValidationWarning` plus ``flag_*``
columns; nothing is dropped or coerced silently.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NoReturn

import polars as pl

from electwatch.data.mapping import ColumnMapping, ColumnRef, resolve_mapping
from electwatch.data.model import (
    RESERVED_COLUMNS,
    Candidate,
    Contest,
    Election,
    ElectionResults,
    SourceInfo,
    ValidationWarning,
)
from electwatch.errors import DataValidationError, MappingError

#: a register smaller than this is flagged as "tiny" (ships, hospitals, remote posts)
TINY_REGISTER = 20
_COUNT_EXPECTED = "a whole number >= 0"
#: given the header, the columns to parse as integers on the fast path
IntColumns = Callable[[list[str]], list[str]]


@dataclass
class RawTable:
    """A source table before mapping: every column as read, plus how to locate rows."""

    frame: pl.DataFrame
    file: str
    sha256: str
    #: physical line (CSV) or sheet row (Excel) of data row r is r + line_offset;
    #: None when it cannot be known (quoted fields spanning lines)
    line_offset: int | None

    def error(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
        expected: str | None = None,
    ) -> DataValidationError:
        line = row + self.line_offset if row is not None and self.line_offset is not None else None
        return DataValidationError(
            self.file, message, row=row, column=column, value=value, expected=expected, line=line
        )


# --- reading -------------------------------------------------------------------


def _read_bytes(path: Path, member: str | None) -> bytes:
    name = path.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if member is None:
                if len(names) != 1:
                    raise DataValidationError(
                        str(path),
                        f"zip archive holds {len(names)} files {names}",
                        expected="exactly one file, or zip_member in the mapping",
                    )
                member = names[0]
            try:
                return zf.read(member)
            except KeyError:
                raise DataValidationError(
                    str(path), f"zip archive has no member {member!r}", expected=f"one of {names}"
                ) from None
    if name.endswith(".gz"):
        return gzip.decompress(path.read_bytes())
    return path.read_bytes()


def _locate_decode_error(
    data: bytes, file: str, encoding: str, exc: UnicodeDecodeError
) -> NoReturn:
    line = data.count(b"\n", 0, exc.start) + 1
    raise DataValidationError(
        file,
        f"cannot decode byte {data[exc.start : exc.start + 1]!r} at offset {exc.start} "
        f"as {encoding}",
        row=line - 1 if line > 1 else None,
        line=line,
        expected=f"text encoded as {encoding} (set 'encoding' in the mapping, e.g. 'cp1251')",
    )


def _diagnose_csv(text: str, file: str) -> None:
    """Slow path after a polars parse failure: find the first ragged row."""
    reader = csv.reader(io.StringIO(text, newline=""))
    row = 0
    try:
        header = next(reader, None)
        if header is None:
            raise DataValidationError(file, "file is empty", expected="a header row and data rows")
        for row, fields in enumerate(reader, start=1):
            if fields and len(fields) != len(header):
                raise DataValidationError(
                    file,
                    f"row has {len(fields)} fields but the header has {len(header)}",
                    row=row,
                    line=reader.line_num,
                    expected=f"{len(header)} comma-separated fields",
                )
    except csv.Error as exc:
        raise DataValidationError(
            file,
            f"malformed CSV: {exc}",
            row=row + 1 if row else None,
            line=reader.line_num,
            expected='RFC 4180 CSV (quote fields holding , " or newlines)',
        ) from None


def _fix_header(frame: pl.DataFrame, data: bytes) -> pl.DataFrame:
    """Re-read the header with the csv module: polars keeps doubled quotes ("") in names."""
    if b'""' not in data[: data.find(b"\n")]:
        return frame
    first = data[: data.find(b"\n")].decode("utf-8", errors="replace")
    header = next(csv.reader([first]))
    if len(header) != frame.width or len(set(header)) != len(header):
        return frame
    return frame.rename(dict(zip(frame.columns, header, strict=True)))


def _polars_csv(data: bytes, int_columns: IntColumns | None) -> pl.DataFrame:
    """Parse CSV bytes; columns named by ``int_columns(header)`` as Int64 if they all parse.

    Reading counts with polars' native integer parser is the fast path; when any
    value does not parse, the table is read as text instead so that the
    validation can name the offending row, column and value.
    """
    if int_columns is None:
        return pl.read_csv(data, infer_schema=False)
    header = pl.read_csv(data, n_rows=0, infer_schema=False).columns
    ints = [c for c in int_columns(header) if c in header]
    try:
        return pl.read_csv(data, infer_schema=False, schema_overrides=dict.fromkeys(ints, pl.Int64))
    except pl.exceptions.PolarsError:
        return pl.read_csv(data, infer_schema=False)


def read_csv_bytes(
    data: bytes, file: str, encoding: str = "utf-8", int_columns: IntColumns | None = None
) -> RawTable:
    sha = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise DataValidationError(file, "file is empty", expected="a header row and data rows")
    if encoding.lower().replace("-", "") in {"utf8", "utf8sig"}:
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        text = None
        try:
            frame = _polars_csv(data, int_columns)
        except pl.exceptions.PolarsError as exc:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as uexc:
                _locate_decode_error(data, file, "utf-8", uexc)
            _diagnose_csv(text, file)
            raise DataValidationError(file, f"cannot parse as CSV: {exc}") from None
    else:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as uexc:
            _locate_decode_error(data, file, encoding, uexc)
        except LookupError:
            raise MappingError(f"unknown encoding {encoding!r}") from None
        try:
            frame = _polars_csv(text.encode("utf-8"), int_columns)
        except pl.exceptions.PolarsError as exc:
            _diagnose_csv(text, file)
            raise DataValidationError(file, f"cannot parse as CSV: {exc}") from None
    if frame.width == 0:
        raise DataValidationError(file, "file is empty", expected="a header row and data rows")
    if frame.height and frame[:, -1].null_count():
        # polars pads short rows with nulls; a null in the last column is the only
        # cheap sign of one, so only then pay for a row-by-row check
        _diagnose_csv(text if text is not None else data.decode("utf-8"), file)
    frame = _fix_header(frame, data)
    newlines = data.count(b"\n")
    trailing = data.endswith(b"\n")
    simple = newlines == frame.height + (1 if trailing else 0)
    return RawTable(frame, file, sha, 1 if simple else None)


def count_columns(mapping: ColumnMapping, header: list[str]) -> list[str]:
    """Header names of every column the mapping declares as a count."""
    refs: list[ColumnRef | None] = [
        mapping.registered,
        mapping.valid,
        mapping.invalid,
        mapping.blank,
        *(mapping.cast or ()),
        *(r for _, r in mapping.candidates),
        *(r for _, r in mapping.extra),
    ]
    names = [
        header[r] if isinstance(r, int) and -len(header) <= r < len(header) else r
        for r in refs
        if r is not None
    ]
    if mapping.candidate_columns:
        names += header[mapping.candidate_columns[0] : mapping.candidate_columns[1]]
    return [n for n in names if isinstance(n, str)]


def read_raw(path: str | Path, mapping: ColumnMapping) -> RawTable:
    path = Path(path)
    file = str(path)
    if not path.exists():
        raise DataValidationError(file, "file not found")
    name = path.name.lower()
    if name.endswith(".parquet"):
        data = path.read_bytes()
        try:
            frame = pl.read_parquet(io.BytesIO(data))
        except Exception as exc:  # polars raises several types for corrupt files
            raise DataValidationError(file, f"cannot read as Parquet: {exc}") from None
        return RawTable(frame, file, hashlib.sha256(data).hexdigest(), None)
    if name.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
        data = path.read_bytes()
        try:
            frame = pl.read_excel(io.BytesIO(data), sheet_name=mapping.sheet, infer_schema_length=0)
        except Exception as exc:  # fastexcel raises its own types
            raise DataValidationError(file, f"cannot read spreadsheet: {exc}") from None
        return RawTable(frame, file, hashlib.sha256(data).hexdigest(), 1)
    fast = None if mapping.thousands_separator else partial(count_columns, mapping)
    return read_csv_bytes(_read_bytes(path, mapping.zip_member), file, mapping.encoding, fast)


# --- mapping columns -----------------------------------------------------------


def _column_name(raw: RawTable, ref: ColumnRef, role: str) -> str:
    cols = raw.frame.columns
    if isinstance(ref, int):
        if -len(cols) <= ref < len(cols):
            return cols[ref]
        raise raw.error(
            f"column position {ref} ({role}) is out of range",
            expected=f"a position between 0 and {len(cols) - 1}",
        )
    if ref in cols:
        return ref
    raise raw.error(
        f"column {ref!r} ({role}) not found",
        column=ref,
        expected=f"one of the header columns {cols}",
    )


def _parse_counts(
    raw: RawTable, col: str, role: str, *, thousands: str | None, optional: bool
) -> pl.Series:
    """Parse one count column to Int64, raising at the first bad value."""
    s = raw.frame[col]
    if s.dtype == pl.String:
        stripped = s.str.strip_chars()
        if thousands:
            stripped = stripped.str.replace_all(thousands, "", literal=True)
        missing = stripped.is_null() | (stripped == "")
        parsed = stripped.cast(pl.Int64, strict=False)
        bad = parsed.is_null() & ~missing
    elif s.dtype.is_float():
        missing = s.is_null() | s.is_nan()
        bad = ~missing & (s != s.round())
        parsed = s.cast(pl.Int64, strict=False)
    elif s.dtype.is_integer():
        missing = s.is_null()
        bad = None
        parsed = s.cast(pl.Int64)
    else:
        raise raw.error(f"{role} column has type {s.dtype}", column=col, expected=_COUNT_EXPECTED)
    if bad is not None and bad.any():
        i = int(bad.arg_true()[0])
        raise raw.error(
            f"{role} is not a whole number",
            row=i + 1,
            column=col,
            value=s[i],
            expected=_COUNT_EXPECTED,
        )
    if not optional and missing.any():  # type: ignore[union-attr]
        i = int(missing.arg_true()[0])
        raise raw.error(f"{role} is missing", row=i + 1, column=col, expected=_COUNT_EXPECTED)
    negative = parsed < 0
    if negative.any():
        i = int(negative.arg_true()[0])
        raise raw.error(
            f"{role} is negative", row=i + 1, column=col, value=s[i], expected=_COUNT_EXPECTED
        )
    return parsed


def _first_true(mask: pl.Series) -> int | None:
    return int(mask.arg_true()[0]) if mask.any() else None


def load_results(
    path: str | Path,
    mapping: str | Path | ColumnMapping | None = None,
    *,
    allow_inconsistent: bool = False,
) -> ElectionResults:
    """Load and validate station-level results.

    ``allow_inconsistent`` turns the "votes exceed ballots cast" error into a
    flag (for forensics on data known to be inconsistent); nothing is dropped.
    """
    m = resolve_mapping(path, mapping)
    raw = read_raw(path, m)
    if raw.frame.height == 0:
        raise raw.error("file has a header but no data rows", expected="at least one station")
    th = m.thousands_separator
    cols: dict[str, pl.Series] = {"row": pl.Series("row", range(1, raw.frame.height + 1))}

    # station id
    id_cols = [_column_name(raw, r, "station id") for r in m.station_id]
    id_parts = raw.frame.select(pl.col(c).cast(pl.String).str.strip_chars() for c in id_cols)
    for c in id_cols:
        i = _first_true(id_parts[c].is_null() | (id_parts[c] == ""))
        if i is not None:
            raise raw.error(
                "station id is missing", row=i + 1, column=c, expected="a non-empty identifier"
            )
    station_id = id_parts.select(pl.concat_str(id_cols, separator="/")).to_series()
    dup = station_id.is_duplicated()
    if dup.any():
        idx = dup.arg_true()
        first_value = station_id[int(idx[0])]
        rows = (station_id == first_value).arg_true()
        raise raw.error(
            f"duplicate station id {first_value!r} (also in row {int(rows[0]) + 1})",
            row=int(rows[1]) + 1,
            column=" + ".join(id_cols),
            value=first_value,
            expected="each station id exactly once",
        )
    cols["station_id"] = station_id

    # area hierarchy
    area_levels = []
    for level, ref in m.areas:
        c = _column_name(raw, ref, f"area level {level}")
        s = raw.frame[c].cast(pl.String).str.strip_chars()
        i = _first_true(s.is_null() | (s == ""))
        if i is not None:
            raise raw.error(
                f"area {level!r} is missing", row=i + 1, column=c, expected="an area name"
            )
        if level in RESERVED_COLUMNS:
            raise MappingError(f"area level name {level!r} is reserved")
        cols[level] = s
        area_levels.append(level)

    # candidates
    if m.candidates:
        cand = [(n, _column_name(raw, r, f"votes for {n}")) for n, r in m.candidates]
    else:
        assert m.candidate_columns is not None
        lo, hi = m.candidate_columns
        names = raw.frame.columns[lo:hi]
        if not names:
            raise raw.error(f"candidate_columns {list(m.candidate_columns)} selects no column")
        cand = [(n, n) for n in names]
    candidates = [n for n, _ in cand]
    clash = set(candidates) & (RESERVED_COLUMNS | set(area_levels))
    if clash or len(set(candidates)) != len(candidates):
        raise MappingError(f"candidate names must be unique and not reserved: {sorted(clash)}")

    specs: list[tuple[str, str, bool]] = []

    def spec(ref: ColumnRef | None, role: str, optional: bool) -> str | None:
        if ref is None:
            return None
        c = _column_name(raw, ref, role)
        specs.append((c, role, optional))
        return c

    vote_cols = {n: spec(c, f"votes for {n}", False) for n, c in cand}
    reg_col = spec(m.registered, "registered voters", True)
    valid_col = spec(m.valid, "valid ballots", False)
    invalid_col = spec(m.invalid, "invalid ballots", False)
    blank_col = spec(m.blank, "blank ballots", False)
    cast_cols = [spec(r, "ballots cast", False) for r in m.cast] if m.cast else []
    extra_cols = {name: spec(ref, name, True) for name, ref in m.extra}
    parsed = {c: _parse_counts(raw, c, role, thousands=th, optional=opt) for c, role, opt in specs}

    def count(col: str | None) -> pl.Series | None:
        return None if col is None else parsed[col]

    votes = {n: parsed[c] for n, c in vote_cols.items() if c is not None}
    registered = count(reg_col)
    valid = count(valid_col)
    invalid = count(invalid_col)
    blank = count(blank_col)
    if cast_cols:
        cast = pl.DataFrame(
            [parsed[c].alias(f"part{i}") for i, c in enumerate(cast_cols) if c is not None]
        ).sum_horizontal()
    else:
        pieces = [*votes.values()] + [p for p in (invalid, blank) if p is not None]
        cast = pl.DataFrame([p.alias(f"part{i}") for i, p in enumerate(pieces)]).sum_horizontal()

    n = raw.frame.height
    null_int = pl.Series([None] * n, dtype=pl.Int64)
    cols["registered"] = registered if registered is not None else null_int
    cols["cast"] = cast
    cols["valid"] = valid if valid is not None else null_int
    cols["invalid"] = invalid if invalid is not None else null_int
    cols["blank"] = blank if blank is not None else null_int
    if m.abroad is not None:
        c = _column_name(raw, m.abroad.column, "abroad")
        s = raw.frame[c].cast(pl.String).str.strip_chars()
        if m.abroad.equals:
            abroad = s.is_in(list(m.abroad.equals)).fill_null(False)
        else:
            abroad = s.str.to_lowercase().is_in(["1", "true", "yes", "y"]).fill_null(False)
    else:
        abroad = pl.Series([False] * n)
    cols["abroad"] = abroad
    for name, ref in m.attributes:
        c = _column_name(raw, ref, f"attribute {name}")
        cols[name] = raw.frame[c].cast(pl.String)
    for name, col in extra_cols.items():
        cols[name] = parsed[col]  # type: ignore[index]
    cols.update(votes)  # type: ignore[arg-type]

    frame = pl.DataFrame({k: v.alias(k) for k, v in cols.items()})
    frame, warnings = _check_consistency(frame, candidates, raw, allow_inconsistent)

    stem = Path(path).name.split(".")[0]
    contest = Contest(
        name=m.contest or stem,
        round=m.round,
        candidates=[Candidate(n) for n in candidates],
    )
    election = Election(name=m.election or stem, country=m.country, date=m.date, contests=[contest])
    return ElectionResults(
        frame=frame,
        candidates=candidates,
        area_levels=area_levels,
        election=election,
        contest=contest,
        source=SourceInfo(
            path=str(path),
            sha256=raw.sha256,
            mapping=m.name,
            synthetic=m.synthetic,
            note="SYNTHETIC data generated by electwatch simulate" if m.synthetic else None,
        ),
        warnings=warnings,
        attributes=[a for a, _ in m.attributes],
        extra_counts=[e for e, _ in m.extra],
    )


def add_flags(
    frame: pl.DataFrame, candidates: list[str]
) -> tuple[pl.DataFrame, list[ValidationWarning]]:
    """Add the ``flag_*`` columns and summarise them as warnings (rows are kept)."""
    parts = pl.sum_horizontal(
        [pl.col(c) for c in candidates]
        + [pl.col("invalid").fill_null(0), pl.col("blank").fill_null(0)]
    )
    frame = frame.with_columns(
        flag_votes_exceed_cast=parts > pl.col("cast"),
        flag_parts_mismatch=parts != pl.col("cast"),
        flag_cast_exceeds_registered=(pl.col("cast") > pl.col("registered")).fill_null(False),
        flag_no_register=pl.col("registered").is_null() | (pl.col("registered") == 0),
        flag_tiny_register=(pl.col("registered") < TINY_REGISTER).fill_null(False),
    )
    describe = {
        "flag_votes_exceed_cast": "votes for candidates + invalid + blank exceed ballots cast",
        "flag_parts_mismatch": "candidates + invalid + blank do not add up to ballots cast",
        "flag_cast_exceeds_registered": "ballots cast exceed registered voters",
        "flag_no_register": "no registered-voter count (or zero)",
        "flag_tiny_register": f"fewer than {TINY_REGISTER} registered voters",
        "abroad": "stations abroad (kept, flagged)",
    }
    warnings = []
    for flag, text in describe.items():
        mask = frame[flag]
        k = int(mask.sum())
        if k:
            ex = frame.filter(mask).head(5)
            warnings.append(
                ValidationWarning(
                    flag.removeprefix("flag_"),
                    text,
                    k,
                    tuple(ex["row"].to_list()),
                    tuple(ex["station_id"].to_list()),
                )
            )
    return frame, warnings


def _check_consistency(
    frame: pl.DataFrame, candidates: list[str], raw: RawTable, allow_inconsistent: bool
) -> tuple[pl.DataFrame, list[ValidationWarning]]:
    """Impossible rows raise; rows real data does have are flagged and kept."""
    frame, warnings = add_flags(frame, candidates)
    over = frame["flag_votes_exceed_cast"]
    if over.any() and not allow_inconsistent:
        i = int(over.arg_true()[0])
        r = frame.row(i, named=True)
        total = sum(r[c] for c in candidates) + (r["invalid"] or 0) + (r["blank"] or 0)
        raise raw.error(
            f"votes for candidates + invalid + blank ({total}) exceed ballots cast ({r['cast']}) "
            f"at station {r['station_id']!r}",
            row=i + 1,
            column="cast",
            value=r["cast"],
            expected="ballots cast >= all votes (pass allow_inconsistent / "
            "--allow-inconsistent to keep such rows as flagged)",
        )
    return frame, warnings
