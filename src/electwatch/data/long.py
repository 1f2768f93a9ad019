"""Long-form (tidy) area tables: one row per area and outcome.

Columns: the area path (any depth, top-down), the outcome (a candidate, or blank,
invalid, "against all", and optionally the register or ballots cast given as rows),
the votes, and optionally the seats of a multi-seat area. Each area has its own
candidate list. The table becomes the same :class:`ElectionResults` as station rows,
with ``level = "area"`` (one row per area), the vote columns holding 0 where a
candidate did not stand (``results.stands(candidate)`` says where they did) and the
tidy rows kept as ``results.outcomes``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from electwatch.core.numbers import name_key
from electwatch.data.mapping import ColumnMapping
from electwatch.data.model import RESERVED_COLUMNS, ElectionResults
from electwatch.data.reading import RawTable
from electwatch.errors import MappingError


def outcome_kind(name: str, declared: dict[str, set[str]]) -> str:
    """The role of an outcome: a declared role, a default word, else ``candidate``."""
    from electwatch.data.loaders import DEFAULT_OUTCOME_WORDS

    key = name_key(name)
    for role, keys in declared.items():
        if key in keys:
            return role
    for role, words in DEFAULT_OUTCOME_WORDS.items():
        if key in {name_key(w) for w in words}:
            return role
    return "candidate"


def load_long(
    raw: RawTable, m: ColumnMapping, path: Path, *, allow_inconsistent: bool
) -> ElectionResults:
    from electwatch.data.loaders import (
        _column_name,
        finish,
        normalize_names,
        parse_count_column,
    )

    assert m.outcome is not None and m.votes is not None
    levels = [level for level, _ in m.areas]
    for level in levels:
        if level in RESERVED_COLUMNS:
            raise MappingError(f"area level name {level!r} is reserved")
    area_cols = [_column_name(raw, ref, f"area level {level}") for level, ref in m.areas]
    out_col = _column_name(raw, m.outcome, "outcome")
    votes_col = _column_name(raw, m.votes, "votes")
    frame = raw.frame
    names = {lvl: normalize_names(frame[c]) for lvl, c in zip(levels, area_cols, strict=True)}
    for lvl, c in zip(levels, area_cols, strict=True):
        empty = names[lvl].is_null() | (names[lvl] == "")
        if empty.any():
            i = int(empty.arg_true()[0])
            raise raw.error(
                f"area {lvl!r} is missing", row=i + 1, column=c, expected="an area name"
            )
    outcome = normalize_names(frame[out_col])
    empty = outcome.is_null() | (outcome == "")
    if empty.any():
        i = int(empty.arg_true()[0])
        raise raw.error("outcome is missing", row=i + 1, column=out_col, expected="an outcome")
    votes, missing = parse_count_column(
        raw, votes_col, "votes", missing_values=m.missing_values, thousands=m.thousands_separator
    )
    if missing.any():
        i = int(missing.arg_true()[0])
        raise raw.error(
            "votes are missing", row=i + 1, column=votes_col, expected="a whole number >= 0"
        )
    declared = {role: {name_key(w) for w in words} for role, words in m.outcome_roles}
    kinds = {v: outcome_kind(v, declared) for v in outcome.unique().to_list()}
    tidy = pl.DataFrame(
        {
            "row": pl.Series(range(1, frame.height + 1)),
            **names,
            "outcome": outcome,
            "kind": outcome.replace_strict(kinds, return_dtype=pl.String),
            "votes": votes,
        }
    ).with_columns(area_id=pl.concat_str(levels, separator="/"))
    if m.seats is not None:
        seats_col = _column_name(raw, m.seats, "seats")
        seats, _ = parse_count_column(
            raw, seats_col, "seats", missing_values=m.missing_values, thousands=None
        )
        tidy = tidy.with_columns(seats=seats)
    # matching by name key: the same outcome spelt with Arabic or Persian letters is one
    tidy = tidy.with_columns(
        key=pl.col("outcome").replace_strict(
            {v: name_key(v) for v in kinds}, return_dtype=pl.String
        )
    )
    dup = tidy.select(["area_id", "key"]).is_duplicated()
    if dup.any():
        i = int(dup.arg_true()[1])
        r = tidy.row(i, named=True)
        raise raw.error(
            f"outcome {r['outcome']!r} appears twice in area {r['area_id']!r}",
            row=int(r["row"]),
            column=out_col,
            expected="one row per area and outcome",
        )
    ballot = tidy.filter(pl.col("kind").is_in(["candidate", "against_all", "blank", "invalid"]))
    candidates = (
        ballot.filter(pl.col("kind").is_in(["candidate", "against_all"]))["outcome"]
        .unique(maintain_order=True)
        .to_list()
    )
    clash = set(candidates) & (RESERVED_COLUMNS | set(levels))
    if clash:
        raise MappingError(f"candidate names must not be reserved: {sorted(clash)}")

    areas = tidy.group_by("area_id", maintain_order=True).agg(
        pl.col("row").min(), *[pl.col(lvl).first() for lvl in levels]
    )

    def role_total(kind: str) -> pl.DataFrame:
        part = (
            tidy.filter(pl.col("kind") == kind)
            .group_by("area_id")
            .agg(pl.col("votes").sum().alias(kind))
        )
        return part

    wide = (
        ballot.filter(pl.col("kind").is_in(["candidate", "against_all"])).pivot(
            on="outcome", index="area_id", values="votes", aggregate_function="sum"
        )
        if candidates
        else pl.DataFrame({"area_id": areas["area_id"]})
    )
    result = areas.join(wide, on="area_id", how="left")
    published = {
        k for k in ("registered", "cast", "valid", "blank", "invalid") if (tidy["kind"] == k).any()
    }
    for kind in ("registered", "cast", "valid", "blank", "invalid"):
        if kind in published:
            result = result.join(role_total(kind), on="area_id", how="left")
        else:
            result = result.with_columns(pl.lit(None, dtype=pl.Int64).alias(kind))
    if "blank" in published:
        result = result.with_columns(pl.col("blank").fill_null(0))
    if "invalid" in published:
        result = result.with_columns(pl.col("invalid").fill_null(0))
    # a candidate who did not stand in an area has 0 votes there; stands() tells them apart
    result = result.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in candidates)
    if "cast" not in published:
        result = result.with_columns(
            cast=pl.sum_horizontal(
                [pl.col(c) for c in candidates]
                + [pl.col("invalid").fill_null(0), pl.col("blank").fill_null(0)]
            )
        )
    if "seats" in tidy.columns:
        seat_counts = tidy.group_by("area_id").agg(pl.col("seats").max())
        result = result.join(seat_counts, on="area_id", how="left")
    result = result.rename({"area_id": "station_id"}).with_columns(
        abroad=pl.lit(False),
        pseudo_unit=pl.lit(False),
        flag_generated_id=pl.lit(False),
        flag_missing_counts=pl.lit(False),
    )
    if m.abroad is not None:
        from electwatch.data.loaders import _rule_mask

        abroad_rows = tidy.filter(_rule_mask(raw, m.abroad, "abroad"))["area_id"]
        result = result.with_columns(abroad=pl.col("station_id").is_in(abroad_rows.implode()))
    order = ["row", "station_id", *levels, "registered", "cast", "valid", "invalid", "blank"]
    if "seats" in result.columns:
        order.append("seats")
    order += ["abroad", "pseudo_unit", "flag_generated_id", "flag_missing_counts", *candidates]
    result = result.select(order)
    outcomes = tidy.filter(pl.col("kind").is_in(["candidate", "against_all", "blank", "invalid"]))
    outcomes = outcomes.select(["area_id", *levels, "outcome", "kind", "votes"])
    return finish(
        result,
        candidates=candidates,
        area_levels=levels,
        m=m,
        raw=raw,
        path=path,
        allow_inconsistent=allow_inconsistent,
        extras=[],
        skipped=[],
        outcomes=outcomes,
    )
