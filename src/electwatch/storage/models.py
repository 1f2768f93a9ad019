"""SQLAlchemy 2 models of the observation intake service.

Schema (created only by the Alembic migrations in ``storage/migrations``):

``elections``        an election day being observed
``areas``            area hierarchy (any depth); ``path`` is ``/id1/id2/.../`` so a
                     coordinator's scope is a prefix match
``stations``         the station frame, imported from an official results file
``users``            observers, coordinators, analysts, admins; observers are known
                     to the service only by a pseudonym
``credentials``      API tokens and web sessions (scrypt-hashed secrets)
``coordinator_areas`` which areas a coordinator is responsible for
``assignments``      which stations an observer watches
``reports``          one observer's count at one station; the primary key is the
                     client-generated UUID (idempotency key)
``snapshots``        cumulative counts read during the day (tally mode)
``evidence`` / ``report_evidence``  content-addressed evidence files (SHA-256)
``station_actions``  coordinator decisions on a station's merged record
``audit_log``        who did what, when, with before/after values
``service_secrets``  signing secrets generated once and shared by every process/host
``rate_counters``    fixed-window counters of the rate and guess limits (shared state)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("observer", "coordinator", "analyst", "admin")
REPORT_STATUSES = ("submitted", "verified", "quarantined")
STATION_ACTIONS = ("verify", "override", "clear")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Election(Base):
    __tablename__ = "elections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str | None] = mapped_column(String(100))
    date: Mapped[str | None] = mapped_column(String(10))
    #: polls open/close hour (used for the partial-window correction of the estimate)
    open_hour: Mapped[int] = mapped_column(Integer, default=8)
    close_hour: Mapped[int] = mapped_column(Integer, default=20)
    #: the service does not know a registered-voter total for every country
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    #: plausibility ceiling: voters one station can admit per hour of a watch window
    #: (a report above it is quarantined; with no registers it is the main check)
    max_voters_per_hour: Mapped[int] = mapped_column(Integer, default=600, server_default="600")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Area(Base):
    __tablename__ = "areas"
    __table_args__ = (
        UniqueConstraint("election_id", "level", "name", "parent_id", name="uq_area"),
        Index("ix_areas_path", "path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(100))
    depth: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(1000), default="")


class Station(Base):
    __tablename__ = "stations"
    __table_args__ = (UniqueConstraint("election_id", "code", name="uq_station_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(200))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    #: official figures from the results file (null where not published)
    registered: Mapped[int | None] = mapped_column(Integer)
    official_cast: Mapped[int | None] = mapped_column(Integer)
    abroad: Mapped[bool] = mapped_column(Boolean, default=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: login name for staff; for observers the pseudonym (e.g. ``obs-7KQ2M``)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    #: pseudonymous public identifier shown in reports, exports and the audit log
    pseudonym: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Credential(Base):
    """An API token or a web session: ``<kind>_<public id>_<secret>``; only a hash is kept."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "token" | "session"
    secret_hash: Mapped[str] = mapped_column(String(300))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    #: sessions slide: each use pushes ``expires_at`` forward, never past this bound
    absolute_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CoordinatorArea(Base):
    __tablename__ = "coordinator_areas"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    area_id: Mapped[int] = mapped_column(
        ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True
    )


class Assignment(Base):
    __tablename__ = "assignments"

    observer_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_station", "station_id"),
        Index("ix_reports_observer", "observer_id"),
    )

    #: client-generated UUID: a resent draft carries the same id and is never duplicated
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id", ondelete="CASCADE"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    observer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: watch window in minutes after midnight (1440 = midnight at the end of the day)
    window_start: Mapped[int] = mapped_column(Integer)
    window_end: Mapped[int] = mapped_column(Integer)
    voters: Mapped[int] = mapped_column(Integer)
    hourly: Mapped[list[Any] | None] = mapped_column(JSON)
    #: votes per outcome from the station's result protocol, ``{"Mousavi": 120,
    #: "blank": 3}`` (FORMATS.md a); names stored through core.numbers.normalize_name
    outcomes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    status_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: when the client says it was written (drafts may be sent much later)
    client_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Snapshot(Base):
    """One cumulative count reading (FORMATS.md b): ``cumulative`` voters counted at
    the station from ``counted_since`` to ``time`` (minutes after midnight; 1440 is
    midnight at the end of the day). The client's UUID is the key: a resend is
    stored once."""

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_station", "station_id", "time"),)

    client_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id", ondelete="CASCADE"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    observer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    counted_since: Mapped[int] = mapped_column(Integer)
    time: Mapped[int] = mapped_column(Integer)
    cumulative: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Evidence(Base):
    __tablename__ = "evidence"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(50))
    #: id of the at-rest key the stored file is encrypted with (None: plain file)
    key_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReportEvidence(Base):
    __tablename__ = "report_evidence"

    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(ForeignKey("evidence.sha256"), primary_key=True)


class StationAction(Base):
    """A coordinator decision on a station's merged record (latest one wins)."""

    __tablename__ = "station_actions"
    __table_args__ = (Index("ix_station_actions_station", "station_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))  # verify | override | clear
    voters: Mapped[int | None] = mapped_column(Integer)
    report_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: the actor's pseudonym (never an IP address); "system" for CLI/imports
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(100))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ServiceSecret(Base):
    """A signing secret (session/CSRF HMAC key) generated once and shared by every
    worker process and host, so a token signed by one is valid on all."""

    __tablename__ = "service_secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RateCounter(Base):
    """One fixed-window counter of a rate or guess limit, shared by every process."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: window number (unix time // window length); a new window restarts the count
    window: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
