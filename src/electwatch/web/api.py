"""The JSON API (``/api``). Every route declares its roles; objects outside the
caller's scope answer 404 exactly like objects that do not exist (nothing leaks)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    File,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    WithJsonSchema,
    model_validator,
)
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from electwatch.core.numbers import NumberFormatError, parse_count
from electwatch.data.observations import parse_clock
from electwatch.storage import service as svc
from electwatch.storage.models import (
    Area,
    AuditEntry,
    Credential,
    Election,
    Evidence,
    Report,
    ReportEvidence,
    Station,
    StationAction,
    User,
)
from electwatch.storage.records import RECORD_STATUSES, record_dicts, station_records
from electwatch.storage.writer import ReportIn, WriteResult
from electwatch.web.auth import (
    ADMIN,
    ANY_ROLE,
    COORDINATION,
    OBSERVER,
    SESSION_COOKIE,
    STAFF_READ,
    Principal,
    password_login,
    public,
    require_roles,
    session_csrf,
    set_login_cookies,
)
from electwatch.web.outcomes import OutcomesField

router = APIRouter(prefix="/api")
NOT_FOUND = HTTPException(status_code=404, detail="not found")
READERS = require_roles("observer", "coordinator", "analyst", "admin")
EVIDENCE_READERS = require_roles("observer", "coordinator", "admin")


def db(request: Request) -> Iterator[Session]:
    with request.app.state.ctx.factory() as s:
        yield s


DB = Annotated[Session, Depends(db)]


def ctx_of(request: Request) -> Any:
    return request.app.state.ctx


def minutes(value: str) -> int:
    return round(parse_clock(value) * 60)


# --- value types: every field refuses what would break storage, with a 422 ----------
MAX_COUNT = 100_000
MAX_DB_INT = 2**31 - 1  # PostgreSQL integer: larger ids and offsets are refused, not a 500


def _count(value: object) -> int:
    """The one count normalizer (``core.numbers.parse_count``): a JSON integer or a
    string of digits in any script; never a boolean, a float or NaN."""
    try:
        n = parse_count(value)
    except NumberFormatError as exc:
        raise ValueError(
            "expected a whole number >= 0: a JSON integer or a string of digits"
        ) from exc
    if n > MAX_COUNT:
        raise ValueError(f"expected at most {MAX_COUNT}")
    return n


Count = Annotated[
    int,
    BeforeValidator(_count),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
                {
                    "type": "string",
                    "pattern": r"^\s*[0-9\u0660-\u0669\u06f0-\u06f9][0-9\u0660-\u0669"
                    r"\u06f0-\u06f9,\u066c\u060c' ]*\s*$",
                    "maxLength": 20,
                },
            ],
            "description": "a whole number >= 0: a JSON integer, or a string of digits in "
            "any script (ASCII, Persian, Arabic-Indic), thousands grouped by three; "
            "booleans, fractions and NaN are refused",
        }
    ),
]


def _clean_text(value: str) -> str:
    """Refuse what no database can store: NUL bytes and lone surrogates."""
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (lone surrogate)") from None
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
DbId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
Offset = Annotated[int, Query(ge=0, le=MAX_DB_INT)]


def _clock_text(v: str) -> str:
    parse_clock(v)
    return v


Clock = Annotated[str, Field(max_length=10), AfterValidator(_clock_text)]


# --- schemas -------------------------------------------------------------------------
class WindowFields(BaseModel):
    window_start: Clock = Field(examples=["08:00"], description="HH:MM, 24 h clock")
    window_end: Clock = Field(examples=["20:00"], description="HH:MM; 24:00 is midnight")
    voters: Count = Field(description="voters counted over the window")
    hourly: list[Count] | None = Field(
        default=None, max_length=24, description="counts per hour watched (sum = voters)"
    )
    notes: Text | None = Field(default=None, max_length=4000)
    outcomes: OutcomesField = None

    @model_validator(mode="after")
    def _consistent(self) -> WindowFields:
        if parse_clock(self.window_start) >= parse_clock(self.window_end):
            raise ValueError("window_start must be before window_end")
        if self.hourly is not None and sum(self.hourly) != self.voters:
            raise ValueError(f"hourly counts sum to {sum(self.hourly)}, not voters ({self.voters})")
        return self


class ReportBody(WindowFields):
    id: uuid.UUID = Field(
        description="client-generated UUID: the idempotency key; resending "
        "a draft with the same id never creates a second report"
    )
    station: Text = Field(min_length=1, max_length=200, description="station code")
    client_time: datetime | None = None


class ReasonBody(BaseModel):
    reason: Text = Field(min_length=3, max_length=2000)


class VerifyBody(BaseModel):
    report_id: uuid.UUID | None = None
    voters: Count | None = None
    reason: Text | None = Field(default=None, max_length=2000)


class OverrideBody(ReasonBody):
    voters: Count


class ElectionBody(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    country: Text | None = Field(default=None, max_length=100)
    date: Text | None = Field(default=None, max_length=10)
    open_hour: int = Field(default=8, ge=0, le=23)
    close_hour: int = Field(default=20, ge=1, le=24)
    max_voters_per_hour: int = Field(
        default=600,
        ge=1,
        le=10_000,
        description="plausibility ceiling: voters one station can admit per hour",
    )


class UserBody(BaseModel):
    role: Text = Field(max_length=20)
    username: Text | None = Field(default=None, max_length=100)
    password: Text | None = Field(default=None, max_length=200)


class TokenBody(BaseModel):
    label: Text | None = Field(default=None, max_length=200)


class AssignmentBody(BaseModel):
    election_id: int = Field(ge=1, le=MAX_DB_INT)
    station: Text = Field(max_length=200)


class AreaBody(BaseModel):
    area_id: int = Field(ge=1, le=MAX_DB_INT)


class LoginBody(BaseModel):
    username: Text = Field(max_length=100)
    password: Text = Field(max_length=200)


# --- helpers -------------------------------------------------------------------------
def unprocessable(field: str, message: str) -> RequestValidationError:
    """A 422 in the one documented shape (FastAPI's ``HTTPValidationError``: a list of
    errors, each naming the field), for checks made after parsing."""
    return RequestValidationError(
        [{"loc": ("body", field), "msg": message[:300], "type": "value_error"}]
    )


def get_election(s: Session, election_id: int) -> Election:
    e = s.get(Election, election_id)
    if e is None:
        raise NOT_FOUND
    return e


def get_report(s: Session, report_id: str, p: Principal) -> Report:
    rid = svc.parse_uuid(report_id)
    r = s.get(Report, rid) if rid else None
    if r is None or not svc.report_in_scope(s, r, p.scope):
        raise NOT_FOUND
    return r


def get_station(s: Session, election_id: DbId, code: str, p: Principal) -> Station:
    st = svc.station_by_code(s, election_id, code)
    if st is None or not svc.station_in_scope(s, st, p.scope):
        raise NOT_FOUND
    return st


def report_out(s: Session, r: Report) -> dict[str, Any]:
    code = s.scalar(select(Station.code).where(Station.id == r.station_id)) or ""
    obs = s.scalar(select(User.pseudonym).where(User.id == r.observer_id)) or ""
    ev = list(s.scalars(select(ReportEvidence.sha256).where(ReportEvidence.report_id == r.id)))
    return svc.report_dict(r, code, obs, ev)


def get_user(s: Session, pseudonym: str) -> User:
    u = s.scalar(select(User).where(User.pseudonym == pseudonym))
    if u is None:
        raise NOT_FOUND
    return u


def write_response(result: WriteResult) -> JSONResponse:
    if result.outcome == "created":
        return JSONResponse({**(result.report or {}), "duplicate": False}, status_code=201)
    if result.outcome == "duplicate":
        return JSONResponse({**(result.report or {}), "duplicate": True}, status_code=200)
    if result.outcome == "conflict":
        return JSONResponse({"detail": result.detail}, status_code=409)
    if result.outcome == "not_assigned":
        return JSONResponse({"detail": result.detail}, status_code=403)
    if result.outcome == "unauthorized":
        return JSONResponse(
            {"detail": result.detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    return JSONResponse(
        {"detail": [{"loc": ["body", "station"], "msg": result.detail, "type": "value_error"}]},
        status_code=422,
    )


# --- the hot path first: routes are matched in order --------------------------
@router.post(
    "/elections/{election_id}/reports",
    status_code=201,
    tags=["reports"],
    responses={
        200: {"description": "a resend of a report already stored"},
        409: {"description": "the report id was used for other content"},
    },
)
async def submit_report(
    election_id: DbId,
    body: ReportBody,
    request: Request,
    p: Annotated[Principal, Depends(OBSERVER)],
) -> JSONResponse:
    """Submit a report (idempotent on ``id``). Acknowledged only once committed."""
    return write_response(await ctx_of(request).writer.submit(report_in(body, election_id, p)))


def report_in(body: ReportBody, election_id: DbId, p: Principal) -> ReportIn:
    """The writer's record of an observer's validated report (route and fast path)."""
    return ReportIn(
        id=body.id,
        election_id=election_id,
        station_code=body.station,
        observer_id=p.user_id,
        observer=p.pseudonym,
        window_start=minutes(body.window_start),
        window_end=minutes(body.window_end),
        voters=body.voters,
        hourly=body.hourly,
        notes=body.notes,
        client_time=body.client_time,
        credential_id=p.credential_id,
        outcomes=body.outcomes,
    )


# --- public --------------------------------------------------------------------------
@router.get("/health", dependencies=[Depends(public)], tags=["service"])
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post(
    "/auth/login",
    dependencies=[Depends(public)],
    tags=["auth"],
    responses={401: {"description": "wrong user name or password"}, 429: {}},
)
async def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    """Password login for the pages: sets the ``ew_session`` cookie (and a device
    cookie), returns the CSRF token. Limited per client and per user name; unknown
    and known names cost the same scrypt check."""
    ctx = ctx_of(request)
    outcome = await password_login(request, body.username, body.password)
    if outcome.status == 429:
        raise HTTPException(
            429, outcome.message, headers={"Retry-After": str(max(1, round(outcome.retry_after)))}
        )
    if outcome.status != 200 or outcome.session is None:
        raise HTTPException(401, "wrong username or password")
    set_login_cookies(response, ctx, outcome)
    from electwatch.web.security import csrf_token, split_credential

    public_id = split_credential(outcome.session)[1]  # type: ignore[index]  # just issued
    return {
        "user": {
            "username": outcome.username,
            "role": outcome.role,
            "pseudonym": outcome.pseudonym,
        },
        "csrf_token": csrf_token(ctx.secret_key, public_id),
    }


# --- any authenticated user ---------------------------------------------------------
@router.get("/me", tags=["auth"])
def me(request: Request, p: Annotated[Principal, Depends(ANY_ROLE)]) -> dict[str, Any]:
    return {**p.to_dict(), "csrf_token": session_csrf(ctx_of(request).secret_key, p)}


@router.post("/auth/logout", tags=["auth"])
def logout(
    request: Request, response: Response, s: DB, p: Annotated[Principal, Depends(ANY_ROLE)]
) -> dict[str, str]:
    """End the web session (or revoke the API token used for this call)."""
    with s.begin():
        cred = s.get(Credential, p.credential_id)
        if cred is not None:
            cred.revoked = True
            svc.audit(s, p.pseudonym, "auth.logout", "credential", cred.id)
    ctx_of(request).credentials.forget(credential_id=p.credential_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"status": "logged out"}


@router.get("/elections", tags=["elections"])
def list_elections(s: DB, p: Annotated[Principal, Depends(ANY_ROLE)]) -> list[dict[str, Any]]:
    return [svc.election_dict(e) for e in s.scalars(select(Election).order_by(Election.id))]


@router.get("/elections/{election_id}", tags=["elections"])
def get_election_route(
    election_id: DbId, s: DB, p: Annotated[Principal, Depends(ANY_ROLE)]
) -> dict[str, Any]:
    e = get_election(s, election_id)
    n = s.scalar(select(func.count()).select_from(Station).where(Station.election_id == e.id))
    return {**svc.election_dict(e), "stations": n}


@router.get("/elections/{election_id}/stations", tags=["elections"])
def list_stations(
    election_id: DbId,
    s: DB,
    p: Annotated[Principal, Depends(READERS)],
    limit: int = Query(100, ge=1, le=10_000),
    offset: Offset = 0,
) -> dict[str, Any]:
    """Stations in the caller's scope: an observer's assigned stations, a coordinator's
    areas, everything for analysts and admins."""
    get_election(s, election_id)
    q = select(Station).where(Station.election_id == election_id)
    if (cond := svc.station_filter(p.scope)) is not None:
        q = q.where(cond)
    total = s.scalar(select(func.count()).select_from(q.subquery()))
    rows = s.scalars(q.order_by(Station.id).limit(limit).offset(offset))
    return {
        "total": total,
        "stations": [
            {
                "code": st.code,
                "area_id": st.area_id,
                "registered": st.registered,
                "abroad": st.abroad,
            }
            for st in rows
        ],
    }


@router.get("/elections/{election_id}/areas", tags=["elections"])
def list_areas(
    election_id: DbId, s: DB, p: Annotated[Principal, Depends(STAFF_READ)]
) -> list[dict[str, Any]]:
    get_election(s, election_id)
    q = select(Area).where(Area.election_id == election_id)
    if p.scope.area_paths is not None:
        from sqlalchemy import or_

        if not p.scope.area_paths:
            return []
        q = q.where(or_(*[Area.path.startswith(x, autoescape=True) for x in p.scope.area_paths]))
    return [
        {"id": a.id, "parent_id": a.parent_id, "level": a.level, "name": a.name}
        for a in s.scalars(q.order_by(Area.depth, Area.id))
    ]


# --- reports -------------------------------------------------------------------------
@router.get("/elections/{election_id}/reports", tags=["reports"])
def list_reports(
    election_id: DbId,
    s: DB,
    p: Annotated[Principal, Depends(READERS)],
    station: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: int = Query(100, ge=1, le=10_000),
    offset: Offset = 0,
) -> dict[str, Any]:
    get_election(s, election_id)
    q = svc.report_query(p.scope, election_id)
    if station is not None:
        q = q.where(Station.code == station)
    if status is not None:
        q = q.where(Report.status == status)
    total = s.scalar(select(func.count()).select_from(q.order_by(None).subquery()))
    rows = s.execute(q.limit(limit).offset(offset)).all()
    return {"total": total, "reports": [svc.report_dict(r, code, obs) for r, code, obs in rows]}


@router.get("/reports/{report_id}", tags=["reports"])
def read_report(report_id: str, s: DB, p: Annotated[Principal, Depends(READERS)]) -> dict[str, Any]:
    return report_out(s, get_report(s, report_id, p))


@router.put("/reports/{report_id}", tags=["reports"])
def amend_report(
    report_id: str,
    body: WindowFields,
    request: Request,
    s: DB,
    p: Annotated[Principal, Depends(OBSERVER)],
) -> dict[str, Any]:
    """An observer corrects their own report while it is neither verified nor quarantined.
    An implausible correction is kept but quarantined, as a new report would be."""
    from electwatch.storage.crypto import notes_context
    from electwatch.storage.plausibility import StationLimits, problems

    with s.begin():
        r = get_report(s, report_id, p)
        if r.status != "submitted":
            raise HTTPException(409, f"the report is {r.status}; ask your coordinator")
        before = {
            "window_start": svc.clock(r.window_start),
            "window_end": svc.clock(r.window_end),
            "voters": r.voters,
            "hourly": r.hourly,
            "notes": r.notes,
            "outcomes": r.outcomes,
        }
        st = s.get(Station, r.station_id)
        e = s.get(Election, r.election_id)
        assert st is not None and e is not None
        r.window_start, r.window_end = minutes(body.window_start), minutes(body.window_end)
        r.voters, r.hourly = body.voters, body.hourly
        r.outcomes = body.outcomes
        cipher = ctx_of(request).cipher
        r.notes = (
            cipher.encrypt_text(body.notes, notes_context(r.id))
            if body.notes and cipher is not None
            else body.notes
        )
        why = problems(
            r.voters,
            r.hourly,
            r.window_start,
            r.window_end,
            StationLimits(
                st.registered, st.official_cast, e.open_hour, e.close_hour, e.max_voters_per_hour
            ),
        )
        if why:
            r.status, r.status_reason = "quarantined", "implausible: " + "; ".join(why)
        r.version += 1
        r.updated_at = datetime.now(UTC)
        svc.audit(
            s,
            p.pseudonym,
            "report.amend",
            "report",
            r.id,
            before,
            {
                **body.model_dump(),
                "notes": r.notes,
                "version": r.version,
                "status": r.status,
                "status_reason": r.status_reason,
            },
        )
        return report_out(s, r)


@router.post("/reports/{report_id}/quarantine", tags=["coordination"])
def quarantine_report(
    report_id: str,
    body: ReasonBody,
    request: Request,
    s: DB,
    p: Annotated[Principal, Depends(COORDINATION)],
) -> dict[str, Any]:
    with s.begin():
        r = get_report(s, report_id, p)
        svc.set_report_status(s, r, "quarantined", body.reason, p.pseudonym)
        return report_out(s, r)


@router.post("/reports/{report_id}/release", tags=["coordination"])
def release_report(
    report_id: str, body: ReasonBody, s: DB, p: Annotated[Principal, Depends(COORDINATION)]
) -> dict[str, Any]:
    with s.begin():
        r = get_report(s, report_id, p)
        svc.set_report_status(s, r, "submitted", body.reason, p.pseudonym)
        return report_out(s, r)


IMPORT_ERRORS = {
    "description": "rows that are not valid (nothing imported), or reports the writer "
    "refused (207): each with row, column, value, expected and message",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "imported": {"type": "integer"},
                    "duplicates": {"type": "integer"},
                    "errors": {"type": "array", "items": {"type": "object"}},
                },
            }
        }
    },
}


@router.post(
    "/elections/{election_id}/reports/import",
    tags=["reports"],
    responses={422: IMPORT_ERRORS, 207: IMPORT_ERRORS},
)
async def import_reports(
    election_id: DbId,
    request: Request,
    p: Annotated[Principal, Depends(COORDINATION)],
    file: UploadFile = File(...),
) -> JSONResponse:
    """CSV bulk import (all or nothing): every bad row is listed with row, column, value
    and what was expected; nothing is written unless every row is valid."""
    from electwatch.web.bulk import MAX_CSV_BYTES, parse_reports_csv

    ctx = ctx_of(request)
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise HTTPException(413, f"CSV larger than {MAX_CSV_BYTES} bytes")
    import anyio

    items, errors = await anyio.to_thread.run_sync(
        parse_reports_csv, ctx.factory, election_id, p, data
    )
    if errors:
        return JSONResponse({"imported": 0, "errors": errors}, status_code=422)
    for item in items:  # the coordinator acts (audit actor); the observer is recorded
        item.actor = p.pseudonym
        item.credential_id = None
    results = await ctx.writer.submit_many(items)
    created = sum(r.outcome == "created" for r in results)
    dups = sum(r.outcome == "duplicate" for r in results)
    failed = [
        {
            "row": i + 1,
            "column": "id",
            "value": str(items[i].id),
            "expected": "an unused report id",
            "message": r.detail,
        }
        for i, r in enumerate(results)
        if r.outcome not in ("created", "duplicate")
    ]
    return JSONResponse(
        {"imported": created, "duplicates": dups, "errors": failed},
        status_code=200 if not failed else 207,
    )


# --- evidence ------------------------------------------------------------------------
@router.post("/reports/{report_id}/evidence", status_code=201, tags=["evidence"])
async def upload_evidence(
    report_id: str,
    request: Request,
    p: Annotated[Principal, Depends(OBSERVER)],
    file: UploadFile = File(...),
) -> dict[str, Any]:
    """Attach a photo (JPEG/PNG), a video or an audio recording (MP4/M4A/MOV, WebM,
    Ogg). Metadata (EXIF, GPS, XMP; container tags with location, device and dates) is
    stripped; the file is stored under its SHA-256; the client's filename is ignored."""
    import anyio

    from electwatch.web.evidence import EvidenceError, media_kind, store_evidence, store_media

    ctx = ctx_of(request)
    with ctx.factory() as s:
        get_report(s, report_id, p)
    head = await file.read(16)
    await file.seek(0)
    try:
        media = media_kind(head)
        if media is not None:
            limit = ctx.settings.max_media_bytes
            if file.size is not None and file.size > limit:
                raise EvidenceError(f"file larger than {limit} bytes", 413)
            return await anyio.to_thread.run_sync(
                store_media,
                ctx.factory,
                ctx.settings,
                report_id,
                file.file,
                media[0],
                media[1],
                p.pseudonym,
                ctx.cipher,
            )
        data = await file.read(ctx.settings.max_evidence_bytes + 1)
        return await anyio.to_thread.run_sync(
            store_evidence, ctx.factory, ctx.settings, report_id, data, p.pseudonym, ctx.cipher
        )
    except EvidenceError as exc:
        if exc.status == 422:
            raise unprocessable("file", str(exc)) from None
        raise HTTPException(exc.status, str(exc)) from None


