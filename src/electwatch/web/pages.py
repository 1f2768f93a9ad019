"""HTML pages of the intake service (Jinja2 + htmx, no front-end build step).

Mobile-first pages for the three election-day roles:

* ``/observer``   the observer's stations and a report form. Without JavaScript
  (Tor Browser's safest mode) it is a plain form POSTed to ``/observer/report``;
  with JavaScript, ``static/observer.js`` takes over as a progressive enhancement:
  every report waits in a localStorage outbox under a client-generated UUID and is
  sent to the JSON API until acknowledged (the UUID is the idempotency key, so
  resends never duplicate).
* ``/observer/tally`` a large counter tapped once per voter entering (tally mode);
  ``static/tally.js`` keeps timestamped cumulative readings offline and sends them
  as snapshots (``web/api_snapshots.py``).
* ``/coordinator`` the conflict queue of the coordinator's areas: verify a count,
  quarantine a report, or override a station's count, always with a reason.
* ``/analyst``     the live turnout estimate with its confidence interval; the panel
  polls ``/analyst/estimate`` with htmx.

Every page is translated (:mod:`electwatch.i18n`): the language is the user's choice
(``POST /preferences``, a cookie) or else the browser's ``Accept-Language``; Persian
pages are right to left, show Persian digits, and may show Solar Hijri dates.

Authentication and CSRF come from :mod:`electwatch.web.auth`: the pages use the web
session cookie, every form carries the session's CSRF token, and every route
declares the roles it admits (so the permission tests cover these routes too).
Without a session a page redirects to ``/login``; a wrong role gets 403.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from electwatch.core.numbers import NumberFormatError, normalize_digits, parse_count
from electwatch.i18n import CALENDARS, LOCALES, Translator, negotiate, translator
from electwatch.storage.models import Area, Assignment, Credential, Election, Station
from electwatch.storage.service import clock
from electwatch.web.auth import (
    FORBIDDEN,
    SESSION_COOKIE,
    Principal,
    optional_principal,
    password_login,
    public,
    session_csrf,
    set_login_cookies,
)

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

#: the only files served under /static/ (a name is looked up, never used as a path)
STATIC_FILES: dict[str, tuple[Path, str]] = {
    "htmx.min.js": (HERE / "static" / "htmx.min.js", "text/javascript"),
    "observer.js": (HERE / "static" / "observer.js", "text/javascript"),
    "tally.js": (HERE / "static" / "tally.js", "text/javascript"),
    "electwatch.css": (HERE / "static" / "electwatch.css", "text/css"),
    "htmx.LICENSE": (HERE / "static" / "htmx.LICENSE", "text/plain"),
}
LOGIN_CSRF_COOKIE = "ew_login_csrf"
LANGUAGE_COOKIE = "ew_lang"
CALENDAR_COOKIE = "ew_cal"
#: rows for named outcomes on the observer form (blank and invalid have their own)
OUTCOME_ROWS = 8
#: seconds between refreshes of the analyst's estimate panel
POLL_SECONDS = 5

router = APIRouter(include_in_schema=False)

HOME = {
    "observer": "/observer",
    "coordinator": "/coordinator",
    "analyst": "/analyst",
    "admin": "/coordinator",
}


def static_url(name: str) -> str:
    """URL of a static file, with its modification time as a cache buster."""
    path, _ = STATIC_FILES[name]
    return f"/static/{name}?v={int(path.stat().st_mtime)}"


templates.env.globals["static_url"] = static_url


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


def page_translator(request: Request) -> Translator:
    """The user's chosen language (cookie), else the browser's Accept-Language."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LOCALES:
        return translator(chosen)
    return translator(negotiate(request.headers.get("accept-language")))


def page_calendar(request: Request, t: Translator) -> str:
    chosen = request.cookies.get(CALENDAR_COOKIE, "")
    return chosen if chosen in CALENDARS else t.default_calendar


def script_messages(name: str) -> tuple[str, ...]:
    """The message ids a static script translates: its ``t("...")`` calls, read with
    Babel's JavaScript extractor (the same one that fills the catalogue)."""
    return _script_messages(name, int(STATIC_FILES[name][0].stat().st_mtime))


