"""Key rotation of the at-rest encryption: re-encrypt notes and evidence files."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from electwatch.errors import ElectwatchError
from electwatch.storage.crypto import (
    Cipher,
    cipher_from,
    is_encrypted_file,
    notes_context,
    parse_key,
)
from electwatch.storage.models import AuditEntry, Evidence, Report
from electwatch.storage.service import SYSTEM, audit


def rotate(factory: Any, settings: Any, evidence_dir: Path, new_key: str) -> dict[str, int]:
    """Decrypt with the configured keys, encrypt with ``new_key``; audited. Files are
    replaced atomically one by one, so an interrupted rotation can be run again."""
    old = cipher_from(
        settings.encryption_key, settings.encryption_key_file, settings.old_encryption_keys
    )
    new_raw = parse_key(new_key)
    keys = tuple(old._keys) if old is not None else ()
    new = Cipher(new_raw, ())
    reader = Cipher(new_raw, ()) if old is None else old
    if old is not None:
        reader._keys[new.key_id] = new._current  # already rotated items stay readable
    notes = files = 0
    with factory() as s, s.begin():
        for r in s.scalars(select(Report).where(Report.notes.is_not(None))):
            if r.notes is None:
                continue
            clear = reader.decrypt_text(r.notes, notes_context(r.id))
            r.notes = new.encrypt_text(clear, notes_context(r.id))
            notes += 1
        for e in s.scalars(select(Evidence)):
            path = Path(evidence_dir) / e.sha256[:2] / e.sha256
            if not path.is_file():
                continue
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rotate-")
            try:
                with os.fdopen(fd, "wb") as out:
                    buf: BinaryIO
                    if is_encrypted_file(path):
                        buf = io.BytesIO(b"".join(reader.decrypt_file(path)))
                    else:
                        buf = open(path, "rb")  # noqa: SIM115  (closed below)
                    new.encrypt_stream(buf, out)
                    buf.close()
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            e.key_id = new.key_id
            files += 1
        # audit entries keep notes as stored: re-encrypt those too
        for a in s.scalars(select(AuditEntry).where(AuditEntry.entity == "report")):
            for side in ("before", "after"):
                val = getattr(a, side)
                if isinstance(val, dict) and isinstance(val.get("notes"), str):
                    clear = reader.decrypt_text(val["notes"], notes_context(a.entity_id))
                    setattr(
                        a,
                        side,
                        {**val, "notes": new.encrypt_text(clear, notes_context(a.entity_id))},
                    )
        audit(s, SYSTEM, "key.rotate", "service", new.key_id, {"keys": list(keys)}, None)
    if old is None and (notes or files) == 0:
        raise ElectwatchError("nothing to rotate and no current key configured")
    return {"notes": notes, "files": files}
