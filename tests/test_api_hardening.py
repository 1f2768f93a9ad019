# ruff: noqa: F811, F402  (pytest fixtures imported from service_support)
"""The audit's failures, one test each, on SQLite and PostgreSQL (issue 14, items 1-3
and 7): isolation and validation, plausibility quarantine, accounts and sessions, guess
limits, same-path login, audit of imports, TLS switches, encryption of notes."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from electwatch.storage.models import AuditEntry, Report, Station
from electwatch.storage.writer import ReportIn, ReportWriter
from service_support import Service, db_url, make_service, service  # noqa: F401


def body(station: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "station": station,
        "window_start": "08:00",
        "window_end": "20:00",
        "voters": 120,
        **kw,
    }


def post_raw(service: Service, raw: str, role: str = "observer") -> Any:
    return service.client.post(
        f"/api/elections/{service.seed.election_id}/reports",
        content=raw.encode("utf-8", "surrogatepass"),
        headers={**service.h(role), "content-type": "application/json"},
    )


def stored(service: Service, report_id: str) -> Report | None:
    with service.factory() as s:  # type: ignore[operator]
        return s.get(Report, uuid.UUID(report_id))


# --- 1. validation: every bad value is a 422 naming the field, never a 500 -----------
def test_audit_inputs_are_422_naming_the_field(service: Service) -> None:
    sd = service.seed
    st = sd.station_in_region
    good = body(st)
    cases = {
        "voters": json.dumps(good)[:-1] + ', "voters": NaN}',
        "notes": json.dumps(good)[:-1] + ', "notes": "\\ud800"}',
    }
    for field, raw in cases.items():
        r = post_raw(service, raw)
        assert r.status_code == 422, (field, r.text)
        assert field in json.dumps(r.json()["detail"]), r.text
    for value, field in [
        (True, "voters"),
        (1.5, "voters"),
        ("²", "voters"),
        ("-3", "voters"),
        ("1e3", "voters"),
    ]:
        r = service.client.post(
            f"/api/elections/{sd.election_id}/reports",
            json={**body(st), field: value},
            headers=service.h("observer"),
        )
        assert r.status_code == 422, (value, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field or field in str(r.json()["detail"])
    nul = service.client.post(
        f"/api/elections/{sd.election_id}/reports",
        json=body(st, notes="a\x00b"),
        headers=service.h("observer"),
    )
    assert nul.status_code == 422 and "notes" in nul.text
    for path in (f"/api/elections/{2**31}", f"/api/elections/{10**20}/reports"):
        r = service.client.get(path, headers=service.h("admin"))
        assert r.status_code == 422 and "election_id" in r.text, r.text
    r = service.client.get(
        f"/api/elections/{sd.election_id}/reports?offset={10**20}", headers=service.h("admin")
    )
    assert r.status_code == 422 and "offset" in r.text
    r = service.client.get(
        f"/api/elections/{sd.election_id}/reports?station=a%00b", headers=service.h("admin")
    )
    assert r.status_code == 422


def test_counts_in_any_script_are_numbers(service: Service) -> None:
    b = body(service.seed.station_in_region, voters="۱۲۳", hourly=None)
    r = service.client.post(
        f"/api/elections/{service.seed.election_id}/reports", json=b, headers=service.h("observer")
    )
    assert r.status_code == 201, r.text
    assert r.json()["voters"] == 123
    rep = stored(service, b["id"])
    assert rep is not None and rep.voters == 123


def test_large_bodies_are_not_echoed_and_anonymous_ones_not_read(service: Service) -> None:
    big = "x" * (2 * 1024 * 1024)
    r = service.client.post(
        f"/api/elections/{service.seed.election_id}/reports",
        json=body(service.seed.station_in_region, notes=big),
        headers=service.h("observer"),
    )
    assert r.status_code == 422 and len(r.content) < 2000
    anon = service.client.post(
        f"/api/elections/{service.seed.election_id}/reports",
        content=b"{" + b" " * (1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    assert anon.status_code == 413
    forged = service.client.post(
        f"/api/elections/{service.seed.election_id}/reports",
        content=b"{" + b" " * (1024 * 1024) + b"}",
        headers={"content-type": "application/json", "authorization": "Bearer ewtok_ab_cd"},
    )
    assert forged.status_code == 413


# --- 1. isolation: one report's failure never touches another's -----------------------
def test_a_failing_report_in_a_batch_leaves_the_others_stored(service: Service) -> None:
    """The writer is handed (bypassing validation) a report the database refuses: a NUL
    byte (PostgreSQL) / an unknown observer id (foreign key, SQLite) in the same batch as
    25 valid reports. Only that one fails; the 25 are stored and acknowledged."""
    sd = service.seed
    with service.factory() as s:  # type: ignore[operator]
        from electwatch.storage.models import User

        obs = s.scalar(select(User).where(User.pseudonym == sd.users["observer"].pseudonym))
        assert obs is not None
        oid = obs.id

    def item(**kw: Any) -> ReportIn:
        base: dict[str, Any] = dict(
            id=uuid.uuid4(),
            election_id=sd.election_id,
            station_code=sd.station_in_region,
            observer_id=oid,
            observer=sd.users["observer"].pseudonym,
            window_start=480,
            window_end=1200,
            voters=100,
        )
        return ReportIn(**{**base, **kw})

    bad = item(notes="bad\x00note")
    good = [item() for _ in range(25)]

    async def run() -> list[Any]:
        w = ReportWriter(service.factory, 256)  # type: ignore[arg-type]
        w.start()
        try:
            return await asyncio.gather(
                *(w.submit(i) for i in [*good[:12], bad, *good[12:]]), return_exceptions=True
            )
        finally:
            await w.stop()

    results = asyncio.run(run())
    outcomes = [r.outcome if not isinstance(r, BaseException) else "error" for r in results]
    assert outcomes.count("created") == 25 + (1 if outcomes[12] == "created" else 0)
    for g in good:
        assert stored(service, str(g.id)) is not None


@pytest.mark.parametrize("n", [25])
def test_concurrent_nul_report_affects_no_other(service: Service, n: int) -> None:
    """The audit's case over HTTP: one observer's NUL note sent while another observer
    sends 25 valid reports at the same moment."""
    sd = service.seed
    codes: list[int] = []
    lock = threading.Lock()

    def send(role: str, b: dict[str, Any]) -> None:
        r = service.client.post(
            f"/api/elections/{sd.election_id}/reports", json=b, headers=service.h(role)
        )
        with lock:
            codes.append(r.status_code)

    good = [body(sd.station_in_region) for _ in range(n)]
    threads = [threading.Thread(target=send, args=("observer2", b)) for b in good]
    threads.append(
        threading.Thread(target=send, args=("observer", body(sd.station_in_region, notes="x\x00y")))
    )
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201] * n + [422], codes
    assert all(stored(service, b["id"]) is not None for b in good)


def test_resend_with_another_station_is_refused(service: Service) -> None:
    sd = service.seed
    b = body(sd.observer_stations[0])
    url = f"/api/elections/{sd.election_id}/reports"
    assert service.client.post(url, json=b, headers=service.h("observer")).status_code == 201
    r = service.client.post(
        url, json={**b, "station": sd.observer_stations[1]}, headers=service.h("observer")
    )
    assert r.status_code == 409 and sd.observer_stations[0] not in r.text


# --- 2. plausibility -----------------------------------------------------------------
def test_implausible_reports_are_quarantined_and_kept_out_of_the_estimate(
    service: Service,
) -> None:
    sd = service.seed
    st = sd.station_in_region
    with service.factory() as s:  # type: ignore[operator]
        registered = s.scalar(
            select(Station.registered).where(
                Station.election_id == sd.election_id, Station.code == st
            )
        )
    assert registered is not None
    url = f"/api/elections/{sd.election_id}/reports"
    cases = {
        "registered": body(st, voters=min(registered + 1, 100_000)),
        "physical maximum": body(st, window_start="08:00", window_end="09:00", voters=601),
        "hourly counts": body(
            st, window_start="08:00", window_end="09:00", voters=12, hourly=[1] * 12
        ),
        "polling hours": body(st, window_start="05:00", window_end="09:00", voters=10),
    }
    for why, b in cases.items():
        r = service.client.post(url, json=b, headers=service.h("observer"))
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "quarantined", (why, r.json())
        assert why in r.json()["status_reason"], (why, r.json()["status_reason"])
    ok = body(st, voters=100)
    assert service.client.post(url, json=ok, headers=service.h("observer")).json()["status"] == (
        "submitted"
    )
    queue = service.client.get(f"{url}?status=quarantined", headers=service.h("coordinator"))
    assert queue.json()["total"] == 4
    assert all(r["status_reason"] for r in queue.json()["reports"])
    records = service.client.get(
        f"/api/elections/{sd.election_id}/records", headers=service.h("analyst")
    ).json()
    rec = next(r for r in records["records"] if r["station"] == st)
    assert rec["voters"] == 100  # only the plausible report


def test_per_election_physical_maximum(service: Service) -> None:
    r = service.client.post(
        "/api/elections",
        json={"name": "SYNTHETIC max", "max_voters_per_hour": 200},
        headers=service.h("admin"),
    )
    assert r.status_code == 201 and r.json()["max_voters_per_hour"] == 200


# --- 3. accounts and sessions ---------------------------------------------------------
def test_disable_user_is_effective_at_once_and_audited(service: Service) -> None:
    sd, c = service.seed, service.client
    url = f"/api/elections/{sd.election_id}/reports"
    assert c.post(url, json=body(sd.station_in_region), headers=service.h("observer")).status_code
    pseud = sd.users["observer"].pseudonym
    r = c.post(f"/api/users/{pseud}/disable", headers=service.h("admin"))
    assert r.status_code == 200 and r.json()["active"] is False
    # the token is cached by the fast path; the writer re-checks it in its transaction
    assert (
        c.post(url, json=body(sd.station_in_region), headers=service.h("observer")).status_code
        == 401
    )
    assert c.get("/api/me", headers=service.h("observer")).status_code == 401
    assert c.post(f"/api/users/{pseud}/enable", headers=service.h("admin")).status_code == 200
    assert c.get("/api/me", headers=service.h("observer")).status_code == 200
    creds = c.get(f"/api/users/{pseud}/credentials", headers=service.h("admin")).json()
    assert creds and all("secret" not in json.dumps(x) for x in creds)
    ended = c.delete(f"/api/users/{pseud}/credentials", headers=service.h("admin")).json()
    assert len(ended["ended"]) == len([x for x in creds if not x["revoked"]])
    assert c.get("/api/me", headers=service.h("observer")).status_code == 401
    actions = {a["action"] for a in c.get("/api/audit", headers=service.h("admin")).json()}
    assert {"user.disable", "user.enable", "credential.revoke_all"} <= actions


def test_logins_failures_and_sessions_are_audited_and_slide(service: Service) -> None:
    c = service.client
    admin = service.seed.users["admin"]
    assert (
        c.post(
            "/api/auth/login", json={"username": admin.username, "password": "wrong-password"}
        ).status_code
        == 401
    )
    r = c.post("/api/auth/login", json={"username": admin.username, "password": admin.password})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and f"Max-Age={(12 * 3600)}" in cookie
    actions = [a["action"] for a in c.get("/api/audit", headers=service.h("admin")).json()]
    assert "auth.login" in actions and "auth.login_failed" in actions
    from electwatch.storage.models import Credential

    with service.factory() as s:  # type: ignore[operator]
        ses = s.scalars(select(Credential).where(Credential.kind == "session")).all()
        assert ses and all(x.absolute_expires_at is not None for x in ses)
        # idle timeout (2 h) well before the absolute limit (12 h)
        assert all(
            (x.absolute_expires_at - x.expires_at).total_seconds() > 9 * 3600  # type: ignore[operator]
            for x in ses
        )


def test_unknown_and_known_names_take_the_same_scrypt_path(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asserted by path, not timing: the scrypt calls (with their cost parameters) of a
    wrong password for a real user equal those of an unknown user, on both routes."""
    import hashlib

    from electwatch.storage import credentials

    calls: list[tuple[int, int, int]] = []
    real = hashlib.scrypt

    def spy(password: bytes, *, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
        calls.append((n, r, p))
        return real(password, salt=salt, n=n, r=r, p=p, dklen=dklen)

    monkeypatch.setattr(credentials.hashlib, "scrypt", spy)
    c = service.client
    name = service.seed.users["analyst"].username
    paths = {}
    for who in (name, "no-such-user-here"):
        calls.clear()
        r = c.post("/api/auth/login", json={"username": who, "password": "not-the-password"})
        assert r.status_code == 401
        paths[("api", who)] = list(calls)
        calls.clear()
        form = c.get("/login")
        token = form.cookies.get("ew_login_csrf") or c.cookies.get("ew_login_csrf")
        r = c.post(
            "/login",
            data={"username": who, "password": "not-the-password", "csrf_token": token or ""},
            follow_redirects=False,
        )
        assert r.status_code == 401, r.text[:200]
        paths[("form", who)] = list(calls)
    assert paths[("api", name)] == paths[("api", "no-such-user-here")] != []
    assert paths[("form", name)] == paths[("form", "no-such-user-here")] != []


def test_guessing_cannot_lock_out_the_real_user(db_url: str, tmp_path: Path) -> None:
    """One client guesses a user's password until refused; the real user, on another
    client, still signs in; a client with the user's device cookie even once the
    account-wide limit is reached."""
    for service in make_service(
        db_url, tmp_path, login_user_client_attempts=3, login_user_attempts=5
    ):
        app = service.client.app
        user = service.seed.users["coordinator"]
        attacker = TestClient(app, client=("198.51.100.7", 4000))
        codes = [
            attacker.post(
                "/api/auth/login", json={"username": user.username, "password": f"guess-{k}"}
            ).status_code
            for k in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]
        real = TestClient(app, client=("203.0.113.20", 5000))
        ok = real.post(
            "/api/auth/login", json={"username": user.username, "password": user.password}
        )
        assert ok.status_code == 200
        device = ok.cookies.get("ew_device")
        assert device
        # a botnet of clients each guessing once exhausts the account-wide limit ...
        for k in range(6):
            TestClient(app, client=(f"192.0.2.{k + 1}", 1)).post(
                "/api/auth/login", json={"username": user.username, "password": "nope-nope"}
            )
        fresh = TestClient(app, client=("203.0.113.99", 1))
        assert (
            fresh.post(
                "/api/auth/login", json={"username": user.username, "password": user.password}
            ).status_code
            == 429
        )
        # ... but not for the device the user signed in from before
        again = TestClient(app, client=("203.0.113.21", 1), cookies={"ew_device": device})
        assert (
            again.post(
                "/api/auth/login", json={"username": user.username, "password": user.password}
            ).status_code
            == 200
        )


def test_forwarded_for_is_believed_only_from_configured_proxies() -> None:
    from electwatch.web.security import client_address

    assert client_address("10.0.0.5", "1.2.3.4", ()) == "10.0.0.5"
    assert client_address("10.0.0.5", "1.2.3.4", ("10.0.0.0/8",)) == "1.2.3.4"
    assert client_address("10.0.0.5", "1.2.3.4, 10.0.0.9", ("10.0.0.0/8",)) == "1.2.3.4"
    assert client_address("192.0.2.1", "1.2.3.4", ("10.0.0.0/8",)) == "192.0.2.1"


# --- 7. audit of imports; small items --------------------------------------------------
def test_import_is_audited_with_the_coordinator_as_actor(service: Service) -> None:
    sd = service.seed
    obs = sd.users["observer"].pseudonym
    csv = (
        "station,observer,window_start,window_end,voters\n"
        f"{sd.station_in_region},{obs},08:00,20:00,77\n"
    ).encode()
    r = service.client.post(
        f"/api/elections/{sd.election_id}/reports/import",
        files={"file": ("r.csv", csv, "text/csv")},
        headers=service.h("coordinator"),
    )
    assert r.status_code == 200, r.text
    with service.factory() as s:  # type: ignore[operator]
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "report.import")).one()
    assert entry.actor == sd.users["coordinator"].pseudonym
    assert entry.after is not None and entry.after["observer"] == obs