@router.get("/evidence/{sha256}", tags=["evidence"])
def get_evidence(
    sha256: str, request: Request, s: DB, p: Annotated[Principal, Depends(EVIDENCE_READERS)]
) -> Response:
    from electwatch.web.evidence import evidence_path, valid_sha256

    if not valid_sha256(sha256):
        raise NOT_FOUND
    ev = s.get(Evidence, sha256)
    if ev is None:
        raise NOT_FOUND
    reports = s.scalars(
        select(Report)
        .join(ReportEvidence, ReportEvidence.report_id == Report.id)
        .where(ReportEvidence.sha256 == sha256)
    )
    if not any(svc.report_in_scope(s, r, p.scope) for r in reports):
        raise NOT_FOUND
    path = evidence_path(ctx_of(request).settings.evidence_dir, sha256)
    if not path.is_file():
        raise NOT_FOUND
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    if ev.key_id is not None:
        cipher = ctx_of(request).cipher
        if cipher is None:
            raise HTTPException(503, "the evidence is encrypted and no key is configured")
        return StreamingResponse(
            cipher.decrypt_file(path), media_type=ev.content_type, headers=headers
        )
    return FileResponse(path, media_type=ev.content_type, headers=headers)


# --- merged records, conflicts, coordinator actions ----------------------------------
def _records(
    request: Request,
    s: Session,
    election_id: DbId,
    p: Principal,
    station_ids: list[int] | None = None,
) -> Any:
    st = ctx_of(request).settings
    return station_records(s, election_id, p.scope, st.conflict_abs, st.conflict_rel, station_ids)


