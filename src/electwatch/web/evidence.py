"""Evidence files: type and size limits, metadata stripping, content-addressed storage.

Accepted: JPEG and PNG photos, recognised by their magic bytes (the client's
content type and filename are ignored; filenames are never used as paths). Each
image is decoded with Pillow and re-encoded without any metadata: EXIF (with GPS
position, camera serial, time), XMP, IPTC and comments are dropped; the EXIF
orientation is applied to the pixels first so the photo still displays upright.
The cleaned bytes are stored as ``<evidence_dir>/<sha[:2]>/<sha256>`` (written to
a temporary file and renamed, so a crash never leaves a partial file under a
valid name); identical photos are stored once.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from electwatch.storage.models import Evidence, Report, ReportEvidence
from electwatch.storage.service import audit, parse_uuid

MAX_PIXELS = 40_000_000
TYPES = {b"\xff\xd8\xff": ("image/jpeg", "JPEG"), b"\x89PNG\r\n\x1a\n": ("image/png", "PNG")}
_SHA = re.compile(r"^[0-9a-f]{64}$")


class EvidenceError(Exception):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def valid_sha256(value: str) -> bool:
    return bool(_SHA.match(value))


def evidence_path(root: Path, sha256: str) -> Path:
    if not valid_sha256(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return Path(root) / sha256[:2] / sha256


def sniff(data: bytes) -> tuple[str, str] | None:
    for magic, kind in TYPES.items():
        if data.startswith(magic):
            return kind
    return None


def strip_metadata(data: bytes) -> tuple[bytes, str]:
    """Re-encode an image without metadata; returns ``(clean bytes, content type)``."""
    kind = sniff(data)
    if kind is None:
        raise EvidenceError("only JPEG and PNG photos are accepted", 415)
    content_type, fmt = kind
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                raise EvidenceError(f"image larger than {MAX_PIXELS:,} pixels", 413)
            im.load()
            upright = ImageOps.exif_transpose(im)
            clean = upright.copy()
    except EvidenceError:
        raise
    except Exception as exc:  # Pillow raises many types on corrupt input
        raise EvidenceError(f"the file is not a readable {fmt} image") from exc
    clean.info.clear()
    out = io.BytesIO()
    if fmt == "JPEG":
        if clean.mode not in ("RGB", "L", "CMYK"):
            clean = clean.convert("RGB")
        clean.save(out, "JPEG", quality=90, optimize=True)
    else:
        clean.save(out, "PNG", optimize=True)
    return out.getvalue(), content_type


def store_evidence(
    factory: Any, settings: Any, report_id: str, data: bytes, actor: str
) -> dict[str, Any]:
    """Strip, hash, store and link an evidence file to a report (sync)."""
    if len(data) > settings.max_evidence_bytes:
        raise EvidenceError(f"file larger than {settings.max_evidence_bytes} bytes", 413)
    if not data:
        raise EvidenceError("empty file")
    clean, content_type = strip_metadata(data)
    sha = hashlib.sha256(clean).hexdigest()
    path = evidence_path(settings.evidence_dir, sha)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(clean)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            # the rename is durable only once the folder is synced; the database row
            # pointing at the file is committed after this
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    rid = parse_uuid(report_id)
    try:
        _link_evidence(factory, rid, sha, len(clean), content_type, actor)
    except IntegrityError:
        # a concurrent upload of the same file (or to the same report) inserted the
        # row between our check and our insert; the second attempt sees it and links
        _link_evidence(factory, rid, sha, len(clean), content_type, actor)
    return {
        "sha256": sha,
        "size": len(clean),
        "content_type": content_type,
        "original_size": len(data),
    }


def _link_evidence(
    factory: Any, rid: Any, sha: str, size: int, content_type: str, actor: str
) -> None:
    """Record the evidence file (once) and link it to the report (once), audited."""
    with factory() as s, s.begin():
        report = s.get(Report, rid)
        if report is None:
            raise EvidenceError("no such report", 404)
        if s.get(Evidence, sha) is None:
            s.add(Evidence(sha256=sha, size=size, content_type=content_type))
            s.flush()
        linked = s.scalar(
            select(ReportEvidence.sha256).where(
                ReportEvidence.report_id == rid, ReportEvidence.sha256 == sha
            )
        )
        if linked is None:
            s.add(ReportEvidence(report_id=rid, sha256=sha))
            audit(
                s,
                actor,
                "evidence.attach",
                "report",
                rid,
                None,
                {"sha256": sha, "size": size, "content_type": content_type},
            )
