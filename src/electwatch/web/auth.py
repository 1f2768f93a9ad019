"""Authentication and role checks shared by the API and the HTML pages.

Two ways in:

* API clients send ``Authorization: Bearer ewtok_<id>_<secret>``.
* Browsers hold a web session in the ``ew_session`` cookie (HttpOnly, SameSite=Lax);
  every unsafe request (POST/PUT/PATCH/DELETE) authenticated by the cookie must carry
  the session's CSRF token in the ``X-CSRF-Token`` header or a ``csrf_token`` form field.

Every request re-checks in the database that its credential is neither revoked nor
expired and that its user is enabled (the in-memory cache only spares the scrypt
check), so disabling a user or ending a session takes effect at once in every process.
Web sessions slide: each use extends them by ``session_idle_minutes``, never past
``session_hours`` after login. Every credential has a shared rate limit
(:class:`~electwatch.web.security.SharedRateLimiter`); an exhausted one answers 429.

Password logins (the API route and the HTML form share :func:`password_login`) take
the same path through scrypt for unknown and known user names, and are limited per
client, per user name and client, and per user name for clients without that user's
device cookie: a user can always sign in from a device that has not been guessing.

Routes declare who may call them with
:func:`require_roles` (or :data:`public`); the permission tests read these
declarations from ``app.routes`` and try every route with every role.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from fastapi import HTTPException, Request, Response
from sqlalchemy import select, update

from electwatch.storage import credentials as _cred
from electwatch.storage.models import ROLES, Credential, User
from electwatch.storage.service import Scope, audit, issue_credential, scope_for
from electwatch.web.security import (
    cache_key,
    check_csrf,
    client_address,
    client_key,
    csrf_token,
    device_token,
    device_user,
    split_credential,
    verify_secret,
)

SESSION_COOKIE = "ew_session"
DEVICE_COOKIE = "ew_device"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

FORBIDDEN = HTTPException(status_code=403, detail="forbidden")


def unauthorized() -> HTTPException:
    return HTTPException(
        status_code=401, detail="authentication required", headers={"WWW-Authenticate": "Bearer"}
    )


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: int
    username: str
    role: str
    pseudonym: str
    credential_id: str
    kind: str  # "token" | "session"
    scope: Scope = field(default_factory=Scope)

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "pseudonym": self.pseudonym,
            "auth": self.kind,
        }


class CredentialCache:
    """Verified credentials kept in memory for ``ttl`` seconds (scrypt is slow on purpose)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[Principal, float]] = {}

    def get(self, key: str) -> Principal | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[1] < time.monotonic():
            self._items.pop(key, None)
            return None
        return hit[0]

    def put(self, key: str, p: Principal) -> None:
        self._items[key] = (p, time.monotonic() + self.ttl)

    def forget(self, credential_id: str | None = None, user_id: int | None = None) -> None:
        """Drop cached credentials (all, one credential, or all of one user)."""
        for k, (p, _) in list(self._items.items()):
            if (
                (credential_id is None and user_id is None)
                or p.credential_id == credential_id
                or p.user_id == user_id
            ):
                self._items.pop(k, None)


def _aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def load_principal(factory: Any, value: str) -> Principal | None:
    """Check a credential string against the database (sync; scrypt)."""
    parts = split_credential(value)
    if parts is None:
        return None
    kind, public, secret = parts
    with factory() as s:
        row = s.execute(
            select(Credential, User)
            .join(User, User.id == Credential.user_id)
            .where(Credential.id == public)
        ).first()
        if row is None:
            return None
        cred, user = row
        want = "token" if kind == "tok" else "session"
        expires = _aware(cred.expires_at)
        if (
            cred.kind != want
            or cred.revoked
            or not user.active
            or (expires is not None and expires < datetime.now(UTC))
        ):
            return None
        if not verify_secret(secret, cred.secret_hash):
            return None
        return Principal(
            user.id,
            user.username,
            user.role,
            user.pseudonym,
            cred.id,
            cred.kind,
            scope_for(s, user.id, user.role),
        )