def _script_messages(name: str, _mtime: int) -> tuple[str, ...]:
    from babel.messages.extract import extract_javascript

    with STATIC_FILES[name][0].open("rb") as f:
        found = extract_javascript(f, {"t": None}, [], {})
        ids = (m if isinstance(m, str) else m[0] for _, _, m, _ in found)
        return tuple(dict.fromkeys(m for m in ids if m))


def status_labeler(t: Translator) -> Callable[[str], str]:
    labels = {
        "submitted": t.gettext("submitted"),
        "verified": t.gettext("verified"),
        "quarantined": t.gettext("quarantined"),
    }
    return lambda status: labels.get(status, status)


def form_page(request: Request) -> str:
    """The page a posted form belongs to (``/observer/report`` -> ``/observer``)."""
    return "/" + request.url.path.strip("/").split("/")[0]


def page_roles(*roles: str) -> Callable[..., Any]:
    """Page dependency: the principal, a redirect to the login form, or 403.

    Like :func:`electwatch.web.auth.require_roles` (and declaring ``roles`` the same
    way), but a caller without a credential is sent to ``/login`` instead of a 401.
    CSRF on unsafe methods is checked by the shared authentication.
    """

    async def dependency(request: Request) -> Principal:
        # a form posted by a browser without JavaScript (it asks for HTML): a missing
        # or stale session leads it to the login form too, not to a JSON error
        browser_form = "text/html" in request.headers.get("accept", "")
        try:
            p = await optional_principal(request)
        except HTTPException as exc:
            # a stale or revoked session cookie on a page: the login form, not JSON
            if exc.status_code != 401 or not (request.method == "GET" or browser_form):
                raise
            p = None
        if p is None:
            if request.method != "GET" and not browser_form:
                raise HTTPException(status_code=401, detail="authentication required")
            target = request.url.path if request.method == "GET" else form_page(request)
            if request.url.query and request.method == "GET":
                target += "?" + request.url.query
            headers = {"Location": "/login?next=" + quote(target, safe="")}
            if request.cookies.get(SESSION_COOKIE):
                headers["Set-Cookie"] = (
                    f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=lax"
                )
            raise HTTPException(status_code=303, detail="sign in", headers=headers)
        if p.role not in roles:
            raise FORBIDDEN
        return p

    dependency.roles = tuple(roles)  # type: ignore[attr-defined]
    dependency.__name__ = f"page_{'_'.join(roles)}"
    return dependency


OBSERVER_PAGE = page_roles("observer")
COORDINATOR_PAGE = page_roles("coordinator", "admin")
ANALYST_PAGE = page_roles("analyst", "coordinator", "admin")
ANY_PAGE = page_roles("observer", "coordinator", "analyst", "admin")


def _ctx(request: Request) -> Any:
    return request.app.state.ctx


