"""The pages in a real headless Chromium (Playwright), against the real server.

uvicorn serves ``create_app`` on a free loopback port in a thread, with a temporary
SQLite database seeded with a SYNTHETIC election (electwatch_devtools.testing.seed).
Phone viewport (390 x 844). Each test signs in through the login form and:

* observer: submits a report with a photo; goes offline, submits again (the report
  waits in the localStorage outbox and is NOT on the server), comes back online
  (the outbox is sent by itself; the report is stored exactly once, also after a
  forced second resend of the same UUID);
* coordinator: resolves a conflict from the queue (quarantine with a reason);
* analyst: sees the estimate panel change, through htmx polling, after new reports;
* the observer flow in Persian (Accept-Language fa): right to left, Persian digits
  typed into "voters counted" are stored as the number; sign-out empties the outbox;
* the observer form with JavaScript disabled (Tor Browser's safest mode): a plain POST;
* tally mode: taps while offline are kept as readings, sent when back online, and
  stored once each (also when resent).

No console errors or uncaught page errors are allowed. Screenshots of every page go
to test-artifacts/screenshots/ (gitignored). Skipped with the reason when
Playwright or Chromium is missing.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("ELECTWATCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}


@dataclass
class Live:
    base: str
    seed: Any
    api: httpx.Client
    errors: list[str] = field(default_factory=list)
    url: str = ""

    def headers(self, role: str) -> dict[str, str]:
        return self.seed.users[role].headers

    def reports(self, station: str) -> list[dict[str, Any]]:
        r = self.api.get(
            f"/api/elections/{self.seed.election_id}/reports",
            params={"station": station, "limit": 1000},
            headers=self.headers("admin"),
        )
        r.raise_for_status()
        return r.json()["reports"]

    def submit(self, role: str, station: str, voters: int) -> str:
        rid = str(uuid.uuid4())
        r = self.api.post(
            f"/api/elections/{self.seed.election_id}/reports",
            json={
                "id": rid,
                "station": station,
                "window_start": "08:00",
                "window_end": "20:00",
                "voters": voters,
            },
            headers=self.headers(role),
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "submitted", r.json()["status_reason"]
        return rid


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    uvicorn = pytest.importorskip("uvicorn")
    from electwatch_devtools.testing import seed, throwaway_database

    from electwatch.storage.db import make_engine, session_factory, upgrade
    from electwatch.web.app import create_app
    from electwatch.web.settings import Settings

    tmp = tmp_path_factory.mktemp("browser")
    with throwaway_database("sqlite") as url:
        engine = make_engine(url)
        upgrade(engine)
        sd = seed(session_factory(engine), n_stations=40, extra_observers=4)
        engine.dispose()
        settings = Settings(
            database_url=url,
            evidence_dir=tmp / "evidence",
            secret_key="browser-tests",
            rate_per_second=100.0,
            rate_burst=500,
        )
        app = create_app(settings)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("the server did not start")
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as api:
            yield Live(base, sd, api, url=url)
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def phone(browser: Any, live: Live) -> Iterator[tuple[Any, Any, list[str]]]:
    """A fresh phone-sized context and page; collects console errors and page errors."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, base_url=live.base
    )
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.set_default_timeout(10_000)
    yield context, page, errors
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, live: Live, role: str) -> None:
    page.goto("/login")
    user = live.seed.users[role]
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px phone"


def jpeg_with_exif() -> bytes:
    from PIL import Image

    img = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (55.0, 45.0, 0.0)}  # GPSInfo: latitude
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


OUTBOX_KEY = "electwatch:outbox"  # no pseudonym: a seized phone does not name its observer


def outbox(page: Any, live: Live) -> list[dict[str, Any]]:
    return page.evaluate("k => JSON.parse(localStorage.getItem(k) || '[]')", OUTBOX_KEY)


