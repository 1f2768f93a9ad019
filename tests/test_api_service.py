# ruff: noqa: F811  (pytest fixtures imported from service_support)
"""JSON API tests, run against SQLite and PostgreSQL (see service_support.db_url)."""

from __future__ import annotations

import uuid

from service_support import Service, db_url, service  # noqa: F401  (fixtures)


def report(station: str, voters: int = 120, **kw: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "station": station,
        "window_start": "08:00",
        "window_end": "20:00",
        "voters": voters,
    }
    body.update(kw)
    return body


def test_health_and_me(service: Service) -> None:
    c = service.client
    assert c.get("/api/health").json() == {"status": "ok"}
    assert c.get("/api/me").status_code == 401
    me = c.get("/api/me", headers=service.h("observer")).json()
    assert me["role"] == "observer"
    assert me["pseudonym"] == service.seed.users["observer"].pseudonym


def test_submit_is_idempotent_on_report_id(service: Service) -> None:
    c, sd = service.client, service.seed
    body = report(sd.observer_stations[0], 87, hourly=[40, 47])
    url = f"/api/elections/{sd.election_id}/reports"
    first = c.post(url, json=body, headers=service.h("observer"))
    assert first.status_code == 201, first.text
    assert first.json()["duplicate"] is False
    again = c.post(url, json=body, headers=service.h("observer"))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    changed = c.post(
        url, json={**body, "voters": 88, "hourly": None}, headers=service.h("observer")
    )
    assert changed.status_code == 409
    stolen = c.post(url, json=body, headers=service.h("observer2"))
    assert stolen.status_code == 409
    listed = c.get(url, headers=service.h("admin")).json()
    assert listed["total"] == 1
    assert listed["reports"][0]["voters"] == 87


