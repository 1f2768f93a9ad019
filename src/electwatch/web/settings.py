"""Settings of the intake service (constructed in code, from the CLI or from environment)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from electwatch.storage.db import DEFAULT_SQLITE_FILE, default_url


@dataclass
class Settings:
    """Everything ``create_app`` needs.

    ``database_url``: SQLite file (default ``./electwatch.sqlite3``) or
    ``postgresql+psycopg://...``. ``evidence_dir``: content-addressed evidence store.
    ``secret_key``: HMAC key for CSRF tokens (random per process unless given; set it
    when several processes must agree). Rate limits are per credential (token bucket).
    """

    database_url: str = field(default_factory=lambda: default_url(DEFAULT_SQLITE_FILE))
    evidence_dir: Path = Path("electwatch-evidence")
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    #: run the Alembic migrations at startup (``serve`` does; tests may migrate first)
    migrate: bool = True
    #: token bucket per credential: sustained requests/s and burst size
    rate_per_second: float = 10.0
    rate_burst: int = 60
    #: login attempts per username: a small bucket against password guessing
    login_rate_per_second: float = 0.2
    login_burst: int = 10
    #: evidence limits
    max_evidence_bytes: int = 10 * 1024 * 1024
    #: two reports of one station conflict when they differ by more than
    #: max(conflict_abs, conflict_rel * larger count) voters
    conflict_abs: int = 5
    conflict_rel: float = 0.05
    #: web session lifetime and cookie security
    session_hours: float = 16.0
    cookie_secure: bool = False
    #: group-commit writer: most reports committed in one transaction
    writer_batch: int = 256
    #: cache of verified credentials (seconds); revocation through the API is immediate
    credential_cache_seconds: float = 60.0
    #: answer valid report submissions without FastAPI's per-request machinery
    #: (web/fastpath.py); anything else still goes through the declared route
    report_fast_path: bool = True

    @classmethod
    def from_env(cls) -> Settings:
        s = cls()
        if url := os.environ.get("ELECTWATCH_DB"):
            s.database_url = url
        if d := os.environ.get("ELECTWATCH_EVIDENCE_DIR"):
            s.evidence_dir = Path(d)
        if key := os.environ.get("ELECTWATCH_SECRET_KEY"):
            s.secret_key = key
        if batch := os.environ.get("ELECTWATCH_WRITER_BATCH"):
            s.writer_batch = max(1, int(batch))
        if os.environ.get("ELECTWATCH_REPORT_FAST_PATH") == "0":
            s.report_fast_path = False
        return s
