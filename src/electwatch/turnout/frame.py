"""The station frame: every polling station, its strata and register, for weighting.

Strata come from columns of the official results (area levels such as ``region``,
attributes such as ``urban``) and from a derived station size class (quantiles of
registered voters). Observations are matched to the frame by ``station_id``; an
observed station missing from the frame is an error, not a silent drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from electwatch.core.numbers import NumberFormatError, parse_optional_count
from electwatch.data.model import ElectionResults
from electwatch.errors import DataValidationError

SIZE_CLASS = "size_class"


@dataclass
class StationFrame:
    """All stations with ``station_id``, optional ``registered`` and stratum columns."""

    frame: pl.DataFrame
    strata_columns: tuple[str, ...] = ()
    eligible: float | None = None  # eligible voters if known (default: sum of registers)

    @property
    def n_stations(self) -> int:
        return self.frame.height

    @property
    def registered_total(self) -> float | None:
        if "registered" not in self.frame.columns:
            return None
        reg = self.frame["registered"]
        return None if reg.null_count() == reg.len() else float(reg.sum())

    @property
    def has_full_registers(self) -> bool:
        return "registered" in self.frame.columns and self.frame["registered"].null_count() == 0

    def stratum_labels(self, columns: Sequence[str] | None = None) -> pl.Series:
        """One label per station: the stratum columns joined with ' | '."""
        cols = list(columns if columns is not None else self.strata_columns)
        if not cols:
            return pl.Series("stratum", ["all"] * self.n_stations)
        missing = [c for c in cols if c not in self.frame.columns]
        if missing:
            raise KeyError(f"no stratum column {missing}; columns are {self.frame.columns}")
        return self.frame.select(
            pl.concat_str(
                [pl.col(c).cast(pl.String).fill_null("?") for c in cols], separator=" | "
            ).alias("stratum")
        )["stratum"]

    def stratum_sizes(self, columns: Sequence[str] | None = None) -> dict[str, int]:
        counts = self.stratum_labels(columns).value_counts()
        return dict(zip(counts["stratum"].to_list(), counts["count"].to_list(), strict=True))

    def match(
        self, station_ids: Sequence[str] | np.ndarray, file: str = "observations"
    ) -> np.ndarray:
        """Row index in the frame of each observed station (error if absent)."""
        order, sorted_ids = self._sorted_ids
        want = np.asarray(station_ids).astype(str)
        pos = np.searchsorted(sorted_ids, want)
        pos = np.minimum(pos, sorted_ids.size - 1)
        found = sorted_ids[pos] == want
        if not found.all():
            i = int(np.argmin(found))
            raise DataValidationError(
                file,
                f"{int((~found).sum())} observed station(s) not in the station frame",
                row=i + 1,
                column="station_id",
                value=str(want[i]),
                expected="a station_id of the results/frame file",
            )
        return order[pos]

    @cached_property
    def _sorted_ids(self) -> tuple[np.ndarray, np.ndarray]:
        ids = self.frame["station_id"].to_numpy().astype(str)
        order = np.argsort(ids, kind="stable")
        return order, ids[order]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stations": self.n_stations,
            "strata_columns": list(self.strata_columns),
            "registered": self.registered_total,
            "eligible": self.eligible,
        }


def size_classes(registered: pl.Series, n_classes: int = 4) -> pl.Series:
    """Station size class from quantiles of registered voters ("size 1" = smallest).

    Stations without a register get ``"size unknown"``.
    """
    reg = registered.cast(pl.Float64)
    valid = reg.drop_nulls().to_numpy()
    if valid.size == 0:
        return pl.Series(SIZE_CLASS, ["size unknown"] * reg.len())
    edges = np.quantile(valid, np.linspace(0, 1, n_classes + 1)[1:-1])
    cls = np.searchsorted(edges, reg.fill_null(np.nan).to_numpy(), side="right") + 1
    labels = np.array([f"size {k}" for k in range(1, n_classes + 2)], dtype=object)[cls - 1]
    labels[reg.is_null().to_numpy()] = "size unknown"
    return pl.Series(SIZE_CLASS, labels.tolist(), dtype=pl.String)


def frame_from_results(
    results: ElectionResults,
    strata: Sequence[str] = (),
    *,
    size_class_count: int = 4,
    eligible: float | None = None,
) -> StationFrame:
    """Station frame of an official results table.

    ``strata`` names columns of the results (area levels, attributes) and/or
    ``"size_class"`` (quantile classes of registered voters).
    """
    f = results.frame
    keep = ["station_id", "registered"]
    cols = []
    for s in strata:
        if s == SIZE_CLASS:
            continue
        if s not in f.columns:
            raise KeyError(f"no column {s!r} in the results; have {f.columns}")
        cols.append(s)
    frame = f.select(keep + cols)
    if SIZE_CLASS in strata:
        frame = frame.with_columns(size_classes(f["registered"], size_class_count))
    return StationFrame(frame, tuple(strata), eligible)


def read_plain_frame(path: str | Path, strata: Sequence[str] = (), *, size_class_count: int = 4,
                     eligible: float | None = None) -> StationFrame:  # fmt: skip
    """A turnout-only station frame: CSV with ``station_id``, optional ``registered``
    and any stratum columns (no cast or candidate columns needed).

    Registers are read with :func:`electwatch.core.numbers.parse_optional_count`
    (any digit script; empty = unknown); a bad value is a DataValidationError.
    """
    file = str(path)
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise DataValidationError(file, f"cannot read the frame: {exc}") from None
    if "station_id" not in raw.columns:
        raise DataValidationError(
            file, "no station_id column", column="station_id",
            expected="a CSV with station_id, registered and stratum columns",
        )  # fmt: skip
    ids = raw["station_id"].str.strip_chars()
    if ids.is_null().any() or (ids == "").any():
        i = int(((ids.is_null()) | (ids == "")).arg_max() or 0)
        raise DataValidationError(file, "empty station id", row=i + 1, column="station_id")
    if ids.is_duplicated().any():
        i = int(ids.is_duplicated().arg_max() or 0)
        raise DataValidationError(
            file, "station listed twice", row=i + 1, column="station_id", value=ids[i]
        )
    cols: dict[str, Any] = {"station_id": ids}
    if "registered" in raw.columns:
        regs = []
        for r, v in enumerate(raw["registered"].to_list(), start=1):
            try:
                regs.append(parse_optional_count(v))
            except NumberFormatError:
                raise DataValidationError(
                    file, "not a count", row=r, column="registered", value=v,
                    expected="a whole number >= 0 or empty",
                ) from None  # fmt: skip
        cols["registered"] = pl.Series("registered", regs, dtype=pl.Int64)
    for s in strata:
        if s == SIZE_CLASS:
            continue
        if s not in raw.columns:
            raise DataValidationError(
                file, f"no stratum column {s!r}", column=s, expected=f"one of {raw.columns}"
            )
        cols[s] = raw[s]
    frame = pl.DataFrame(cols)
    if SIZE_CLASS in strata:
        if "registered" not in frame.columns:
            raise DataValidationError(file, "size_class needs a registered column")
        frame = frame.with_columns(size_classes(frame["registered"], size_class_count))
    return StationFrame(frame, tuple(strata), eligible)


def load_station_frame(
    path: str | Path,
    strata: Sequence[str] = (),
    *,
    mapping: str | None = None,
    eligible: float | None = None,
    allow_inconsistent: bool = False,
) -> StationFrame:
    """The station frame of ``electwatch estimate``: a results file (with a mapping or a
    recognised header) or, when the CSV has a ``station_id`` column and no ``cast``
    column and no mapping is given, a turnout-only frame (:func:`read_plain_frame`)."""
    from electwatch.data import load_results

    p = Path(path)
    if mapping is None and p.suffix.lower() == ".csv" and p.exists():
        header = pl.read_csv(p, n_rows=0, infer_schema=False).columns
        if "station_id" in header and "cast" not in header:
            return read_plain_frame(p, strata, eligible=eligible)
    results = load_results(p, mapping, allow_inconsistent=allow_inconsistent)
    try:
        return frame_from_results(results, strata, eligible=eligible)
    except KeyError as exc:
        raise DataValidationError(
            str(path), str(exc.args[0]), expected="a stratum column"
        ) from None
