# ruff: noqa: F811, F402  (pytest fixtures imported from service_support)
"""Observer safety and access control: evidence, sessions, CSRF, rate limits, logs."""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from electwatch.storage.credentials import hash_secret, verify_secret
from electwatch.web.app import DropClientAddress, uvicorn_log_config
from electwatch.web.evidence import evidence_path
from electwatch.web.security import SharedRateLimiter
from service_support import Service, db_url, make_service, service  # noqa: F401


def gps_jpeg(orientation: int = 1) -> bytes:
    """A JPEG carrying GPS coordinates, a camera serial and an orientation tag."""
    img = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (55.0, 45.0, 21.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (37.0, 37.0, 4.0),
    }
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def new_report(service: Service) -> str:
    sd = service.seed
    rid = str(uuid.uuid4())
    r = service.client.post(
        f"/api/elections/{sd.election_id}/reports",
        json={
            "id": rid,
            "station": sd.observer_stations[0],
            "window_start": "08:00",
            "window_end": "12:00",
            "voters": 40,
        },
        headers=service.h("observer"),
    )
    assert r.status_code == 201, r.text
    return rid


def test_evidence_strips_gps_and_is_content_addressed(service: Service) -> None:
    c = service.client
    raw = gps_jpeg(orientation=6)
    with Image.open(io.BytesIO(raw)) as im:  # the upload really carries GPS
        assert im.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    rid = new_report(service)
    r = c.post(
        f"/api/reports/{rid}/evidence",
        headers=service.h("observer"),
        files={"file": ("../../etc/passwd", raw, "text/plain")},
    )
    assert r.status_code == 201, r.text
    sha = r.json()["sha256"]
    stored = evidence_path(service.settings.evidence_dir, sha).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == sha
    with Image.open(io.BytesIO(stored)) as im:
        assert im.format == "JPEG"
        assert dict(im.getexif()) == {}
        assert im.size == (48, 64)  # orientation 6 applied to the pixels, tag dropped
    assert b"Exif" not in stored and b"PhoneCo" not in stored
    # nothing was written under the client's filename
    files = [p for p in service.settings.evidence_dir.rglob("*") if p.is_file()]
    assert files == [evidence_path(service.settings.evidence_dir, sha)]
    # the same photo again: stored once, and served back to the coordinator of the area
    again = c.post(
        f"/api/reports/{rid}/evidence",
        headers=service.h("observer"),
        files={"file": ("x.jpg", raw, "image/jpeg")},
    )
    assert again.json()["sha256"] == sha
    got = c.get(f"/api/evidence/{sha}", headers=service.h("coordinator"))
    assert got.status_code == 200 and got.content == stored
    assert got.headers["content-type"] == "image/jpeg"
    assert c.get(f"/api/reports/{rid}", headers=service.h("observer")).json()["evidence"] == [sha]
    assert c.get(f"/api/evidence/{sha}", headers=service.h("observer2")).status_code == 404
    assert c.get("/api/evidence/..%2F..%2Fetc", headers=service.h("admin")).status_code == 404


def test_evidence_type_and_size_limits(db_url: str, tmp_path: Path) -> None:
    for service in make_service(db_url, tmp_path, max_evidence_bytes=2000):
        rid = new_report(service)
        url = f"/api/reports/{rid}/evidence"
        h = service.h("observer")
        svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
        r = service.client.post(url, headers=h, files={"file": ("a.jpg", svg, "image/jpeg")})
        assert r.status_code == 415
        buf = io.BytesIO()
        Image.effect_noise((400, 400), 100).convert("RGB").save(buf, "PNG")
        assert len(buf.getvalue()) > 2000
        r = service.client.post(url, headers=h, files={"file": ("a.png", buf.getvalue())})
        assert r.status_code == 413
        broken = b"\xff\xd8\xff" + b"\x00" * 100
        r = service.client.post(url, headers=h, files={"file": ("a.jpg", broken)})
        assert r.status_code == 422
        assert not any(p.is_file() for p in service.settings.evidence_dir.rglob("*"))


def test_secrets_are_scrypt_hashed() -> None:
    stored = hash_secret("hunter2-hunter2")
    assert stored.startswith("scrypt$") and "hunter2" not in stored
    assert verify_secret("hunter2-hunter2", stored)
    assert not verify_secret("hunter2-hunter3", stored)
    assert hash_secret("same") != hash_secret("same")  # salted


def test_tokens_are_not_stored_in_clear(service: Service) -> None:
    from sqlalchemy import select

    from electwatch.storage.models import Credential

    tok = service.seed.users["observer"].token
    secret = tok.split("_", 2)[2]
    with service.factory() as s:  # type: ignore[operator]
        hashes = list(s.scalars(select(Credential.secret_hash)))
    assert hashes and all(h.startswith("scrypt$") and secret not in h for h in hashes)


