"""HTML pages (electwatch.web.pages) through FastAPI's TestClient, on SQLite.

Role checks on every page, CSRF rejection without the token on every form, login
and logout, and the coordinator's actions changing the merged records. The data
are SYNTHETIC (electwatch_devtools.testing.seed simulates an election).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from electwatch_devtools.testing import Seed, seed, throwaway_database
from fastapi.testclient import TestClient

from electwatch.storage.db import make_engine, session_factory, upgrade
from electwatch.web.app import create_app
from electwatch.web.auth import declared_roles
from electwatch.web.pages import estimate_view, router
from electwatch.web.settings import Settings

ROLES = ("observer", "coordinator", "analyst", "admin")


@dataclass
class Site:
    """One app and ONE TestClient (the report writer lives in that client's event loop);
    users are switched by swapping the session cookie in its jar."""

    app: object
    seed: Seed
    c: TestClient
    sessions: dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("pages")
    with throwaway_database("sqlite") as url:
        engine = make_engine(url)
        upgrade(engine)
        sd = seed(session_factory(engine))
        settings = Settings(database_url=url, evidence_dir=tmp / "evidence", secret_key="pages")
        app = create_app(settings)
        with TestClient(app) as c:
            yield Site(app, sd, c, {})
        engine.dispose()


def csrf_of(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', html)
    assert m, "page has no CSRF meta tag"
    return m.group(1)


def anonymous(site: Site) -> TestClient:
    site.c.cookies.clear()
    return site.c


def login_token(c: TestClient) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
    assert m
    return m.group(1)


def login(site: Site, role: str, fresh: bool = False) -> tuple[TestClient, str]:
    """The client signed in as ``role`` through the login form, and the page's CSRF token.

    Sessions are made once per role and reused; ``fresh`` makes a new one."""
    c = anonymous(site)
    if role in site.sessions and not fresh:
        cookie, token = site.sessions[role]
        c.cookies.set("ew_session", cookie)
        return c, token
    u = site.seed.users[role]
    r = c.post(
        "/login",
        data={"username": u.username, "password": u.password, "csrf_token": login_token(c)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = c.get(r.headers["location"])
    assert home.status_code == 200
    token = csrf_of(home.text)
    cookie = c.cookies.get("ew_session")
    assert cookie
    if not fresh:
        site.sessions[role] = (cookie, token)
    return c, token


def submit(site: Site, role: str, station: str, voters: int) -> str:
    """A report through the JSON API with the user's API token; returns its id."""
    rid = str(uuid.uuid4())
    body = {
        "id": rid,
        "station": station,
        "window_start": "08:00",
        "window_end": "20:00",
        "voters": voters,
    }
    # the Authorization header wins over any session cookie in the jar
    r = site.c.post(
        f"/api/elections/{site.seed.election_id}/reports",
        json=body,
        headers=site.seed.users[role].headers,
    )
    assert r.status_code == 201, r.text
    return rid


def record(site: Site, station: str) -> dict[str, object]:
    r = site.c.get(
        f"/api/elections/{site.seed.election_id}/records", headers=site.seed.users["admin"].headers
    )
    recs = [x for x in r.json()["records"] if x["station"] == station]
    return recs[0] if recs else {}


# --- declarations, static files ------------------------------------------------------
def test_every_page_route_declares_its_roles() -> None:
    for route in router.routes:
        roles = declared_roles(route)
        assert roles, f"{route.path} declares no roles"  # type: ignore[attr-defined]
        assert set(roles) <= {*ROLES, "public"}


def test_static_files_by_name_only(site: Site) -> None:
    c = anonymous(site)
    r = c.get("/static/htmx.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.text.startswith("/*! htmx 4.0.1")
    assert c.get("/static/electwatch.css").headers["content-type"].startswith("text/css")
    for bad in (
        "/static/pages.py",
        "/static/..%2Fpages.py",
        "/static/%2e%2e/app.py",
        "/static/templates",
    ):
        assert c.get(bad).status_code == 404, bad


# --- login / logout --------------------------------------------------------------------
def test_pages_redirect_to_login_without_session(site: Site) -> None:
    c = anonymous(site)
    for path in ("/observer", "/coordinator", "/analyst", "/analyst/estimate"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=%2F")
    r = c.get("/", follow_redirects=False)
    assert r.headers["location"] == "/login"
    # unsafe requests are refused, not redirected
    r = c.post(
        "/coordinator/verify",
        data={"election": "1", "station": "S01", "report_id": str(uuid.uuid4())},
    )
    assert r.status_code == 401


def test_login_form_checks_password_and_its_own_csrf(site: Site) -> None:
    u = site.seed.users["analyst"]
    c = anonymous(site)
    wrong = c.post(
        "/login",
        data={"username": u.username, "password": "not the password", "csrf_token": login_token(c)},
        follow_redirects=False,
    )
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert "ew_session" not in wrong.cookies
    # without the double-submit token: refused even with the right password
    login_token(c)
    r = c.post(
        "/login",
        data={"username": u.username, "password": u.password, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "ew_session" not in r.cookies
    c.cookies.clear()
    r = c.post(
        "/login",
        data={"username": u.username, "password": u.password, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "ew_session" not in r.cookies
    # an off-site "next" is ignored (no open redirect)
    ok = c.post(
        "/login",
        data={
            "username": u.username,
            "password": u.password,
            "csrf_token": login_token(c),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/analyst"
    assert "httponly" in ok.headers["set-cookie"].lower()
    local = c.post(
        "/login",
        data={
            "username": u.username,
            "password": u.password,
            "csrf_token": login_token(c),
            "next": "/analyst?election=1",
        },
        follow_redirects=False,
    )
    assert local.headers["location"] == "/analyst?election=1"


def test_logout_needs_csrf_and_revokes_the_session(site: Site) -> None:
    c, token = login(site, "observer", fresh=True)
    assert c.post("/logout", follow_redirects=False).status_code == 403
    assert c.get("/observer").status_code == 200  # still signed in
    cookie = c.cookies.get("ew_session")
    r = c.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    # the old cookie no longer works even if replayed
    c = anonymous(site)
    c.cookies.set("ew_session", cookie)  # type: ignore[arg-type]
    assert c.get("/api/me").status_code == 401
    c.cookies.clear()


# --- role checks -----------------------------------------------------------------------
ALLOWED = {
    "/observer": {"observer"},
    "/coordinator": {"coordinator", "admin"},
    "/analyst": {"analyst", "coordinator", "admin"},
    "/analyst/estimate": {"analyst", "coordinator", "admin"},
}


@pytest.mark.parametrize("role", ROLES)
def test_every_page_by_every_role(site: Site, role: str) -> None:
    c, _ = login(site, role)
    for path, allowed in ALLOWED.items():
        r = c.get(path, follow_redirects=False)
        if role in allowed:
            assert r.status_code == 200, (role, path)
        else:
            assert r.status_code == 403, (role, path)
            assert r.json() == {"detail": "forbidden"}  # nothing leaks


@pytest.mark.parametrize(
    "path", ["/coordinator/verify", "/coordinator/quarantine", "/coordinator/override"]
)
@pytest.mark.parametrize("role", ["observer", "analyst"])
def test_coordinator_forms_refuse_other_roles(site: Site, path: str, role: str) -> None:
    c, token = login(site, role)
    r = c.post(
        path,
        data={
            "csrf_token": token,
            "election": str(site.seed.election_id),
            "station": site.seed.station_in_region,
            "report_id": str(uuid.uuid4()),
            "voters": "1",
            "reason": "not allowed",
        },
    )
    assert r.status_code == 403


# --- observer ----------------------------------------------------------------------------
def test_observer_page_lists_assigned_stations_and_api_takes_its_csrf(site: Site) -> None:
    c, token = login(site, "observer")
    page = c.get("/observer").text
    for code in site.seed.observer_stations:
        assert f'<option value="{code}">' in page
    others = set(site.seed.stations) - set(site.seed.observer_stations)
    assert not any(f'<option value="{code}">' in page for code in others)
    url = f"/api/elections/{site.seed.election_id}/reports"
    assert f'data-reports-url="{url}"' in page
    body = {
        "id": str(uuid.uuid4()),
        "station": site.seed.observer_stations[1],
        "window_start": "10:00",
        "window_end": "14:00",
        "voters": 31,
    }
    # the session cookie alone is not enough: the JSON API wants the page's token
    assert c.post(url, json=body).status_code == 403
    assert c.post(url, json=body, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    r = c.post(url, json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.text
    again = c.post(url, json=body, headers={"X-CSRF-Token": token})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    # the page lists the observer's own reports
    assert body["id"] in c.get("/observer").text


# --- coordinator -------------------------------------------------------------------------
def test_coordinator_resolves_conflicts_with_csrf(site: Site) -> None:
    sd = site.seed
    station = sd.station_in_region
    r1 = submit(site, "observer", station, 100)
    r2 = submit(site, "observer2", station, 200)
    assert record(site, station)["status"] == "conflict"
    c, token = login(site, "coordinator")
    page = c.get("/coordinator").text
    assert f'data-station="{station}"' in page
    assert page.count('name="csrf_token"') >= 5  # every form carries the token
    # a station outside the coordinator's region never shows up
    if sd.station_outside_region:
        assert f'data-station="{sd.station_outside_region}"' not in page

    form = {"election": str(sd.election_id), "station": station, "report_id": r1}
    # no token, a wrong token: refused, nothing changes
    assert c.post("/coordinator/verify", data=form).status_code == 403
    bad = c.post("/coordinator/verify", data={**form, "csrf_token": "f" * 64})
    assert bad.status_code == 403
    assert record(site, station)["status"] == "conflict"

    # quarantine needs a reason of at least 3 characters
    q = {"election": str(sd.election_id), "report_id": r2, "csrf_token": token}
    short = c.post("/coordinator/quarantine", data={**q, "reason": "x"})
    assert short.status_code == 422 and "Not done" in short.text
    done = c.post(
        "/coordinator/quarantine",
        data={**q, "reason": "count taken from outside"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    rec = record(site, station)
    assert rec["status"] == "single" and rec["voters"] == 100

    ok = c.post("/coordinator/verify", data={**form, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    assert "Count verified" in c.get(ok.headers["location"]).text
    rec = record(site, station)
    assert rec["status"] == "verified" and rec["voters"] == 100

    ov = {
        "election": str(sd.election_id),
        "station": station,
        "csrf_token": token,
        "voters": "150",
        "reason": "recount by the coordinator",
    }
    assert c.post("/coordinator/override", data={**ov, "voters": "many"}).status_code == 422
    assert c.post("/coordinator/override", data=ov, follow_redirects=False).status_code == 303
    rec = record(site, station)
    assert rec["status"] == "overridden" and rec["voters"] == 150
    assert rec["reason"] == "recount by the coordinator"


def test_coordinator_cannot_act_outside_their_area(site: Site) -> None:
    sd = site.seed
    if not sd.station_outside_region:
        pytest.skip("seed has a single region")
    c, token = login(site, "coordinator")
    r = c.post(
        "/coordinator/override",
        data={
            "election": str(sd.election_id),
            "station": sd.station_outside_region,
            "csrf_token": token,
            "voters": "5",
            "reason": "not my area",
        },
    )
    assert r.status_code == 422 and "not found" in r.text
    assert record(site, sd.station_outside_region).get("status") != "overridden"


# --- analyst -----------------------------------------------------------------------------
def test_analyst_panel_follows_the_core_estimate(site: Site) -> None:
    from electwatch.storage.models import Election
    from electwatch.web.live_estimate import estimate_for_election

    c, _ = login(site, "analyst")
    page = c.get("/analyst").text
    assert 'hx-get="/analyst/estimate' in page and 'hx-trigger="every ' in page
    submit(site, "observer", site.seed.observer_stations[1], 90)
    c, _ = login(site, "analyst")
    # one station: a count, but no interval yet (the library needs 2)
    one = c.get("/analyst/estimate").text
    assert "at least 2 stations" in one and "data-turnout" not in one
    # a second station's count: an admin's override (the module's other tests may have
    # left the observers' other station in conflict)
    other = next(x for x in site.seed.stations if x not in site.seed.observer_stations)
    r = site.c.post(
        f"/api/elections/{site.seed.election_id}/stations/{other}/override",
        json={"voters": 120, "reason": "second station"},
        headers=site.seed.users["admin"].headers,
    )
    assert r.status_code == 200, r.text
    c, _ = login(site, "analyst")
    frag = c.get("/analyst/estimate").text
    factory = site.app.state.ctx.factory  # type: ignore[attr-defined]
    with factory() as s:
        est = estimate_for_election(s, s.get(Election, site.seed.election_id), 5, 0.05)
    view = estimate_view(est)
    assert view is not None and "error" not in view
    assert f'data-turnout="{view["turnout"]}"' in frag
    assert f"{est['n_observed']} of {est['n_stations']}" in frag


def test_estimate_view_formats_interval() -> None:
    est = {
        "voters": 4_760_000.0,
        "ci95": [4_600_000.0, 4_920_000.0],
        "turnout": 0.078,
        "turnout_ci95": [0.0754, 0.0807],
        "n_observed": 1941,
        "n_stations": 59000,
        "method": "expansion",
        "records_by_status": {"single": 1941},
    }
    v = estimate_view(est)
    assert v is not None
    assert v["turnout_text"] == "7.8%" and v["ci_text"] == "7.5% – 8.1%"
    assert v["voters_text"] == "4,760,000 (4,600,000 – 4,920,000)"
    # bar on a 0-100 % axis: the interval starts at 7.54 and is 0.53 wide
    assert v["bar_lo"] == "7.54" and v["bar_w"] == "0.53"
    # without registered voters the panel shows voters, scaled to the upper bound
    no_rolls = {**est, "turnout": None, "turnout_ci95": None}
    w = estimate_view(no_rolls)
    assert w is not None and w["turnout_text"] == "4,760,000 voters"
    assert float(w["bar_lo"]) + float(w["bar_w"]) == pytest.approx(100 / 1.25, abs=0.01)
    assert estimate_view({"voters": None, "n_observed": 0, "n_stations": 10})["error"]  # type: ignore[index]


@pytest.mark.parametrize("role", ["observer", "coordinator", "analyst"])
def test_pages_carry_the_security_headers(site: Site, role: str) -> None:
    """No inline code, no framing, no Referer: browser tests prove the pages work under it."""
    anon = anonymous(site)
    c, _ = login(site, role)
    for client, path in ((anon, "/login"), (c, f"/{role}")):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in r.text  # the policy would block an inline script


# --- languages, no-JS form, stale cookies, outcomes -----------------------------------
def test_persian_from_accept_language_and_from_the_users_choice(site: Site) -> None:
    c = anonymous(site)
    page = c.get("/login", headers={"Accept-Language": "fa-IR,fa;q=0.9,en;q=0.5"})
    assert '<html lang="fa" dir="rtl">' in page.text
    assert "<h1>ورود</h1>" in page.text
    assert page.headers["content-language"] == "fa"
    assert '<html lang="en" dir="ltr">' in c.get("/login").text
    # an English browser chooses Persian: the cookie wins over Accept-Language
    r = c.post("/preferences", data={"lang": "fa", "next": "/login"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert 'dir="rtl"' in c.get("/login", headers={"Accept-Language": "en"}).text
    c.post("/preferences", data={"lang": "en", "next": "//evil.example"}, follow_redirects=False)
    assert 'dir="ltr"' in c.get("/login").text
    c.cookies.clear()


def test_no_js_form_reads_persian_digits_and_stores_outcomes(site: Site) -> None:
    c, token = login(site, "observer")
    c.cookies.set("ew_lang", "fa")
    station = site.seed.observer_stations[0]
    form = {
        "csrf_token": token,
        "id": str(uuid.uuid4()),
        "station": station,
        "window_start": "08:00",
        "window_end": "20:00",
        "voters": "۱۲۳",
        "outcome_name_1": "علي",  # Arabic yeh: stored with the Persian letter
        "outcome_count_1": "۱۰۰",
        "outcome_blank": "٣",  # Arabic-Indic digit
    }
    r = c.post("/observer/report", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/observer?done=sent"
    stored = c.get(f"/api/reports/{form['id']}", headers=site.seed.users["observer"].headers).json()
    assert stored["voters"] == 123
    assert stored["outcomes"] == {"علی": 100, "blank": 3}
    # the same form sent again (back button) is one report
    again = c.post("/observer/report", data=form, follow_redirects=False)
    assert again.headers["location"] == "/observer?done=duplicate"
    # an unreadable count is an error naming the field, never dropped
    bad = c.post(
        "/observer/report",
        data={**form, "id": str(uuid.uuid4()), "voters": "۱۲x"},
        follow_redirects=False,
    )
    assert bad.status_code == 422
    assert "رأی‌دهندگان شمرده‌شده: ۱۲x عدد صحیح نیست" in bad.text
    assert 'value="۱۲x"' in bad.text  # the typed values are kept
    c.cookies.delete("ew_lang")
    # out of the way of the shares test (one protocol per station)
    q = site.c.post(
        f"/api/reports/{form['id']}/quarantine",
        json={"reason": "test done"},
        headers=site.seed.users["admin"].headers,
    )
    assert q.status_code == 200, q.text


def test_observer_form_posts_without_javascript(site: Site) -> None:
    """The form is a real form: method, action, and every field named."""
    c, _ = login(site, "observer")
    page = c.get("/observer").text
    assert 'method="post" action="/observer/report"' in page
    assert 'enctype="multipart/form-data"' in page
    assert 'name="id" value="' in page
    assert 'type="number"' not in page  # number inputs drop Persian digits
    assert (
        "electwatch:outbox:"
        not in (
            Path(__file__).resolve().parents[1] / "src/electwatch/web/static/observer.js"
        ).read_text()
    )


def test_stale_cookie_on_a_page_goes_to_the_login_form(site: Site) -> None:
    c = anonymous(site)
    c.cookies.set("ew_session", "ses_doesnotexist_bad")
    r = c.get("/observer", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fobserver"
    assert "ew_session=" in r.headers.get("set-cookie", "")
    c.cookies.clear()


def test_admin_sees_no_report_link_that_would_403(site: Site) -> None:
    c, _ = login(site, "admin")
    page = c.get("/coordinator").text
    assert 'href="/observer"' not in page
    for href in re.findall(r'<nav aria-label="Main">.*?</nav>', page, re.S)[0].split('href="')[1:]:
        assert c.get(href.split('"')[0]).status_code == 200


def test_analyst_page_shows_vote_shares_from_protocols(site: Site) -> None:
    """Two stations' protocols through the API; the analyst page shows each outcome's
    share as the ratio of sums from turnout.ratio_estimate."""
    from electwatch.turnout import ratio_estimate

    stations = site.seed.observer_stations[:2]
    obs = site.seed.users["observer"].headers
    sent = [{"Alpha": 60, "Beta": 30, "blank": 10}, {"Alpha": 20, "Beta": "۶۰", "blank": 0}]
    for code, outcomes in zip(stations, sent, strict=True):
        r = site.c.post(
            f"/api/elections/{site.seed.election_id}/reports",
            json={
                "id": str(uuid.uuid4()),
                "station": code,
                "window_start": "08:00",
                "window_end": "20:00",
                "voters": 100,
                "outcomes": outcomes,
            },
            headers=obs,
        )
        assert r.status_code == 201, r.text
        assert r.json()["outcomes"]["Beta"] in (30, 60)
    est = site.c.get(
        f"/api/elections/{site.seed.election_id}/estimate",
        headers=site.seed.users["analyst"].headers,
    ).json()
    shares = {row["name"]: row for row in est["shares"]["rows"]}
    expect = ratio_estimate([60, 20], [100, 80], 1.0, 40)
    assert shares["Alpha"]["share"] == pytest.approx(80 / 180)
    assert shares["Alpha"]["ci95"] == pytest.approx([expect.ci_low, expect.ci_high])
    c, _ = login(site, "analyst")
    page = c.get("/analyst").text
    assert 'data-outcome="Alpha"' in page and "44.4%" in page
    bad = site.c.post(
        f"/api/elections/{site.seed.election_id}/reports",
        json={
            "id": str(uuid.uuid4()),
            "station": stations[0],
            "window_start": "08:00",
            "window_end": "20:00",
            "voters": 1,
            "outcomes": {"Alpha": True},
        },
        headers=obs,
    )
    assert bad.status_code == 422
    # a second observer of the first station writes down another protocol: that station
    # is left out (and said to be) until a coordinator verifies one
    r = site.c.post(
        f"/api/elections/{site.seed.election_id}/reports",
        json={
            "id": str(uuid.uuid4()),
            "station": stations[0],
            "window_start": "08:00",
            "window_end": "20:00",
            "voters": 100,
            "outcomes": {"Alpha": 10, "Beta": 80, "blank": 10},
        },
        headers=site.seed.users["observer2"].headers,
    )
    assert r.status_code == 201, r.text
    est = site.c.get(
        f"/api/elections/{site.seed.election_id}/estimate",
        headers=site.seed.users["analyst"].headers,
    ).json()
    assert (est["shares"]["n"], est["shares"]["n_disagreeing"]) == (1, 1)
    assert "protocols from at least 2 stations" in est["shares"]["error"]


@pytest.mark.parametrize("role", ROLES)
def test_no_page_loads_anything_from_another_origin(site: Site, role: str) -> None:
    c, _ = login(site, role)
    pages = {"observer": ["/observer", "/observer/tally"]}.get(role, [])
    pages += {"coordinator": ["/coordinator"], "admin": ["/coordinator", "/analyst"]}.get(role, [])
    pages += ["/analyst"] if role == "analyst" else []
    static = Path(__file__).resolve().parents[1] / "src/electwatch/web/static"
    texts = [c.get(p).text for p in pages] + [c.get("/login").text]
    texts += [f.read_text() for f in static.glob("*.css")]
    for text in texts:
        assert not re.search(r'(?:src|href|action)\s*=\s*"(?:https?:)?//', text)
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", text)
        assert "@import" not in text


def test_election_date_in_the_chosen_calendar(site: Site) -> None:
    """The seed election is on 2026-11-22 = 1 Azar 1405."""
    c, _ = login(site, "observer")
    assert "November 22, 2026" in c.get("/observer").text
    c.cookies.set("ew_lang", "fa")
    assert "۱ آذر ۱۴۰۵" in c.get("/observer").text  # Persian: Solar Hijri by default
    c.cookies.set("ew_lang", "en")
    c.cookies.set("ew_cal", "jalali")
    assert "1 Azar 1405" in c.get("/observer").text
    c.cookies.delete("ew_lang")
    c.cookies.delete("ew_cal")


def test_stale_cookie_on_a_posted_form_goes_to_the_login_form(site: Site) -> None:
    """A browser without JavaScript posting the report form after its session ended
    gets the login form (then the observer page), not a JSON 401; scripts asking for
    JSON still get 401."""
    c = anonymous(site)
    c.cookies.set("ew_session", "ses_doesnotexist_bad")
    r = c.post(
        "/observer/report",
        data={"voters": "1"},
        headers={"Accept": "text/html,application/xhtml+xml"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fobserver"
    r = c.post(
        "/observer/report",
        data={"voters": "1"},
        headers={"Accept": "application/json"},
        follow_redirects=False,
    )
    assert r.status_code == 401
    c.cookies.clear()


def test_no_js_form_names_a_bad_window_in_the_readers_language(site: Site) -> None:
    c, token = login(site, "observer")
    c.cookies.set("ew_lang", "fa")
    form = {
        "csrf_token": token,
        "id": str(uuid.uuid4()),
        "station": site.seed.observer_stations[0],
        "window_start": "۱۴:۰۰",
        "window_end": "10:00",
        "voters": "5",
    }
    r = c.post("/observer/report", data=form, follow_redirects=False)
    assert r.status_code == 422
    assert "پایان نظارت باید پس از آغاز آن باشد" in r.text
    r = c.post("/observer/report", data={**form, "window_start": "8h"}, follow_redirects=False)
    assert "بازهٔ نظارت را وارد کنید" in r.text
    # the language switch on that page leads back to the form, not to a GET of the POST
    assert '<input type="hidden" name="next" value="/observer">' in r.text
    c.cookies.delete("ew_lang")
