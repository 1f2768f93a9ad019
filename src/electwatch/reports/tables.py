"""Tables of the report: written in full as CSV and Parquet, shown (first rows) in HTML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from electwatch.core.formatting import value as fmt_value
from electwatch.reports.model import TableRef

Formatter = Callable[[Any], str]


@dataclass
class TableWriter:
    """Writes tables into ``<out_dir>/tables`` as CSV and Parquet."""

    out_dir: Path
    max_rows: int = 40

    def __post_init__(self) -> None:
        (self.out_dir / "tables").mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []

    def save(
        self,
        frame: pl.DataFrame,
        table_id: str,
        title: str,
        *,
        note: str = "",
        formats: dict[str, Formatter] | None = None,
        max_rows: int | None = None,
        flag_column: str | None = None,
        display: pl.DataFrame | None = None,
        full: pl.DataFrame | None = None,
    ) -> TableRef:
        """Write ``full`` (default ``frame``) to CSV + Parquet; show ``display`` (default
        ``frame``), first ``max_rows`` rows (0: no rows, just the links)."""
        shown_from = frame if display is None else display
        frame = frame if full is None else full
        files = {}
        for fmt in ("csv", "parquet"):
            rel = f"tables/{table_id}.{fmt}"
            path = self.out_dir / rel
            out = frame
            if fmt == "csv":
                # CSV has no nested types: lists are joined with ";"
                out = frame.with_columns(
                    pl.col(c).cast(pl.List(pl.String)).list.join(";")
                    for c, t in frame.schema.items()
                    if isinstance(t, pl.List)
                )
                out.write_csv(path)
            else:
                frame.write_parquet(path)
            files[fmt] = rel
            self.written.append(path)
        limit = self.max_rows if max_rows is None else max_rows
        shown = shown_from.head(limit)
        formats = formats or {}
        if flag_column and flag_column not in shown.columns:
            flag_column = None
        display_cols = [c for c in shown.columns if c != flag_column]
        rows = [
            [formats.get(c, fmt_value)(r[c]) for c in display_cols]
            for r in shown.iter_rows(named=True)
        ]
        row_classes = (
            ["flag" if bool(v) else "" for v in shown[flag_column].to_list()] if flag_column else []
        )
        numeric = [shown.schema[c].is_numeric() for c in display_cols]
        if frame.height > limit and limit > 0:
            extra = (
                f"First {limit:,} of {frame.height:,} rows shown; the full table is in "
                f"{files['csv']} and {files['parquet']}."
            )
            note = f"{note} {extra}".strip()
        return TableRef(
            id=table_id,
            title=title,
            columns=display_cols,
            rows=rows,
            files=files,
            total_rows=frame.height,
            note=note,
            numeric=numeric,
            row_classes=row_classes,
        )
