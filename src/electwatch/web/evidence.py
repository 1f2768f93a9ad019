"""Evidence files: type and size limits, metadata stripping, content-addressed storage.

Accepted: JPEG and PNG photos, and MP4/M4A/MOV, WebM/Matroska and Ogg video and
audio, recognised by their magic bytes (the client's content type and filename are
ignored; filenames are never used as paths).

Photos are decoded with Pillow and re-encoded without any metadata: EXIF (with GPS
position, camera serial, time), XMP, IPTC and comments are dropped; the EXIF
orientation is applied to the pixels first so the photo still displays upright.
Decoding is bounded twice: an image above ``MAX_PIXELS`` is refused from its header,
before any pixel is decoded, and every decode reserves its pixel memory from one
process-wide budget (``DECODE_BUDGET_BYTES``), so concurrent large images wait for
each other instead of adding up (six concurrent 40-Mpx uploads stay under the
documented ceiling).

Video and audio arrive spooled to disk by the multipart parser (never held in
memory), are copied to a temporary file in the evidence folder in chunks, and are
remuxed by ffmpeg (``-map_metadata -1 -map_chapters -1 -c copy`` with bit-exact
flags): streams are copied unchanged, the container's metadata (GPS location,
device make and model, creation dates, encoder) is not. ffmpeg is Debian's package
(``scripts/setup.sh`` installs it); without it media uploads are refused (415).

With an at-rest key configured, stored files are encrypted (AES-GCM, chunked,
:mod:`electwatch.storage.crypto`); the SHA-256 name is that of the cleaned plaintext.
The cleaned bytes are stored as ``<evidence_dir>/<sha[:2]>/<sha256>`` (written to
a temporary file and renamed, so a crash never leaves a partial file under a
valid name); identical photos are stored once.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from electwatch.storage.models import Evidence, Report, ReportEvidence
from electwatch.storage.service import audit, parse_uuid

MAX_PIXELS = 40_000_000
#: pixel memory all concurrent decodes of a process may hold together (bytes)
DECODE_BUDGET_BYTES = 400 * 1024 * 1024
TYPES = {b"\xff\xd8\xff": ("image/jpeg", "JPEG"), b"\x89PNG\r\n\x1a\n": ("image/png", "PNG")}
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own decompression-bomb guard, same bound


class _MemoryBudget:
    """A counting semaphore over bytes: ``reserve(n)`` waits until n bytes are free."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, n: int) -> Iterator[None]:
        if n > self.total:
            raise EvidenceError("image too large to decode within the memory limit", 413)
        with self._cond:
            self._cond.wait_for(lambda: self.used + n <= self.total)
            self.used += n
        try:
            yield
        finally:
            with self._cond:
                self.used -= n
                self._cond.notify_all()


DECODE_BUDGET = _MemoryBudget(DECODE_BUDGET_BYTES)


def _return_freed_image_memory() -> None:
    """glibc raises its mmap threshold after the first large free, so later 16 MB
    Pillow blocks come from the heap arenas of each thread and are never given back:
    six 40-Mpx decodes one after the other left 1.3 GB resident. Fixing the threshold
    (which also stops the dynamic adjustment) keeps large blocks mmapped, returned to
    the system when freed. A no-op where glibc's mallopt is not available."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        m_mmap_threshold = -3
        libc.mallopt(m_mmap_threshold, 1024 * 1024)
    except (OSError, AttributeError):
        return


_return_freed_image_memory()


def media_kind(head: bytes) -> tuple[str, str] | None:
    """``(content type, file suffix)`` of a video/audio container, from its first bytes."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4", ".m4a"
        if brand == b"qt  ":
            return "video/quicktime", ".mov"
        return "video/mp4", ".mp4"
    if head.startswith(b"OggS"):
        return "audio/ogg", ".ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm", ".webm"
    return None


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


#: decodes reserving more than this also take a host-wide lock (a file lock in the
#: evidence folder), so the worker processes of one host decode large images one at
#: a time: the memory ceiling holds for the whole server, not per process
LARGE_DECODE_BYTES = 64 * 1024 * 1024


