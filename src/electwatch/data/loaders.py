"""Loaders for results tables of three shapes into one model.

* **station rows, wide** — one row per polling station, one column per candidate;
* **area rows, long** (``shape = "long"``) — one row per area and outcome (area path,
  outcome, votes): each constituency has its own candidate list, blank, invalid and
  "against all" are outcomes like any candidate, multi-seat areas carry ``seats``;
* **summary tables** (``level = "area"``) — province/national totals, overseas tallies.

All three become an :class:`~electwatch.data.model.ElectionResults` (see its module for
the API). Every file is read through a declared or recognised
:class:`~electwatch.data.mapping.ColumnMapping` and validated column-wise (vectorised
polars, no Python loop over rows). Counts go through the one normalizer,
:mod:`electwatch.core.numbers` (Persian/Arabic-Indic digits, ``٬`` ``٫``, grouped
thousands); names through :func:`~electwatch.core.numbers.normalize_name` (stored in the
Persian letter forms). The first bad value raises
:class:`~electwatch.errors.DataValidationError` naming file, row, column, value and what
was expected. Rows real data does have (cast > registered abroad, tiny rolls) are kept
and flagged; a table whose parts do not add up on more than
:data:`CONSISTENCY_GATE` of its rows is refused (the mapping probably misreads it).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from electwatch.core.numbers import NumberFormatError, name_key, normalize_name, parse_count
from electwatch.data.mapping import (
    CandidateBlock,
    ColumnMapping,
    ColumnRef,
    Pattern,
    RowRule,
    recognise,
    resolve_mapping,
)
from electwatch.data.model import (
    RESERVED_COLUMNS,
    Candidate,
    Contest,
    Election,
    ElectionResults,
    SkippedRow,
    SourceInfo,
    ValidationWarning,
)
from electwatch.data.reading import RawTable, csv_header, read_bytes, read_table, to_utf8
from electwatch.errors import DataValidationError, MappingError

#: a register smaller than this is flagged as "tiny" (ships, hospitals, remote posts)
TINY_REGISTER = 20
#: parts not adding up on more than this share of the rows with data: refuse the table
CONSISTENCY_GATE = 0.05
#: ... and on at least this many rows (fewer are reported row by row, not as a misread)
GATE_MIN_ROWS = 3
_COUNT_EXPECTED = "a whole number >= 0"
#: outcome names understood as blank/invalid/against-all without a declaration
#: (compared by name_key; English, Russian, Persian, Spanish)
DEFAULT_OUTCOME_WORDS: dict[str, tuple[str, ...]] = {
    "blank": ("blank", "blank votes", "سفید", "آرای سفید", "en blanco", "votos en blanco"),
    "invalid": (
        "invalid",
        "invalid votes",
        "spoiled",
        "باطله",
        "آرای باطله",
        "باطل",
        "nulos",
        "votos nulos",
        "недействительные",
    ),
    "against_all": ("against all", "none of the above", "против всех", "contra todos"),
    "registered": ("registered", "eligible", "eligible voters", "واجدین شرایط", "electorado"),
    "cast": ("total", "total votes", "cast", "مجموع آرا", "کل آرا", "votos emitidos"),
    "valid": ("valid", "valid votes", "آرای صحیح", "votos válidos"),
}
_AGAINST_ALL = re.compile(r"против всех|against all|none of the above|contra todos", re.I)
_ARABIC_OR_SPACES = re.compile(r"[\u0600-\u06ff\u200c-\u200f\u202a-\u202e\u2066-\u2069\ufeff]|\s\s")


# --- columns -------------------------------------------------------------------


def _describe(ref: ColumnRef) -> str:
    return f"/{ref.regex}/" if isinstance(ref, Pattern) else repr(ref)


def find_column(header: list[str], ref: ColumnRef) -> str | None:
    """The header name a reference designates, or None."""
    if isinstance(ref, int):
        return header[ref] if -len(header) <= ref < len(header) else None
    if isinstance(ref, Pattern):
        hits = [h for h in header if ref.matches(h)]
        return hits[0] if len(hits) == 1 else None
    if ref in header:
        return ref
    key = name_key(ref)
    hits = [h for h in header if name_key(h) == key]
    return hits[0] if len(hits) == 1 else None


def _column_name(raw: RawTable, ref: ColumnRef, role: str) -> str:
    cols = raw.frame.columns
    found = find_column(cols, ref)
    if found is not None:
        return found
    if isinstance(ref, int):
        raise raw.error(
            f"column position {ref} ({role}) is out of range",
            expected=f"a position between 0 and {len(cols) - 1}",
        )
    if isinstance(ref, Pattern):
        hits = [h for h in cols if ref.matches(h)]
        raise raw.error(
            f"pattern /{ref.regex}/ ({role}) matches {len(hits)} columns {hits[:3]}",
            expected="exactly one header column",
        )
    if len(cols) == 1:
        seps = [d for d in (";", "\t", ",", "|") if d in cols[0]]
        if seps:
            shown = "tab" if seps[0] == "\t" else repr(seps[0])
            raise raw.error(
                f"column {ref!r} ({role}) not found: the header is one column holding "
                f"{shown}, so the delimiter is probably {shown}",
                column=ref,
                expected=f"--delimiter {'tab' if seps[0] == chr(9) else seps[0]} "
                "(or 'delimiter' in the mapping)",
            )
    close = difflib.get_close_matches(ref, cols, n=3, cutoff=0.5)
    raise raw.error(
        f"column {ref!r} ({role}) not found",
        column=ref,
        expected=(f"one of the header columns {cols}" if len(cols) <= 12 or not close else "")
        + (f"; closest: {close}" if close else ""),
    )


def _optional_column(raw: RawTable, ref: ColumnRef | None, role: str) -> str | None:
    """Like :func:`_column_name`, but an optional pattern that matches nothing is None."""
    if ref is None:
        return None
    if (
        isinstance(ref, Pattern)
        and ref.optional
        and not any(ref.matches(h) for h in raw.frame.columns)
    ):
        return None
    return _column_name(raw, ref, role)


def candidate_block(header: list[str], block: CandidateBlock) -> list[str] | str:
    """Header names of a candidate block, or a text saying why it selects nothing."""
    n = len(header)

    def pos(ref: ColumnRef | None, default: int) -> int | None:
        if ref is None:
            return default
        name = find_column(header, ref)
        if name is None:
            return None
        return header.index(name)

    if block.after_last is not None:
        rx = re.compile(block.after_last, re.IGNORECASE)
        hits = [i for i, h in enumerate(header) if rx.search(h)]
        if not hits:
            return f"no header matches /{block.after_last}/"
        first = hits[-1] + 1
        before = pos(block.before, n)
        if before is None:
            return f"column {_describe(block.before) if block.before is not None else ''} not found"
        names = header[first:before]
    else:
        first_p = pos(block.first, 0)
        last_p = pos(block.last, n - 1)
        if first_p is None or last_p is None:
            missing = block.first if first_p is None else block.last
            return f"column {_describe(missing) if missing is not None else ''} not found"
        names = header[first_p : last_p + 1]
    return names if names else f"candidate_columns {block.text!r} selects no column"


def _first_word(text: str) -> str:
    words = re.findall(r"\w+", text.casefold())
    return words[0] if words else ""


def _refuse_count_lines_in_block(
    raw: RawTable, block: list[str], role_columns: list[str | None]
) -> None:
    """A candidate block must not take in a protocol line: a column worded like the
    ballot counts the mapping names (same first word, e.g. "Число …", "Number of …")
    while most of the block is not. This catches a range written for another year
    that reaches one column too far into mostly-zero protocol lines, which the
    add-up gate cannot see."""
    words = [_first_word(c) for c in role_columns if c]
    if len(words) < 2:
        return
    common = max(set(words), key=words.count)
    if words.count(common) < 2 or len(common) < 3:
        return
    odd = [c for c in block if _first_word(c) == common]
    if odd and len(odd) < len(block) / 2:
        raise raw.error(
            f"the candidate range takes in {len(odd)} column(s) worded like a protocol "
            f"line, not a candidate ({odd[0][:60]!r}); was the mapping written for another "
            "layout?",
            column=odd[0],
            expected="a candidate range over candidate columns only",
        )


def count_columns(mapping: ColumnMapping, header: list[str]) -> list[str]:
    """Header names of every column the mapping declares as a count (for the fast path)."""
    refs: list[ColumnRef | None] = [
        mapping.registered,
        mapping.valid,
        mapping.invalid,
        mapping.blank,
        mapping.votes,
        *(mapping.cast or ()),
        *(r for _, r in mapping.candidates),
        *(r for _, r in mapping.extra),
    ]
    names = [find_column(header, r) for r in refs if r is not None]
    if mapping.candidate_columns:
        block = candidate_block(header, mapping.candidate_columns)
        if isinstance(block, list):
            names += block
    return [n for n in names if n is not None]


# --- counts --------------------------------------------------------------------


def parse_count_column(
    raw: RawTable,
    col: str,
    role: str,
    *,
    missing_values: tuple[str, ...],
    thousands: str | None = None,
) -> tuple[pl.Series, pl.Series]:
    """Parse one count column to Int64 with :func:`electwatch.core.numbers.parse_count`.

    Returns ``(counts, missing)``: cells that are empty or one of ``missing_values``
    are null in ``counts`` and true in ``missing`` (missing, never zero). Plain ASCII
    digits are cast natively (the fast path); every other cell goes through
    ``parse_count`` once per distinct value, so this loader, the observation reader
    and the web import read ``۱٬۲۳۴`` alike. The first bad value raises.
    """
    s = raw.frame[col]
    if s.dtype == pl.String:
        stripped = s.str.strip_chars()
        missing = (stripped.is_null() | stripped.is_in(list(missing_values))).fill_null(True)
        plain = stripped.str.contains(r"^[0-9]{1,18}$").fill_null(False)
        parsed = stripped.cast(pl.Int64, strict=False).set(~plain, None)  # type: ignore[arg-type]
        other = ~plain & ~missing
        if other.any():
            values = stripped.filter(other).unique().to_list()
            table: dict[str, int] = {}
            for v in values:
                text = v.replace(thousands, ",") if thousands and thousands != "," else v
                try:
                    table[v] = parse_count(text)
                except NumberFormatError:
                    i = int((other & (stripped == v)).arg_true()[0])
                    message = f"{role} is not a whole number"
                    if text.strip().startswith("-") and re.fullmatch(r"-\d+", text.strip()):
                        message = f"{role} is negative"
                        raise raw.error(
                            message,
                            row=i + 1,
                            column=col,
                            value=int(text),
                            expected=_COUNT_EXPECTED,
                        ) from None
                    if "%" in text:
                        message = f"{role} is a percentage"
                    raise raw.error(
                        message, row=i + 1, column=col, value=s[i], expected=_COUNT_EXPECTED
                    ) from None
            mapped = stripped.replace_strict(table, default=None, return_dtype=pl.Int64)
            parsed = pl.select(pl.when(other).then(mapped).otherwise(parsed)).to_series()
        return parsed.alias(col), missing
    if s.dtype.is_float():
        missing = (s.is_null() | s.is_nan()).fill_null(True)
        bad = ~missing & (s != s.round())
        if bad.any():
            i = int(bad.arg_true()[0])
            raise raw.error(
                f"{role} is not a whole number",
                row=i + 1,
                column=col,
                value=s[i],
                expected=_COUNT_EXPECTED,
            )
        parsed = s.cast(pl.Int64, strict=False)
    elif s.dtype.is_integer():
        missing = s.is_null()
        parsed = s.cast(pl.Int64)
    elif s.dtype == pl.Null:
        missing = pl.Series([True] * s.len())
        parsed = pl.Series([None] * s.len(), dtype=pl.Int64)
    else:
        raise raw.error(f"{role} column has type {s.dtype}", column=col, expected=_COUNT_EXPECTED)
    negative = (parsed < 0).fill_null(False)
    if negative.any():
        i = int(negative.arg_true()[0])
        raise raw.error(
            f"{role} is negative", row=i + 1, column=col, value=s[i], expected=_COUNT_EXPECTED
        )
    return parsed.alias(col), missing


def normalize_names(s: pl.Series) -> pl.Series:
    """:func:`normalize_name` over a text column, paying Python only where it matters
    (Arabic-script letters, direction marks, doubled spaces)."""
    s = s.cast(pl.String).str.strip_chars()
    distinct = s.unique().drop_nulls()
    needs = distinct.filter(distinct.str.contains(_ARABIC_OR_SPACES.pattern))
    if needs.len() == 0:
        return s
    table = {v: normalize_name(v) for v in needs.to_list()}
    return s.replace(table)


def _first_true(mask: pl.Series) -> int | None:
    return int(mask.arg_true()[0]) if mask.any() else None


def _rule_mask(raw: RawTable, rule: RowRule, role: str) -> pl.Series:
    """Rows a :class:`RowRule` selects (names compared by :func:`name_key`)."""
    c = _column_name(raw, rule.column, role)
    s = normalize_names(raw.frame[c]).fill_null("")
    if not (rule.equals or rule.patterns):
        return s.str.to_lowercase().is_in(["1", "true", "yes", "y"])
    keys = {name_key(v) for v in rule.equals}
    regexes = [re.compile(p, re.IGNORECASE) for p in rule.patterns]
    chosen = [
        v
        for v in s.unique().to_list()
        if name_key(v) in keys or any(rx.search(v) for rx in regexes)
    ]
    return s.is_in(chosen)


# --- loading -------------------------------------------------------------------


def _effective_mapping(
    path: Path,
    mapping: str | Path | ColumnMapping | None,
    encoding: str | None,
    delimiter: str | None,
) -> ColumnMapping:
    m = resolve_mapping(path, mapping)
    if m is None:
        header = _peek_header(path, encoding or "auto", delimiter)
        m = recognise(header, str(path))
    elif m.header:
        header = _peek_header(path, encoding or m.encoding, delimiter or m.delimiter, m)
        matched, expected, missing = m.header_fit(header)
        if missing:
            raise MappingError(
                f"{path}: the header does not fit mapping {m.name!r} ({matched} of {expected} "
                f"expected columns found; lacks {', '.join(missing[:4])}); is this file of "
                f"another layout? Draft a mapping with `electwatch mappings init {path.name}`"
            )
    return m


def _peek_header(
    path: Path, encoding: str, delimiter: str | None, m: ColumnMapping | None = None
) -> list[str]:
    name = path.name.lower()
    if not path.exists():
        raise DataValidationError(str(path), "file not found")
    if name.endswith((".parquet", ".xlsx", ".xlsm", ".xls", ".ods")):
        return read_table(path, sheet=m.sheet if m else None).frame.columns
    data = read_bytes(path, m.zip_member if m else None, limit=1 << 20)
    if not data.strip():
        raise DataValidationError(str(path), "file is empty", expected="a header row and data rows")
    data, _ = to_utf8(data, str(path), encoding)
    from electwatch.data.reading import detect_delimiter

    first = data[: data.find(b"\n") if b"\n" in data else len(data)]
    try:
        first.decode("utf-8")
    except UnicodeDecodeError:
        read_table(path, encoding=encoding)  # raises the decoding error with its hint
    sep = delimiter or detect_delimiter(first.decode("utf-8", "replace"))
    return csv_header(data, sep)


def load_results(
    path: str | Path,
    mapping: str | Path | ColumnMapping | None = None,
    *,
    allow_inconsistent: bool = False,
    skip_empty: bool | None = None,
    keep_missing: bool | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    pseudo_register_ratio: float | None = None,
) -> ElectionResults:
    """Load and validate a results table of any of the three shapes.

    ``mapping``: a :class:`ColumnMapping`, a TOML path or a built-in name; without one a
    sidecar ``<name>.mapping.toml``, else the built-in mapping whose header fits.
    ``allow_inconsistent`` keeps rows whose votes exceed ballots cast (flagged) and
    tables that fail the consistency gate. ``skip_empty`` skips rows with no count at
    all (counted and listed in ``results.skipped``). ``keep_missing`` keeps rows where
    some count is missing (null, flagged) instead of refusing. The keyword arguments
    override the mapping's keys of the same name.
    """
    path = Path(path)
    m = _effective_mapping(path, mapping, encoding, delimiter)
    overrides: dict[str, object] = {}
    if skip_empty is not None:
        overrides["skip_empty"] = skip_empty
    if encoding is not None:
        overrides["encoding"] = encoding
    if delimiter is not None:
        overrides["delimiter"] = delimiter
    if pseudo_register_ratio is not None:
        if pseudo_register_ratio <= 1:
            raise MappingError("the pseudo-unit register ratio must be > 1")
        overrides["pseudo_register_ratio"] = float(pseudo_register_ratio)
    if overrides:
        m = replace(m, **overrides)  # type: ignore[arg-type]
    keep_missing = bool(keep_missing)
    fast = None if m.thousands_separator else partial(count_columns, m)
    raw = read_table(
        path,
        encoding=m.encoding,
        delimiter=m.delimiter,
        sheet=m.sheet,
        zip_member=m.zip_member,
        int_columns=fast,
    )
    if raw.frame.height == 0:
        raise raw.error("file has a header but no data rows", expected="at least one row")
    if m.shape == "long":
        from electwatch.data.long import load_long

        return load_long(raw, m, path, allow_inconsistent=allow_inconsistent)
    return _load_wide(raw, m, path, allow_inconsistent, keep_missing)


def _load_wide(
    raw: RawTable, m: ColumnMapping, path: Path, allow_inconsistent: bool, keep_missing: bool
) -> ElectionResults:
    total_rows = None
    if m.total_rows is not None:
        is_total = _rule_mask(raw, m.total_rows, "total rows")
        total_rows = raw.frame.filter(is_total)
        raw = RawTable(
            raw.frame.filter(~is_total), raw.file, raw.sha256, None, raw.encoding, raw.delimiter
        )
    header = raw.frame.columns

    # candidates
    if m.candidates:
        cand = [(n, _column_name(raw, r, f"votes for {n}")) for n, r in m.candidates]
    else:
        assert m.candidate_columns is not None
        block = candidate_block(header, m.candidate_columns)
        if isinstance(block, str):
            raise raw.error(f"candidate_columns: {block}", expected="a block of candidate columns")
        cand = [(normalize_name(n), n) for n in block]
    candidates = [n for n, _ in cand]
    area_levels = [level for level, _ in m.areas]
    for level in area_levels:
        if level in RESERVED_COLUMNS:
            raise MappingError(f"area level name {level!r} is reserved")
    clash = set(candidates) & (RESERVED_COLUMNS | set(area_levels))
    if clash or len(set(candidates)) != len(candidates):
        raise MappingError(f"candidate names must be unique and not reserved: {sorted(clash)}")

    specs: list[tuple[str, str, bool]] = []

    def spec(ref: ColumnRef | None, role: str, required: bool) -> str | None:
        c = _optional_column(raw, ref, role)
        if c is not None:
            specs.append((c, role, required))
        return c

    vote_cols = {n: spec(c, f"votes for {n}", True) for n, c in cand}
    reg_col = spec(m.registered, "registered voters", False)
    valid_col = spec(m.valid, "valid ballots", True)
    invalid_col = spec(m.invalid, "invalid ballots", True)
    blank_col = spec(m.blank, "blank ballots", True)
    cast_cols = [c for r in (m.cast or ()) if (c := spec(r, "ballots cast", True)) is not None]
    if m.cast and not cast_cols:
        raise raw.error(
            f"no ballots-cast column: none of {[_describe(r) for r in m.cast]} is in the header"
        )
    extra_cols = {name: spec(ref, name, False) for name, ref in m.extra}
    if m.candidate_columns is not None:
        _refuse_count_lines_in_block(
            raw, [c for _, c in cand], [reg_col, valid_col, invalid_col, blank_col, *cast_cols]
        )
    parsed: dict[str, pl.Series] = {}
    missing: dict[str, pl.Series] = {}
    seen: set[str] = set()
    for c, role, _ in specs:
        if c in seen:
            continue
        seen.add(c)
        parsed[c], missing[c] = parse_count_column(
            raw, c, role, missing_values=m.missing_values, thousands=m.thousands_separator
        )
    n = raw.frame.height

    # rows with no data at all: skipped and listed, or refused naming the option
    count_cols = list(parsed)
    all_missing = (
        pl.DataFrame([missing[c].alias(c) for c in count_cols])
        .select(pl.all_horizontal(pl.all()))
        .to_series()
        if count_cols
        else pl.Series([False] * n)
    )
    skipped: list[SkippedRow] = []
    keep_mask: pl.Series | None = None
    if all_missing.any():
        k = int(all_missing.sum())
        i = int(all_missing.arg_true()[0])
        if not m.skip_empty:
            raise raw.error(
                f"{k:,} row(s) have no data in any count column (results not published?)",
                row=i + 1,
                expected="counts in every row, or --skip-empty (skip_empty = true in the "
                "mapping) to skip, count and list them",
            )
        ids = raw.frame.select(
            pl.concat_str(
                [pl.col(_column_name(raw, r, "station id")).cast(pl.String) for r in m.station_id],
                separator="/",
                ignore_nulls=True,
            )
        ).to_series()
        rows = all_missing.arg_true().to_list()
        skipped = [SkippedRow(int(r) + 1, ids[int(r)]) for r in rows]
        keep_mask = ~all_missing

    # required counts that are missing in a row with data
    required_missing = pl.Series([False] * n)
    for c, role, required in specs:
        if not required:
            continue
        miss = missing[c] & ~all_missing
        if miss.any():
            if not keep_missing:
                i = int(miss.arg_true()[0])
                raise raw.error(
                    f"{role} is missing",
                    row=i + 1,
                    column=c,
                    value=raw.frame[c][i] if raw.frame[c][i] not in (None, "") else None,
                    expected=_COUNT_EXPECTED
                    + " (or --keep-missing to keep such rows with the count missing, never 0)",
                )
            required_missing = required_missing | miss

    cols: dict[str, pl.Series] = {"row": pl.Series("row", range(1, n + 1))}

    # station id (missing parts: generated when the mapping allows it, flagged)
    id_cols = [_column_name(raw, r, "station id") for r in m.station_id]
    id_parts = raw.frame.select(normalize_names(raw.frame[c]).alias(c) for c in id_cols)
    generated = pl.Series([False] * n)
    for c in id_cols:
        empty = (id_parts[c].is_null() | (id_parts[c] == "")) & ~all_missing
        if empty.any():
            if not m.generate_missing_ids:
                i = int(empty.arg_true()[0])
                raise raw.error(
                    "station id is missing",
                    row=i + 1,
                    column=c,
                    expected="a non-empty identifier (or generate_missing_ids = true in the "
                    "mapping: a generated id, flagged)",
                )
            generated = generated | empty
            id_parts = id_parts.with_columns(
                pl.when(pl.Series(empty))
                .then(pl.format("~row{}", pl.Series(range(1, n + 1))))
                .otherwise(pl.col(c))
                .alias(c)
            )
    station_id = id_parts.select(
        pl.concat_str(id_cols, separator="/", ignore_nulls=True)
    ).to_series()
    valid_ids = station_id.filter(~all_missing)
    dup = valid_ids.is_duplicated()
    if dup.any():
        first_value = valid_ids[int(dup.arg_true()[0])]
        rows = ((station_id == first_value) & ~all_missing).arg_true()
        hint = ""
        if any(isinstance(r, int | Pattern) for r in m.station_id):
            hint = (
                f"; the id columns {id_cols} do not identify stations in this file — was "
                f"mapping {m.name!r} written for another layout?"
            )
        raise raw.error(
            f"duplicate station id {first_value!r} (also in row {int(rows[0]) + 1}){hint}",
            row=int(rows[1]) + 1,
            column=" + ".join(id_cols),
            value=first_value,
            expected="each station id exactly once",
        )
    cols["station_id"] = station_id

    for level, ref in m.areas:
        c = _column_name(raw, ref, f"area level {level}")
        s = normalize_names(raw.frame[c])
        absent = _first_true((s.is_null() | (s == "")) & ~all_missing)
        if absent is not None:
            raise raw.error(
                f"area {level!r} is missing", row=absent + 1, column=c, expected="an area name"
            )
        cols[level] = s

    def count(col: str | None) -> pl.Series | None:
        return None if col is None else parsed[col]

    votes = {name: parsed[c] for name, c in vote_cols.items() if c is not None}
    valid = count(valid_col)
    invalid = count(invalid_col)
    blank = count(blank_col)
    if cast_cols:
        cast = (
            pl.DataFrame([parsed[c].alias(f"p{i}") for i, c in enumerate(cast_cols)])
            .select(pl.sum_horizontal(pl.all()).alias("cast"))
            .to_series()
        )
        any_null = (
            pl.DataFrame([parsed[c].alias(f"p{i}") for i, c in enumerate(cast_cols)])
            .select(pl.any_horizontal(pl.all().is_null()))
            .to_series()
        )
        cast = cast.set(any_null, None)  # type: ignore[arg-type]
    else:
        pieces = [*votes.values()] + [p for p in (invalid, blank) if p is not None]
        cast = (
            pl.DataFrame([p.alias(f"p{i}") for i, p in enumerate(pieces)])
            .select(
                pl.when(pl.any_horizontal(pl.all().is_null()))
                .then(None)
                .otherwise(pl.sum_horizontal(pl.all()))
            )
            .to_series()
        )

    null_int = pl.Series([None] * n, dtype=pl.Int64)
    registered = count(reg_col)
    cols["registered"] = registered if registered is not None else null_int
    cols["cast"] = cast
    cols["valid"] = valid if valid is not None else null_int
    cols["invalid"] = invalid if invalid is not None else null_int
    cols["blank"] = blank if blank is not None else null_int
    cols["abroad"] = (
        _rule_mask(raw, m.abroad, "abroad") if m.abroad is not None else pl.Series([False] * n)
    )
    cols["pseudo_unit"] = (
        _rule_mask(raw, m.pseudo_units, "pseudo units")
        if m.pseudo_units is not None
        else pl.Series([False] * n)
    )
    cols["flag_generated_id"] = generated
    cols["flag_missing_counts"] = required_missing
    for name, ref in m.attributes:
        c = _column_name(raw, ref, f"attribute {name}")
        cols[name] = raw.frame[c].cast(pl.String)
    extras = []
    for name, c in extra_cols.items():
        if c is not None:
            cols[name] = parsed[c]
            extras.append(name)
    cols.update(votes)

    frame = pl.DataFrame({k: v.alias(k) for k, v in cols.items()})
    if keep_mask is not None:
        frame = frame.filter(keep_mask)
    return finish(
        frame,
        candidates=candidates,
        area_levels=area_levels,
        m=m,
        raw=raw,
        path=path,
        allow_inconsistent=allow_inconsistent,
        extras=extras,
        skipped=skipped,
        block_text=m.candidate_columns.text if m.candidate_columns else None,
        total_rows=total_rows,
    )


def finish(
    frame: pl.DataFrame,
    *,
    candidates: list[str],
    area_levels: list[str],
    m: ColumnMapping,
    raw: RawTable,
    path: Path,
    allow_inconsistent: bool,
    extras: list[str],
    skipped: list[SkippedRow],
    block_text: str | None = None,
    total_rows: pl.DataFrame | None = None,
    outcomes: pl.DataFrame | None = None,
) -> ElectionResults:
    """Pseudo-units by size, flags, the consistency gate, and the results object."""
    frame = mark_pseudo_units(frame, m.pseudo_register_ratio)
    frame, warnings = _check_consistency(frame, candidates, raw, allow_inconsistent, block_text)
    if skipped:
        warnings.append(
            ValidationWarning(
                "skipped_empty",
                "rows with no data in any count column, skipped (--skip-empty)",
                len(skipped),
                tuple(s.row for s in skipped[:5]),
                tuple(s.station_id or "" for s in skipped[:5]),
            )
        )
    stem = path.name.split(".")[0]
    contest = Contest(
        name=m.contest or stem,
        round=m.round,
        candidates=[Candidate(c) for c in candidates],
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
            encoding=raw.encoding,
            delimiter=raw.delimiter,
        ),
        warnings=warnings,
        attributes=[a for a, _ in m.attributes],
        extra_counts=extras,
        level=m.level,
        national_registered=m.national_registered,
        skipped=skipped,
        outcomes=outcomes,
        against_all=[c for c in candidates if _AGAINST_ALL.search(c)],
        published_totals=total_rows,
    )


def mark_pseudo_units(frame: pl.DataFrame, ratio: float) -> pl.DataFrame:
    """Units whose register exceeds ``ratio`` x the median register are pseudo-units
    (remote e-voting, consolidated abroad or postal units): kept in totals, marked."""
    reg = frame["registered"].drop_nulls()
    reg = reg.filter(reg > 0)
    big = pl.Series([False] * frame.height)
    if frame.height >= 3 and reg.len():
        median = float(np.median(reg.to_numpy()))
        big = (frame["registered"] > ratio * median).fill_null(False)
    return frame.with_columns(flag_pseudo_by_size=big, pseudo_unit=pl.col("pseudo_unit") | big)


def add_flags(
    frame: pl.DataFrame, candidates: list[str]
) -> tuple[pl.DataFrame, list[ValidationWarning]]:
    """Add the ``flag_*`` columns and summarise them as warnings (rows are kept)."""
    for name, default in (
        ("pseudo_unit", False),
        ("flag_generated_id", False),
        ("flag_missing_counts", False),
    ):
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(default).alias(name))
    parts = pl.sum_horizontal(
        [pl.col(c) for c in candidates]
        + [pl.col("invalid").fill_null(0), pl.col("blank").fill_null(0)]
    )
    frame = frame.with_columns(
        flag_votes_exceed_cast=(parts > pl.col("cast")).fill_null(False),
        flag_parts_mismatch=(parts != pl.col("cast")).fill_null(False),
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
        "pseudo_unit": "units that are not polling stations (e-voting, abroad, ships, "
        "very large registers): kept in totals, marked",
        "flag_generated_id": "missing id part replaced by a generated id",
        "flag_missing_counts": "a count is missing (kept as missing, never 0)",
    }
    if frame["registered"].null_count() == frame.height:
        # no register anywhere: said once by the summary ("not in the file"), not per unit
        del describe["flag_no_register"]
    warnings = []
    for flag, text in describe.items():
        if flag not in frame.columns:
            continue
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


def consistency_failures(frame: pl.DataFrame, candidates: list[str]) -> tuple[int, int, str]:
    """``(rows failing, rows with data, which identity)`` of the parts-add-up checks:
    candidates = valid when valid is published, valid + invalid = cast, otherwise
    candidates + invalid + blank = cast. Rows with no ballots or a missing count are
    not counted."""
    cand = pl.sum_horizontal([pl.col(c) for c in candidates])
    has_valid = frame["valid"].null_count() < frame.height
    has_invalid = frame["invalid"].null_count() < frame.height
    complete = pl.all_horizontal([pl.col(c).is_not_null() for c in candidates])
    with_data = (pl.col("cast") > 0) & complete
    if has_valid:
        bad = (cand != pl.col("valid")).fill_null(False)
        what = "candidate votes = valid ballots"
        if has_invalid:
            bad = bad | (pl.col("valid") + pl.col("invalid") != pl.col("cast")).fill_null(False)
            what += ", valid + invalid = ballots cast"
    else:
        parts = cand + pl.col("invalid").fill_null(0) + pl.col("blank").fill_null(0)
        bad = (parts != pl.col("cast")).fill_null(False)
        what = "candidates + invalid + blank = ballots cast"
    row = frame.select((bad & with_data).sum().alias("bad"), with_data.sum().alias("n")).row(0)
    return int(row[0]), int(row[1]), what


def _check_consistency(
    frame: pl.DataFrame,
    candidates: list[str],
    raw: RawTable,
    allow_inconsistent: bool,
    block_text: str | None,
) -> tuple[pl.DataFrame, list[ValidationWarning]]:
    """Impossible rows raise; rows real data does have are flagged and kept; a table
    whose parts do not add up on more than :data:`CONSISTENCY_GATE` of its rows is
    refused as a probable misread."""
    frame, warnings = add_flags(frame, candidates)
    bad, n, what = consistency_failures(frame, candidates)
    if bad >= GATE_MIN_ROWS and bad > CONSISTENCY_GATE * n and not allow_inconsistent:
        shown = ", ".join(repr(c[:30]) for c in candidates[:3]) + (
            f" … ({len(candidates)} in all)" if len(candidates) > 3 else ""
        )
        cause = (
            f"the candidate range {block_text!r} probably misses or includes columns"
            if block_text
            else "the mapping probably names the wrong columns"
        )
        raise raw.error(
            f"the parts do not add up ({what}) on {bad:,} of {n:,} rows with data "
            f"({bad / n:.0%}, over the {CONSISTENCY_GATE:.0%} allowed): {cause} "
            f"(candidates read: {shown}); was the mapping written for another layout?",
            expected="a mapping that fits this file, or --allow-inconsistent to load anyway",
        )
    over = frame["flag_votes_exceed_cast"]
    if over.any() and not allow_inconsistent:
        i = int(over.arg_true()[0])
        r = frame.row(i, named=True)
        total = sum(r[c] for c in candidates) + (r["invalid"] or 0) + (r["blank"] or 0)
        raise raw.error(
            f"votes for candidates + invalid + blank ({total}) exceed ballots cast ({r['cast']}) "
            f"at station {r['station_id']!r}",
            row=int(r["row"]),
            column="cast",
            value=r["cast"],
            expected="ballots cast >= all votes (pass allow_inconsistent / "
            "--allow-inconsistent to keep such rows as flagged)",
        )
    return frame, warnings
