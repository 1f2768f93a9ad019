# ruff: noqa: F811  (pytest fixtures imported from service_support)
"""The report fast path (web/fastpath.py) answers exactly as the declared route.

Every request is sent twice to the same app, once with the fast path on and once
off, and the two answers (status, and the JSON body without the per-report id and
receipt time) must be equal; the fast path must actually have answered the valid
submissions and nothing else.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from service_support import Service, db_url, make_service, service  # noqa: F401


def body(station: str, voters: int = 120, rid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": rid or str(uuid.uuid4()),
        "station": station,
        "window_start": "08:00",
        "window_end": "20:00",
        "voters": voters,
        **extra,
    }


def normalized(r: Any) -> tuple[int, Any]:
    data = r.json()
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in ("id", "received_at")}
        if isinstance(data.get("detail"), list):  # FastAPI's 422: the input echoes the id
            for e in data["detail"]:
                if isinstance(e.get("input"), dict):
                    e["input"] = {k: v for k, v in e["input"].items() if k != "id"}
    return r.status_code, data


def both(service: Service, method: str, make: Any) -> list[tuple[int, Any]]:
    """``make()`` -> request kwargs; the answers with the fast path on, then off."""
    out = []
    for on in (True, False):
        service.settings.report_fast_path = on
        out.append(normalized(method(**make())))
    service.settings.report_fast_path = True
    return out


def test_fast_path_answers_as_the_route(service: Service) -> None:
    c, sd = service.client, service.seed
    ctx = c.app.state.ctx  # type: ignore[attr-defined]
    url = f"/api/elections/{sd.election_id}/reports"
    obs, coord = service.h("observer"), service.h("coordinator")
    mine, other = sd.observer_stations[0], sd.station_outside_region
    assigned_elsewhere = next(s for s in sd.stations if s not in sd.observer_stations)
    assert c.get("/api/me", headers=obs).status_code == 200  # token now cached
    assert c.get("/api/me", headers=coord).status_code == 200
    hits = ctx.fast_path_reports

    def post(**kw: Any) -> Any:
        return c.post(url, **kw)

    # a new valid report: 201 with the same body either way
    on, off = both(service, post, lambda: {"json": body(mine, 120), "headers": obs})
    assert on == off and on[0] == 201 and on[1]["duplicate"] is False
    assert ctx.fast_path_reports == hits + 1
    # a resend (same id, same content) and a reused id with other content
    fixed = body(mine, 130)
    assert post(json=fixed, headers=obs).status_code == 201
    on, off = both(service, post, lambda: {"json": fixed, "headers": obs})
    assert on == off and on[0] == 200 and on[1]["duplicate"] is True
    clash = {**fixed, "voters": 131}
    on, off = both(service, post, lambda: {"json": clash, "headers": obs})
    assert on == off and on[0] == 409
    # unknown station and a station not assigned to this observer
    on, off = both(service, post, lambda: {"json": body("NO-SUCH"), "headers": obs})
    assert on == off and on[0] == 422
    on, off = both(service, post, lambda: {"json": body(assigned_elsewhere), "headers": obs})
    assert on == off and on[0] == 403
    counted = ctx.fast_path_reports
    assert counted == hits + 1 + 1 + 1 + 1 + 1 + 1  # each "on" above, plus the first resend

    # everything below is handed to the route: same answers, no fast-path count
    bad_window = body(mine, window_start="21:00")
    on, off = both(service, post, lambda: {"json": bad_window, "headers": obs})
    assert on == off and on[0] == 422
    on, off = both(service, post, lambda: {"content": b"{not json", "headers": obs})
    assert on == off and on[0] == 422
    as_text = {
        "content": b'{"id": "%s", "station": "%s", "window_start": "08:00", '
        b'"window_end": "20:00", "voters": 5}' % (str(uuid.uuid4()).encode(), mine.encode()),
        "headers": {**obs, "Content-Type": "text/plain"},
    }
    on, off = both(service, post, lambda: as_text)
    assert on == off and on[0] == 422
    on, off = both(service, post, lambda: {"json": body(other), "headers": coord})
    assert on == off and on[0] == 403
    on, off = both(service, post, lambda: {"json": body(mine), "headers": {}})
    assert on == off and on[0] == 401
    on, off = both(
        service,
        post,
        lambda: {"json": body(mine), "headers": {"Authorization": "Bearer ewtok_x_y"}},
    )
    assert on == off and on[0] == 401
    big = body(mine, notes="x" * 70_000)  # beyond the fast path's body limit
    on, off = both(service, post, lambda: {"json": big, "headers": obs})
    assert on == off and on[0] == 422
    assert ctx.fast_path_reports == counted


def test_fast_path_keeps_the_rate_limit(db_url: str, tmp_path: Path) -> None:
    for svc in make_service(db_url, tmp_path, rate_per_second=0.01, rate_burst=3):
        c, sd = svc.client, svc.seed
        url = f"/api/elections/{sd.election_id}/reports"
        obs = svc.h("observer")
        codes = [
            c.post(url, json=body(sd.observer_stations[0], 10 + k), headers=obs).status_code
            for k in range(5)
        ]
        # the first request fills the credential cache (route), two more go the fast
        # path, then the bucket is empty: the route answers 429 and nothing is written
        assert codes == [201, 201, 201, 429, 429]
        r = c.post(url, json=body(sd.observer_stations[0]), headers=obs)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert c.app.state.ctx.fast_path_reports == 2  # type: ignore[attr-defined]
        listed = c.get(url, headers=svc.h("admin")).json()
        assert listed["total"] == 3
