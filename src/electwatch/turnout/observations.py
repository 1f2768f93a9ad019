"""Loading observer reports (CSV or JSON) into validated observation records.

Canonical columns are those of :mod:`electwatch.data.observations`:
``station_id``, ``observer_id``, ``window_start``, ``window_end``, ``voters``
(required) and ``hourly``, ``notes``, ``evidence`` (optional). In CSV the hourly
counts are one field ``"12;30;41"`` (counts per polling hour from the opening
hour); in JSON a list. Per-outcome counts of a station's result protocol (quick
count) are CSV columns ``outcome:<name>`` or a JSON object ``"outcomes"``
(docs/observations.md, format a); a record gives all outcomes or none. Every problem raises
:class:`~electwatch.errors.DataValidationError` naming file, row, column, value and
what was expected; nothing is dropped or coerced silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from electwatch.core.numbers import NumberFormatError, normalize_digits, parse_count
from electwatch.data.observations import (
    OBSERVATION_COLUMNS,
    OUTCOME_PREFIX,
    ArrivalProfile,
    parse_clock,
)
from electwatch.errors import DataValidationError

OPTIONAL_COLUMNS = ("hourly", "notes", "evidence")


@dataclass
class Observations:
    """Validated observation records.

    ``frame`` has the canonical columns plus ``start_h``/``end_h`` (float hours) and
    ``row`` (1-based data row of the source); ``hourly`` is a list column (null where
    not reported).
    """

    frame: pl.DataFrame
    file: str
    notes: list[str] = field(default_factory=list)  # e.g. from the snapshot conversion
    # readings as counted (from cumulative snapshots): station id, start/end hour and
    # count of every segment between successive readings; the hourly column then holds
    # the segments split over their hours under the fitted profile
    segments: pl.DataFrame | None = None

    @property
    def n(self) -> int:
        return self.frame.height

    @property
    def voters(self) -> np.ndarray:
        return self.frame["voters"].to_numpy().astype(float)

    @property
    def station_ids(self) -> np.ndarray:
        return self.frame["station_id"].to_numpy()

    @property
    def start(self) -> np.ndarray:
        return self.frame["start_h"].to_numpy()

    @property
    def end(self) -> np.ndarray:
        return self.frame["end_h"].to_numpy()

    @property
    def has_hourly(self) -> np.ndarray:
        return self.frame["hourly"].is_not_null().to_numpy()

    def hourly_matrix(self, n_hours: int) -> np.ndarray:
        """Hourly counts as an (n x n_hours) float matrix; NaN rows where not reported."""
        out = np.full((self.n, n_hours), np.nan)
        has = self.has_hourly
        if has.any():
            lists = self.frame["hourly"].filter(pl.Series(has))
            lengths = lists.list.len().to_numpy()
            bad = np.flatnonzero(lengths != n_hours)
            if bad.size:
                r = int(self.frame["row"].filter(pl.Series(has))[int(bad[0])])
                raise DataValidationError(
                    self.file,
                    f"hourly counts have {lengths[bad[0]]} entries",
                    row=r,
                    column="hourly",
                    expected=f"{n_hours} counts, one per polling hour",
                )
            out[has] = np.vstack(lists.to_list()).astype(float)
        return out

    @property
    def outcome_names(self) -> tuple[str, ...]:
        """Outcomes reported (``outcome:<name>`` columns), in file order."""
        return tuple(
            c[len(OUTCOME_PREFIX) :] for c in self.frame.columns if c.startswith(OUTCOME_PREFIX)
        )

    @property
    def has_outcomes(self) -> np.ndarray:
        """Per record: True if the record carries its protocol's outcome counts."""
        names = self.outcome_names
        if not names:
            return np.zeros(self.n, dtype=bool)
        return self.frame[OUTCOME_PREFIX + names[0]].is_not_null().to_numpy()

    def outcome_matrix(self) -> np.ndarray:
        """(n x outcomes) counts as floats; NaN rows for records without outcomes."""
        names = self.outcome_names
        if not names:
            return np.zeros((self.n, 0))
        return (
            self.frame.select([OUTCOME_PREFIX + o for o in names])
            .cast(pl.Float64)
            .fill_null(np.nan)
            .to_numpy()
        )

    def covered_share(self, profile: ArrivalProfile) -> np.ndarray:
        """Share of each station's day watched under an arrival profile."""
        return profile.covered_share(self.start, self.end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "n": self.n,
            "voters": int(self.frame["voters"].sum()),
            "with_hourly": int(self.has_hourly.sum()),
            "outcomes": list(self.outcome_names),
            "with_outcomes": int(self.has_outcomes.sum()),
        }