def test_tls_switches_and_no_docs_by_default(db_url: str, tmp_path: Path) -> None:
    for service in make_service(db_url, tmp_path):
        assert service.client.get("/docs").status_code == 404
        assert service.client.get("/openapi.json").status_code == 404
        assert "strict-transport-security" not in service.client.get("/api/health").headers
    for service in make_service(
        db_url, tmp_path, cookie_secure=True, hsts_seconds=31536000, api_docs=True
    ):
        c = service.client
        assert c.get("/api/health").headers["strict-transport-security"] == "max-age=31536000"
        admin = service.seed.users["admin"]
        r = c.post("/api/auth/login", json={"username": admin.username, "password": admin.password})
        assert "Secure" in r.headers["set-cookie"]
        assert c.get("/openapi.json").status_code == 200
        assert c.get("/docs").status_code == 404  # the CDN-loading UI is never served


def test_notes_are_encrypted_at_rest(db_url: str, tmp_path: Path) -> None:
    from electwatch.storage.crypto import new_key

    key = new_key()
    for service in make_service(db_url, tmp_path, encryption_key=key):
        sd = service.seed
        b = body(sd.station_in_region, notes="ballot box unsealed at 09:10")
        r = service.client.post(
            f"/api/elections/{sd.election_id}/reports", json=b, headers=service.h("observer")
        )
        assert r.status_code == 201
        rep = stored(service, b["id"])
        assert rep is not None and rep.notes and "unsealed" not in rep.notes
        got = service.client.get(f"/api/reports/{b['id']}", headers=service.h("observer"))
        assert got.json()["notes"] == "ballot box unsealed at 09:10"
        with service.factory() as s:  # type: ignore[operator]
            audit_after = [a.after for a in s.scalars(select(AuditEntry))]
        assert "unsealed" not in json.dumps(audit_after)
        # resending the same report is still a duplicate (compared in clear)
        again = service.client.post(
            f"/api/elections/{sd.election_id}/reports", json=b, headers=service.h("observer")
        )
        assert again.status_code == 200


def test_export_escapes_formulas_and_admin_deletion_is_audited(service: Service) -> None:
    sd, c = service.seed, service.client
    b = body(sd.station_in_region, notes='=HYPERLINK("http://x")')
    url = f"/api/elections/{sd.election_id}/reports"
    assert c.post(url, json=b, headers=service.h("observer")).status_code == 201
    csv_text = c.get(
        f"/api/elections/{sd.election_id}/export", headers=service.h("coordinator")
    ).text
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text
    js = c.get(
        f"/api/elections/{sd.election_id}/export?format=json", headers=service.h("coordinator")
    ).json()
    assert js["reports"][0]["notes"].startswith("=HYPERLINK")
    r = c.request(
        "DELETE", f"/api/reports/{b['id']}", json={"reason": "test"}, headers=service.h("admin")
    )
    assert r.status_code == 200
    assert stored(service, b["id"]) is None
    log = c.get(f"/api/audit?entity=report&entity_id={b['id']}", headers=service.h("admin")).json()
    deleted = next(a for a in log if a["action"] == "report.delete")
    assert deleted["before"]["voters"] == 120 and deleted["after"]["reason"] == "test"