@contextmanager
def _host_lock(lock_dir: Path | None, needed: bool) -> Iterator[None]:
    if lock_dir is None or not needed:
        yield
        return
    import fcntl

    Path(lock_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(lock_dir) / ".decode.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def strip_metadata(data: bytes, lock_dir: Path | None = None) -> tuple[bytes, str]:
    """Re-encode an image without metadata; returns ``(clean bytes, content type)``."""
    kind = sniff(data)
    if kind is None:
        raise EvidenceError("only JPEG and PNG photos are accepted", 415)
    content_type, fmt = kind
    try:
        with Image.open(io.BytesIO(data)) as im:
            pixels = im.width * im.height
            if pixels > MAX_PIXELS:
                raise EvidenceError(f"image larger than {MAX_PIXELS:,} pixels", 413)
            # decoded bands (up to 4 bytes a pixel) and one transposed/converted copy
            need = pixels * 4 * 2
            with _host_lock(lock_dir, need > LARGE_DECODE_BYTES), DECODE_BUDGET.reserve(need):
                im.load()
                clean = ImageOps.exif_transpose(im)
                if clean is None:  # pragma: no cover  (only with in_place=True)
                    clean = im
                clean.info.clear()
                out = io.BytesIO()
                if fmt == "JPEG":
                    if clean.mode not in ("RGB", "L", "CMYK"):
                        clean = clean.convert("RGB")
                    clean.save(out, "JPEG", quality=90)
                else:
                    # no optimize pass: it re-compresses many times (23 s for 40 Mpx)
                    clean.save(out, "PNG", compress_level=6)
                del clean
    except EvidenceError:
        raise
    except Exception as exc:  # Pillow raises many types on corrupt input
        raise EvidenceError(f"the file is not a readable {fmt} image") from exc
    return out.getvalue(), content_type


def _place(src: BinaryIO, path: Path, cipher: Any) -> None:
    """Write ``src`` under ``path`` durably (temporary file, fsync, rename, fsync dir),
    encrypted when a cipher is given."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            if cipher is not None:
                cipher.encrypt_stream(src, fh)
            else:
                shutil.copyfileobj(src, fh, 1024 * 1024)
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


def strip_media(src: BinaryIO, workdir: Path, suffix: str) -> Path:
    """Remux a video/audio file with ffmpeg without any metadata; the clean file's path
    (in ``workdir``; the caller removes it)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise EvidenceError("video and audio need ffmpeg on the server", 415)
    workdir.mkdir(parents=True, exist_ok=True)
    fd, raw = tempfile.mkstemp(dir=workdir, prefix=".media-in-", suffix=suffix)
    clean = Path(raw).with_name(Path(raw).name.replace(".media-in-", ".media-out-"))
    try:
        with os.fdopen(fd, "wb") as fh:
            shutil.copyfileobj(src, fh, 1024 * 1024)
        cmd = [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-i", raw,
            "-map", "0", "-map_metadata", "-1", "-map_metadata:s", "-1", "-map_chapters", "-1",
            "-c", "copy", "-fflags", "+bitexact", "-flags:v", "+bitexact",
            "-flags:a", "+bitexact",
            str(clean),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
        if done.returncode != 0 or not clean.exists() or clean.stat().st_size == 0:
            clean.unlink(missing_ok=True)
            raise EvidenceError("the file is not a readable video or audio file")
        return clean
    finally:
        Path(raw).unlink(missing_ok=True)


def store_media(
    factory: Any,
    settings: Any,
    report_id: str,
    src: BinaryIO,
    content_type: str,
    suffix: str,
    actor: str,
    cipher: Any = None,
) -> dict[str, Any]:
    """Strip, hash, store and link a video/audio file (streamed; sync)."""
    work = Path(settings.evidence_dir) / "tmp"
    clean = strip_media(src, work, suffix)
    try:
        digest = hashlib.sha256()
        size = 0
        with open(clean, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
        sha = digest.hexdigest()
        with open(clean, "rb") as fh:
            _place(fh, evidence_path(settings.evidence_dir, sha), cipher)
    finally:
        clean.unlink(missing_ok=True)
    _link_twice(factory, report_id, sha, size, content_type, actor, cipher)
    return {"sha256": sha, "size": size, "content_type": content_type}


def _link_twice(
    factory: Any, report_id: str, sha: str, size: int, content_type: str, actor: str, cipher: Any
) -> None:
    rid = parse_uuid(report_id)
    key_id = cipher.key_id if cipher is not None else None
    try:
        _link_evidence(factory, rid, sha, size, content_type, actor, key_id)
    except IntegrityError:
        # a concurrent upload of the same file (or to the same report) inserted the
        # row between our check and our insert; the second attempt sees it and links
        _link_evidence(factory, rid, sha, size, content_type, actor, key_id)


def store_evidence(
    factory: Any, settings: Any, report_id: str, data: bytes, actor: str, cipher: Any = None
) -> dict[str, Any]:
    """Strip, hash, store and link an evidence photo to a report (sync)."""
    if len(data) > settings.max_evidence_bytes:
        raise EvidenceError(f"file larger than {settings.max_evidence_bytes} bytes", 413)
    if not data:
        raise EvidenceError("empty file")
    clean, content_type = strip_metadata(data, Path(settings.evidence_dir))
    sha = hashlib.sha256(clean).hexdigest()
    path = evidence_path(settings.evidence_dir, sha)
    if not path.exists():
        _place(io.BytesIO(clean), path, cipher)
    _link_twice(factory, report_id, sha, len(clean), content_type, actor, cipher)
    return {
        "sha256": sha,
        "size": len(clean),
        "content_type": content_type,
        "original_size": len(data),
    }


def _link_evidence(
    factory: Any,
    rid: Any,
    sha: str,
    size: int,
    content_type: str,
    actor: str,
    key_id: str | None = None,
) -> None:
    """Record the evidence file (once) and link it to the report (once), audited."""
    with factory() as s, s.begin():
        report = s.get(Report, rid)
        if report is None:
            raise EvidenceError("no such report", 404)
        if s.get(Evidence, sha) is None:
            s.add(Evidence(sha256=sha, size=size, content_type=content_type, key_id=key_id))
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