def _records_from_json(path: Path, file: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataValidationError(
            file, f"not valid JSON: {exc}", expected="a list of observation objects"
        ) from None
    if isinstance(data, dict) and "observations" in data:
        data = data["observations"]
    if not isinstance(data, list):
        raise DataValidationError(
            file,
            "JSON top level is not a list",
            expected='a list of objects, or {"observations": [...]}',
        )
    for r, rec in enumerate(data, start=1):
        if not isinstance(rec, dict):
            raise DataValidationError(
                file,
                "record is not an object",
                row=r,
                value=rec,
                expected="an object with station_id, voters, ...",
            )
    return data


def _records_from_csv(path: Path, file: str) -> list[dict[str, Any]]:
    try:
        df = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            file, f"cannot parse as CSV: {exc}", expected="UTF-8 CSV with a header row"
        ) from None
    return df.to_dicts()


def _count(value: Any, file: str, row: int, column: str) -> int:
    expected = "a whole number >= 0"
    if isinstance(value, bool):
        raise DataValidationError(
            file, "not a count", row=row, column=column, value=value, expected=expected
        )
    if isinstance(value, int):
        v = value
    elif isinstance(value, float) and value.is_integer():
        v = int(value)
    elif isinstance(value, str) and value.strip():
        # Every text goes through the shared normalizer (no str.isdigit()/int() shortcut:
        # "²".isdigit() is true and int() reads Devanagari and other scripts).
        try:
            v = parse_count(value)  # any digit script, thousands separators
        except NumberFormatError:
            negative = re.fullmatch(r"-[0-9]+", normalize_digits(value).strip())
            raise DataValidationError(
                file,
                "negative count" if negative else "not a count",
                row=row,
                column=column,
                value=value,
                expected=expected,
            ) from None
    else:
        raise DataValidationError(
            file, "not a count", row=row, column=column, value=value, expected=expected
        )
    if v < 0:
        raise DataValidationError(
            file, "negative count", row=row, column=column, value=value, expected=expected
        )
    return v


def _hourly(value: Any, file: str, row: int) -> list[int] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        parts = value.replace(",", ";").split(";")
    elif isinstance(value, list):
        parts = value
    else:
        raise DataValidationError(
            file,
            "hourly counts not a list",
            row=row,
            column="hourly",
            value=value,
            expected='counts separated by ";" or a list',
        )
    return [_count(p, file, row, "hourly") for p in parts]


def load_observations(path: str | Path) -> Observations:
    """Load and validate observation records from ``.csv`` or ``.json``.

    Checks: required columns present; ``station_id`` non-empty and unique (combine
    shifts at one station into one record first); ``voters`` a non-negative whole
    number; windows ``HH:MM`` with start < end; hourly counts whole numbers summing
    to ``voters``.
    """
    p = Path(path)
    file = str(path)
    if not p.exists():
        raise DataValidationError(file, "file not found")
    suffix = p.suffix.lower()
    if suffix == ".json":
        records = _records_from_json(p, file)
    elif suffix in (".csv", ".txt"):
        records = _records_from_csv(p, file)
    else:
        raise DataValidationError(file, f"unknown file type {suffix!r}", expected=".csv or .json")
    return observations_from_records(records, file)