def test_observer_submits_and_offline_draft_is_resent_once(phone: Any, live: Live) -> None:
    context, page, errors = phone
    sign_in(page, live, "observer")
    assert page.url.endswith("/observer")
    station = live.seed.observer_stations[1]
    before = len(live.reports(station))
    shot(page, "observer")
    no_horizontal_scroll(page)

    # 1. online, with a photo (its EXIF/GPS is stripped by the server)
    page.get_by_label("Station").select_option(station)
    page.get_by_label("Voters counted").fill("120")
    page.get_by_label("Notes").fill("queue outside at opening")
    page.get_by_label("Photos").set_input_files(
        files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_exif()}]
    )
    page.get_by_role("button", name="Send report").click()
    page.locator("#sent-list li", has_text="120 voters").wait_for()
    assert "Sent" in page.locator("#report-status").inner_text()
    assert outbox(page, live) == []
    stored = live.reports(station)
    assert len(stored) == before + 1
    first = next(r for r in stored if r["voters"] == 120)
    full = live.api.get(f"/api/reports/{first['id']}", headers=live.headers("admin")).json()
    assert len(full["evidence"]) == 1
    photo = live.api.get(f"/api/evidence/{full['evidence'][0]}", headers=live.headers("admin"))
    assert photo.status_code == 200 and b"PhoneMaker" not in photo.content

    # 2. the connection drops: the report is kept on the phone, not sent
    context.set_offline(True)
    page.get_by_label("Station").select_option(station)
    page.get_by_label("Watched from").fill("10:00")
    page.get_by_label("until").fill("14:00")
    page.get_by_label("Voters counted").fill("47")
    page.get_by_role("button", name="Send report").click()
    page.locator("#outbox-list li", has_text="47 voters").wait_for()
    assert "offline" in page.locator("#report-status").inner_text().lower()
    kept = outbox(page, live)
    assert len(kept) == 1 and kept[0]["report"]["voters"] == 47
    draft_id = kept[0]["report"]["id"]
    uuid.UUID(draft_id)  # a client-generated UUID
    time.sleep(0.5)
    assert len(live.reports(station)) == before + 1  # nothing reached the server
    shot(page, "observer-offline")

    # 3. back online: sent automatically, stored once
    context.set_offline(False)
    page.wait_for_function(
        "k => (JSON.parse(localStorage.getItem(k) || '[]')).length === 0",
        arg=OUTBOX_KEY,
    )
    page.locator("#sent-list li", has_text="47 voters").wait_for()
    stored = live.reports(station)
    assert [r["id"] for r in stored].count(draft_id) == 1
    assert len(stored) == before + 2
    again = next(r for r in stored if r["id"] == draft_id)
    assert (again["window_start"], again["window_end"], again["voters"]) == ("10:00", "14:00", 47)

    # 4. a lost acknowledgement means a resend of the same UUID: still stored once
    page.evaluate(
        "([k, item]) => localStorage.setItem(k, JSON.stringify([item]))",
        [OUTBOX_KEY, kept[0]],
    )
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function(
        "k => (JSON.parse(localStorage.getItem(k) || '[]')).length === 0",
        arg=OUTBOX_KEY,
    )
    stored = live.reports(station)
    assert [r["id"] for r in stored].count(draft_id) == 1 and len(stored) == before + 2
    shot(page, "observer-sent")
    assert errors == []


def test_coordinator_resolves_a_conflict(phone: Any, live: Live) -> None:
    _, page, errors = phone
    sd = live.seed
    station = sd.station_in_region
    keep = live.submit("observer", station, 100)
    bad = live.submit("observer2", station, 260)
    sign_in(page, live, "coordinator")
    assert page.url.endswith("/coordinator")
    card = page.locator(f'section.conflict[data-station="{station}"]')
    card.wait_for()
    assert "260" in card.inner_text() and "100" in card.inner_text()
    no_horizontal_scroll(page)
    shot(page, "coordinator-queue")

    observer2 = sd.users["observer2"].pseudonym
    reason = page.get_by_label(f"Reason to quarantine 260 ({observer2})")
    form = card.locator("form").filter(has=reason)
    reason.fill("count includes voters of the neighbouring station")
    form.get_by_role("button", name="Quarantine").click()
    page.wait_for_load_state()
    assert "Report quarantined" in page.locator("main").inner_text()
    assert page.locator(f'section.conflict[data-station="{station}"]').count() == 0
    shot(page, "coordinator-resolved")

    rec = live.api.get(
        f"/api/elections/{sd.election_id}/stations/{station}/record", headers=live.headers("admin")
    ).json()
    assert rec["status"] == "single" and rec["voters"] == 100
    status = {r["id"]: r["status"] for r in rec["reports"]}
    assert status == {keep: "submitted", bad: "quarantined"}
    audit = live.api.get(
        "/api/audit", params={"entity": "report", "entity_id": bad}, headers=live.headers("admin")
    ).json()
    assert audit[0]["action"] == "report.quarantine"
    assert audit[0]["actor"] == sd.users["coordinator"].pseudonym
    assert errors == []


