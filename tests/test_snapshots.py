# ruff: noqa: F811  (pytest fixtures imported from service_support)
"""Cumulative snapshots (FORMATS.md b) through POST/GET /api/elections/{id}/snapshots,
on SQLite and PostgreSQL, with SYNTHETIC seeded data."""

from __future__ import annotations

import uuid

from service_support import Service, db_url, service  # noqa: F401


def _snap(station: str, time: str, cumulative: object, client_id: str | None = None) -> dict:
    return {
        "station": station,
        "counted_since": "08:00",
        "time": time,
        "cumulative": cumulative,
        "client_id": client_id or str(uuid.uuid4()),
    }


def test_snapshots_are_stored_once_and_listed_in_the_agreed_format(service: Service) -> None:
    c, sd = service.client, service.seed
    url = f"/api/elections/{sd.election_id}/snapshots"
    st = sd.observer_stations[0]
    batch = [_snap(st, "09:00", 40), _snap(st, "10:15", "۱۰۵"), _snap(st, "24:00", 980)]
    r = c.post(url, json={"snapshots": batch}, headers=service.h("observer"))
    assert r.status_code == 200, r.text
    assert (r.json()["stored"], r.json()["duplicates"]) == (3, 0)
    # a resend after a lost answer: every reading is a duplicate, nothing new stored
    again = c.post(url, json={"snapshots": batch}, headers=service.h("observer"))
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 3)
    # the same client_id with other content is refused, not overwritten
    other = c.post(
        url,
        json={"snapshots": [{**batch[0], "cumulative": 41}]},
        headers=service.h("observer"),
    )
    assert other.status_code == 207 and other.json()["results"][0]["outcome"] == "conflict"
    rows = c.get(url, headers=service.h("analyst")).json()["snapshots"]
    observer = sd.users["observer"].pseudonym
    assert [(x["station_id"], x["observer_id"], x["time"], x["cumulative"]) for x in rows] == [
        (st, observer, "09:00", 40),
        (st, observer, "10:15", 105),
        (st, observer, "24:00", 980),
    ]
    csv_text = c.get(url, params={"format": "csv"}, headers=service.h("admin")).text
    assert csv_text.splitlines()[0] == "station_id,observer_id,counted_since,time,cumulative"
    assert csv_text.splitlines()[2] == f"{st},{observer},08:00,10:15,105"


def test_bad_snapshots_are_refused_with_the_field(service: Service) -> None:
    c, sd = service.client, service.seed
    url = f"/api/elections/{sd.election_id}/snapshots"
    st = sd.observer_stations[0]
    for bad, field in (
        (_snap(st, "07:00", 1), "snapshots"),  # before counted_since
        (_snap(st, "10:00", True), "cumulative"),
        (_snap(st, "10:00", 1.5), "cumulative"),
        (_snap(st, "10:00", "²"), "cumulative"),
        (_snap(st, "25:00", 1), "time"),
        ({**_snap(st, "10:00", 1), "client_id": "x"}, "client_id"),
    ):
        r = c.post(url, json={"snapshots": [bad]}, headers=service.h("observer"))
        assert r.status_code == 422, bad
        assert any(field in e["loc"] for e in r.json()["detail"]), r.json()
    # a station the observer does not watch; another role cannot post
    elsewhere = next(x for x in reversed(sd.stations) if x not in sd.observer_stations)
    r = c.post(
        url, json={"snapshots": [_snap(elsewhere, "10:00", 1)]}, headers=service.h("observer")
    )
    assert r.json()["results"][0]["outcome"] == "not_assigned"
    r = c.post(url, json={"snapshots": [_snap(st, "10:00", 1)]}, headers=service.h("analyst"))
    assert r.status_code == 403
    # an observer lists only their own readings
    c.post(url, json={"snapshots": [_snap(st, "10:00", 7)]}, headers=service.h("observer"))
    mine = c.get(url, headers=service.h("observer2")).json()["snapshots"]
    assert all(x["observer_id"] == sd.users["observer2"].pseudonym for x in mine)


def test_migration_0003_upgrades_and_downgrades(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from electwatch.storage.db import alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        insp = inspect(engine)
        assert "snapshots" in insp.get_table_names()
        assert "outcomes" in {c["name"] for c in insp.get_columns("reports")}
        cfg = alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        insp = inspect(engine)
        assert "snapshots" not in insp.get_table_names()
        assert "outcomes" not in {c["name"] for c in insp.get_columns("reports")}
        upgrade(engine)
        assert "snapshots" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