def observations_from_records(
    records: list[dict[str, Any]], file: str = "<records>"
) -> Observations:
    """Validate observation records (dicts, as read from CSV/JSON or sent to the API).

    The checks of :func:`load_observations`; ``station`` and ``observer`` are accepted
    as the API's spellings of ``station_id`` and ``observer_id``.
    """
    if not records:
        raise DataValidationError(file, "no observations", expected="at least one record")
    alias = {"station": "station_id", "observer": "observer_id"}
    records = [
        {alias.get(k, k): v for k, v in rec.items()} if isinstance(rec, dict) else rec
        for rec in records
    ]
    for r, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise DataValidationError(
                file, "record is not an object", row=r, value=rec,
                expected="an object with station_id, voters, ...",
            )  # fmt: skip
    present = set().union(*(r.keys() for r in records))
    missing = [c for c in OBSERVATION_COLUMNS if c not in present]
    if missing:
        raise DataValidationError(
            file,
            f"missing column(s) {missing}",
            column=missing[0],
            expected=f"columns {list(OBSERVATION_COLUMNS)}",
        )
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "row",
            "station_id",
            "observer_id",
            "window_start",
            "window_end",
            "start_h",
            "end_h",
            "voters",
            "hourly",
            "notes",
            "evidence",
        )
    }
    seen: dict[str, int] = {}
    outcome_names: list[str] | None = None
    outcome_rows = 0
    outcome_values: list[dict[str, int]] = []
    for r, rec in enumerate(records, start=1):  # input validation, not a hot path
        sid = rec.get("station_id")
        if sid is None or str(sid).strip() == "":
            raise DataValidationError(
                file,
                "empty station id",
                row=r,
                column="station_id",
                value=sid,
                expected="a station identifier",
            )
        sid = str(sid).strip()
        if sid in seen:
            raise DataValidationError(
                file,
                f"station observed twice (also row {seen[sid]})",
                row=r,
                column="station_id",
                value=sid,
                expected="one record per station (sum the shifts of a station into one)",
            )
        seen[sid] = r
        obs_id = rec.get("observer_id")
        if obs_id is None or str(obs_id).strip() == "":
            raise DataValidationError(
                file,
                "empty observer id",
                row=r,
                column="observer_id",
                value=obs_id,
                expected="a pseudonymous observer id",
            )
        times = []
        for c in ("window_start", "window_end"):
            v = rec.get(c)
            try:
                times.append(parse_clock(str(v)))
            except ValueError:
                raise DataValidationError(
                    file,
                    "not a clock time",
                    row=r,
                    column=c,
                    value=v,
                    expected="HH:MM between 00:00 and 24:00",
                ) from None
        if times[1] <= times[0]:
            raise DataValidationError(
                file,
                "watch window ends before it starts",
                row=r,
                column="window_end",
                value=rec.get("window_end"),
                expected=f"a time after {rec.get('window_start')}",
            )
        voters = _count(rec.get("voters"), file, r, "voters")
        hourly = _hourly(rec.get("hourly"), file, r)
        if hourly is not None and sum(hourly) != voters:
            raise DataValidationError(
                file,
                f"hourly counts sum to {sum(hourly)}, not to voters",
                row=r,
                column="hourly",
                value=rec.get("hourly"),
                expected=f"counts summing to {voters}",
            )
        outs = _outcomes(rec, file, r)
        if outs:
            if outcome_names is None:
                outcome_names = list(outs)
                outcome_rows = r
            new = [o for o in outs if o not in outcome_names]
            lack = [o for o in outcome_names if o not in outs]
            if new or lack:
                raise DataValidationError(
                    file,
                    f"outcomes differ from row {outcome_rows}'s"
                    + (f": missing {lack}" if lack else "")
                    + (f": unexpected {new}" if new else ""),
                    row=r,
                    column=OUTCOME_PREFIX + (lack or new)[0],
                    expected=f"counts for every outcome {outcome_names}",
                )
        outcome_values.append(outs)
        cols["row"].append(r)
        cols["station_id"].append(sid)
        cols["observer_id"].append(str(obs_id).strip())
        cols["window_start"].append(str(rec.get("window_start")).strip())
        cols["window_end"].append(str(rec.get("window_end")).strip())
        cols["start_h"].append(times[0])
        cols["end_h"].append(times[1])
        cols["voters"].append(voters)
        cols["hourly"].append(hourly)
        cols["notes"].append(None if rec.get("notes") is None else str(rec.get("notes")))
        ev = rec.get("evidence")
        cols["evidence"].append(
            None if ev is None else (";".join(map(str, ev)) if isinstance(ev, list) else str(ev))
        )
    frame = pl.DataFrame(
        cols,
        schema_overrides={
            "row": pl.Int64,
            "voters": pl.Int64,
            "hourly": pl.List(pl.Int64),
            "start_h": pl.Float64,
            "end_h": pl.Float64,
            "notes": pl.String,
            "evidence": pl.String,
        },
    )
    if outcome_names:
        frame = frame.with_columns(
            pl.Series(
                OUTCOME_PREFIX + o, [v.get(o) if v else None for v in outcome_values], pl.Int64
            )
            for o in outcome_names
        )
    return Observations(frame=frame, file=file)