def test_analyst_sees_the_estimate_change(
    phone: Any, live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    from electwatch.web import pages

    monkeypatch.setattr(pages, "POLL_SECONDS", 1)
    _, page, errors = phone
    sd = live.seed
    # two stations: the library's live estimate needs 2 for an interval
    live.submit("load-1", sd.stations[1], 140)
    live.submit("load-2", sd.stations[2], 150)
    sign_in(page, live, "analyst")
    assert page.url.endswith("/analyst")
    value = page.locator("#estimate-value")
    value.wait_for()
    before = value.get_attribute("data-turnout")
    page.evaluate("window.__notReloaded = true")
    shot(page, "analyst")
    no_horizontal_scroll(page)

    # a high count that is still plausible: one above the register or the ballots
    # issued would be quarantined and, rightly, leave the estimate unchanged
    from sqlalchemy import select

    from electwatch.storage.db import make_engine
    from electwatch.storage.models import Station

    engine = make_engine(live.url)
    with engine.connect() as conn:
        registered, issued = conn.execute(
            select(Station.registered, Station.official_cast).where(
                Station.election_id == sd.election_id, Station.code == sd.stations[3]
            )
        ).one()
    engine.dispose()
    live.submit("load-3", sd.stations[3], min(registered, issued))
    page.wait_for_function(
        "old => { const v = document.querySelector('#estimate-value');"
        " return v && v.dataset.turnout !== old; }",
        arg=before,
        timeout=10_000,
    )
    assert page.evaluate("window.__notReloaded") is True  # updated in place by htmx
    after = float(value.get_attribute("data-turnout"))
    assert after > float(before)
    api = live.api.get(
        f"/api/elections/{sd.election_id}/estimate", headers=live.headers("analyst")
    ).json()
    assert after == pytest.approx(api["turnout"], rel=1e-9)
    shot(page, "analyst-updated")
    assert errors == []


def test_observer_flow_in_persian_right_to_left(browser: Any, live: Live) -> None:
    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        base_url=live.base,
        locale="fa-IR",
        extra_http_headers={"Accept-Language": "fa-IR,fa;q=0.9"},
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "fa"
    user = live.seed.users["observer"]
    page.get_by_label("نام کاربری").fill(user.username)
    page.get_by_label("گذرواژه").fill(user.password)
    page.get_by_role("button", name="ورود").click()
    page.wait_for_url("**/observer")
    assert page.locator("h1").inner_text() == "گزارش شعبه"
    no_horizontal_scroll(page)
    # the layout really is right to left: the form's labels start at the right edge
    box = page.locator("label[for=station]").bounding_box()
    assert box is not None and box["x"] + box["width"] > PHONE["width"] * 0.6
    station = live.seed.observer_stations[1]
    before = len(live.reports(station))
    page.locator("#station").select_option(station)
    page.locator("#voters").fill("۱۲۳")
    assert page.locator("#voters").input_value() == "۱۲۳"  # not dropped by the input
    page.get_by_role("button", name="فرستادن گزارش").click()
    page.locator("#sent-list li", has_text="۱۲۳").wait_for()
    shot(page, "observer-fa")
    stored = live.reports(station)
    assert len(stored) == before + 1
    assert any(r["voters"] == 123 and isinstance(r["voters"], int) for r in stored)
    # sign-out empties this phone's outbox and draft (nothing waits: no question asked)
    page.evaluate("localStorage.setItem('electwatch:draft', '{}')")
    page.get_by_role("button", name="خروج").click()
    page.wait_for_url("**/login")
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('electwatch'))") == []
    assert errors == []
    context.close()


