"""HTML pages of the intake service (Jinja2 + htmx, no front-end build step).

Mobile-first pages for the three election-day roles:

* ``/observer``   the observer's stations and a report form that works on a poor
  connection: ``static/observer.js`` keeps every report in a localStorage outbox
  under a client-generated UUID and sends it to the JSON API (``POST /api/reports``)
  until acknowledged; the UUID is the API's idempotency key, so resends never
  duplicate.
* ``/coordinator`` the conflict queue of the coordinator's areas: verify a count,
  quarantine a report, or override a station's count, always with a reason.
* ``/analyst``     the live turnout estimate with its confidence interval; the panel
  polls ``/analyst/estimate`` with htmx.

Authentication and CSRF come from :mod:`electwatch.web.auth`: the pages use the web
session cookie, every form carries the session's CSRF token, and every route
declares the roles it admits (so the permission tests cover these routes too).
Without a session a page redirects to ``/login``; a wrong role gets 403.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from electwatch.core import formatting
from electwatch.storage.models import Area, Assignment, Credential, Election, Station, User
from electwatch.storage.service import clock
from electwatch.web.auth import (
    FORBIDDEN,
    SESSION_COOKIE,
    Principal,
    optional_principal,
    public,
    session_csrf,
)
from electwatch.web.security import verify_secret

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

#: the only files served under /static/ (a name is looked up, never used as a path)
STATIC_FILES: dict[str, tuple[Path, str]] = {
    "htmx.min.js": (HERE / "static" / "htmx.min.js", "text/javascript"),
    "observer.js": (HERE / "static" / "observer.js", "text/javascript"),
    "electwatch.css": (HERE / "static" / "electwatch.css", "text/css"),
    "htmx.LICENSE": (HERE / "static" / "htmx.LICENSE", "text/plain"),
}
LOGIN_CSRF_COOKIE = "ew_login_csrf"
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


def page_roles(*roles: str) -> Callable[..., Any]:
    """Page dependency: the principal, a redirect to the login form, or 403.

    Like :func:`electwatch.web.auth.require_roles` (and declaring ``roles`` the same
    way), but a caller without a credential is sent to ``/login`` instead of a 401.
    CSRF on unsafe methods is checked by the shared authentication.
    """

    async def dependency(request: Request) -> Principal:
        p = await optional_principal(request)
        if p is None:
            if request.method != "GET":
                raise HTTPException(status_code=401, detail="authentication required")
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            raise HTTPException(
                status_code=303,
                detail="sign in",
                headers={"Location": "/login?next=" + quote(target, safe="")},
            )
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
    csrf = session_csrf(_ctx(request).settings.secret_key, principal)
    resp = templates.TemplateResponse(
        request, name, {"user": principal, "csrf": csrf, **context}, status_code=status_code
    )
    resp.headers["Cache-Control"] = "no-store"
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


def _check_password(factory: Any, username: str, password: str) -> int | None:
    with factory() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None or not user.active or not user.password_hash:
            # same cost as a real check, so timing does not reveal which usernames exist
            verify_secret(password, _DUMMY_HASH)
            return None
        return user.id if verify_secret(password, user.password_hash) else None


def _new_session(factory: Any, user_id: int, hours: float) -> str:
    from electwatch.storage.service import issue_credential

    with factory() as s, s.begin():
        user = s.get(User, user_id)
        assert user is not None
        return issue_credential(
            s, user, "ses", label="web login", hours=hours, actor=user.pseudonym
        )


_DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)


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
            "The form expired; try again.",
            username,
            status_code=403,
        )
    allowed, wait = ctx.login_limiter.allow("login:" + username.strip().lower())
    if not allowed:
        return _login_page(
            request,
            _safe_next(next) or "",
            f"Too many attempts; wait {max(1, round(wait))} s.",
            username,
            status_code=429,
        )
    user_id = await anyio.to_thread.run_sync(
        _check_password, ctx.factory, username.strip(), password
    )
    if user_id is None:
        return _login_page(
            request,
            _safe_next(next) or "",
            "Wrong username or password.",
            username,
            status_code=401,
        )
    secret = await anyio.to_thread.run_sync(
        _new_session, ctx.factory, user_id, ctx.settings.session_hours
    )
    with ctx.factory() as s:
        role = s.scalar(select(User.role).where(User.id == user_id)) or "observer"
    resp = RedirectResponse(_safe_next(next) or HOME[role], status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.cookie_secure,
        path="/",
        max_age=int(ctx.settings.session_hours * 3600),
    )
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
        "election": election,
    }


@router.get("/observer", response_class=HTMLResponse)
async def observer_page(
    request: Request, p: Annotated[Principal, Depends(OBSERVER_PAGE)]
) -> HTMLResponse:
    view = await anyio.to_thread.run_sync(_observer_view, _ctx(request).factory, p.user_id)
    return _render(
        request,
        "observer.html",
        p,
        reports_url=f"/api/elections/{view['election'].id}/reports" if view["election"] else "",
        evidence_url="/api/reports/{id}/evidence",
        **view,
    )


# --- coordinator -----------------------------------------------------------------------
COORD_MESSAGES = {
    "verified": "Count verified.",
    "quarantined": "Report quarantined.",
    "overridden": "Station count overridden.",
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
    return await _coordinator_page(request, p, election, COORD_MESSAGES.get(done or ""))


def _run_action(request: Request, fn: Callable[..., Any], *args: Any) -> str | None:
    """Run a core API action in its own session; the refusal's text, or None on success."""
    from pydantic import ValidationError

    with _ctx(request).factory() as s:
        try:
            fn(*args, request, s)
        except HTTPException as exc:
            return f"Not done: {exc.detail}"
        except ValidationError as exc:
            return "Not done: " + "; ".join(e["msg"] for e in exc.errors())
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
        if not voters.strip().isdigit():
            raise HTTPException(422, "the override count must be a whole number")
        body = api.OverrideBody(voters=int(voters), reason=reason.strip())
        api.override_station(election_id, code, body, request, s, p)

    error = await anyio.to_thread.run_sync(_run_action, request, act)
    return await _after_action(request, p, election_id, "overridden", error)