def _outcomes(rec: dict[str, Any], file: str, row: int) -> dict[str, int]:
    """Outcome counts of one record: CSV ``outcome:<name>`` fields or JSON ``outcomes``.

    All-empty CSV outcome fields mean "no protocol reported" (a turnout-only record);
    some empty and some filled is an error (a protocol is copied whole).
    """
    out: dict[str, int] = {}
    raw = rec.get("outcomes")
    if raw is not None:
        if not isinstance(raw, dict):
            raise DataValidationError(
                file,
                "outcomes is not an object",
                row=row,
                column="outcomes",
                value=raw,
                expected='{"<candidate>": count, "blank": count, "invalid": count}',
            )
        items = [(str(k), v) for k, v in raw.items()]
    else:
        items = [
            (k[len(OUTCOME_PREFIX) :], v) for k, v in rec.items() if k.startswith(OUTCOME_PREFIX)
        ]
    filled = [(k, v) for k, v in items if not (v is None or (isinstance(v, str) and not v.strip()))]
    if filled and len(filled) < len(items):
        empty_name = next(k for k, v in items if (k, v) not in filled)
        raise DataValidationError(
            file,
            "outcome count missing while others are given",
            row=row,
            column=OUTCOME_PREFIX + empty_name,
            expected="a count for every outcome of the protocol (0 if none), or none at all",
        )
    for name, value in filled:
        if not name.strip():
            raise DataValidationError(
                file, "empty outcome name", row=row, column=OUTCOME_PREFIX,
                expected="outcome:<candidate name>",
            )  # fmt: skip
        out[name.strip()] = _count(value, file, row, OUTCOME_PREFIX + name)
    return out


def observations_from_frame(frame: pl.DataFrame, file: str = "<memory>") -> Observations:
    """Wrap canonical observations already in memory (e.g. from the simulator)."""
    clocks = pl.concat([frame["window_start"], frame["window_end"]]).unique().to_list()
    hours = {c: parse_clock(c) for c in clocks}  # few distinct times: no per-row parsing
    f = frame.with_columns(
        pl.col("window_start").replace_strict(hours, return_dtype=pl.Float64).alias("start_h"),
        pl.col("window_end").replace_strict(hours, return_dtype=pl.Float64).alias("end_h"),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("row"),
    )
    if "hourly" not in f.columns:
        f = f.with_columns(pl.lit(None, dtype=pl.List(pl.Int64)).alias("hourly"))
    return Observations(frame=f, file=file)
