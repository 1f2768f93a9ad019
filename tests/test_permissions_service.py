# ruff: noqa: F811  (pytest fixtures imported from service_support)
"""Every route of the app, tried by every role (and by an anonymous caller).

Routes are enumerated from ``app.routes``, so a new route cannot escape: it must
declare its roles (``require_roles`` or ``public`` in electwatch.web.auth), API
routes must also appear in ``EXPECTED`` below (the written policy), and the
declared policy is then enforced: allowed roles are never refused, forbidden roles
get 403 and a body that carries no data, anonymous callers get 401 (or, for HTML
pages, a redirect to the login page).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from PIL import Image
from starlette.routing import Mount

from electwatch.storage import service as svc
from electwatch.storage.db import transaction
from electwatch.web.auth import RouteInfo, iter_routes
from service_support import Service, db_url, make_service  # noqa: F401

ROLES = ("observer", "coordinator", "analyst", "admin")
ALL = frozenset(ROLES)
PUBLIC = frozenset({"public"})
OBS = frozenset({"observer"})
COORD = frozenset({"coordinator", "admin"})
STAFF = frozenset({"coordinator", "analyst", "admin"})
ADMIN = frozenset({"admin"})
DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}

#: the written permission policy of the JSON API
EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/health"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("GET", "/api/me"): ALL,
    ("POST", "/api/auth/logout"): ALL,
    ("GET", "/api/elections"): ALL,
    ("GET", "/api/elections/{election_id}"): ALL,
    ("GET", "/api/elections/{election_id}/stations"): ALL,
    ("GET", "/api/elections/{election_id}/areas"): STAFF,
    ("POST", "/api/elections/{election_id}/reports"): OBS,
    ("GET", "/api/elections/{election_id}/reports"): ALL,
    ("GET", "/api/reports/{report_id}"): ALL,
    ("PUT", "/api/reports/{report_id}"): OBS,
    ("POST", "/api/reports/{report_id}/quarantine"): COORD,
    ("POST", "/api/reports/{report_id}/release"): COORD,
    ("POST", "/api/elections/{election_id}/reports/import"): COORD,
    ("POST", "/api/reports/{report_id}/evidence"): OBS,
    ("GET", "/api/evidence/{sha256}"): frozenset({"observer", "coordinator", "admin"}),
    ("GET", "/api/elections/{election_id}/records"): STAFF,
    ("GET", "/api/elections/{election_id}/conflicts"): STAFF,
    ("GET", "/api/elections/{election_id}/stations/{station_code}/record"): STAFF,
    ("POST", "/api/elections/{election_id}/stations/{station_code}/verify"): COORD,
    ("POST", "/api/elections/{election_id}/stations/{station_code}/override"): COORD,
    ("POST", "/api/elections/{election_id}/stations/{station_code}/clear"): COORD,
    ("GET", "/api/elections/{election_id}/estimate"): STAFF,
    ("POST", "/api/elections"): ADMIN,
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("POST", "/api/users/{pseudonym}/tokens"): ADMIN,
    ("POST", "/api/users/{pseudonym}/disable"): ADMIN,
    ("POST", "/api/users/{pseudonym}/enable"): ADMIN,
    ("GET", "/api/users/{pseudonym}/credentials"): ADMIN,
    ("DELETE", "/api/users/{pseudonym}/credentials"): ADMIN,
    ("DELETE", "/api/credentials/{credential_id}"): ADMIN,
    ("POST", "/api/users/{pseudonym}/assignments"): ADMIN,
    ("POST", "/api/users/{pseudonym}/areas"): ADMIN,
    ("GET", "/api/audit"): ADMIN,
    ("GET", "/api/elections/{election_id}/export"): COORD,
    ("DELETE", "/api/reports/{report_id}"): ADMIN,
    ("DELETE", "/api/evidence/{sha256}"): ADMIN,
    ("POST", "/api/elections/{election_id}/snapshots"): OBS,
    ("GET", "/api/elections/{election_id}/snapshots"): ALL,
}


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[tuple[Service, dict[str, str]]]:
    for service in make_service(db_url, tmp_path, rate_per_second=1000.0, rate_burst=1000):
        sd, c = service.seed, service.client
        station = sd.station_in_region
        body = {
            "id": str(uuid.uuid4()),
            "station": station,
            "window_start": "08:00",
            "window_end": "20:00",
            "voters": 99,
            "notes": "SECRET-NOTE",
        }
        r = c.post(
            f"/api/elections/{sd.election_id}/reports", json=body, headers=service.h("observer")
        )
        assert r.status_code == 201, r.text
        ev = c.post(
            f"/api/reports/{body['id']}/evidence",
            headers=service.h("observer"),
            files={"file": ("p.jpg", jpeg(), "image/jpeg")},
        )
        assert ev.status_code == 201, ev.text
        with transaction(service.factory) as s:  # type: ignore[arg-type]
            victim = svc.create_user(s, "observer").pseudonym
        params = {
            "victim": victim,
            "election_id": str(sd.election_id),
            "report_id": body["id"],
            "station_code": station,
            "sha256": ev.json()["sha256"],
            "pseudonym": sd.users["observer"].pseudonym,
            "name": "electwatch.css",
        }
        yield service, params


def fresh_token(service: Service, role_key: str) -> tuple[str, str]:
    """A new token of the seeded user (for routes that revoke the credential they use)."""
    from sqlalchemy import select

    from electwatch.storage.models import User

    with transaction(service.factory) as s:  # type: ignore[arg-type]
        u = s.scalar(select(User).where(User.pseudonym == service.seed.users[role_key].pseudonym))
        tok = svc.issue_credential(s, u, "tok", "permission-test")
    return tok, tok.split("_")[1]


def request_for(
    service: Service, method: str, path: str, params: dict[str, str], headers: dict[str, str]
) -> tuple[int, str]:
    url = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)
    kwargs: dict[str, object] = {"headers": headers}
    if path.endswith("/evidence"):
        kwargs["files"] = {"file": ("x.jpg", jpeg(), "image/jpeg")}
    elif path.endswith("/import"):
        kwargs["files"] = {
            "file": ("r.csv", b"station,observer,window_start,window_end,voters\n", "text/csv")
        }
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    r = service.client.request(method, url, follow_redirects=False, **kwargs)  # type: ignore[arg-type]
    return r.status_code, r.text


def leaks(text: str, service: Service, params: dict[str, str]) -> list[str]:
    secrets = [
        params["report_id"],
        params["sha256"],
        params["station_code"],
        "SECRET-NOTE",
        *(u.pseudonym for u in service.seed.users.values()),
    ]
    return [s for s in secrets if s in text]


def test_every_route_declares_roles_and_api_policy_is_written(
    world: tuple[Service, dict[str, str]],
) -> None:
    service, _ = world
    api_routes = set()
    for route in iter_routes(service.client.app):
        if isinstance(route, RouteInfo):
            assert isinstance(route.route, APIRoute), route.path
            roles = route.roles
            assert roles, f"{sorted(route.methods)} {route.path} declares no roles"
            if route.path.startswith("/api/"):
                for m in route.methods:
                    api_routes.add((m, route.path))
                    assert frozenset(roles) == EXPECTED.get((m, route.path)), (m, route.path)
        elif isinstance(route, Mount):
            assert route.path.startswith("/static"), f"unexpected mount {route.path}"
        else:
            assert route.path in DOC_ROUTES, f"undeclared route {route.path}"
    assert api_routes == set(EXPECTED), set(EXPECTED) ^ api_routes


def test_every_route_by_every_role(world: tuple[Service, dict[str, str]]) -> None:
    service, params = world
    tried = 0
    for route in iter_routes(service.client.app):
        if not isinstance(route, RouteInfo):
            continue
        allowed = frozenset(route.roles or ())
        is_api = route.path.startswith("/api/")
        for method in sorted(route.methods):
            for role in (None, *ROLES):
                headers: dict[str, str] = {}
                if role is not None:
                    headers = dict(service.h(role))
                    if route.path.endswith(("/logout", "/credentials/{credential_id}")):
                        tok, cred_id = fresh_token(service, role)
                        headers = {"Authorization": f"Bearer {tok}"}
                        params = {**params, "credential_id": cred_id}
                elif "credential_id" not in params:
                    params = {**params, "credential_id": "0" * 16}
                path = route.path
                if path.endswith(("/disable", "/enable", "/{pseudonym}/credentials")):
                    # a user of its own: disabling the seeded observer would end its token
                    path = path.replace("{pseudonym}", "{victim}")
                status, text = request_for(service, method, path, params, headers)
                tried += 1
                where = f"{role or 'anonymous'} {method} {route.path} -> {status} {text[:200]}"
                assert status < 500, where
                if "public" in allowed:
                    assert status not in (401, 403), where
                elif role is None:
                    assert status == 401 or (not is_api and status in (302, 303, 307)), where
                    assert not leaks(text, service, params), where
                elif role in allowed:
                    assert status not in (401, 403), where
                else:
                    assert status == 403, where
                    assert not leaks(text, service, params), where
                    if is_api:
                        assert json.loads(text) == {"detail": "forbidden"}, where
    assert tried >= 5 * len(EXPECTED)