@router.get("/elections/{election_id}/records", tags=["coordination"])
def list_records(
    election_id: DbId,
    request: Request,
    s: DB,
    p: Annotated[Principal, Depends(STAFF_READ)],
    status: str | None = Query(None, description=" | ".join(RECORD_STATUSES)),
    limit: int = Query(1000, ge=1, le=100_000),
    offset: Offset = 0,
) -> dict[str, Any]:
    """Merged per-station records in the caller's scope."""
    get_election(s, election_id)
    frame = _records(request, s, election_id, p)
    if status is not None:
        frame = frame.filter(frame["status"] == status)
    counts = dict(frame.group_by("status").len().iter_rows()) if frame.height else {}
    return {
        "total": frame.height,
        "by_status": counts,
        "records": record_dicts(frame.slice(offset, limit)),
    }


@router.get("/elections/{election_id}/conflicts", tags=["coordination"])
def list_conflicts(
    election_id: DbId, request: Request, s: DB, p: Annotated[Principal, Depends(STAFF_READ)]
) -> dict[str, Any]:
    """The conflict queue: stations whose observers disagree beyond the tolerance."""
    get_election(s, election_id)
    frame = _records(request, s, election_id, p)
    frame = frame.filter(frame["status"] == "conflict")
    return {"total": frame.height, "records": record_dicts(frame)}


