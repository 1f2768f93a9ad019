"""CSV bulk import of reports, with an error for every bad cell.

Columns (header row required, any order) are the library's observation columns
(``electwatch.data.observations``): ``station_id``, ``observer_id`` (the observer's
pseudonym), ``window_start``, ``window_end`` (HH:MM), ``voters``; the older names
``station`` and ``observer`` are still read as aliases. Optional: ``id`` (UUID; when
absent a deterministic UUID-5 of the row's content is used, so importing the same
file twice creates nothing new), ``hourly`` (counts separated by ``;``), ``notes``, and
one ``outcome:<name>`` column per outcome of the result protocol (FORMATS.md a:
``outcome:Mousavi``, ``outcome:blank``, ``outcome:invalid``; an empty cell is "not
given"). Every count goes through :func:`electwatch.core.numbers.parse_count`, so
digits in any script and grouped thousands are read, and ``²`` or ``1.5`` refused.
Each error names the data row (1-based, header not counted), the column, the value
and what was expected, as :class:`electwatch.errors.DataValidationError` does.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from sqlalchemy import select

from electwatch.core.numbers import NumberFormatError, normalize_digits, parse_count
from electwatch.data.observations import parse_clock
from electwatch.errors import DataValidationError
from electwatch.storage.models import Assignment, Election, Station, User
from electwatch.storage.service import station_filter
from electwatch.storage.writer import ReportIn

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
REQUIRED = ("station_id", "observer_id", "window_start", "window_end", "voters")
OPTIONAL = ("id", "hourly", "notes")
#: older column names still accepted: alias -> library name
ALIASES = {"station": "station_id", "observer": "observer_id"}
MAX_VOTERS = 100_000
NAMESPACE = uuid.UUID("6f1c3f5e-59b8-4a55-9a57-2a4c8d1e7c11")


def _err(
    row: int | None, column: str | None, value: object, expected: str, message: str
) -> dict[str, Any]:
    return DataValidationError(
        "upload.csv", message, row=row, column=column, value=value, expected=expected
    ).to_dict()


def parse_reports_csv(
    factory: Any, election_id: int, principal: Any, data: bytes
) -> tuple[list[ReportIn], list[dict[str, Any]]]:
    """Validate a CSV upload; returns the reports and the list of errors (sync)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [
            _err(None, None, None, "UTF-8 text", f"not UTF-8 ({exc.reason} at byte {exc.start})")
        ]
    from electwatch.web.outcomes import CSV_PREFIX, OutcomeError, outcome_count, outcome_name

    reader = csv.DictReader(io.StringIO(text))
    raw_header = [h.strip() for h in reader.fieldnames or []]
    header = [ALIASES.get(h, h) for h in raw_header]
    reader.fieldnames = header
    # errors name a column as the file spells it (an alias stays an alias)
    shown = {lib: raw for raw, lib in zip(raw_header, header, strict=True)}
    errors: list[dict[str, Any]] = []
    outcome_cols: dict[str, str] = {}
    for col in header:
        if col.startswith(CSV_PREFIX):
            try:
                name = outcome_name(col[len(CSV_PREFIX) :])
            except OutcomeError as exc:
                errors.append(_err(None, col, col, "outcome:<name>", str(exc)))
                continue
            if name in outcome_cols.values():
                errors.append(_err(None, col, col, "one column per outcome", "outcome twice"))
            outcome_cols[col] = name
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        errors.append(_err(None, ",".join(dup), None, "each column once", "repeated columns"))
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL and c not in outcome_cols]
    if missing:
        errors.append(
            _err(
                None,
                ",".join(missing),
                None,
                f"columns {', '.join(REQUIRED)}",
                "missing required columns",
            )
        )
    if unknown:
        errors.append(
            _err(
                None,
                ",".join(unknown),
                None,
                f"only {', '.join(REQUIRED + OPTIONAL)}",
                "unknown columns",
            )
        )
    if errors:
        return [], errors
    rows = list(reader)
    if len(rows) > MAX_ROWS:
        return [], [_err(None, None, len(rows), f"at most {MAX_ROWS} rows", "too many rows")]
    with factory() as s:
        if s.get(Election, election_id) is None:
            return [], [_err(None, None, election_id, "an existing election", "no election")]
        sq = select(Station.id, Station.code).where(
            Station.election_id == election_id,
            Station.code.in_({(r.get("station_id") or "").strip() for r in rows}),
        )
        if (cond := station_filter(principal.scope)) is not None:
            sq = sq.where(cond)
        stations = dict((c, i) for i, c in s.execute(sq))
        observers = {
            p: (i, r)
            for i, p, r in s.execute(
                select(User.id, User.pseudonym, User.role).where(
                    User.pseudonym.in_({(r.get("observer_id") or "").strip() for r in rows})
                )
            )
        }
        assigned = {
            (o, st)
            for o, st in s.execute(
                select(Assignment.observer_id, Assignment.station_id).where(
                    Assignment.station_id.in_(list(stations.values()))
                )
            )
        }
    items: list[ReportIn] = []
    for k, r in enumerate(rows, start=1):
        row_errors: list[dict[str, Any]] = []
        if None in r:  # more cells than header columns
            row_errors.append(_err(k, None, r[None], f"{len(header)} cells", "extra cells"))
        code = (r.get("station_id") or "").strip()
        sid = stations.get(code)
        if sid is None:
            row_errors.append(
                _err(
                    k, shown["station_id"], code, "a station code in your scope", "unknown station"
                )
            )
        pseud = (r.get("observer_id") or "").strip()
        obs = observers.get(pseud)
        if obs is None or obs[1] != "observer":
            row_errors.append(
                _err(k, shown["observer_id"], pseud, "an observer pseudonym", "unknown observer")
            )
        elif sid is not None and (obs[0], sid) not in assigned:
            row_errors.append(
                _err(
                    k,
                    shown["observer_id"],
                    pseud,
                    f"an observer assigned to {code}",
                    "observer not assigned to this station",
                )
            )
        times: dict[str, int] = {}
        for col in ("window_start", "window_end"):
            v = normalize_digits(r.get(col) or "").strip()
            try:
                times[col] = round(parse_clock(v) * 60)
            except ValueError:
                row_errors.append(_err(k, col, v, "HH:MM between 00:00 and 24:00", "bad time"))
        if len(times) == 2 and times["window_start"] >= times["window_end"]:
            row_errors.append(
                _err(
                    k,
                    "window_end",
                    r.get("window_end"),
                    "a time after window_start",
                    "empty watch window",
                )
            )
        v = (r.get("voters") or "").strip()
        voters: int | None
        try:
            voters = parse_count(v)
        except NumberFormatError:
            voters = None
        if voters is None or voters > MAX_VOTERS:
            voters = None
            row_errors.append(_err(k, "voters", v, f"a whole number 0-{MAX_VOTERS}", "bad count"))
        hourly = None
        hv = (r.get("hourly") or "").strip()
        if hv:
            parts = [x.strip() for x in hv.split(";")]
            try:
                counts = [parse_count(x) for x in parts]
            except NumberFormatError:
                counts = None
            if counts is not None and len(counts) <= 24 and max(counts) <= MAX_VOTERS:
                hourly = counts
                if voters is not None and sum(hourly) != voters:
                    row_errors.append(
                        _err(
                            k,
                            "hourly",
                            hv,
                            f"counts summing to voters ({voters})",
                            "hourly counts do not add up",
                        )
                    )
            else:
                row_errors.append(
                    _err(
                        k,
                        "hourly",
                        hv,
                        "up to 24 whole numbers separated by ;",
                        "bad hourly counts",
                    )
                )
        rid_text = (r.get("id") or "").strip()
        rid: uuid.UUID | None = None
        if rid_text:
            try:
                rid = uuid.UUID(rid_text)
            except ValueError:
                row_errors.append(_err(k, "id", rid_text, "a UUID", "bad report id"))
        notes = (r.get("notes") or "").strip() or None
        if notes and len(notes) > 4000:
            row_errors.append(
                _err(k, "notes", notes[:40] + "...", "at most 4000 characters", "notes too long")
            )
        outcomes: dict[str, int] = {}
        for col, name in outcome_cols.items():
            cell = (r.get(col) or "").strip()
            if not cell:
                continue
            try:
                outcomes[name] = outcome_count(name, cell)
            except OutcomeError:
                row_errors.append(
                    _err(k, col, cell, f"a whole number 0-{MAX_VOTERS}", "bad outcome count")
                )
        if row_errors:
            errors.extend(row_errors)
            continue
        assert obs is not None and sid is not None and voters is not None
        if rid is None:
            rid = uuid.uuid5(
                NAMESPACE,
                f"{election_id}|{pseud}|{code}|{times['window_start']}|"
                f"{times['window_end']}|{voters}|{hv}|{notes or ''}"
                + ("|" + repr(sorted(outcomes.items())) if outcomes else ""),
            )
        items.append(
            ReportIn(
                id=rid,
                election_id=election_id,
                station_code=code,
                observer_id=obs[0],
                observer=pseud,
                window_start=times["window_start"],
                window_end=times["window_end"],
                voters=voters,
                hourly=hourly,
                notes=notes,
                outcomes=outcomes or None,
            )
        )
    return items, errors
