"""Settings of the intake service (constructed in code, from the CLI or from environment).

Environment variables (every worker process of ``electwatch serve --workers N`` reads
the same ones): ``ELECTWATCH_DB``, ``ELECTWATCH_EVIDENCE_DIR``, ``ELECTWATCH_SECRET_KEY``
(optional: without it the CSRF/device-cookie key is generated once and stored in the
database), ``ELECTWATCH_ENCRYPTION_KEY`` / ``ELECTWATCH_ENCRYPTION_KEY_FILE`` (at-rest
key, never stored in the database), ``ELECTWATCH_TRUSTED_PROXIES`` (comma separated
addresses or networks whose ``X-Forwarded-For`` is believed), ``ELECTWATCH_SECURE_COOKIES``
(1: ``Secure`` cookies), ``ELECTWATCH_HSTS_SECONDS``, ``ELECTWATCH_API_DOCS`` (1: serve
``/openapi.json``), ``ELECTWATCH_RATE``/``ELECTWATCH_BURST``, ``ELECTWATCH_WRITER_BATCH``,
``ELECTWATCH_REPORT_FAST_PATH`` (0: off), ``ELECTWATCH_LOGIN_LIMIT_SCALE`` (multiplies
the guess limits, for load and fuzz runs only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from electwatch.storage.db import DEFAULT_SQLITE_FILE, default_url


@dataclass
class Settings:
    """Everything ``create_app`` needs.

    ``database_url``: SQLite file (default ``./electwatch.sqlite3``) or
    ``postgresql+psycopg://...``. ``evidence_dir``: content-addressed evidence store.
    ``secret_key``: HMAC key for CSRF tokens, device cookies and client hashes; None
    (the default) reads the key stored in the database, generating it once, so every
    process and host agrees without configuration.
    """

    database_url: str = field(default_factory=lambda: default_url(DEFAULT_SQLITE_FILE))
    evidence_dir: Path = Path("electwatch-evidence")
    secret_key: str | None = None
    #: run the Alembic migrations at startup (``serve`` does; tests may migrate first)
    migrate: bool = True
    #: requests per credential: ``rate_burst`` per ``rate_burst / rate_per_second``
    #: seconds (a fixed window counted in the database, shared by every process)
    rate_per_second: float = 10.0
    rate_burst: int = 60
    #: units of a rate window a process leases at once (None: a tenth of the burst)
    rate_lease: int | None = None
    #: password guessing limits, per window of ``login_window_seconds``:
    #: attempts from one client (all user names), attempts at one user name from one
    #: client, and attempts at one user name from clients without its device cookie
    login_window_seconds: float = 900.0
    login_client_attempts: int = 30
    login_user_client_attempts: int = 6
    login_user_attempts: int = 100
    #: evidence limits
    max_evidence_bytes: int = 10 * 1024 * 1024
    max_media_bytes: int = 200 * 1024 * 1024
    #: bodies of requests without a credential are refused (413) above this size
    #: before they are read
    max_anonymous_body: int = 64 * 1024
    #: two reports of one station conflict when they differ by more than
    #: max(conflict_abs, conflict_rel * larger count) voters
    conflict_abs: int = 5
    conflict_rel: float = 0.05
    #: web sessions: idle timeout (sliding: each use extends it) and absolute limit
    session_idle_minutes: float = 120.0
    session_hours: float = 12.0
    #: TLS deployments: ``Secure`` cookies and Strict-Transport-Security (0: none)
    cookie_secure: bool = False
    hsts_seconds: int = 0
    #: serve the OpenAPI document at /openapi.json (no docs UI is served: it would
    #: load scripts from a CDN)
    api_docs: bool = False
    #: proxies whose X-Forwarded-For is believed (addresses or CIDR networks)
    trusted_proxies: tuple[str, ...] = ()
    #: at-rest encryption key (32 bytes as 64 hex digits or urlsafe base64), or a file
    #: holding it; older keys (for reading only, during rotation) as ``id=key`` pairs
    encryption_key: str | None = None
    encryption_key_file: Path | None = None
    old_encryption_keys: tuple[str, ...] = ()
    #: group-commit writer: most reports committed in one transaction
    writer_batch: int = 256
    #: cache of verified credentials (seconds): spares the scrypt check; validity
    #: (revocation, disabled user, expiry) is still checked in the database every time
    credential_cache_seconds: float = 60.0
    #: answer valid report submissions without FastAPI's per-request machinery
    #: (web/fastpath.py); anything else still goes through the declared route
    report_fast_path: bool = True

    @property
    def rate_window_seconds(self) -> float:
        return max(self.rate_burst / self.rate_per_second, 0.001)

    @property
    def lease(self) -> int:
        return self.rate_lease if self.rate_lease is not None else max(1, self.rate_burst // 10)

    @classmethod
    def from_env(cls) -> Settings:
        s = cls()
        env = os.environ.get
        if url := env("ELECTWATCH_DB"):
            s.database_url = url
        if d := env("ELECTWATCH_EVIDENCE_DIR"):
            s.evidence_dir = Path(d)
        if key := env("ELECTWATCH_SECRET_KEY"):
            s.secret_key = key
        if key := env("ELECTWATCH_ENCRYPTION_KEY"):
            s.encryption_key = key
        if f := env("ELECTWATCH_ENCRYPTION_KEY_FILE"):
            s.encryption_key_file = Path(f)
        if old := env("ELECTWATCH_OLD_ENCRYPTION_KEYS"):
            s.old_encryption_keys = tuple(k.strip() for k in old.split(",") if k.strip())
        if proxies := env("ELECTWATCH_TRUSTED_PROXIES"):
            s.trusted_proxies = tuple(p.strip() for p in proxies.split(",") if p.strip())
        if env("ELECTWATCH_SECURE_COOKIES") == "1":
            s.cookie_secure = True
        if hsts := env("ELECTWATCH_HSTS_SECONDS"):
            s.hsts_seconds = max(0, int(hsts))
        if env("ELECTWATCH_API_DOCS") == "1":
            s.api_docs = True
        if rate := env("ELECTWATCH_RATE"):
            s.rate_per_second = float(rate)
        if burst := env("ELECTWATCH_BURST"):
            s.rate_burst = int(burst)
        if lease := env("ELECTWATCH_RATE_LEASE"):
            s.rate_lease = max(1, int(lease))
        if scale := env("ELECTWATCH_LOGIN_LIMIT_SCALE"):
            k = max(1, int(scale))
            s.login_client_attempts *= k
            s.login_user_client_attempts *= k
            s.login_user_attempts *= k
        if batch := env("ELECTWATCH_WRITER_BATCH"):
            s.writer_batch = max(1, int(batch))
        if env("ELECTWATCH_MIGRATE") == "0":
            s.migrate = False
        if env("ELECTWATCH_REPORT_FAST_PATH") == "0":
            s.report_fast_path = False
        return s

    def to_env(self) -> dict[str, str]:
        """The environment that makes :meth:`from_env` rebuild these settings (for
        worker processes started by ``serve --workers``)."""
        env = {
            "ELECTWATCH_DB": self.database_url,
            "ELECTWATCH_EVIDENCE_DIR": str(self.evidence_dir),
            "ELECTWATCH_RATE": repr(self.rate_per_second),
            "ELECTWATCH_BURST": str(self.rate_burst),
            "ELECTWATCH_WRITER_BATCH": str(self.writer_batch),
            "ELECTWATCH_REPORT_FAST_PATH": "1" if self.report_fast_path else "0",
            "ELECTWATCH_SECURE_COOKIES": "1" if self.cookie_secure else "0",
            "ELECTWATCH_HSTS_SECONDS": str(self.hsts_seconds),
            "ELECTWATCH_API_DOCS": "1" if self.api_docs else "0",
        }
        if self.rate_lease is not None:
            env["ELECTWATCH_RATE_LEASE"] = str(self.rate_lease)
        if self.secret_key:
            env["ELECTWATCH_SECRET_KEY"] = self.secret_key
        if self.trusted_proxies:
            env["ELECTWATCH_TRUSTED_PROXIES"] = ",".join(self.trusted_proxies)
        if self.encryption_key:
            env["ELECTWATCH_ENCRYPTION_KEY"] = self.encryption_key
        if self.encryption_key_file:
            env["ELECTWATCH_ENCRYPTION_KEY_FILE"] = str(self.encryption_key_file)
        if self.old_encryption_keys:
            env["ELECTWATCH_OLD_ENCRYPTION_KEYS"] = ",".join(self.old_encryption_keys)
        return env
