"""Authentication and role checks shared by the API and the HTML pages.

Two ways in:

* API clients send ``Authorization: Bearer ewtok_<id>_<secret>``.
* Browsers hold a web session in the ``ew_session`` cookie (HttpOnly, SameSite=Lax);
  every unsafe request (POST/PUT/PATCH/DELETE) authenticated by the cookie must carry
  the session's CSRF token in the ``X-CSRF-Token`` header or a ``csrf_token`` form field.

Every credential has a token bucket (:class:`~electwatch.web.security.RateLimiter`);
an exhausted bucket answers 429. Routes declare who may call them with
:func:`require_roles` (or :data:`public`); the permission tests read these
declarations from ``app.routes`` and try every route with every role.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import HTTPException, Request
from sqlalchemy import select

from electwatch.storage.models import ROLES, Credential, User
from electwatch.storage.service import Scope, scope_for
from electwatch.web.security import (
    cache_key,
    check_csrf,
    csrf_token,
    split_credential,
    verify_secret,
)

SESSION_COOKIE = "ew_session"
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
    if principal.kind == "session" and header:
        raise unauthorized()  # a session secret is a cookie, never a bearer token
    allowed, wait = ctx.limiter.allow(principal.credential_id)
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
        if not check_csrf(ctx.settings.secret_key, principal.credential_id, token):
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


def session_csrf(settings_secret: str, principal: Principal | None) -> str | None:
    """The CSRF token pages must put in forms (None without a web session)."""
    if principal is None or principal.kind != "session":
        return None
    return csrf_token(settings_secret, principal.credential_id)


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