def submit(service: Service, role: str, body: dict[str, object]) -> dict[str, object]:
    r = service.client.post(
        f"/api/elections/{service.seed.election_id}/reports", json=body, headers=service.h(role)
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_validation_errors_name_the_field(service: Service) -> None:
    c, sd = service.client, service.seed
    url = f"/api/elections/{sd.election_id}/reports"
    bad = [
        report(sd.observer_stations[0], window_start="8am"),
        report(sd.observer_stations[0], window_start="20:00", window_end="08:00"),
        report(sd.observer_stations[0], 10, hourly=[3, 3]),
        report(sd.observer_stations[0], -1),
        {**report(sd.observer_stations[0]), "id": "not-a-uuid"},
    ]
    for body in bad:
        r = c.post(url, json=body, headers=service.h("observer"))
        assert r.status_code == 422, (body, r.text)
    # a station the observer is not assigned to
    other = next(x for x in sd.stations if x not in sd.observer_stations)
    r = c.post(url, json=report(other), headers=service.h("observer"))
    assert r.status_code == 403
    r = c.post(url, json=report("NO-SUCH-STATION"), headers=service.h("observer"))
    assert r.status_code == 422
    assert c.get(url, headers=service.h("admin")).json()["total"] == 0


def test_conflict_queue_verify_override_quarantine_and_audit(service: Service) -> None:
    c, sd = service.client, service.seed
    station = sd.station_in_region
    eid = sd.election_id
    a = submit(service, "observer", report(station, 100))
    b = submit(service, "observer2", report(station, 160))
    # 60 apart > max(5, 5% of 160 = 8): a conflict, shown to the coordinator of the region
    conflicts = c.get(f"/api/elections/{eid}/conflicts", headers=service.h("coordinator")).json()
    assert [r["station"] for r in conflicts["records"]] == [station]
    rec = conflicts["records"][0]
    assert (rec["voters"], rec["voters_min"], rec["voters_max"]) == (None, 100, 160)
    # the estimate leaves the conflicting station out
    est = c.get(f"/api/elections/{eid}/estimate", headers=service.h("analyst")).json()
    assert est["n_observed"] == 0 and est["excluded_conflicts"] == 1
    # verify b's count: the station now counts 160 and b is marked verified
    url = f"/api/elections/{eid}/stations/{station}"
    v = c.post(
        f"{url}/verify",
        json={"report_id": b["id"], "reason": "photo of the log"},
        headers=service.h("coordinator"),
    )
    assert v.status_code == 200, v.text
    assert (v.json()["status"], v.json()["voters"]) == ("verified", 160)
    assert (
        c.get(f"/api/reports/{b['id']}", headers=service.h("observer2")).json()["status"]
        == "verified"
    )
    assert (
        c.get(f"/api/elections/{eid}/conflicts", headers=service.h("coordinator")).json()["total"]
        == 0
    )
    est = c.get(f"/api/elections/{eid}/estimate", headers=service.h("analyst")).json()
    assert est["n_observed"] == 1
    assert est["mean_per_station"] == 160  # full-day window: no coverage scaling
    # override needs a reason
    assert (
        c.post(
            f"{url}/override", json={"voters": 130}, headers=service.h("coordinator")
        ).status_code
        == 422
    )
    o = c.post(
        f"{url}/override",
        json={"voters": 130, "reason": "recount by supervisor"},
        headers=service.h("coordinator"),
    )
    assert (o.json()["status"], o.json()["voters"]) == ("overridden", 130)
    # clear: back to automatic merging -> conflict again; quarantine a -> single b
    c.post(f"{url}/clear", json={"reason": "undo"}, headers=service.h("coordinator"))
    q = c.post(
        f"/api/reports/{a['id']}/quarantine",
        json={"reason": "double counted"},
        headers=service.h("coordinator"),
    )
    assert q.json()["status"] == "quarantined"
    rec = c.get(f"{url}/record", headers=service.h("coordinator")).json()
    assert (rec["status"], rec["voters"], rec["n_reports"]) == ("single", 160, 1)
    assert [x["action"] for x in rec["actions"]] == ["verify", "override", "clear"]
    # the observer cannot amend a quarantined report
    amend = {"window_start": "08:00", "window_end": "20:00", "voters": 101}
    assert (
        c.put(f"/api/reports/{a['id']}", json=amend, headers=service.h("observer")).status_code
        == 409
    )
    # a coordinator of another region sees nothing of this station
    outside = sd.station_outside_region
    assert (
        c.get(
            f"/api/elections/{eid}/stations/{outside}/record", headers=service.h("coordinator")
        ).status_code
        == 404
    )
    # the audit log has who, what, before/after
    log = c.get("/api/audit", params={"entity": "station"}, headers=service.h("admin")).json()
    actions = [e["action"] for e in reversed(log)]
    assert actions == ["station.verify", "station.override", "station.clear"]
    override = next(e for e in log if e["action"] == "station.override")
    assert override["actor"] == sd.users["coordinator"].pseudonym
    assert override["before"]["voters"] == 160 and override["after"]["voters"] == 130
    assert override["after"]["reason"] == "recount by supervisor"
    qlog = c.get(
        "/api/audit", params={"entity": "report", "entity_id": a["id"]}, headers=service.h("admin")
    ).json()
    assert [e["action"] for e in reversed(qlog)] == ["report.create", "report.quarantine"]
    assert qlog[0]["before"]["status"] == "submitted"


def test_agreeing_reports_merge_to_median(service: Service) -> None:
    c, sd = service.client, service.seed
    station = sd.station_in_region
    submit(service, "observer", report(station, 100))
    submit(service, "observer2", report(station, 104))  # within max(5, 5.2)
    rec = c.get(
        f"/api/elections/{sd.election_id}/stations/{station}/record", headers=service.h("analyst")
    ).json()
    assert (rec["status"], rec["voters"]) == ("agreed", 102)


def test_observer_sees_only_own_reports_and_can_amend(service: Service) -> None:
    c, sd = service.client, service.seed
    station = sd.station_in_region
    mine = submit(service, "observer", report(station, 50))
    theirs = submit(service, "observer2", report(station, 52))
    listed = c.get(f"/api/elections/{sd.election_id}/reports", headers=service.h("observer")).json()
    assert [r["id"] for r in listed["reports"]] == [mine["id"]]
    assert c.get(f"/api/reports/{theirs['id']}", headers=service.h("observer")).status_code == 404
    amend = {"window_start": "08:00", "window_end": "14:00", "voters": 51, "notes": "fixed"}
    r = c.put(f"/api/reports/{mine['id']}", json=amend, headers=service.h("observer"))
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["voters"] == 51
    assert (
        c.put(f"/api/reports/{theirs['id']}", json=amend, headers=service.h("observer")).status_code
        == 404
    )
    log = c.get(
        "/api/audit",
        params={"entity": "report", "entity_id": mine["id"]},
        headers=service.h("admin"),
    ).json()
    assert log[0]["action"] == "report.amend"
    assert log[0]["before"]["voters"] == 50 and log[0]["after"]["voters"] == 51
    stations = c.get(
        f"/api/elections/{sd.election_id}/stations", headers=service.h("observer")
    ).json()
    assert sorted(s["code"] for s in stations["stations"]) == sorted(sd.observer_stations)


def test_csv_import_reports_every_bad_cell_and_is_idempotent(service: Service) -> None:
    c, sd = service.client, service.seed
    obs = sd.users["observer"].pseudonym
    st = sd.station_in_region
    url = f"/api/elections/{sd.election_id}/reports/import"
    bad = (
        f"station,observer,window_start,window_end,voters,hourly\n"
        f"{st},{obs},08:00,20:00,120,60;60\n"
        f"{st},{obs},8h,20:00,x,\n"
        f"NOPE,{obs},08:00,20:00,5,\n"
        f"{st},obs-UNKNOWN,08:00,09:00,5,2;2\n"
    )
    r = c.post(
        url, files={"file": ("r.csv", bad.encode(), "text/csv")}, headers=service.h("coordinator")
    )
    assert r.status_code == 422
    errs = {(e["row"], e["column"]) for e in r.json()["errors"]}
    assert errs == {
        (2, "window_start"),
        (2, "voters"),
        (3, "station"),
        (4, "observer"),
        (4, "hourly"),
    }
    first = next(e for e in r.json()["errors"] if e["column"] == "window_start")
    assert first["value"] == "8h" and "HH:MM" in first["expected"]
    assert (
        c.get(f"/api/elections/{sd.election_id}/reports", headers=service.h("admin")).json()[
            "total"
        ]
        == 0
    )
    good = f"station,observer,window_start,window_end,voters\n{st},{obs},08:00,20:00,120\n"
    for expected in (1, 0):
        r = c.post(
            url,
            files={"file": ("r.csv", good.encode(), "text/csv")},
            headers=service.h("coordinator"),
        )
        assert r.status_code == 200 and r.json()["imported"] == expected, r.text
    # a coordinator cannot import into stations outside their area
    out = (
        f"station,observer,window_start,window_end,voters\n"
        f"{sd.station_outside_region},{obs},08:00,20:00,1\n"
    )
    r = c.post(
        url, files={"file": ("r.csv", out.encode(), "text/csv")}, headers=service.h("coordinator")
    )
    assert r.status_code == 422 and r.json()["errors"][0]["column"] == "station"


def test_csv_import_library_columns_outcomes_and_any_digits(service: Service) -> None:
    """The library's observation columns (station_id, observer_id), counts through the
    shared normalizer (Persian digits, grouped thousands; ² refused) and one
    outcome:<name> column per protocol outcome (FORMATS.md a)."""
    c, sd = service.client, service.seed
    obs = sd.users["observer"].pseudonym
    st = sd.station_in_region
    url = f"/api/elections/{sd.election_id}/reports/import"
    text = (
        "station_id,observer_id,window_start,window_end,voters,hourly,outcome:Mousavi,"
        "outcome:blank\n"
        f"{st},{obs},۰۸:۰۰,10:00,۱۲۰,۶۰;60,۱٬۱۰۰,3\n"
        f"{st},{obs},10:00,11:00,²,,x,\n"
    )
    r = c.post(
        url, files={"file": ("r.csv", text.encode(), "text/csv")}, headers=service.h("coordinator")
    )
    assert r.status_code == 422
    assert {(e["row"], e["column"]) for e in r.json()["errors"]} == {
        (2, "voters"),
        (2, "outcome:Mousavi"),
    }
    good = text.splitlines()[:2]
    r = c.post(
        url,
        files={"file": ("r.csv", "\n".join(good).encode(), "text/csv")},
        headers=service.h("coordinator"),
    )
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    stored = c.get(f"/api/elections/{sd.election_id}/reports", headers=service.h("admin")).json()[
        "reports"
    ]
    assert [(x["voters"], x["hourly"], x["outcomes"], x["window_start"]) for x in stored] == [
        (120, [60, 60], {"Mousavi": 1100, "blank": 3}, "08:00")
    ]
