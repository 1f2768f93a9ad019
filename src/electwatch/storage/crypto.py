"""Encryption at rest of observers' notes and evidence files (AES-256-GCM).

The key lives outside the database (a key file or an environment value shared by
every host, :class:`~electwatch.web.settings.Settings`), so a copy of the database
or of the evidence folder alone reveals neither notes nor photos. Every ciphertext
names the key it was made with (``key id`` = first 16 hex digits of the SHA-256 of
the key), so after a rotation old data stay readable with the old key given as
read-only (``old_encryption_keys``) until ``electwatch serve rotate-key`` has
re-encrypted everything.

Formats:

* text: ``ewenc1:<key id>:<urlsafe base64 of nonce(12) + ciphertext + tag>``; the
  associated data binds it to its purpose (e.g. ``report-notes:<report id>``).
* files: ``EWENC1`` + key id (16 ASCII) + chunks of ``length(4, big endian) + nonce(12)
  + ciphertext+tag``, each chunk at most 1 MiB of plaintext, the chunk number and a
  last-chunk flag in the associated data (no chunk can be dropped, reordered or the
  file truncated unnoticed), so files of any size are streamed, never held whole.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TEXT_PREFIX = "ewenc1:"
FILE_MAGIC = b"EWENC1"
CHUNK = 1024 * 1024


class KeyError_(ValueError):
    """A key that cannot be used, or data made with a key we do not have."""


def parse_key(value: str) -> bytes:
    """32 bytes from 64 hex digits or urlsafe base64 (``electwatch serve new-key``)."""
    v = value.strip()
    try:
        if len(v) == 64:
            return bytes.fromhex(v)
        raw = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
    except ValueError as exc:
        raise KeyError_("the encryption key is not 64 hex digits or base64") from exc
    if len(raw) != 32:
        raise KeyError_("the encryption key must be 32 bytes (AES-256)")
    return raw


def new_key() -> str:
    return os.urandom(32).hex()


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"electwatch-key-id:" + key).hexdigest()[:16]


class Cipher:
    """Encrypts with the current key; decrypts with it or any older key given."""

    def __init__(self, key: bytes, old_keys: tuple[bytes, ...] = ()) -> None:
        self.key_id = key_id(key)
        self._current = AESGCM(key)
        self._keys = {key_id(k): AESGCM(k) for k in (*old_keys, key)}

    def _aead(self, kid: str) -> AESGCM:
        aead = self._keys.get(kid)
        if aead is None:
            raise KeyError_(f"data encrypted with key {kid}, which is not configured")
        return aead

    # --- text -------------------------------------------------------------------------
    def encrypt_text(self, text: str, context: str) -> str:
        nonce = os.urandom(12)
        ct = self._current.encrypt(nonce, text.encode("utf-8"), context.encode())
        body = base64.urlsafe_b64encode(nonce + ct).decode()
        return f"{TEXT_PREFIX}{self.key_id}:{body}"

    def decrypt_text(self, value: str, context: str) -> str:
        if not is_encrypted_text(value):
            return value  # written before encryption was switched on
        _, kid, body = value.split(":", 2)
        raw = base64.urlsafe_b64decode(body)
        try:
            return self._aead(kid).decrypt(raw[:12], raw[12:], context.encode()).decode("utf-8")
        except InvalidTag as exc:
            raise KeyError_("encrypted text failed authentication") from exc

    # --- files ------------------------------------------------------------------------
    def encrypt_stream(self, src: BinaryIO, dst: BinaryIO) -> int:
        """Encrypt ``src`` into ``dst`` chunk by chunk; returns plaintext bytes."""
        dst.write(FILE_MAGIC + self.key_id.encode())
        total = 0
        index = 0
        chunk = src.read(CHUNK)
        while True:
            nxt = src.read(CHUNK) if chunk else b""
            last = not nxt
            nonce = os.urandom(12)
            ct = self._current.encrypt(nonce, chunk, struct.pack(">QB", index, last))
            dst.write(struct.pack(">I", len(ct)) + nonce + ct)
            total += len(chunk)
            index += 1
            if last:
                return total
            chunk = nxt

    def decrypt_stream(self, src: BinaryIO) -> Iterator[bytes]:
        head = src.read(len(FILE_MAGIC) + 16)
        if not head.startswith(FILE_MAGIC):
            raise KeyError_("not an electwatch encrypted file")
        aead = self._aead(head[len(FILE_MAGIC) :].decode())
        index = 0
        while True:
            size_raw = src.read(4)
            if len(size_raw) != 4:
                raise KeyError_("encrypted file truncated")
            (size,) = struct.unpack(">I", size_raw)
            nonce = src.read(12)
            ct = src.read(size)
            for last in (True, False):
                try:
                    plain = aead.decrypt(nonce, ct, struct.pack(">QB", index, last))
                except InvalidTag:
                    continue
                yield plain
                if last:
                    return
                break
            else:
                raise KeyError_("encrypted file failed authentication")
            index += 1

    def decrypt_file(self, path: Path) -> Iterator[bytes]:
        with open(path, "rb") as fh:
            yield from self.decrypt_stream(fh)


def is_encrypted_text(value: str | None) -> bool:
    return bool(value) and value.startswith(TEXT_PREFIX)  # type: ignore[union-attr]


def is_encrypted_file(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(FILE_MAGIC)) == FILE_MAGIC


def cipher_from(
    key: str | None, key_file: Path | None, old_keys: tuple[str, ...] = ()
) -> Cipher | None:
    """The cipher of the configured key (None: encryption at rest is off)."""
    value = key
    if value is None and key_file is not None:
        value = Path(key_file).read_text().strip()
    if not value:
        return None
    return Cipher(parse_key(value), tuple(parse_key(k.split("=", 1)[-1]) for k in old_keys))


#: the cipher of this process's service (set by ``create_app``): one key per
#: deployment, so one process-wide value; read by :func:`reveal_notes`
_active: list[Cipher | None] = [None]


def set_active_cipher(cipher: Cipher | None) -> None:
    _active[0] = cipher


def active_cipher() -> Cipher | None:
    return _active[0]


def notes_context(report_id: object) -> str:
    return f"report-notes:{report_id}"


def reveal_notes(notes: str | None, report_id: object) -> str | None:
    """A report's notes in clear (decrypted when stored encrypted)."""
    if not notes or not is_encrypted_text(notes):
        return notes
    cipher = active_cipher()
    if cipher is None:
        return "[encrypted: no key configured]"
    return cipher.decrypt_text(notes, notes_context(report_id))
