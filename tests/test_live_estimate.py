"""The live estimate (turnout.live.estimate_live) and its service shell
(web/live_estimate.py): the same numbers on SQLite and PostgreSQL, the analyst page
shows the library's numbers, the cache recomputes only when the data change, and the
exclusions are counted by reason. The election is SYNTHETIC
(electwatch_devtools.testing.seed simulates one).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from electwatch_devtools.testing import Seed, postgres_available, seed, throwaway_database
from fastapi.testclient import TestClient
from sqlalchemy import select

from electwatch.storage import credentials
from electwatch.storage.db import make_engine, session_factory, upgrade
from electwatch.storage.models import Election, Station
from electwatch.turnout import StationFrame, estimate_live, ratio_estimate
from electwatch.web import live_estimate as shell
from electwatch.web.app import create_app
from electwatch.web.settings import Settings

credentials.SCRYPT_N = 2**10  # test secrets hash fast (as in service_support)

FULL = 9  # stations reporting the whole day, with a protocol


@dataclass
class Site:
    c: TestClient
    seed: Seed
    factory: Any
    settings: Settings

    def post(self, user: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.c.post(
            f"/api/elections/{self.seed.election_id}/{path}",
            json=body,
            headers=self.seed.users[user].headers,
        )
        assert r.status_code in (200, 201), r.text
        return r.json()  # type: ignore[no-any-return]

    def api_estimate(self) -> dict[str, Any]:
        r = self.c.get(
            f"/api/elections/{self.seed.election_id}/estimate",
            headers=self.seed.users["analyst"].headers,
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def _report(station: str, voters: int, start: str = "08:00", end: str = "20:00", **kw: Any):
    return {
        "id": str(uuid.uuid4()),
        "station": station,
        "window_start": start,
        "window_end": end,
        "voters": voters,
        **kw,
    }


def fill(site: Site) -> dict[str, Any]:
    """The same SYNTHETIC reports on any database: FULL whole-day counts with
    protocols, one 08:00-09:00 watch (below the coverage threshold), two stations
    known from snapshots only, and one conflict. Returns what was sent."""
    sd = site.seed
    with site.factory() as s:
        limits = {
            code: (reg, cast)
            for code, reg, cast in s.execute(
                select(Station.code, Station.registered, Station.official_cast).where(
                    Station.election_id == sd.election_id
                )
            )
        }
    free = [k for k, code in enumerate(sd.stations[:16]) if code not in sd.observer_stations]
    sent: dict[str, Any] = {"full": [], "snapshots": []}
    for k in free[:FULL]:
        code = sd.stations[k]
        v = int(0.8 * min(limits[code]))
        a, b = int(0.5 * v) + k, int(0.35 * v)
        prot = {"Alpha": a, "Beta": b, "blank": v - a - b - 2, "invalid": 2}
        site.post(f"load-{k}", "reports", _report(code, v, outcomes=prot))
        sent["full"].append((code, v, prot))
    k = free[FULL]
    site.post(f"load-{k}", "reports", _report(sd.stations[k], 40, "08:00", "09:00"))
    for k in free[FULL + 1 : FULL + 3]:
        code = sd.stations[k]
        v = int(0.6 * min(limits[code]))
        readings = [("10:00", v // 4), ("13:00", v // 2), ("17:00", (4 * v) // 5), ("20:00", v)]
        body = {
            "snapshots": [
                {"station": code, "counted_since": "08:00", "time": t, "cumulative": c,
                 "client_id": str(uuid.uuid4())}
                for t, c in readings
            ]
        }  # fmt: skip
        site.post(f"load-{k}", "snapshots", body)
        sent["snapshots"].append(code)
    conflict = sd.station_in_region
    site.post("observer", "reports", _report(conflict, 100))
    site.post("observer2", "reports", _report(conflict, 160))
    return sent


@contextmanager
def make_site(kind: str, tmp: Path) -> Iterator[Site]:
    with throwaway_database(kind) as url:
        engine = make_engine(url)
        upgrade(engine)
        factory = session_factory(engine)
        sd = seed(factory, extra_observers=16)
        settings = Settings(database_url=url, evidence_dir=tmp / "evidence", secret_key="live")
        with TestClient(create_app(settings)) as c:
            yield Site(c, sd, factory, settings)
        engine.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with make_site("sqlite", tmp_path_factory.mktemp("live")) as st:
        st.sent = fill(st)  # type: ignore[attr-defined]
        yield st


def library_estimate(site: Site):
    """The library's answer on the inputs the shell reads, computed here directly."""
    with site.factory() as s:
        e = s.get(Election, site.seed.election_id)
        kwargs, _ = shell.live_inputs(s, e, site.settings.conflict_abs, site.settings.conflict_rel)
    return estimate_live(**kwargs)