@router.get("/elections/{election_id}/stations/{station_code}/record", tags=["coordination"])
def station_record(
    election_id: DbId,
    station_code: str,
    request: Request,
    s: DB,
    p: Annotated[Principal, Depends(STAFF_READ)],
) -> dict[str, Any]:
    """One station's merged record with its reports and the coordinators' actions."""
    st = get_station(s, election_id, station_code, p)
    frame = _records(request, s, election_id, p, [st.id])
    rec = (
        record_dicts(frame)[0]
        if frame.height
        else {"station": st.code, "status": None, "voters": None, "n_reports": 0}
    )
    reports = s.execute(
        svc.report_query(p.scope, election_id).where(Report.station_id == st.id)
    ).all()
    actions = s.scalars(
        select(StationAction).where(StationAction.station_id == st.id).order_by(StationAction.id)
    )
    names = dict(s.execute(select(User.id, User.pseudonym)).all())
    return {
        **rec,
        "registered": st.registered,
        "reports": [svc.report_dict(r, c, o) for r, c, o in reports],
        "actions": [
            {
                "action": a.action,
                "voters": a.voters,
                "reason": a.reason,
                "report_id": str(a.report_id) if a.report_id else None,
                "by": names.get(a.user_id),
                "at": a.at.isoformat(),
            }
            for a in actions
        ],
    }


