"""Credential secrets: scrypt hashing (RFC 7914; n=2**14, r=8, p=1, 16-byte salt).

A credential string is ``ew<kind>_<public id>_<secret>``: the public id finds the row,
the secret is checked against its scrypt hash in constant time. Only hashes are stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of ``secret``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_secret(secret: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def new_credential(kind: str) -> tuple[str, str, str]:
    """``(public id, secret, full credential string)`` for kind ``tok`` or ``ses``."""
    public = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return public, secret, f"ew{kind}_{public}_{secret}"


def split_credential(value: str) -> tuple[str, str, str] | None:
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] not in ("ewtok", "ewses") or not parts[1] or not parts[2]:
        return None
    return parts[0][2:], parts[1], parts[2]
