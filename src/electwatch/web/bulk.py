"""CSV bulk import of reports, with an error for every bad cell.

Columns (header row required, any order): ``station``, ``observer`` (pseudonym),
``window_start``, ``window_end`` (HH:MM), ``voters``; optional ``id`` (UUID; when
absent a deterministic UUID-5 of the row's content is used, so importing the same
file twice creates nothing new), ``hourly`` (counts separated by ``;``), ``notes``.
Each error names the data row (1-based, header not counted), the column, the value
and what was expected, as :class:`electwatch.errors.DataValidationError` does.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from sqlalchemy import select

from electwatch.data.observations import parse_clock
from electwatch.errors import DataValidationError
from electwatch.storage.models import Assignment, Election, Station, User
from electwatch.storage.service import station_filter
from electwatch.storage.writer import ReportIn

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
REQUIRED = ("station", "observer", "window_start", "window_end", "voters")
OPTIONAL = ("id", "hourly", "notes")
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
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    errors: list[dict[str, Any]] = []
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
            Station.code.in_({r.get("station") or "" for r in rows}),
        )
        if (cond := station_filter(principal.scope)) is not None:
            sq = sq.where(cond)
        stations = dict((c, i) for i, c in s.execute(sq))
        observers = {
            p: (i, r)
            for i, p, r in s.execute(
                select(User.id, User.pseudonym, User.role).where(
                    User.pseudonym.in_({r.get("observer") or "" for r in rows})
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
        code = (r.get("station") or "").strip()
        sid = stations.get(code)
        if sid is None:
            row_errors.append(
                _err(k, "station", code, "a station code in your scope", "unknown station")
            )
        pseud = (r.get("observer") or "").strip()
        obs = observers.get(pseud)
        if obs is None or obs[1] != "observer":
            row_errors.append(
                _err(k, "observer", pseud, "an observer pseudonym", "unknown observer")
            )
        elif sid is not None and (obs[0], sid) not in assigned:
            row_errors.append(
                _err(
                    k,
                    "observer",
                    pseud,
                    f"an observer assigned to {code}",
                    "observer not assigned to this station",
                )
            )
        times: dict[str, int] = {}
        for col in ("window_start", "window_end"):
            v = (r.get(col) or "").strip()
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
        voters = int(v) if v.isdigit() and int(v) <= 100_000 else None
        if voters is None:
            row_errors.append(_err(k, "voters", v, "a whole number 0-100000", "bad count"))
        hourly = None
        hv = (r.get("hourly") or "").strip()
        if hv:
            parts = [x.strip() for x in hv.split(";")]
            if all(x.isdigit() for x in parts) and len(parts) <= 24:
                hourly = [int(x) for x in parts]
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
        if row_errors:
            errors.extend(row_errors)
            continue
        assert obs is not None and sid is not None and voters is not None
        if rid is None:
            rid = uuid.uuid5(
                NAMESPACE,
                f"{election_id}|{pseud}|{code}|{times['window_start']}|"
                f"{times['window_end']}|{voters}|{hv}|{notes or ''}",
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
            )
        )
    return items, errors
