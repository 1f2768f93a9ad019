"""Domain operations of the intake service on a SQLAlchemy session (sync, transactional).

The web layer and the CLI both call these; every change writes an audit entry
(actor pseudonym, action, entity, before/after) in the same transaction.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from electwatch.data.model import ElectionResults
from electwatch.errors import ElectwatchError
from electwatch.storage.credentials import hash_secret, new_credential
from electwatch.storage.crypto import reveal_notes
from electwatch.storage.models import (
    ROLES,
    Area,
    Assignment,
    AuditEntry,
    CoordinatorArea,
    Credential,
    Election,
    Report,
    Station,
    User,
)

SYSTEM = "system"


class ServiceError(ElectwatchError):
    """A request the service refuses (unknown object, invalid state)."""


def audit(
    s: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    s.add(
        AuditEntry(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=before,
            after=after,
        )
    )


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# --- elections and the station frame -------------------------------------------------
def create_election(
    s: Session,
    name: str,
    *,
    country: str | None = None,
    date: str | None = None,
    open_hour: int = 8,
    close_hour: int = 20,
    synthetic: bool = False,
    actor: str = SYSTEM,
    max_voters_per_hour: int = 600,
) -> Election:
    if not 0 <= open_hour < close_hour <= 24:
        raise ServiceError(f"polling hours {open_hour}-{close_hour} are not within 0-24")
    if s.scalar(select(Election.id).where(Election.name == name)) is not None:
        raise ServiceError(f"an election named {name!r} already exists")
    e = Election(
        name=name,
        country=country,
        date=date,
        open_hour=open_hour,
        close_hour=close_hour,
        synthetic=synthetic,
        max_voters_per_hour=max_voters_per_hour,
    )
    s.add(e)
    s.flush()
    audit(s, actor, "election.create", "election", e.id, None, election_dict(e))
    return e


def election_dict(e: Election) -> dict[str, Any]:
    return {
        "id": e.id,
        "name": e.name,
        "country": e.country,
        "date": e.date,
        "open_hour": e.open_hour,
        "close_hour": e.close_hour,
        "synthetic": e.synthetic,
        "max_voters_per_hour": e.max_voters_per_hour,
    }


def import_stations(
    s: Session, election_id: int, results: ElectionResults, actor: str = SYSTEM
) -> dict[str, int]:
    """Import the station frame (areas and stations) of ``results`` into an election.

    Every area level of the results file becomes a level of the hierarchy; stations
    keep the results' ``station_id`` as their code, with registered voters and
    official ballots cast. Re-importing an existing code is an error (nothing is
    silently replaced).
    """
    election = s.get(Election, election_id)
    if election is None:
        raise ServiceError(f"no election {election_id}")
    frame = results.frame
    levels = list(results.area_levels)
    if not levels:
        frame = frame.with_columns(pl.lit("all").alias("__area"))
        levels = ["__area"]
    existing = set(s.scalars(select(Station.code).where(Station.election_id == election_id)))
    codes = frame["station_id"].cast(pl.String)
    dup = codes.filter(codes.is_in(list(existing))) if existing else codes.head(0)
    if dup.len():
        raise ServiceError(f"{dup.len()} stations already imported (e.g. {dup[0]!r})")
    # areas, level by level (one row per distinct path, not per station)
    area_ids: dict[tuple[str, ...], int] = {}
    paths: dict[tuple[str, ...], str] = {}
    for depth, level in enumerate(levels):
        keys = frame.select(levels[: depth + 1]).cast(pl.String).unique(maintain_order=True)
        new = []
        for key in keys.iter_rows():
            parent = area_ids.get(key[:-1]) if depth else None
            a = Area(
                election_id=election_id,
                parent_id=parent,
                level=level,
                depth=depth,
                name=key[-1] or "",
            )
            new.append((key, a))
        s.add_all([a for _, a in new])
        s.flush()
        for key, a in new:
            area_ids[key] = a.id
            a.path = (paths[key[:-1]] if depth else "/") + f"{a.id}/"
            paths[key] = a.path
        s.flush()
    leaf = frame.select(levels).cast(pl.String).rows()
    reg = frame["registered"].to_list()
    cast = frame["cast"].to_list()
    abroad = frame["abroad"].to_list()
    rows = [
        {
            "election_id": election_id,
            "code": c,
            "area_id": area_ids[k],
            "registered": r,
            "official_cast": v,
            "abroad": bool(a),
        }
        for c, k, r, v, a in zip(codes.to_list(), leaf, reg, cast, abroad, strict=True)
    ]
    for i in range(0, len(rows), 5000):
        s.execute(insert(Station), rows[i : i + 5000])
    summary = {"areas": len(area_ids), "stations": len(rows)}
    audit(
        s,
        actor,
        "stations.import",
        "election",
        election_id,
        None,
        {**summary, "source": results.source.path, "synthetic": results.synthetic},
    )
    return summary


def station_by_code(s: Session, election_id: int, code: str) -> Station | None:
    return s.scalar(select(Station).where(Station.election_id == election_id, Station.code == code))


# --- users, credentials, scopes ------------------------------------------------------
def _pseudonym(role: str) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    prefix = {"observer": "obs", "coordinator": "coord", "analyst": "ana", "admin": "adm"}[role]
    return f"{prefix}-" + "".join(secrets.choice(alphabet) for _ in range(8))


def create_user(
    s: Session,
    role: str,
    username: str | None = None,
    password: str | None = None,
    actor: str = SYSTEM,
) -> User:
    """A user; observers are known only by a random pseudonym (also their username)."""
    if role not in ROLES:
        raise ServiceError(f"role must be one of {ROLES}, not {role!r}")
    pseudonym = _pseudonym(role)
    username = username or pseudonym
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise ServiceError(f"user {username!r} already exists")
    if password is not None and len(password) < 10:
        raise ServiceError("passwords must have at least 10 characters")
    u = User(
        username=username,
        role=role,
        pseudonym=pseudonym,
        password_hash=hash_secret(password) if password else None,
    )
    s.add(u)
    s.flush()
    audit(s, actor, "user.create", "user", u.pseudonym, None, user_dict(u))
    return u


def user_dict(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "role": u.role,
        "pseudonym": u.pseudonym,
        "active": u.active,
    }


def issue_credential(
    s: Session,
    user: User,
    kind: str = "tok",
    label: str | None = None,
    hours: float | None = None,
    actor: str = SYSTEM,
    idle_minutes: float | None = None,
) -> str:
    """Create an API token (``tok``) or web session (``ses``); returns the secret string once.

    ``hours``: absolute lifetime. ``idle_minutes`` (sessions): the credential expires
    after this long unused; each use slides it forward, never past ``hours``."""
    public, secret, full = new_credential(kind)
    now = datetime.now(UTC)
    absolute = now + timedelta(hours=hours) if hours else None
    expires = absolute
    if idle_minutes:
        slid = now + timedelta(minutes=idle_minutes)
        expires = min(slid, absolute) if absolute is not None else slid
    s.add(
        Credential(
            id=public,
            user_id=user.id,
            kind="token" if kind == "tok" else "session",
            secret_hash=hash_secret(secret),
            label=label,
            expires_at=expires,
            absolute_expires_at=absolute,
        )
    )
    if kind == "tok":
        audit(
            s,
            actor,
            "token.issue",
            "user",
            user.pseudonym,
            None,
            {"credential": public, "label": label},
        )
    return full


def set_user_active(s: Session, user: User, active: bool, actor: str = SYSTEM) -> None:
    """Disable (or enable again) a user: every credential of a disabled user is refused
    on its next request, in every process (credentials are re-checked per request)."""
    before = user.active
    user.active = active
    audit(
        s,
        actor,
        "user.enable" if active else "user.disable",
        "user",
        user.pseudonym,
        {"active": before},
        {"active": active},
    )


def credential_dict(c: Credential) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t is not None else None

    return {
        "id": c.id,
        "kind": c.kind,
        "label": c.label,
        "created_at": iso(c.created_at),
        "expires_at": iso(c.expires_at),
        "last_used_at": iso(c.last_used_at),
        "revoked": c.revoked,
    }


def user_credentials(s: Session, user: User) -> list[Credential]:
    return list(
        s.scalars(
            select(Credential).where(Credential.user_id == user.id).order_by(Credential.created_at)
        )
    )


def revoke_credentials(
    s: Session, user: User, actor: str = SYSTEM, kind: str | None = None
) -> list[str]:
    """End every live session and token of ``user`` (or only one ``kind``); audited."""
    ended = []
    for c in user_credentials(s, user):
        if not c.revoked and (kind is None or c.kind == kind):
            c.revoked = True
            ended.append(c.id)
    audit(s, actor, "credential.revoke_all", "user", user.pseudonym, None, {"credentials": ended})
    return ended


def assign_station(s: Session, observer: User, station: Station, actor: str = SYSTEM) -> None:
    if observer.role != "observer":
        raise ServiceError("only observers are assigned to stations")
    if s.get(Assignment, (observer.id, station.id)) is None:
        s.add(Assignment(observer_id=observer.id, station_id=station.id))
        audit(
            s,
            actor,
            "assignment.create",
            "user",
            observer.pseudonym,
            None,
            {"station": station.code, "election_id": station.election_id},
        )


def add_coordinator_area(s: Session, coordinator: User, area: Area, actor: str = SYSTEM) -> None:
    if coordinator.role != "coordinator":
        raise ServiceError("only coordinators have areas")
    if s.get(CoordinatorArea, (coordinator.id, area.id)) is None:
        s.add(CoordinatorArea(user_id=coordinator.id, area_id=area.id))
        audit(
            s,
            actor,
            "coordinator_area.create",
            "user",
            coordinator.pseudonym,
            None,
            {"area_id": area.id, "area": area.name},
        )


@dataclass(frozen=True)
class Scope:
    """What a principal may see: ``None`` means everything (analyst, admin)."""

    observer_id: int | None = None
    area_paths: tuple[str, ...] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.observer_id is None and self.area_paths is None


def scope_for(s: Session, user_id: int, role: str) -> Scope:
    if role == "observer":
        return Scope(observer_id=user_id)
    if role == "coordinator":
        paths = s.scalars(
            select(Area.path)
            .join(CoordinatorArea, CoordinatorArea.area_id == Area.id)
            .where(CoordinatorArea.user_id == user_id)
        )
        return Scope(area_paths=tuple(paths))
    return Scope()


def station_filter(scope: Scope) -> Any:
    """A WHERE clause on ``Station`` limiting it to ``scope`` (or None)."""
    if scope.observer_id is not None:
        return Station.id.in_(
            select(Assignment.station_id).where(Assignment.observer_id == scope.observer_id)
        )
    if scope.area_paths is not None:
        if not scope.area_paths:
            return Station.id.is_(None)
        from sqlalchemy import or_

        return Station.area_id.in_(
            select(Area.id).where(
                or_(*[Area.path.startswith(p, autoescape=True) for p in scope.area_paths])
            )
        )
    return None


def station_in_scope(s: Session, station: Station, scope: Scope) -> bool:
    cond = station_filter(scope)
    if cond is None:
        return True
    return (
        s.scalar(select(func.count()).select_from(Station).where(Station.id == station.id, cond))
        == 1
    )


def report_in_scope(s: Session, report: Report, scope: Scope) -> bool:
    if scope.observer_id is not None:
        return report.observer_id == scope.observer_id
    st = s.get(Station, report.station_id)
    return st is not None and station_in_scope(s, st, scope)


# --- reports -------------------------------------------------------------------------
def report_dict(
    r: Report, station_code: str, observer: str, evidence: list[str] | None = None
) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "election_id": r.election_id,
        "station": station_code,
        "observer": observer,
        "window_start": clock(r.window_start),
        "window_end": clock(r.window_end),
        "voters": r.voters,
        "hourly": r.hourly,
        "outcomes": r.outcomes,
        "notes": reveal_notes(r.notes, r.id),
        "status": r.status,
        "status_reason": r.status_reason,
        "version": r.version,
        "received_at": r.received_at.isoformat() if r.received_at else None,
        "evidence": evidence or [],
    }


def report_query(scope: Scope, election_id: int | None = None) -> Any:
    q = (
        select(Report, Station.code, User.pseudonym)
        .join(Station, Station.id == Report.station_id)
        .join(User, User.id == Report.observer_id)
    )
    if election_id is not None:
        q = q.where(Report.election_id == election_id)
    if scope.observer_id is not None:
        q = q.where(Report.observer_id == scope.observer_id)
    elif (cond := station_filter(scope)) is not None:
        q = q.where(cond)
    return q.order_by(Report.received_at, Report.id)


def set_report_status(
    s: Session, report: Report, status: str, reason: str | None, actor: str
) -> None:
    before = {"status": report.status, "status_reason": report.status_reason}
    report.status = status
    report.status_reason = reason
    report.updated_at = datetime.now(UTC)
    verb = {"quarantined": "quarantine", "submitted": "release", "verified": "verify"}[status]
    audit(
        s,
        actor,
        f"report.{verb}",
        "report",
        report.id,
        before,
        {"status": status, "status_reason": reason},
    )


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