def credential_live(factory: Any, credential_id: str, idle_minutes: float) -> bool:
    """Is the credential still valid (not revoked, not expired, user enabled)? Slides a
    session's expiry forward (at most once a minute) and notes when a credential was
    last used (at most every five minutes), so listing sessions shows it."""
    now = datetime.now(UTC)
    with factory() as s:
        row = s.execute(
            select(
                Credential.revoked,
                Credential.expires_at,
                Credential.absolute_expires_at,
                Credential.kind,
                Credential.last_used_at,
                User.active,
            )
            .join(User, User.id == Credential.user_id)
            .where(Credential.id == credential_id)
        ).first()
        if row is None:
            return False
        revoked, expires, absolute, kind, last_used, active = row
        expires, absolute, last_used = _aware(expires), _aware(absolute), _aware(last_used)
        if revoked or not active or (expires is not None and expires < now):
            return False
        values: dict[str, Any] = {}
        if kind == "session" and expires is not None and idle_minutes > 0:
            slid = now + timedelta(minutes=idle_minutes)
            if absolute is not None:
                slid = min(slid, absolute)
            if slid - expires > timedelta(seconds=60):
                values["expires_at"] = slid
        if last_used is None or now - last_used > timedelta(minutes=5):
            values["last_used_at"] = now
        if values:
            s.execute(update(Credential).where(Credential.id == credential_id).values(values))
            s.commit()
        return True