def _station_action(
    request: Request,
    s: Session,
    election_id: DbId,
    code: str,
    p: Principal,
    action: str,
    voters: int | None,
    reason: str | None,
    report_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    with s.begin():
        st = get_station(s, election_id, code, p)
        before = record_dicts(_records(request, s, election_id, p, [st.id]))
        if report_id is not None:
            r = s.get(Report, report_id)
            if r is None or r.station_id != st.id:
                raise unprocessable("report_id", "report_id is not a report of this station")
            if r.status == "quarantined":
                raise HTTPException(409, "the report is quarantined")
            voters = r.voters
            svc.set_report_status(s, r, "verified", reason, p.pseudonym)
        s.add(
            StationAction(
                station_id=st.id,
                action=action,
                voters=voters,
                reason=reason,
                report_id=report_id,
                user_id=p.user_id,
            )
        )
        s.flush()
        after = record_dicts(_records(request, s, election_id, p, [st.id]))
        svc.audit(
            s,
            p.pseudonym,
            f"station.{action}",
            "station",
            f"{election_id}:{st.code}",
            before[0] if before else None,
            {**(after[0] if after else {}), "reason": reason},
        )
    return station_record(election_id, code, request, s, p)


@router.post("/elections/{election_id}/stations/{station_code}/verify", tags=["coordination"])
def verify_station(
    election_id: DbId,
    station_code: str,
    body: VerifyBody,
    request: Request,
    s: DB,
    p: Annotated[Principal, Depends(COORDINATION)],
) -> dict[str, Any]:
    """Confirm a station's count: pick one report (``report_id``) or give ``voters``."""
    if body.report_id is None and body.voters is None:
        get_station(s, election_id, station_code, p)
        raise unprocessable("voters", "give report_id or voters")
    return _station_action(
        request, s, election_id, station_code, p, "verify", body.voters, body.reason, body.report_id
    )


@router.post("/elections/{election_id}/stations/{station_code}/override", tags=["coordination"])
def override_station(
    election_id: DbId,
    station_code: str,
    body: OverrideBody,
    request: Request,
    s: DB,
    p: Annotated[Principal, Depends(COORDINATION)],
) -> dict[str, Any]:
    """Set a station's count by hand; a reason is required and audited."""
    return _station_action(
        request, s, election_id, station_code, p, "override", body.voters, body.reason
    )


@router.post("/elections/{election_id}/stations/{station_code}/clear", tags=["coordination"])
def clear_station(
    election_id: DbId,
    station_code: str,
    body: ReasonBody,
    request: Request,
    s: DB,
    p: Annotated[Principal, Depends(COORDINATION)],
) -> dict[str, Any]:
    """Withdraw the coordinators' decision: the automatic merge rule applies again."""
    return _station_action(request, s, election_id, station_code, p, "clear", None, body.reason)


# --- estimate ------------------------------------------------------------------------
@router.get("/elections/{election_id}/estimate", tags=["estimate"])
def live_estimate(
    election_id: DbId, request: Request, s: DB, p: Annotated[Principal, Depends(STAFF_READ)]
) -> dict[str, Any]:
    """National turnout estimate with CI from the merged records (all stations)."""
    from electwatch.web.live_estimate import estimate_for_election

    e = get_election(s, election_id)
    st = ctx_of(request).settings
    return estimate_for_election(s, e, st.conflict_abs, st.conflict_rel)


# --- administration ------------------------------------------------------------------
@router.post("/elections", status_code=201, tags=["admin"])
def create_election(
    body: ElectionBody, s: DB, p: Annotated[Principal, Depends(ADMIN)]
) -> dict[str, Any]:
    with s.begin():
        try:
            e = svc.create_election(
                s,
                body.name,
                country=body.country,
                date=body.date,
                open_hour=body.open_hour,
                close_hour=body.close_hour,
                max_voters_per_hour=body.max_voters_per_hour,
                actor=p.pseudonym,
            )
        except svc.ServiceError as exc:
            raise HTTPException(409, str(exc)) from None
        return svc.election_dict(e)


@router.get("/users", tags=["admin"])
def list_users(s: DB, p: Annotated[Principal, Depends(ADMIN)]) -> list[dict[str, Any]]:
    return [svc.user_dict(u) for u in s.scalars(select(User).order_by(User.id))]


@router.post("/users", status_code=201, tags=["admin"])
def create_user(body: UserBody, s: DB, p: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    with s.begin():
        try:
            u = svc.create_user(s, body.role, body.username, body.password, actor=p.pseudonym)
        except svc.ServiceError as exc:
            raise unprocessable("username", str(exc)) from None
        return svc.user_dict(u)


@router.post("/users/{pseudonym}/tokens", status_code=201, tags=["admin"])
def issue_token(
    pseudonym: str, body: TokenBody, s: DB, p: Annotated[Principal, Depends(ADMIN)]
) -> dict[str, str]:
    """A new API token; the secret is shown once and stored only as a scrypt hash."""
    with s.begin():
        u = get_user(s, pseudonym)
        return {"token": svc.issue_credential(s, u, "tok", body.label, actor=p.pseudonym)}


@router.delete("/credentials/{credential_id}", tags=["admin"])
def revoke_credential(
    credential_id: str, request: Request, s: DB, p: Annotated[Principal, Depends(ADMIN)]
) -> dict[str, str]:
    with s.begin():
        c = s.get(Credential, credential_id)
        if c is None:
            raise NOT_FOUND
        c.revoked = True
        svc.audit(s, p.pseudonym, "credential.revoke", "credential", c.id, None, None)
    ctx_of(request).credentials.forget(credential_id=credential_id)
    return {"status": "revoked"}


@router.post("/users/{pseudonym}/disable", tags=["admin"])
def disable_user(
    pseudonym: str, request: Request, s: DB, p: Annotated[Principal, Depends(ADMIN)]
) -> dict[str, Any]:
    """Disable a user (a seized phone): every session and token of theirs is refused
    from the next request on, in every process. Their reports stay."""
    with s.begin():
        u = get_user(s, pseudonym)
        if u.id == p.user_id:
            raise HTTPException(409, "you cannot disable yourself")
        svc.set_user_active(s, u, False, actor=p.pseudonym)
        uid, out = u.id, svc.user_dict(u)
    ctx_of(request).credentials.forget(user_id=uid)
    return out


@router.post("/users/{pseudonym}/enable", tags=["admin"])
def enable_user(
    pseudonym: str, request: Request, s: DB, p: Annotated[Principal, Depends(ADMIN)]
) -> dict[str, Any]:
    """Enable a user again (their old sessions and tokens stay ended if revoked)."""
    with s.begin():
        u = get_user(s, pseudonym)
        svc.set_user_active(s, u, True, actor=p.pseudonym)
        return svc.user_dict(u)


@router.get("/users/{pseudonym}/credentials", tags=["admin"])
def list_user_credentials(
    pseudonym: str, s: DB, p: Annotated[Principal, Depends(ADMIN)]
) -> list[dict[str, Any]]:
    """A user's web sessions and API tokens (never their secrets), with last use."""
    u = get_user(s, pseudonym)
    return [svc.credential_dict(c) for c in svc.user_credentials(s, u)]


@router.delete("/users/{pseudonym}/credentials", tags=["admin"])
def end_user_credentials(
    pseudonym: str,
    request: Request,
    s: DB,
    p: Annotated[Principal, Depends(ADMIN)],
    kind: Annotated[str | None, Query(pattern="^(session|token)$")] = None,
) -> dict[str, Any]:
    """End every session and token of a user (or only ``kind``), audited."""
    with s.begin():
        u = get_user(s, pseudonym)
        ended = svc.revoke_credentials(s, u, actor=p.pseudonym, kind=kind)
        uid = u.id
    ctx_of(request).credentials.forget(user_id=uid)
    return {"ended": ended}


@router.post("/users/{pseudonym}/assignments", status_code=201, tags=["admin"])
def assign(
    pseudonym: str, body: AssignmentBody, s: DB, p: Annotated[Principal, Depends(ADMIN)]
) -> dict[str, str]:
    with s.begin():
        u = get_user(s, pseudonym)
        st = get_station(s, body.election_id, body.station, p)
        try:
            svc.assign_station(s, u, st, actor=p.pseudonym)
        except svc.ServiceError as exc:
            raise unprocessable("station", str(exc)) from None
    return {"observer": pseudonym, "station": body.station}


@router.post("/users/{pseudonym}/areas", status_code=201, tags=["admin"])
def add_area(
    pseudonym: str, body: AreaBody, request: Request, s: DB, p: Annotated[Principal, Depends(ADMIN)]
) -> dict[str, Any]:
    with s.begin():
        u = get_user(s, pseudonym)
        a = s.get(Area, body.area_id)
        if a is None:
            raise NOT_FOUND
        try:
            svc.add_coordinator_area(s, u, a, actor=p.pseudonym)
        except svc.ServiceError as exc:
            raise unprocessable("area_id", str(exc)) from None
        uid = u.id
    ctx_of(request).credentials.forget(user_id=uid)
    return {"coordinator": pseudonym, "area_id": body.area_id}


@router.get("/audit", tags=["admin"])
def audit_log(
    s: DB,
    p: Annotated[Principal, Depends(ADMIN)],
    entity: Annotated[str | None, Query(max_length=50)] = None,
    entity_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: int = Query(200, ge=1, le=10_000),
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    q = select(AuditEntry)
    if entity:
        q = q.where(AuditEntry.entity == entity)
    if entity_id:
        q = q.where(AuditEntry.entity_id == entity_id)
    rows = s.scalars(q.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return [
        {
            "id": a.id,
            "at": a.at.isoformat(),
            "actor": a.actor,
            "action": a.action,
            "entity": a.entity,
            "entity_id": a.entity_id,
            "before": a.before,
            "after": a.after,
        }
        for a in rows
    ]


# --- coordinator export and admin deletion ---------------------------------------------
EXPORT_COLUMNS = (
    "id",
    "station",
    "observer",
    "window_start",
    "window_end",
    "voters",
    "hourly",
    "notes",
    "status",
    "status_reason",
    "version",
    "received_at",
)


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet never runs as a formula (OWASP CSV injection):
    text starting with = + - @ or a tab/CR is prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    text = str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


@router.get(
    "/elections/{election_id}/export",
    tags=["coordination"],
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def export_reports(
    election_id: DbId,
    s: DB,
    p: Annotated[Principal, Depends(COORDINATION)],
    format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
) -> Response:
    """Every report in the caller's scope, as CSV (cells escaped against formula
    injection) or JSON; the export is audited."""
    import csv
    import io

    get_election(s, election_id)
    rows = [
        svc.report_dict(r, code, obs)
        for r, code, obs in s.execute(svc.report_query(p.scope, election_id)).all()
    ]
    svc.audit(s, p.pseudonym, "reports.export", "election", election_id, None, {"n": len(rows)})
    s.commit()
    if format == "json":
        return JSONResponse({"reports": [{k: r[k] for k in EXPORT_COLUMNS} for r in rows]})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(EXPORT_COLUMNS)
    for r in rows:
        w.writerow([csv_cell(r[k]) for k in EXPORT_COLUMNS])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reports-{election_id}.csv"'},
    )


@router.delete("/reports/{report_id}", tags=["admin"])
def delete_report(
    report_id: str, body: ReasonBody, s: DB, p: Annotated[Principal, Depends(ADMIN)]
) -> dict[str, str]:
    """Delete a report (and its evidence links); the audit log keeps what it was and why."""
    with s.begin():
        r = get_report(s, report_id, p)
        before = report_out(s, r)
        s.execute(delete(ReportEvidence).where(ReportEvidence.report_id == r.id))
        s.delete(r)
        svc.audit(s, p.pseudonym, "report.delete", "report", r.id, before, {"reason": body.reason})
    return {"status": "deleted"}


@router.delete("/evidence/{sha256}", tags=["admin"])
def delete_evidence(
    sha256: str,
    body: ReasonBody,
    request: Request,
    s: DB,
    p: Annotated[Principal, Depends(ADMIN)],
) -> dict[str, str]:
    """Delete an evidence file everywhere (row, links, file); audited with the reason."""
    from electwatch.web.evidence import evidence_path, valid_sha256

    if not valid_sha256(sha256):
        raise NOT_FOUND
    with s.begin():
        ev = s.get(Evidence, sha256)
        if ev is None:
            raise NOT_FOUND
        links = [
            str(x)
            for x in s.scalars(
                select(ReportEvidence.report_id).where(ReportEvidence.sha256 == sha256)
            )
        ]
        s.execute(delete(ReportEvidence).where(ReportEvidence.sha256 == sha256))
        s.delete(ev)
        svc.audit(
            s,
            p.pseudonym,
            "evidence.delete",
            "evidence",
            sha256,
            {"reports": links, "size": ev.size, "content_type": ev.content_type},
            {"reason": body.reason},
        )
    evidence_path(ctx_of(request).settings.evidence_dir, sha256).unlink(missing_ok=True)
    return {"status": "deleted"}