def test_observer_form_without_javascript(browser: Any, live: Live) -> None:
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, base_url=live.base, java_script_enabled=False
    )
    page = context.new_page()
    sign_in(page, live, "observer")
    assert page.url.endswith("/observer")
    station = live.seed.observer_stations[1]
    before = len(live.reports(station))
    page.get_by_label("Station").select_option(station)
    page.get_by_label("Voters counted").fill("۸۸")
    page.locator("summary", has_text="Result protocol").click()
    page.locator("#outcome_name_1").fill("Alpha")
    page.locator("#outcome_count_1").fill("60")
    page.get_by_label("Invalid ballots").fill("2")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_url("**/observer?done=sent")
    assert "Sent" in page.locator("#form-message").inner_text()
    stored = live.reports(station)
    assert len(stored) == before + 1
    new = next(r for r in stored if r["voters"] == 88)
    assert new["outcomes"] == {"Alpha": 60, "invalid": 2}
    # a mistake comes back as the form with the values kept and the error named
    page.get_by_label("Station").select_option(station)
    page.get_by_label("Voters counted").fill("eighty")
    page.get_by_role("button", name="Send report").click()
    assert (
        "Voters counted: eighty is not a whole number" in page.locator("#form-errors").inner_text()
    )
    assert page.get_by_label("Voters counted").input_value() == "eighty"
    shot(page, "observer-nojs")
    context.close()


def test_tally_counter_offline_then_sent_once(phone: Any, live: Live) -> None:
    from datetime import datetime

    context, page, errors = phone
    page.clock.install(time=datetime(2026, 11, 22, 9, 0, 0))
    sign_in(page, live, "observer")
    page.goto("/observer/tally")
    station = live.seed.observer_stations[0]
    page.locator("#tally-station").select_option(station)
    url = f"/api/elections/{live.seed.election_id}/snapshots"
    mine = {"headers": live.headers("observer")}
    before = live.api.get(url, **mine).json()["snapshots"]
    context.set_offline(True)
    tap = page.locator("#tally-tap")
    for _minute in range(3):  # one reading per minute: 2 taps at 09:00, 2 at 09:01, ...
        tap.tap()
        tap.tap()
        page.clock.fast_forward(60_000)
    assert page.locator("#tally-count").inner_text() == "6"
    shot(page, "tally-offline")
    readings = page.evaluate("JSON.parse(localStorage.getItem('electwatch:tally')).readings")
    assert [(r["time"], r["cumulative"], r["sent"]) for r in readings] == [
        ("09:00", 2, False),
        ("09:01", 4, False),
        ("09:02", 6, False),
    ]
    assert live.api.get(url, **mine).json()["snapshots"] == before  # nothing sent
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function(
        "k => JSON.parse(localStorage.getItem(k)).readings.length === 0", arg="electwatch:tally"
    )
    stored = live.api.get(url, **mine).json()["snapshots"]
    new = [s for s in stored if s not in before]
    assert [(s["counted_since"], s["time"], s["cumulative"]) for s in new] == [
        ("09:00", "09:00", 2),
        ("09:00", "09:01", 4),
        ("09:00", "09:02", 6),
    ]
    # a lost answer: the same readings sent again are stored once each
    page.evaluate(
        """r => { const s = JSON.parse(localStorage.getItem('electwatch:tally'));
                  s.readings = r.map(x => Object.assign({}, x, {sent: false}));
                  localStorage.setItem('electwatch:tally', JSON.stringify(s)); }""",
        readings,
    )
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function(
        "k => JSON.parse(localStorage.getItem(k)).readings.length === 0", arg="electwatch:tally"
    )
    again = live.api.get(url, **mine).json()["snapshots"]
    assert len(again) == len(before) + 3
    assert sorted(s["client_id"] for s in again if s not in before) == sorted(
        r["client_id"] for r in readings
    )
    assert errors == []