async def _authenticate(request: Request) -> Principal | None:
    ctx = request.app.state.ctx
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise unauthorized()
        value = value.strip()
    else:
        value = request.cookies.get(SESSION_COOKIE, "")
        if not value:
            return None
    key = cache_key(value)
    principal = ctx.credentials.get(key)
    if principal is None:
        principal = await anyio.to_thread.run_sync(load_principal, ctx.factory, value)
        if principal is None:
            raise unauthorized()
        ctx.credentials.put(key, principal)
    elif not await anyio.to_thread.run_sync(
        credential_live, ctx.factory, principal.credential_id, ctx.settings.session_idle_minutes
    ):
        ctx.credentials.forget(credential_id=principal.credential_id)
        raise unauthorized()
    if principal.kind == "session" and header:
        raise unauthorized()  # a session secret is a cookie, never a bearer token
    allowed, wait = await ctx.limiter.allow(principal.credential_id)
    if not allowed:
        raise HTTPException(
            status_code=429,
            detail="rate limit exceeded",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    if principal.kind == "session" and request.method in UNSAFE:
        token = request.headers.get(CSRF_HEADER)
        if token is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            raw = form.get(CSRF_FIELD)
            token = raw if isinstance(raw, str) else None
        if not check_csrf(ctx.secret_key, principal.credential_id, token):
            raise HTTPException(status_code=403, detail="CSRF token missing or invalid")
    return principal


async def optional_principal(request: Request) -> Principal | None:
    """The caller, or None when no credential was sent (pages redirect to the login form)."""
    p = await _authenticate(request)
    request.state.principal = p
    return p


async def current_principal(request: Request) -> Principal:
    """The caller; 401 without a valid credential."""
    p = await optional_principal(request)
    if p is None:
        raise unauthorized()
    return p


def require_roles(*roles: str) -> Callable[..., Any]:
    """Dependency admitting only ``roles``; its ``roles`` attribute declares the policy."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(request: Request) -> Principal:
        p = await current_principal(request)
        if p.role not in roles:
            raise FORBIDDEN
        return p

    dependency.roles = tuple(roles)  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{'_'.join(roles)}"
    return dependency


async def public() -> None:
    """Marker dependency of routes anyone may call (health, login)."""


public.roles = ("public",)  # type: ignore[attr-defined]

ANY_ROLE = require_roles(*ROLES)
OBSERVER = require_roles("observer")
STAFF_READ = require_roles("coordinator", "analyst", "admin")
COORDINATION = require_roles("coordinator", "admin")
ADMIN = require_roles("admin")


def session_csrf(settings_secret: str | None, principal: Principal | None) -> str | None:
    """The CSRF token pages must put in forms (None without a web session)."""
    if principal is None or principal.kind != "session" or not settings_secret:
        return None
    return csrf_token(settings_secret, principal.credential_id)


# --- password login -------------------------------------------------------------------
_DUMMY: dict[tuple[int, int, int], str] = {}


def dummy_hash() -> str:
    """A hash with the current scrypt parameters of a secret nobody knows: unknown and
    disabled user names are checked against it, so they cost what a real one does."""
    params = (_cred.SCRYPT_N, _cred.SCRYPT_R, _cred.SCRYPT_P)
    if params not in _DUMMY:
        _DUMMY[params] = _cred.hash_secret(secrets.token_urlsafe(24))
    return _DUMMY[params]


def check_password(s: Any, username: str, password: str) -> User | None:
    """The user if ``password`` is theirs. One scrypt computation whatever happens:
    unknown, disabled and password-less users are checked against :func:`dummy_hash`."""
    user = s.scalar(select(User).where(User.username == username))
    usable = user is not None and user.active and bool(user.password_hash)
    stored = user.password_hash if usable and user is not None else dummy_hash()
    ok = verify_secret(password, stored)
    return user if ok and usable else None


@dataclass
class LoginOutcome:
    """A password login: ``status`` 200 with the new session, else 401 or 429."""

    status: int
    message: str
    retry_after: float = 0.0
    user_id: int | None = None
    username: str = ""
    role: str = ""
    pseudonym: str = ""
    session: str | None = None


def _name_key(username: str) -> str:
    # the typed name is hashed: people type passwords into the name field
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def request_client(request: Request, trusted: tuple[str, ...]) -> str | None:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted)


def _login_sync(
    ctx: Any, username: str, password: str, client: str, device_uid: int | None
) -> LoginOutcome:
    st = ctx.settings
    counters = ctx.counters
    window = counters.window_of(st.login_window_seconds)
    wait = st.login_window_seconds - (time.time() % st.login_window_seconds)
    name = _name_key(username)
    refused = LoginOutcome(429, "too many login attempts", retry_after=wait)
    # per client (any name), then per name from this client; only then the name's
    # account-wide count, which a client holding the user's device cookie skips
    if counters.hit(f"login-c:{client}", window) > st.login_client_attempts:
        return refused
    if counters.hit(f"login-uc:{name}:{client}", window) > st.login_user_client_attempts:
        return refused
    with ctx.factory() as s:
        known = s.scalar(select(User.id).where(User.username == username))
    if (device_uid is None or device_uid != known) and counters.hit(
        f"login-u:{name}", window
    ) > st.login_user_attempts:
        return refused
    with ctx.factory() as s, s.begin():
        user = check_password(s, username, password)
        if user is None:
            audit(
                s,
                "anonymous",
                "auth.login_failed",
                "user",
                s.scalar(select(User.pseudonym).where(User.id == known)) if known else "-",
            )
            return LoginOutcome(401, "wrong username or password")
        session = issue_credential(
            s,
            user,
            "ses",
            label="web login",
            hours=st.session_hours,
            idle_minutes=st.session_idle_minutes,
            actor=user.pseudonym,
        )
        audit(
            s,
            user.pseudonym,
            "auth.login",
            "user",
            user.pseudonym,
            None,
            {"credential": split_credential(session)[1]},  # type: ignore[index]  # just made
        )
        return LoginOutcome(
            200, "ok", 0.0, user.id, user.username, user.role, user.pseudonym, session
        )


async def password_login(request: Request, username: str, password: str) -> LoginOutcome:
    """Check a password login against the guess limits and the database (both login
    routes call this)."""
    ctx = request.app.state.ctx
    client = client_key(ctx.secret_key, request_client(request, ctx.settings.trusted_proxies))
    device_uid = device_user(ctx.secret_key, request.cookies.get(DEVICE_COOKIE))
    return await anyio.to_thread.run_sync(
        _login_sync, ctx, username.strip(), password, client, device_uid
    )


def set_login_cookies(response: Response, ctx: Any, outcome: LoginOutcome) -> None:
    """The session cookie (lives as long as the absolute session limit; the server
    enforces the sliding idle limit) and the long-lived device cookie."""
    st = ctx.settings
    assert outcome.session is not None and outcome.user_id is not None
    response.set_cookie(
        SESSION_COOKIE,
        outcome.session,
        httponly=True,
        samesite="lax",
        secure=st.cookie_secure,
        max_age=int(st.session_hours * 3600),
        path="/",
    )
    response.set_cookie(
        DEVICE_COOKIE,
        device_token(ctx.secret_key, outcome.user_id),
        httponly=True,
        samesite="lax",
        secure=st.cookie_secure,
        max_age=365 * 24 * 3600,
        path="/",
    )


def declared_roles(route: Any) -> tuple[str, ...] | None:
    """The roles a route admits, read from its dependencies (None if it declares none)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    stack = list(dependant.dependencies)
    while stack:
        d = stack.pop()
        roles = getattr(d.call, "roles", None)
        if roles is not None:
            return tuple(roles)
        stack.extend(d.dependencies)
    return None


@dataclass(frozen=True)
class RouteInfo:
    """One endpoint of the app, with its full path and declared roles."""

    path: str
    methods: frozenset[str]
    route: Any
    roles: tuple[str, ...] | None


def iter_routes(app: Any) -> list[RouteInfo | Any]:
    """Flatten ``app.routes``: API routes (also inside included routers) as
    :class:`RouteInfo`, every other route (docs, mounts) as it is."""
    out: list[RouteInfo | Any] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # FastAPI's lazily included routers
            for c in contexts():
                r = c.original_route
                out.append(
                    RouteInfo(
                        c.path or r.path, frozenset(c.methods or r.methods), r, declared_roles(r)
                    )
                )
        elif getattr(route, "dependant", None) is not None:
            out.append(
                RouteInfo(route.path, frozenset(route.methods), route, declared_roles(route))
            )
        else:
            out.append(route)
    return out
