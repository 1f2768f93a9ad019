"""Reading a results file into a table of text cells: archives, encodings, delimiters.

Every failure a user can cause (missing file, corrupt or truncated archive, bad
encoding, missing sheet, empty file, ragged rows) is a
:class:`~electwatch.errors.DataValidationError` naming the file, never a traceback.

Encodings: ``auto`` reads UTF-8 with or without a byte-order mark and UTF-16 (by its
BOM, or by the NUL bytes of an unmarked file); anything else is refused with a hint
naming the likely encoding (Windows-1256 for Arabic script, Windows-1251 for Cyrillic)
and the option that sets it. Delimiters ``,`` ``;`` and tab are detected from the
header line unless one is given.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import polars as pl

from electwatch.errors import DataValidationError, MappingError

#: given the header, the columns to parse as integers on the fast path
IntColumns = Callable[[list[str]], list[str]]
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
_ENCODING_OPTION = "set it with --encoding (or 'encoding' in the mapping)"


@dataclass
class RawTable:
    """A source table before mapping: every column as read, plus how to locate rows."""

    frame: pl.DataFrame
    file: str
    sha256: str
    #: physical line (CSV) or sheet row (Excel) of data row r is r + line_offset;
    #: None when it cannot be known (quoted fields spanning lines)
    line_offset: int | None
    encoding: str = "utf-8"
    delimiter: str | None = None

    def error(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
        expected: str | None = None,
    ) -> DataValidationError:
        line = row + self.line_offset if row is not None and self.line_offset is not None else None
        return DataValidationError(
            self.file, message, row=row, column=column, value=value, expected=expected, line=line
        )


def _blank(data: bytes) -> bool:
    """Only white space (looks at the start first: no copy of a large file)."""
    return not data[:4096].strip() and not data.strip()


def read_bytes(path: Path, member: str | None, limit: int | None = None) -> bytes:
    """The bytes of a plain, ``.gz`` or single-member ``.zip`` file (the first
    ``limit`` bytes only, when given: enough for a header without unpacking it all)."""
    file = str(path)
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                if member is None:
                    if len(names) != 1:
                        raise DataValidationError(
                            file,
                            f"zip archive holds {len(names)} files {names[:5]}",
                            expected="exactly one file, or zip_member in the mapping",
                        )
                    member = names[0]
                if member not in names:
                    raise DataValidationError(
                        file, f"zip archive has no member {member!r}", expected=f"one of {names}"
                    )
                if limit is not None:
                    with zf.open(member) as fh:
                        return fh.read(limit)
                return zf.read(member)
        if name.endswith(".gz"):
            if limit is not None:
                with gzip.open(path) as fh:
                    return fh.read(limit)
            return gzip.decompress(path.read_bytes())
        if limit is not None:
            with path.open("rb") as fh:
                return fh.read(limit)
        return path.read_bytes()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, gzip.BadGzipFile) as e:
        kind = "zip" if name.endswith(".zip") else "gzip"
        raise DataValidationError(
            file, f"corrupt or truncated {kind} archive ({e or type(e).__name__})"
        ) from None
    except NotImplementedError as exc:  # an unsupported zip compression method
        raise DataValidationError(file, f"cannot unpack the archive: {exc}") from None
    except IsADirectoryError:
        raise DataValidationError(file, "is a folder, not a file") from None
    except OSError as exc:
        raise DataValidationError(file, f"cannot read the file: {exc.strerror or exc}") from None


def guess_legacy_encoding(data: bytes) -> str:
    """The likely single-byte code page of text that is not UTF-8.

    In Windows-1251 the lower-case Cyrillic letters, which make up most of any text,
    are bytes 0xE0-0xFF; in Windows-1256 most Arabic letters are bytes 0xC1-0xDF.
    """
    high = [b for b in data[:200_000] if b >= 0xC0]
    if not high:
        return "cp1252"
    arabic = sum(0xC1 <= b <= 0xDF for b in high)
    return "cp1256" if arabic > len(high) / 2 else "cp1251"


_NAMES = {"cp1256": "Windows-1256 (Arabic script)", "cp1251": "Windows-1251 (Cyrillic)"}


def _refuse_decode(data: bytes, file: str, encoding: str, exc: UnicodeDecodeError) -> NoReturn:
    line = data.count(b"\n", 0, exc.start) + 1
    guess = guess_legacy_encoding(data)
    named = _NAMES.get(guess, "Windows-1252 (Western European)")
    raise DataValidationError(
        file,
        f"cannot decode byte {data[exc.start : exc.start + 1]!r} at offset {exc.start} "
        f"as {encoding}; the file looks like {named}",
        row=line - 1 if line > 1 else None,
        line=line,
        expected=f"text encoded as {encoding}: {_ENCODING_OPTION}, e.g. --encoding {guess}",
    )


def to_utf8(data: bytes, file: str, encoding: str) -> tuple[bytes, str]:
    """Re-encode ``data`` as UTF-8 (without BOM); returns the bytes and the encoding read."""
    enc = encoding.lower().replace("-", "").replace("_", "")
    if enc == "auto":
        if data.startswith(b"\xef\xbb\xbf"):
            return data[3:], "utf-8-sig"
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return _decode(data, file, "utf-16").encode("utf-8"), "utf-16"
        head = data[:2000]
        if len(head) >= 4 and head.count(b"\x00") > len(head) // 3:
            le = head[1::2].count(b"\x00") > head[0::2].count(b"\x00")
            codec = "utf-16-le" if le else "utf-16-be"
            return _decode(data, file, codec).encode("utf-8"), codec
        return data, "utf-8"  # validated when parsed (polars refuses invalid UTF-8)
    if enc in {"utf8", "utf8sig"}:
        return (data[3:] if data.startswith(b"\xef\xbb\xbf") else data), "utf-8"
    return _decode(data, file, encoding).encode("utf-8"), encoding


def _decode(data: bytes, file: str, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        _refuse_decode(data, file, encoding, exc)
    except LookupError:
        raise MappingError(f"unknown encoding {encoding!r}") from None


def detect_delimiter(first_line: str) -> str:
    """The most frequent of ``,`` ``;`` tab outside quotes in the header line."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _diagnose_csv(text: str, file: str, delimiter: str) -> None:
    """Slow path after a polars parse failure: find the first ragged row."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    row = 0
    try:
        header = next(reader, None)
        if header is None:
            raise DataValidationError(file, "file is empty", expected="a header row and data rows")
        for row, fields in enumerate(reader, start=1):
            if fields and len(fields) != len(header):
                raise DataValidationError(
                    file,
                    f"row has {len(fields)} fields but the header has {len(header)}",
                    row=row,
                    line=reader.line_num,
                    expected=f"{len(header)} {DELIMITERS[delimiter]}-separated fields",
                )
    except csv.Error as exc:
        raise DataValidationError(
            file,
            f"malformed CSV: {exc}",
            row=row + 1 if row else None,
            line=reader.line_num,
            expected='RFC 4180 CSV (quote fields holding the delimiter, " or newlines)',
        ) from None


def _fix_header(frame: pl.DataFrame, data: bytes, delimiter: str) -> pl.DataFrame:
    """Re-read the header with the csv module: polars keeps doubled quotes ("") in names."""
    end = data.find(b"\n")
    if b'""' not in data[:end]:
        return frame
    first = data[:end].decode("utf-8", errors="replace")
    header = next(csv.reader([first], delimiter=delimiter))
    if len(header) != frame.width or len(set(header)) != len(header):
        return frame
    return frame.rename(dict(zip(frame.columns, header, strict=True)))


def csv_header(data: bytes, delimiter: str) -> list[str]:
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].decode("utf-8", errors="replace")
    try:
        return next(csv.reader(io.StringIO(first.rstrip("\r"), newline=""), delimiter=delimiter))
    except (csv.Error, StopIteration):
        return []


def read_csv_bytes(
    data: bytes,
    file: str,
    encoding: str = "auto",
    int_columns: IntColumns | None = None,
    delimiter: str | None = None,
) -> RawTable:
    """Parse CSV bytes into text columns (counts named by ``int_columns`` as Int64 when
    they all parse natively: the fast path; otherwise text, validated later)."""
    sha = hashlib.sha256(data).hexdigest()
    if _blank(data):
        raise DataValidationError(file, "file is empty", expected="a header row and data rows")
    data, used = to_utf8(data, file, encoding)
    if _blank(data):
        raise DataValidationError(file, "file is empty", expected="a header row and data rows")
    if delimiter is not None and delimiter not in DELIMITERS:
        aliases = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t"}
        if delimiter not in aliases:
            raise MappingError(
                f"delimiter {delimiter!r} is not one of , ; tab "
                "(or the words comma, semicolon, tab)"
            )
        delimiter = aliases[delimiter]
    sep = delimiter or detect_delimiter(
        data[: max(data.find(b"\n"), 0) or len(data)].decode("utf-8", errors="replace")
    )
    text: str | None = None

    def parse(with_ints: bool) -> pl.DataFrame:
        if not with_ints or int_columns is None:
            return pl.read_csv(data, infer_schema=False, separator=sep)
        header = csv_header(data, sep)
        raw_header = pl.read_csv(data, n_rows=0, infer_schema=False, separator=sep).columns
        wanted = set(int_columns(header))
        ints = [raw for raw, clean in zip(raw_header, header, strict=False) if clean in wanted]
        try:
            return pl.read_csv(
                data,
                infer_schema=False,
                separator=sep,
                schema_overrides=dict.fromkeys(ints, pl.Int64),
            )
        except pl.exceptions.PolarsError:
            return pl.read_csv(data, infer_schema=False, separator=sep)

    try:
        frame = parse(True)
    except pl.exceptions.PolarsError as exc:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as uexc:
            _refuse_decode(data, file, "utf-8", uexc)
        _diagnose_csv(text, file, sep)
        raise DataValidationError(
            file, f"cannot parse as CSV: {str(exc).splitlines()[0]}"
        ) from None
    except (ValueError, OverflowError) as exc:  # e.g. a header polars cannot name
        raise DataValidationError(file, f"cannot parse as CSV: {exc}") from None
    if frame.width == 0:
        raise DataValidationError(file, "file is empty", expected="a header row and data rows")
    if frame.height and frame[:, -1].null_count():
        # polars pads short rows with nulls; a null in the last column is the only
        # cheap sign of one, so only then pay for a row-by-row check
        _diagnose_csv(text if text is not None else data.decode("utf-8", "replace"), file, sep)
    frame = _fix_header(frame, data, sep)
    newlines = data.count(b"\n")
    trailing = data.endswith(b"\n")
    simple = newlines == frame.height + (1 if trailing else 0)
    return RawTable(frame, file, sha, 1 if simple else None, used, sep)


def read_spreadsheet(path: Path, sheet: str | None) -> RawTable:
    file = str(path)
    data = path.read_bytes()
    if not data:
        raise DataValidationError(file, "file is empty", expected="a spreadsheet")
    try:
        frame = pl.read_excel(io.BytesIO(data), sheet_name=sheet, infer_schema_length=0)
    except Exception as exc:  # fastexcel raises its own types
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if sheet is not None and "sheet" in text.lower():
            raise DataValidationError(
                file, f"no sheet named {sheet!r} ({text})", expected="'sheet' in the mapping"
            ) from None
        raise DataValidationError(file, f"cannot read spreadsheet: {text}") from None
    return RawTable(frame, file, hashlib.sha256(data).hexdigest(), 1)


def read_parquet(path: Path) -> RawTable:
    file = str(path)
    data = path.read_bytes()
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several types for corrupt files
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataValidationError(file, f"cannot read as Parquet: {text}") from None
    return RawTable(frame, file, hashlib.sha256(data).hexdigest(), None)


def read_table(
    path: str | Path,
    *,
    encoding: str = "auto",
    delimiter: str | None = None,
    sheet: str | None = None,
    zip_member: str | None = None,
    int_columns: IntColumns | None = None,
) -> RawTable:
    """Read any supported file into a :class:`RawTable` (the one entry point)."""
    path = Path(path)
    if not path.exists():
        raise DataValidationError(str(path), "file not found")
    if path.is_dir():
        raise DataValidationError(str(path), "is a folder, not a file")
    name = path.name.lower()
    if name.endswith(".parquet"):
        return read_parquet(path)
    if name.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
        return read_spreadsheet(path, sheet)
    return read_csv_bytes(read_bytes(path, zip_member), str(path), encoding, int_columns, delimiter)