def test_session_cookie_login_csrf_and_logout(service: Service) -> None:
    c, sd = service.client, service.seed
    user = sd.users["observer"]
    bad = c.post("/api/auth/login", json={"username": user.username, "password": "wrong"})
    assert bad.status_code == 401
    r = c.post("/api/auth/login", json={"username": user.username, "password": user.password})
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    cookie = c.cookies.get("ew_session")
    assert cookie and "httponly" in r.headers["set-cookie"].lower()
    assert c.get("/api/me").json()["csrf_token"] == csrf
    body = {
        "id": str(uuid.uuid4()),
        "station": sd.observer_stations[0],
        "window_start": "08:00",
        "window_end": "20:00",
        "voters": 5,
    }
    url = f"/api/elections/{sd.election_id}/reports"
    no = c.post(url, json=body)
    assert no.status_code == 403 and "CSRF" in no.json()["detail"]
    forged = c.post(url, json=body, headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    ok = c.post(url, json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    # a form post carries the token as a field
    form = c.post(
        f"/api/reports/{body['id']}/evidence",
        data={"csrf_token": csrf},
        files={"file": ("p.jpg", gps_jpeg())},
    )
    assert form.status_code == 201, form.text
    # the session secret is not a bearer token (asked without the cookie)
    c.cookies.clear()
    assert c.get("/api/me", headers={"Authorization": f"Bearer {cookie}"}).status_code == 401
    c.cookies.set("ew_session", cookie)
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    c.cookies.set("ew_session", cookie)
    assert c.get("/api/me").status_code == 401


def test_rate_limit_per_credential(db_url: str, tmp_path: Path) -> None:
    for service in make_service(
        db_url,
        tmp_path,
        rate_per_second=0.01,
        rate_burst=3,
        rate_lease=1,
        login_user_client_attempts=2,
    ):
        c = service.client
        codes = [c.get("/api/me", headers=service.h("analyst")).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        r = c.get("/api/me", headers=service.h("analyst"))
        assert int(r.headers["retry-after"]) >= 1
        # another credential has its own bucket
        assert c.get("/api/me", headers=service.h("admin")).status_code == 200
        name = service.seed.users["admin"].username
        logins = [
            c.post("/api/auth/login", json={"username": name, "password": "x" * 12}).status_code
            for _ in range(3)
        ]
        assert logins == [401, 401, 429]


def test_shared_window_limiter_leases_never_exceed_the_limit(db_url: str) -> None:
    """Two limiters (two processes) on one database allow together at most the limit,
    whatever their lease size; a new window starts afresh."""
    from electwatch.storage.db import make_engine, session_factory, upgrade
    from electwatch.storage.shared_state import WindowCounters

    engine = make_engine(db_url)
    upgrade(engine)
    counters = WindowCounters(session_factory(engine))
    a = SharedRateLimiter(counters, 10, 60.0, "t:", lease=3)
    b = SharedRateLimiter(counters, 10, 60.0, "t:", lease=3)
    allowed = sum(lim.allow_sync("k", now=5.0)[0] for _ in range(10) for lim in (a, b))
    assert 10 - 2 * 3 < allowed <= 10
    assert a.allow_sync("k", now=61.0)[0] is True  # the next window
    engine.dispose()


def test_access_log_never_holds_client_address(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.7:5123", "GET", "/api/health", "1.1", 200),
        None,
    )
    assert DropClientAddress().filter(record)
    assert "203.0.113.7" not in record.getMessage()
    assert record.getMessage().startswith('- - "GET /api/health')
    off = uvicorn_log_config(access_log=False)
    assert off["loggers"]["uvicorn.access"]["level"] == "WARNING"  # type: ignore[index]
    on = uvicorn_log_config(access_log=True)
    assert on["handlers"]["access"]["filters"] == ["no_ip"]  # type: ignore[index]


def test_simultaneous_uploads_of_one_photo_store_and_link_it_once(service: Service) -> None:
    """Observers retrying on a flaky connection send the same photo at the same moment:
    every upload succeeds, the file is one evidence row linked once, audited once."""
    import threading

    from sqlalchemy import func, select

    from electwatch.storage.models import AuditEntry, Evidence, ReportEvidence
    from electwatch.web.evidence import store_evidence

    rid = new_report(service)
    raw = gps_jpeg()
    n = 6
    barrier = threading.Barrier(n)
    answers: list[str] = []
    errors: list[BaseException] = []

    def upload() -> None:
        barrier.wait()
        try:
            got = store_evidence(service.factory, service.settings, rid, raw, "obs-test")
            answers.append(got["sha256"])
        except BaseException as exc:  # collected: a thread's exception would vanish
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(answers)) == 1 and len(answers) == n
    with service.factory() as s:  # type: ignore[operator]
        assert s.scalar(select(func.count()).select_from(Evidence)) == 1
        assert s.scalar(select(func.count()).select_from(ReportEvidence)) == 1
        attach = select(func.count()).where(AuditEntry.action == "evidence.attach")
        assert s.scalar(attach.select_from(AuditEntry)) == 1
