"""Secrets and limits: scrypt hashing, credential strings, CSRF tokens, rate limits.

Passwords, API tokens and session secrets are stored only as scrypt hashes
(RFC 7914; n=2**14, r=8, p=1, 16-byte salt). A credential string is
``ew<kind>_<public id>_<secret>``: the public id finds the row, the secret is checked
against its hash in constant time. Verified credentials are cached in process memory
(keyed by a SHA-256 of the whole string) so a request does not pay for scrypt; whether
the credential is still valid (revoked, user disabled, expired) is checked in the
database on every request, so a revocation takes effect at once in every process.

Rate limits are :class:`SharedRateLimiter` fixed windows counted in the database
(:class:`~electwatch.storage.shared_state.WindowCounters`), so N worker processes or
hosts allow together what one would. To spare a database write per request, a
process takes ``lease`` units of a window at once and spends them locally; units a
process leased but did not spend are lost for that window (never more than the limit
is allowed in total).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
import time
from typing import Any

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


class SharedRateLimiter:
    """``limit`` requests per ``window_seconds`` per key, across every process.

    ``counters`` is a :class:`~electwatch.storage.shared_state.WindowCounters`.
    """

    def __init__(
        self,
        counters: Any,
        limit: int,
        window_seconds: float,
        prefix: str,
        lease: int = 1,
    ) -> None:
        self.counters = counters
        self.limit = max(1, int(limit))
        self.window_seconds = float(window_seconds)
        self.prefix = prefix
        self.lease = max(1, min(int(lease), self.limit))
        #: key -> [window, units leased and not yet spent]
        self._local: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def _wait(self, now: float) -> float:
        return self.window_seconds - (now % self.window_seconds)

    def _take_local(self, key: str, window: int) -> bool | None:
        """True: spent a leased unit; False: this window is known to be exhausted;
        None: ask the database."""
        with self._lock:
            st = self._local.get(key)
            if st is None or st[0] != window:
                return None
            if st[1] > 0:
                st[1] -= 1
                return True
            if st[1] < 0:  # marked exhausted
                return False
            return None

    def allow_sync(self, key: str, now: float | None = None) -> tuple[bool, float]:
        """``(allowed, seconds until the next window)`` (may query the database)."""
        t = time.time() if now is None else now
        window = int(t // self.window_seconds)
        local = self._take_local(key, window)
        if local is not None:
            return local, 0.0 if local else self._wait(t)
        count = self.counters.hit(self.prefix + key, window, self.lease)
        granted = max(0, min(self.lease, self.limit - (count - self.lease)))
        with self._lock:
            if len(self._local) > 100_000:  # bounded memory under key floods
                self._local.clear()
            st = self._local.get(key)
            if st is not None and st[0] == window and st[1] >= 0:
                st[1] += granted  # concurrent leases of this process add up
            else:
                st = self._local[key] = [window, granted]
            if st[1] > 0:
                st[1] -= 1
                return True, 0.0
            st[1] = -1  # exhausted: refused locally until the next window
        return False, self._wait(t)

    async def allow(self, key: str) -> tuple[bool, float]:
        t = time.time()
        local = self._take_local(key, int(t // self.window_seconds))
        if local is not None:
            return local, 0.0 if local else self._wait(t)
        import anyio

        return await anyio.to_thread.run_sync(self.allow_sync, key)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: tuple[str, ...]
) -> str | None:
    """The client's address: the TCP peer, or (only when the peer is one of the
    ``trusted`` proxies, addresses or networks) the right-most address in
    ``X-Forwarded-For`` that is not itself a trusted proxy. Used only to key the
    guess limits, as a keyed hash; never logged or stored."""
    if not peer:
        return None
    nets = []
    for t in trusted:
        try:
            nets.append(ipaddress.ip_network(t, strict=False))
        except ValueError:
            continue

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.strip())
        except ValueError:
            return False
        return any(ip in n for n in nets)

    if not nets or not is_trusted(peer) or not forwarded_for:
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not is_trusted(hop):
            return hop[:100]
    return peer


def client_key(secret_key: str, address: str | None) -> str:
    """A keyed hash naming a client in the shared counters (the address is not kept)."""
    return hmac.new(
        secret_key.encode(), f"client:{address or '-'}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def device_token(secret_key: str, user_id: int) -> str:
    """Value of the device cookie a browser gets after a successful login: a client
    that holds it for a user is never slowed by that user's account-wide guess limit
    (OWASP's "device cookie" against lock-out attacks)."""
    mac = hmac.new(secret_key.encode(), f"device:{user_id}".encode(), hashlib.sha256)
    return f"{user_id}.{mac.hexdigest()}"


def device_user(secret_key: str, value: str | None) -> int | None:
    if not value or "." not in value:
        return None
    uid, _, _mac = value.partition(".")
    if not uid.isascii() or not uid.isdigit() or len(uid) > 12:
        return None
    return int(uid) if hmac.compare_digest(device_token(secret_key, int(uid)), value) else None