# --- analyst ---------------------------------------------------------------------------
def _pct(x: float) -> str:
    return formatting.percent(x, 1)


def estimate_view(est: dict[str, Any] | None, updated: Any = None) -> dict[str, Any] | None:
    """Display fields of the core's estimate dict (turnout with CI, or voters with CI)."""
    from datetime import UTC, datetime

    if est is None:
        return None
    now = updated or datetime.now(UTC)
    base = {
        "updated_iso": now.isoformat(timespec="seconds"),
        "updated_text": now.strftime("%H:%M:%S UTC"),
        "n_observed": est.get("n_observed", 0),
        "n_stations": est.get("n_stations", 0),
        "method": est.get("method", ""),
        "excluded": est.get("excluded_conflicts", 0),
    }
    if est.get("voters") is None:
        return {
            **base,
            "error": "No usable reports yet: the estimate appears after the first "
            "report is received.",
        }
    voters = float(est["voters"])
    ci = est.get("ci95")
    turnout, tci = est.get("turnout"), est.get("turnout_ci95")
    base["voters_text"] = f"{voters:,.0f}"
    if ci:
        base["voters_text"] += f" ({ci[0]:,.0f} – {ci[1]:,.0f})"
    if turnout is not None:
        value, (lo, hi) = float(turnout), (tci or (None, None))
        base["turnout_text"] = _pct(value)
        base["ci_text"] = f"{_pct(lo)} – {_pct(hi)}" if lo is not None else "not available"
        scale = 100.0  # the bar spans turnout 0-100%
    else:  # no registered-voter total (e.g. no voter rolls): show voters
        value, (lo, hi) = voters, (ci or (None, None))
        base["turnout_text"] = f"{voters:,.0f} voters"
        base["ci_text"] = f"{lo:,.0f} – {hi:,.0f}" if lo is not None else "not available"
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


def _analyst_estimate(request: Request, election_id: int | None) -> dict[str, Any]:
    from electwatch.web.estimate import estimate_for_election

    ctx = _ctx(request)
    with ctx.factory() as s:
        election = _election(s, election_id)
        elections = [
            {"id": e.id, "name": e.name} for e in s.scalars(select(Election).order_by(Election.id))
        ]
        if election is None:
            return {"est": None, "elections": elections, "election": None}
        est = estimate_for_election(
            s, election, ctx.settings.conflict_abs, ctx.settings.conflict_rel
        )
        return {
            "est": estimate_view(est),
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