def _render(
    request: Request, name: str, principal: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    csrf = session_csrf(_ctx(request).secret_key, principal)
    t = page_translator(request)
    calendar = page_calendar(request, t)
    resp = templates.TemplateResponse(
        request,
        name,
        {
            "user": principal,
            "csrf": csrf,
            "t": t,
            "_": t.gettext,
            "gettext": t.gettext,
            "ngettext": t.ngettext,
            "languages": [(code, lang[0]) for code, lang in LOCALES.items()],
            "calendar": calendar,
            "fmt_date": lambda d: t.date(d, calendar),
            "status_label": status_labeler(t),
            **context,
        },
        status_code=status_code,
    )
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Language"] = t.locale
    resp.headers["Vary"] = "Accept-Language, Cookie"
    resp.headers.update(PAGE_SECURITY_HEADERS)
    return resp


#: Every page is served with these. Scripts, styles and connections come from this
#: origin only (no inline code, nothing third-party); no page may be framed; and no
#: Referer leaves the browser, so a link never tells another site an observer was here.
PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _safe_next(value: str | None) -> str | None:
    """Only local absolute paths are followed after login (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _election(s: Any, election_id: int | None) -> Election | None:
    """The election asked for, else the newest one that has a station frame."""
    if election_id is not None:
        return s.get(Election, election_id)
    with_stations = select(Station.election_id).distinct()
    return s.scalar(
        select(Election).where(Election.id.in_(with_stations)).order_by(Election.id.desc()).limit(1)
    )


# --- static files and login ----------------------------------------------------------
@router.get("/static/{name}", dependencies=[Depends(public)])
async def static_file(name: str) -> FileResponse:
    entry = STATIC_FILES.get(name)
    if entry is None:
        raise HTTPException(status_code=404, detail="not found")
    path, media_type = entry
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/", dependencies=[Depends(public)])
async def home(request: Request) -> RedirectResponse:
    try:
        p = await optional_principal(request)
    except HTTPException:
        p = None
    return RedirectResponse(HOME[p.role] if p else "/login", status_code=303)


@router.post("/preferences", dependencies=[Depends(public)])
async def preferences(
    lang: Annotated[str, Form(max_length=10)] = "",
    calendar: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> RedirectResponse:
    """Remember the language or calendar chosen (a cookie; no account needed, so the
    login page can be switched too), then show the same page again."""
    resp = RedirectResponse(_safe_next(next) or "/", status_code=303)
    year = 365 * 24 * 3600
    if lang in LOCALES:
        resp.set_cookie(LANGUAGE_COOKIE, lang, max_age=year, samesite="lax", httponly=True)
    if calendar in CALENDARS:
        resp.set_cookie(CALENDAR_COOKIE, calendar, max_age=year, samesite="lax", httponly=True)
    return resp


@router.get("/login", response_class=HTMLResponse, dependencies=[Depends(public)])
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, next_url=_safe_next(next) or "")


def _login_page(
    request: Request,
    next_url: str,
    error: str | None = None,
    username: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    resp = _render(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        next_url=next_url,
        error=error,
        username=username,
    )
    # double-submit token against login CSRF (there is no session to bind it to yet)
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_ctx(request).settings.cookie_secure,
        path="/login",
    )
    return resp


@router.post("/login", dependencies=[Depends(public)])
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    ctx = _ctx(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not csrf_token or not secrets.compare_digest(cookie, csrf_token):
        return _login_page(
            request,
            _safe_next(next) or "",
            page_translator(request).gettext("The form expired; try again."),
            username,
            status_code=403,
        )
    # security (intake-sec): the shared login of web.auth: guess limits per client and
    # per user name in the database, one scrypt path for known and unknown names
    outcome = await password_login(request, username, password)
    if outcome.status != 200 or outcome.session is None:
        t = page_translator(request)
        message = (
            t.gettext(
                "Too many attempts; wait %(seconds)s s.",
                seconds=t.number(max(1, round(outcome.retry_after))),
            )
            if outcome.status == 429
            else t.gettext("Wrong username or password.")
        )
        return _login_page(
            request, _safe_next(next) or "", message, username, status_code=outcome.status
        )
    resp = RedirectResponse(_safe_next(next) or HOME[outcome.role], status_code=303)
    set_login_cookies(resp, ctx, outcome)
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


@router.post("/logout")
async def logout(request: Request, p: Annotated[Principal, Depends(ANY_PAGE)]) -> Response:
    ctx = _ctx(request)
    if p.kind == "session":
        with ctx.factory() as s, s.begin():
            cred = s.get(Credential, p.credential_id)
            if cred is not None:
                cred.revoked = True
        ctx.credentials.forget(credential_id=p.credential_id)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# --- observer --------------------------------------------------------------------------
def _observer_view(factory: Any, user_id: int) -> dict[str, Any]:
    from electwatch.storage.service import report_dict, report_query

    with factory() as s:
        rows = s.execute(
            select(Station.code, Area.name, Station.election_id)
            .join(Assignment, Assignment.station_id == Station.id)
            .join(Area, Area.id == Station.area_id)
            .where(Assignment.observer_id == user_id)
            .order_by(Station.code)
        ).all()
        election_ids = sorted({r[2] for r in rows})
        election = s.get(Election, election_ids[-1]) if election_ids else None
        stations = [
            {"code": c, "area": a} for c, a, e in rows if election is None or e == election.id
        ]
        recent = []
        if election is not None:
            from electwatch.storage.service import Scope

            q = report_query(Scope(observer_id=user_id), election.id)
            for r, code, obs in s.execute(q).all()[-20:]:
                recent.append(report_dict(r, code, obs))
        recent.reverse()
    open_h, close_h = (election.open_hour, election.close_hour) if election else (8, 20)
    hours = [{"hour": h, "label": f"{h:02d}–{h + 1:02d}"} for h in range(open_h, close_h)]
    return {
        "stations": stations,
        "recent": recent,
        "hours": hours,
        "open_time": clock(open_h * 60),
        "close_time": clock(close_h * 60) if close_h < 24 else "00:00",
        "election": (
            {"id": election.id, "name": election.name, "date": election.date} if election else None
        ),
    }


OBSERVER_MESSAGES = {
    "sent": N_("Sent. The coordinators have your report."),
    "duplicate": N_("This report had already arrived; it is stored once."),
}


async def _observer_page(
    request: Request,
    p: Principal,
    message: str | None = None,
    errors: list[str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = await anyio.to_thread.run_sync(_observer_view, _ctx(request).factory, p.user_id)
    election = view["election"]
    return _render(
        request,
        "observer.html",
        p,
        status_code=status_code,
        reports_url=f"/api/elections/{election['id']}/reports" if election else "",
        evidence_url="/api/reports/{id}/evidence",
        js_messages=page_translator(request).catalogue(script_messages("observer.js")),
        # a fresh id per rendering: a form POSTed twice (back button, reload) is one report
        form_id=(values or {}).get("id") or str(uuid.uuid4()),
        outcome_rows=range(1, OUTCOME_ROWS + 1),
        values=values or {},
        message=message,
        errors=errors,
        **view,
    )


@router.get("/observer", response_class=HTMLResponse)
async def observer_page(
    request: Request, p: Annotated[Principal, Depends(OBSERVER_PAGE)], done: str | None = None
) -> HTMLResponse:
    msg = OBSERVER_MESSAGES.get(done or "")
    return await _observer_page(request, p, page_translator(request).gettext(msg) if msg else None)


def form_report(
    t: Translator, form: dict[str, str], open_hour: int, close_hour: int
) -> tuple[dict[str, Any] | None, list[str]]:
    """The JSON API body of a report typed into the plain HTML form, or the problems
    (translated) that stop it. Counts go through core.numbers.parse_count, so digits
    in any script are read; an unreadable count is an error, never dropped."""
    from electwatch.web.outcomes import OutcomeError, outcome_count, outcome_name

    problems: list[str] = []

    def count(field: str, label: str) -> int | None:
        raw = (form.get(field) or "").strip()
        if not raw:
            return None
        try:
            return parse_count(raw)
        except NumberFormatError:
            problems.append(
                t.gettext("%(field)s: %(value)s is not a whole number", field=label, value=raw)
            )
            return None

    station = (form.get("station") or "").strip()
    if not station:
        problems.append(t.gettext("choose a station"))
    start = normalize_digits(form.get("window_start") or "").strip()
    end = normalize_digits(form.get("window_end") or "").strip()
    if end == "00:00":
        end = "24:00"
    voters = count("voters", t.gettext("Voters counted"))
    hourly_in: list[int] = []
    any_hourly = False
    for h in range(open_hour, close_hour):
        v = count(f"hour_{h}", f"{h:02d}–{h + 1:02d}")
        any_hourly = any_hourly or v is not None
        hourly_in.append(v or 0)
    outcomes: dict[str, int] = {}
    try:
        for i in range(1, OUTCOME_ROWS + 1):
            name = (form.get(f"outcome_name_{i}") or "").strip()
            raw = (form.get(f"outcome_count_{i}") or "").strip()
            if not name and not raw:
                continue
            if not name:
                problems.append(t.gettext("give the name for the votes in row %(n)s", n=i))
                continue
            key = outcome_name(name)
            if key in outcomes:
                problems.append(t.gettext("%(name)s is written twice", name=name))
                continue
            outcomes[key] = outcome_count(key, raw or "")
        for key in ("blank", "invalid"):
            raw = (form.get(f"outcome_{key}") or "").strip()
            if raw:
                outcomes[key] = outcome_count(key, raw)
    except OutcomeError as exc:
        problems.append(t.gettext("votes for %(name)s are not a whole number", name=exc.name))
    from electwatch.data.observations import parse_clock

    try:
        if parse_clock(start) >= parse_clock(end):
            problems.append(t.gettext("make the watch end after it starts"))
    except ValueError:
        problems.append(t.gettext("enter the watch window"))
    hourly = None
    if any_hourly:
        window: tuple[float, float] | None
        try:
            window = (parse_clock(start), parse_clock(end))
        except ValueError:
            window = None
        if window is not None:
            h0, h1 = window
            inside = [
                v
                for h, v in zip(range(open_hour, close_hour), hourly_in, strict=True)
                if h + 1 > h0 and h < h1
            ]
            outside = sum(hourly_in) - sum(inside)
            if outside:
                problems.append(t.gettext("leave hours outside your watch window empty"))
            hourly = inside
            if voters is None:
                voters = sum(inside)
    if voters is None and not problems:
        problems.append(t.gettext("enter the voters counted (a whole number)"))
    if problems:
        return None, problems
    body = {
        "id": form.get("id") or str(uuid.uuid4()),
        "station": station,
        "window_start": start,
        "window_end": end,
        "voters": voters,
        "hourly": hourly,
        "notes": (form.get("notes") or "").strip() or None,
        "outcomes": outcomes or None,
    }
    return body, []


@router.post("/observer/report")
async def observer_report(
    request: Request, p: Annotated[Principal, Depends(OBSERVER_PAGE)]
) -> Response:
    """The report form without JavaScript: a plain POST, answered by a redirect to the
    page (303, so a reload does not send it again; its id makes a resend harmless)."""
    from pydantic import ValidationError

    from electwatch.web.api import ReportBody, report_in

    ctx = _ctx(request)
    t = page_translator(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    with ctx.factory() as s:
        election_id = s.scalar(
            select(Station.election_id)
            .join(Assignment, Assignment.station_id == Station.id)
            .where(Assignment.observer_id == p.user_id)
            .order_by(Station.election_id.desc())
            .limit(1)
        )
        election = s.get(Election, election_id) if election_id is not None else None
    if election is None:
        raise FORBIDDEN
    body, problems = form_report(t, fields, election.open_hour, election.close_hour)
    if body is not None:
        try:
            report = ReportBody.model_validate(body)
        except ValidationError as exc:
            problems = [str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()]
    if problems:
        values = {
            **fields,
            "hourly_open": any(k.startswith("hour_") and v for k, v in fields.items()),
            "outcomes_open": any(k.startswith("outcome_") and v for k, v in fields.items()),
        }
        return await _observer_page(request, p, errors=problems, values=values, status_code=422)
    result = await ctx.writer.submit(report_in(report, election.id, p))
    if result.outcome not in ("created", "duplicate"):
        values = {**fields}
        return await _observer_page(
            request, p, errors=[result.detail or result.outcome], values=values, status_code=422
        )
    photos = [f for f in form.getlist("photos") if not isinstance(f, str) and f.filename]
    if photos and result.outcome == "created":
        from electwatch.web.evidence import EvidenceError, store_evidence

        for f in photos:
            data = await f.read(ctx.settings.max_evidence_bytes + 1)
            try:
                await anyio.to_thread.run_sync(
                    store_evidence, ctx.factory, ctx.settings, str(report.id), data, p.pseudonym
                )
            except EvidenceError as exc:
                return await _observer_page(
                    request,
                    p,
                    message=t.gettext("Sent. The coordinators have your report."),
                    errors=[t.gettext("A photo was refused: %(why)s", why=str(exc))],
                )
    done = "sent" if result.outcome == "created" else "duplicate"
    return RedirectResponse(f"/observer?done={done}", status_code=303)


@router.get("/observer/tally", response_class=HTMLResponse)
async def tally_page(
    request: Request, p: Annotated[Principal, Depends(OBSERVER_PAGE)]
) -> HTMLResponse:
    """Tally mode: one big button, tapped once per voter entering (see tally.js)."""
    view = await anyio.to_thread.run_sync(_observer_view, _ctx(request).factory, p.user_id)
    election = view["election"]
    return _render(
        request,
        "tally.html",
        p,
        snapshots_url=f"/api/elections/{election['id']}/snapshots" if election else "",
        js_messages=page_translator(request).catalogue(script_messages("tally.js")),
        **view,
    )


# --- coordinator -----------------------------------------------------------------------
COORD_MESSAGES = {
    "verified": N_("Count verified."),
    "quarantined": N_("Report quarantined."),
    "overridden": N_("Station count overridden."),
}


def _coordinator_view(request: Request, p: Principal, election_id: int | None) -> dict[str, Any]:
    """The conflict queue in ``p``'s scope, each station with its reports (core API code)."""
    from electwatch.storage.models import ReportEvidence
    from electwatch.web import api

    with _ctx(request).factory() as s:
        election = _election(s, election_id)
        if election is None:
            return {"election": None, "conflicts": [], "elections": []}
        queue = api.list_conflicts(election.id, request, s, p)["records"]
        area_names = dict(
            s.execute(
                select(Station.code, Area.name)
                .join(Area, Area.id == Station.area_id)
                .where(
                    Station.election_id == election.id,
                    Station.code.in_([c["station"] for c in queue]),
                )
            ).all()
        )
        conflicts = []
        for rec in queue:
            full = api.station_record(election.id, rec["station"], request, s, p)
            reports = full["reports"]
            ids = [api.svc.parse_uuid(r["id"]) for r in reports]
            evidence: dict[str, list[str]] = {}
            for rid, sha in s.execute(
                select(ReportEvidence.report_id, ReportEvidence.sha256).where(
                    ReportEvidence.report_id.in_(ids)
                )
            ):
                evidence.setdefault(str(rid), []).append(sha)
            for r in reports:
                r["evidence"] = evidence.get(r["id"], [])
            conflicts.append(
                {
                    "station": rec["station"],
                    "area": area_names.get(rec["station"]),
                    "spread": (rec["voters_max"] or 0) - (rec["voters_min"] or 0),
                    "reports": reports,
                }
            )
        elections = [
            {"id": e.id, "name": e.name} for e in s.scalars(select(Election).order_by(Election.id))
        ]
        return {
            "election": {"id": election.id, "name": election.name},
            "conflicts": conflicts,
            "elections": elections,
        }


async def _coordinator_page(
    request: Request,
    p: Principal,
    election_id: int | None,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = await anyio.to_thread.run_sync(_coordinator_view, request, p, election_id)
    return _render(
        request,
        "coordinator.html",
        p,
        status_code=status_code,
        message=message,
        error=error,
        **view,
    )


@router.get("/coordinator", response_class=HTMLResponse)
async def coordinator_page(
    request: Request,
    p: Annotated[Principal, Depends(COORDINATOR_PAGE)],
    election: int | None = None,
    done: str | None = None,
) -> HTMLResponse:
    msg = COORD_MESSAGES.get(done or "")
    t = page_translator(request)
    return await _coordinator_page(request, p, election, t.gettext(msg) if msg else None)


def _run_action(request: Request, fn: Callable[..., Any], *args: Any) -> str | None:
    """Run a core API action in its own session; the refusal's text, or None on success."""
    from pydantic import ValidationError

    with _ctx(request).factory() as s:
        try:
            fn(*args, request, s)
        except HTTPException as exc:
            return page_translator(request).gettext("Not done: %(why)s", why=exc.detail)
        except ValidationError as exc:
            why = "; ".join(e["msg"] for e in exc.errors())
            return page_translator(request).gettext("Not done: %(why)s", why=why)
    return None


async def _after_action(
    request: Request, p: Principal, election_id: int, done: str, error: str | None
) -> Response:
    if error is not None:
        return await _coordinator_page(request, p, election_id, error=error, status_code=422)
    return RedirectResponse(f"/coordinator?election={election_id}&done={done}", status_code=303)


ElectionField = Annotated[int, Form(alias="election")]
StationField = Annotated[str, Form(alias="station", min_length=1, max_length=200)]
ReasonField = Annotated[str, Form(max_length=2000)]


@router.post("/coordinator/verify")
async def coordinator_verify(
    request: Request,
    p: Annotated[Principal, Depends(COORDINATOR_PAGE)],
    election_id: ElectionField,
    code: StationField,
    report_id: Annotated[str, Form(max_length=64)],
    reason: ReasonField = "",
) -> Response:
    """Confirm one report's count for its station (core: ``verify_station``)."""
    from electwatch.web import api

    def act(request: Request, s: Any) -> None:
        rid = api.svc.parse_uuid(report_id)
        if rid is None:
            raise HTTPException(422, "not a report id")
        body = api.VerifyBody(report_id=rid, reason=reason.strip() or None)
        api.verify_station(election_id, code, body, request, s, p)

    error = await anyio.to_thread.run_sync(_run_action, request, act)
    return await _after_action(request, p, election_id, "verified", error)


@router.post("/coordinator/quarantine")
async def coordinator_quarantine(
    request: Request,
    p: Annotated[Principal, Depends(COORDINATOR_PAGE)],
    election_id: ElectionField,
    report_id: Annotated[str, Form(max_length=64)],
    reason: ReasonField = "",
) -> Response:
    """Quarantine a report with a reason (core: ``quarantine_report``)."""
    from electwatch.web import api

    def act(request: Request, s: Any) -> None:
        api.quarantine_report(report_id, api.ReasonBody(reason=reason.strip()), request, s, p)

    error = await anyio.to_thread.run_sync(_run_action, request, act)
    return await _after_action(request, p, election_id, "quarantined", error)


@router.post("/coordinator/override")
async def coordinator_override(
    request: Request,
    p: Annotated[Principal, Depends(COORDINATOR_PAGE)],
    election_id: ElectionField,
    code: StationField,
    voters: Annotated[str, Form(max_length=10)] = "",
    reason: ReasonField = "",
) -> Response:
    """Set a station's count by hand with a reason (core: ``override_station``)."""
    from electwatch.web import api

    def act(request: Request, s: Any) -> None:
        try:
            count = parse_count(voters)
        except NumberFormatError:
            raise HTTPException(422, "the override count must be a whole number") from None
        body = api.OverrideBody(voters=count, reason=reason.strip())
        api.override_station(election_id, code, body, request, s, p)

    error = await anyio.to_thread.run_sync(_run_action, request, act)
    return await _after_action(request, p, election_id, "overridden", error)


# --- analyst ---------------------------------------------------------------------------
def estimate_view(
    est: dict[str, Any] | None, updated: Any = None, t: Translator | None = None
) -> dict[str, Any] | None:
    """Display fields of the live estimate (turnout with CI, or voters with CI), in
    the reader's language and digits."""
    from datetime import UTC, datetime

    t = t or translator("en")
    if est is None:
        return None
    now = updated or datetime.now(UTC)
    base: dict[str, Any] = {
        "updated_iso": now.isoformat(timespec="seconds"),
        "updated_text": t.digits(now.strftime("%H:%M:%S")) + " UTC",
        "n_observed": est.get("n_observed", 0),
        "n_stations": est.get("n_stations", 0),
        "method": est.get("method") or "",
        "estimator": est.get("estimator") or "",
        "excluded": est.get("excluded_conflicts", 0),
        "exclusions": exclusion_rows(est.get("exclusions") or {}, t),
        "register_zero": est.get("register_zero", 0),
        "profile_note": (
            t.gettext("Partial windows corrected assuming voters arrive evenly through the day.")
            if est.get("profile_source") == "uniform (assumed)"
            else ""
        ),
    }
    if est.get("voters") is None:
        if base["n_observed"]:
            return {
                **base,
                "error": t.gettext(
                    "Not enough usable reports yet: an interval needs counts from at least "
                    "2 stations."
                ),
            }
        return {
            **base,
            "error": t.gettext(
                "No usable reports yet: the estimate appears after the first report is received."
            ),
        }
    voters = float(est["voters"])
    ci = est.get("ci95")
    turnout, tci = est.get("turnout"), est.get("turnout_ci95")
    na = t.gettext("not available")
    base["voters_text"] = t.number(voters)
    if ci:
        base["voters_text"] += f" ({t.number(ci[0])} – {t.number(ci[1])})"
    if turnout is not None:
        value, (lo, hi) = float(turnout), (tci or (None, None))
        base["turnout_text"] = t.percent(value)
        base["ci_text"] = (
            f"{t.percent(lo)} – {t.percent(hi)}" if lo is not None and hi is not None else na
        )
        scale = 100.0  # the bar spans turnout 0-100%
    else:  # no registered-voter total (e.g. no voter rolls): show voters
        value, (lo, hi) = voters, (ci or (None, None))
        base["turnout_text"] = t.ngettext("%(num)s voter", "%(num)s voters", round(voters))
        base["ci_text"] = (
            f"{t.number(lo)} – {t.number(hi)}" if lo is not None and hi is not None else na
        )
        scale = 100.0 / (max(hi or voters, voters) * 1.25 or 1.0)
    base["turnout"] = value
    lo = value if lo is None else lo
    hi = value if hi is None else hi

    def clamp(v: float) -> float:
        return min(100.0, max(0.0, v * scale))

    base["bar_lo"] = f"{clamp(lo):.2f}"
    base["bar_w"] = f"{max(0.5, clamp(hi) - clamp(lo)):.2f}"
    base["bar_mid"] = f"{max(0.0, clamp(value) - 0.4):.2f}"
    base["n_reports"] = sum((est.get("records_by_status") or {}).values())
    return base


def exclusion_rows(exclusions: dict[str, int], t: Translator) -> list[dict[str, Any]]:
    """Stations left out of the live estimate, one row per reason (the library's keys)."""
    labels = {
        "conflict": t.gettext("Observers' counts conflict"),
        "no_count": t.gettext("No usable count"),
        "not_in_frame": t.gettext("Station not in the station list"),
        "low_coverage": t.gettext("Watched less than a fifth of the day"),
        "no_register": t.gettext("No registered-voter figure"),
        "protocol_disagreement": t.gettext("Observers' result protocols differ"),
        "protocol_not_in_frame": t.gettext("Protocol of a station not in the station list"),
        "snapshots_superseded": t.gettext("Snapshots of a station that also sent a count"),
        "snapshots_invalid": t.gettext("Snapshots that fail validation"),
    }
    return [
        {"reason": k, "label": labels.get(k, k), "n": n, "n_text": t.number(n)}
        for k, n in sorted(exclusions.items())
        if n
    ]


def shares_view(shares: dict[str, Any] | None, t: Translator) -> dict[str, Any] | None:
    """Display rows of the live vote shares (from the library, via live_estimate)."""
    if not shares:
        return None
    if shares.get("error"):
        return {
            "n": shares["n"],
            "error": t.gettext(
                "Vote shares appear once result protocols from at least 2 stations are in."
            ),
        }
    reserved = {"blank": t.gettext("Blank ballots"), "invalid": t.gettext("Invalid ballots")}
    rows = [
        {
            "name": r["name"],
            "label": reserved.get(r["name"], r["name"]),
            "share_text": t.percent(r["share"]),
            "ci_text": f"{t.percent(max(0.0, r['ci95'][0]))} – {t.percent(min(1.0, r['ci95'][1]))}",
        }
        for r in shares["rows"]
    ]
    margin, p_lead = shares.get("margin"), shares.get("p_leader_majority")
    lo, hi = shares.get("margin_ci95") or (None, None)
    return {
        "n": shares["n"],
        "n_disagreeing": shares.get("n_disagreeing", 0),
        "rows": rows,
        "method": shares.get("method") or "",
        "leader": shares.get("leader"),
        "runner_up": shares.get("runner_up"),
        "margin": margin,
        "margin_text": t.percent(margin) if margin is not None else "",
        "margin_ci_text": (
            f"{t.percent(lo)} – {t.percent(hi)}" if lo is not None and hi is not None else ""
        ),
        "p_leader": p_lead,
        "p_leader_text": t.percent(p_lead) if p_lead is not None else "",
    }


def _analyst_estimate(request: Request, election_id: int | None) -> dict[str, Any]:
    from electwatch.web.live_estimate import estimate_for_election

    ctx = _ctx(request)
    t = page_translator(request)
    with ctx.factory() as s:
        election = _election(s, election_id)
        elections = [
            {"id": e.id, "name": e.name} for e in s.scalars(select(Election).order_by(Election.id))
        ]
        if election is None:
            return {"est": None, "shares": None, "elections": elections, "election": None}
        est = estimate_for_election(
            s, election, ctx.settings.conflict_abs, ctx.settings.conflict_rel
        )
        return {
            "est": estimate_view(est, t=t),
            "shares": shares_view(est.get("shares"), t),
            "elections": elections,
            "election": {"id": election.id, "name": election.name},
        }


@router.get("/analyst", response_class=HTMLResponse)
async def analyst_page(
    request: Request, p: Annotated[Principal, Depends(ANALYST_PAGE)], election: int | None = None
) -> HTMLResponse:
    view = await anyio.to_thread.run_sync(_analyst_estimate, request, election)
    return _render(request, "analyst.html", p, poll_seconds=POLL_SECONDS, **view)


@router.get("/analyst/estimate", response_class=HTMLResponse)
async def analyst_estimate(
    request: Request,
    p: Annotated[Principal, Depends(ANALYST_PAGE)],
    election: Annotated[int | None, Query()] = None,
) -> HTMLResponse:
    """The estimate panel alone (the htmx polling target)."""
    view = await anyio.to_thread.run_sync(_analyst_estimate, request, election)
    return _render(request, "_estimate.html", p, **view)