def _numbers_equal(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _numbers_equal(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _numbers_equal(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15), path
    else:
        assert a == b, path


# --- the library's answer through the service ------------------------------------------
def test_the_service_shows_the_librarys_live_estimate(site: Site) -> None:
    est = site.api_estimate()
    lib = library_estimate(site)
    _numbers_equal(est["live"], lib.to_dict())
    # what went in: FULL whole-day counts + 2 from snapshots; 1 short watch, 1 conflict
    assert est["n_observed"] == lib.n_observed == FULL + 2
    assert lib.exclusions == {"conflict": 1, "low_coverage": 1}
    assert lib.profile_source == "estimated"  # two stations' snapshots give hours
    assert lib.estimator == "ratio" and lib.turnout is not None  # the frame has registers
    assert est["turnout"] == lib.turnout.estimate
    assert est["turnout_ci95"] == [lib.turnout.ci_low, lib.turnout.ci_high]
    assert lib.n_protocols == FULL and lib.shares is not None
    assert est["shares"]["margin"] == lib.shares.margin.estimate
    assert est["shares"]["p_leader_majority"] == lib.shares.p_leader_majority


def test_shares_are_the_ratio_of_sums_with_cochrans_variance(site: Site) -> None:
    """One stratum: the share of an outcome is sum y / sum t over the protocols and its
    SE is Cochran's ratio variance (turnout.ratio_estimate with the ballots as the
    "register"), the frame's 40 stations giving the finite-population correction."""
    lib = library_estimate(site)
    assert lib.shares is not None and lib.n_stations == 40
    prot = site.sent["full"]  # type: ignore[attr-defined]
    t = np.array([sum(p.values()) for _, _, p in prot], dtype=float)
    for name in ("Alpha", "Beta", "blank", "invalid"):
        y = np.array([p[name] for _, _, p in prot], dtype=float)
        ref = ratio_estimate(y, t, 1.0, 40)
        got = lib.shares.share(name)
        assert got.estimate == pytest.approx(y.sum() / t.sum(), rel=1e-12)
        assert got.standard_error == pytest.approx(ref.standard_error, rel=1e-9)
    a = np.array([p["Alpha"] for _, _, p in prot], dtype=float)
    b = np.array([p["Beta"] for _, _, p in prot], dtype=float)
    assert lib.shares.leader == "Alpha"
    assert lib.shares.margin.estimate == pytest.approx((a.sum() - b.sum()) / (a + b).sum())


# --- the page ---------------------------------------------------------------------------
def _login(site: Site, role: str) -> TestClient:
    c = site.c
    c.cookies.clear()
    m = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
    assert m
    u = site.seed.users[role]
    r = c.post(
        "/login",
        data={"username": u.username, "password": u.password, "csrf_token": m.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return c


def test_the_analyst_page_shows_the_librarys_numbers(site: Site) -> None:
    lib = library_estimate(site)
    assert lib.turnout is not None and lib.shares is not None
    html = _login(site, "analyst").get("/analyst/estimate").text
    site.c.cookies.clear()
    turnout = float(re.search(r'data-turnout="([^"]+)"', html).group(1))  # type: ignore[union-attr]
    assert turnout == lib.turnout.estimate
    assert f'data-estimator="{lib.estimator}"' in html
    shown = {k: int(n) for k, n in re.findall(r'data-reason="(\w+)" data-n="(\d+)"', html)}
    assert shown == lib.exclusions
    margin = float(re.search(r'data-margin="([^"]+)"', html).group(1))  # type: ignore[union-attr]
    p_lead = float(re.search(r'data-p-leader="([^"]+)"', html).group(1))  # type: ignore[union-attr]
    assert margin == lib.shares.margin.estimate
    assert p_lead == lib.shares.p_leader_majority
    for i in lib.shares.shares:
        row = re.search(rf'data-outcome="{i.name}"><td>[^<]*</td><td class="num">([^<]+)<', html)
        assert row and row.group(1) == f"{100 * i.estimate:.1f}%"
    assert 'id="estimate-register-zero">0<' in html


def test_the_cache_recomputes_only_when_the_data_change(site: Site) -> None:
    shell.clear_cache()
    before = dict(shell.stats)
    first = site.api_estimate()
    second = site.api_estimate()
    assert first == second
    assert shell.stats["computed"] - before["computed"] == 1
    assert shell.stats["hits"] - before["hits"] == 1
    # a coordinator's decision on the conflict changes the data: recomputed
    sd = site.seed
    url = f"/api/elections/{sd.election_id}/stations/{sd.station_in_region}/override"
    r = site.c.post(
        url, json={"voters": 130, "reason": "recount"}, headers=sd.users["coordinator"].headers
    )
    assert r.status_code == 200, r.text
    third = site.api_estimate()
    assert shell.stats["computed"] - before["computed"] == 2
    assert third["n_observed"] == first["n_observed"] + 1
    assert "conflict" not in third["exclusions"]
    # clear the override again: the module's other tests see the conflict
    r = site.c.post(
        url.replace("/override", "/clear"),
        json={"reason": "undo"},
        headers=sd.users["coordinator"].headers,
    )
    assert r.status_code == 200, r.text
    assert site.api_estimate()["exclusions"]["conflict"] == 1


# --- SQLite and PostgreSQL --------------------------------------------------------------
@pytest.mark.postgres
def test_sqlite_and_postgresql_give_the_same_live_estimate(tmp_path: Path) -> None:
    if reason := postgres_available():
        pytest.skip(reason)
    out = {}
    for kind in ("sqlite", "postgresql"):
        with make_site(kind, tmp_path / kind) as st:
            fill(st)
            out[kind] = st.api_estimate()
    lite, pg = out["sqlite"], out["postgresql"]
    assert lite["live"]["turnout"] is not None and lite["live"]["shares"] is not None
    _numbers_equal(lite["live"], pg["live"])
    assert lite["records_by_status"] == pg["records_by_status"]


# --- the library alone ------------------------------------------------------------------
def _frame(n: int, seed_value: int = 0) -> tuple[StationFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed_value)
    reg = rng.integers(300, 2000, n)
    cast = rng.binomial(reg, 0.55)
    ids = [f"s{i}" for i in range(n)]
    return StationFrame(pl.DataFrame({"station_id": ids, "registered": reg})), reg, cast


def test_exclusions_are_counted_by_reason() -> None:
    frame, reg, cast = _frame(200)
    recs = [
        {"station_id": f"s{i}", "observer_id": "o", "window_start": "08:00",
         "window_end": "20:00", "voters": int(cast[i])}
        for i in range(30)
    ]  # fmt: skip
    recs.append({"station_id": "s30", "observer_id": "o", "window_start": "19:00",
                 "window_end": "20:00", "voters": 20})  # fmt: skip
    recs.append({"station_id": "elsewhere", "observer_id": "o", "window_start": "08:00",
                 "window_end": "20:00", "voters": 300})  # fmt: skip
    snaps = [  # s0 has a record: its snapshots are superseded
        {"station_id": "s0", "observer_id": "o", "counted_since": "08:00", "time": "12:00",
         "cumulative": 100}
    ]  # fmt: skip
    live = estimate_live(
        recs, frame, snapshots=snaps, protocols={"nowhere": {"A": 1, "B": 2}},
        excluded={"conflict": 3}, polls=(8, 20), n_resamples=200,
    )  # fmt: skip
    assert live.exclusions == {
        "conflict": 3, "not_in_frame": 1, "low_coverage": 1, "snapshots_superseded": 1,
        "protocol_not_in_frame": 1,
    }  # fmt: skip
    assert live.n_observed == 30 and live.profile_source == "uniform (assumed)"
    # the uniform profile is an assumption and is said to be
    assert any("uniform arrival profile" in n for n in live.notes)
    # 30 whole-day stations: the ratio estimator on exactly those counts
    ref = ratio_estimate(cast[:30], reg[:30], float(reg.sum()), 200, float(reg.sum()))
    assert live.estimator == "ratio" and live.turnout is not None
    assert live.turnout.estimate == pytest.approx(ref.estimate, rel=1e-12)
    assert live.turnout.standard_error == pytest.approx(ref.standard_error, rel=1e-12)
    assert live.shares is None and live.shares_error is not None
    d = live.to_dict()
    assert d["excluded_total"] == 7 and d["shares_not_applicable"]["missing"] == "minimum_n"


def test_the_live_turnout_interval_covers_the_truth_at_its_level() -> None:
    """SYNTHETIC frame of 3,000 stations; 300 campaigns of 150 stations, a third of them
    watched 08:00-14:00 (corrected by the true, uniform arrival profile). The live
    turnout interval covers the true turnout 95% +/- 3 MC SEs of the time."""
    frame, reg, cast = _frame(3_000, 4)
    truth = cast.sum() / reg.sum()
    rng = np.random.default_rng(9)
    hits = 0
    campaigns = 300
    for _ in range(campaigns):
        rows = rng.choice(3_000, 150, replace=False)
        recs = []
        for j, i in enumerate(rows):
            half = j % 3 == 0
            recs.append(
                {"station_id": f"s{i}", "observer_id": "o", "window_start": "08:00",
                 "window_end": "14:00" if half else "20:00",
                 "voters": int(rng.binomial(cast[i], 0.5)) if half else int(cast[i])}
            )  # fmt: skip
        live = estimate_live(recs, frame, polls=(8, 20), n_resamples=50)
        assert live.turnout is not None
        hits += live.turnout.contains(truth)
    half_width = 3 * math.sqrt(0.95 * 0.05 / campaigns)
    assert abs(hits / campaigns - 0.95) <= half_width, hits / campaigns


def test_a_profile_that_cannot_be_estimated_falls_back_to_uniform_and_says_so() -> None:
    """Snapshots up to 12:00 only: no observer watched the afternoon, so the hourly
    profile cannot be fitted; the live estimate uses the uniform profile, says so,
    and still gives turnout."""
    frame, _reg, cast = _frame(200, 2)
    recs = [
        {"station_id": f"s{i}", "observer_id": "o", "window_start": "08:00",
         "window_end": "20:00", "voters": int(cast[i]),
         "outcomes": {"A": int(cast[i]) // 2, "B": int(cast[i]) - int(cast[i]) // 2 - i,
                      "blank": i}}
        for i in range(20)
    ]  # fmt: skip
    snaps = [
        {"station_id": f"s{i}", "observer_id": "o", "counted_since": "08:00", "time": t,
         "cumulative": c}
        for i in (50, 51) for t, c in (("10:00", 60), ("12:00", 130))
    ]  # fmt: skip
    live = estimate_live(recs, frame, snapshots=snaps, polls=(8, 20), n_resamples=100)
    assert live.profile_source == "uniform (assumed)" and live.turnout is not None
    assert any("could not be estimated" in n for n in live.notes)
    assert live.n_observed == 22  # 08:00-12:00 is a third of a uniform day: kept
    # the records' protocols survive the merge with the snapshot stations
    assert live.n_protocols == 20 and live.shares is not None
    a = sum(int(cast[i]) // 2 for i in range(20))
    assert live.shares.share("A").estimate == pytest.approx(a / cast[:20].sum())
