"""Secrets and limits: scrypt hashing, credential strings, CSRF tokens, token buckets.

Passwords, API tokens and session secrets are stored only as scrypt hashes
(RFC 7914; n=2**14, r=8, p=1, 16-byte salt). A credential string is
``ew<kind>_<public id>_<secret>``: the public id finds the row, the secret is checked
against its hash in constant time. Verified credentials are cached in process memory
(keyed by a SHA-256 of the whole string) so a request does not pay for scrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass

from electwatch.storage.credentials import (  # noqa: F401  (re-exported)
    hash_secret,
    new_credential,
    split_credential,
    verify_secret,
)


def cache_key(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def csrf_token(secret_key: str, credential_id: str) -> str:
    """CSRF token bound to a web session (HMAC-SHA256 of the session's public id)."""
    return hmac.new(
        secret_key.encode(), f"csrf:{credential_id}".encode(), hashlib.sha256
    ).hexdigest()


def check_csrf(secret_key: str, credential_id: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(secret_key, credential_id), token or "")


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """In-process token buckets (one per key): ``rate`` tokens/s, at most ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> tuple[bool, float]:
        """``(allowed, seconds until a token is available)``."""
        t = time.monotonic() if now is None else now
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                b = self._buckets[key] = _Bucket(float(self.burst), t)
            b.tokens = min(float(self.burst), b.tokens + (t - b.stamp) * self.rate)
            b.stamp = t
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return True, 0.0
            return False, (1.0 - b.tokens) / self.rate if self.rate > 0 else 3600.0
