"""The content realm: what a file is (format detection) and what is in it (profiling).
Formats: `csv` (also tab, semicolon or pipe separated), `json` (an array of objects is tabular,
any other JSON document is not), `ndjson` (one JSON object per line), `text` and `binary`.
A stored file is profiled from disk (`profile_file`): a small one is read whole, a large CSV or
text file is streamed row by row, so its size costs time, not memory. A large JSON or NDJSON file
is still read whole. `read_table` reads a stored file's table for a data mash the same way.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_runtime.realms.tabular import (
    ColumnProfile,
    ColumnProfiler,
    Table,
    profile_table,
    unique_names,
)

CSV_DELIMITERS = (",", ";", "\t", "|")
CSV_MIME_TYPES = frozenset({"text/csv", "application/csv", "text/tab-separated-values"})
_SNIFF_LINES = 20
# Files up to this size are profiled in memory; larger CSV and text files are streamed.
STREAM_ABOVE_BYTES = 32 * 1024 * 1024
# How much of a streamed file decides its format (whole lines of it).
_HEAD_BYTES = 1024 * 1024
_READ_BYTES = 1024 * 1024
# A streamed CSV file reaches a safe point (where a cancelled execution stops) every this many rows.
CHECKPOINT_ROWS = 10_000


def _no_checkpoint() -> None:
    return None


class ContentError(ValueError):
    """The content cannot be read the way its format says."""


@dataclass(frozen=True, slots=True)
class ParsedContent:
    """A file's detected format and, when it is tabular, its table."""

    format: str
    table: Table | None


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _table_from_objects(objects: list[dict[str, Any]]) -> Table:
    # Columns are the union of keys in order of first appearance; a missing key is a null.
    seen: dict[str, None] = {}
    for obj in objects:
        for key in obj:
            seen.setdefault(key, None)
    columns = list(seen)
    rows = [[obj.get(column) for column in columns] for obj in objects]
    return Table(columns=columns, rows=rows)


def _parse_json(text: str) -> ParsedContent | None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(document, list) and all(isinstance(item, dict) for item in document):
        return ParsedContent("json", _table_from_objects(document))
    return ParsedContent("json", None)


def _parse_ndjson(text: str) -> ParsedContent | None:
    objects: list[Any] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            objects.append(json.loads(line))
        except json.JSONDecodeError:
            return None
    if len(objects) < 1:
        return None
    if all(isinstance(obj, dict) for obj in objects):
        return ParsedContent("ndjson", _table_from_objects(objects))
    return ParsedContent("ndjson", None)


def _sniff_delimiter(text: str) -> str | None:
    # A delimiter that occurs the same, non-zero number of times on each of the first lines.
    lines = [line for line in text.splitlines()[:_SNIFF_LINES] if line.strip()]
    if len(lines) < 2:
        return None
    for delimiter in CSV_DELIMITERS:
        counts = {len(next(csv.reader([line], delimiter=delimiter))) for line in lines}
        if len(counts) == 1 and counts.pop() > 1:
            return delimiter
    return None


def _best_delimiter(text: str) -> str:
    header = next((line for line in text.splitlines() if line.strip()), "")
    return max(CSV_DELIMITERS, key=header.count) if header else ","


def parse_csv(text: str, delimiter: str) -> Table:
    """Read CSV text whose first row names the columns; short rows are padded with nulls."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = [row for row in reader if row]
    if not rows:
        return Table(columns=[], rows=[])
    columns = unique_names(rows[0])
    width = len(columns)
    body: list[list[Any]] = []
    for row in rows[1:]:
        values: list[Any] = row[:width]
        if len(values) < width:
            values.extend([None] * (width - len(values)))
        body.append(values)
    return Table(columns=columns, rows=body)


def parse_content(data: bytes, filename: str = "", mime_type: str = "") -> ParsedContent:
    """Detect the format of `data` and read its table when it has one."""
    text = _decode(data)
    if text is None:
        return ParsedContent("binary", None)
    stripped = text.strip()
    if not stripped:
        return ParsedContent("text", None)
    if stripped[0] in "[{":
        parsed = _parse_json(text) or _parse_ndjson(text)
        if parsed is not None:
            return parsed
    lower_name = filename.lower()
    declared_csv = lower_name.endswith((".csv", ".tsv")) or mime_type.lower() in CSV_MIME_TYPES
    delimiter = _sniff_delimiter(text)
    if delimiter is None and declared_csv:
        delimiter = "\t" if lower_name.endswith(".tsv") else _best_delimiter(text)
    if delimiter is not None:
        try:
            return ParsedContent("csv", parse_csv(text, delimiter))
        except csv.Error as exc:
            if declared_csv:
                raise ContentError(
                    f"{filename or 'the file'} is not readable as CSV: {exc}"
                ) from exc
    return ParsedContent("text", None)


@dataclass(frozen=True, slots=True)
class FileProfile:
    """What profiling learned about a file: its format and, when tabular, its columns."""

    format: str
    columns: list[ColumnProfile] | None = None
    row_count: int | None = None

    @classmethod
    def of(cls, parsed: ParsedContent) -> FileProfile:
        """The profile of content parsed in memory."""
        table = parsed.table
        if table is None:
            return cls(parsed.format)
        return cls(parsed.format, profile_table(table), len(table.rows))


@dataclass(frozen=True, slots=True)
class _Head:
    """What the first whole lines of a file on disk say it is: `json` (JSON-like: read it whole),
    `csv` (with its delimiter), `text` or `binary` (both of the latter still to be confirmed by
    reading the whole file, see `profile_file`), as `parse_content` would decide."""

    kind: str
    delimiter: str = ","
    declared_csv: bool = False


def _read_head(path: Path, filename: str, mime_type: str) -> _Head:
    with path.open("rb") as handle:
        head_bytes = handle.read(_HEAD_BYTES)
    if b"\x00" in head_bytes[:8192]:
        return _Head("binary")
    try:
        head = codecs.getincrementaldecoder("utf-8-sig")().decode(head_bytes, final=False)
    except UnicodeDecodeError:
        return _Head("binary")
    stripped = head.lstrip()
    if not stripped or stripped[0] in "[{":
        return _Head("json")
    head = head[: head.rfind("\n") + 1] or head
    lower_name = filename.lower()
    declared_csv = lower_name.endswith((".csv", ".tsv")) or mime_type.lower() in CSV_MIME_TYPES
    delimiter = _sniff_delimiter(head)
    if delimiter is None and declared_csv:
        delimiter = "\t" if lower_name.endswith(".tsv") else _best_delimiter(head)
    if delimiter is None:
        return _Head("text")
    return _Head("csv", delimiter, declared_csv)


def profile_file(
    path: Path,
    filename: str = "",
    mime_type: str = "",
    *,
    stream_above: int = STREAM_ABOVE_BYTES,
    checkpoint: Callable[[], None] = _no_checkpoint,
) -> FileProfile:
    """Profile a file on disk, deciding its format as `parse_content` does.

    Up to `stream_above` bytes it is read whole. Above, its first whole lines decide: JSON-like
    content is read whole after all; CSV (sniffed, or declared by name or type) is streamed row
    by row into column profilers; anything else is `text` if the whole file is UTF-8, else
    `binary`. Raises `ContentError` for a file declared CSV that is not readable as CSV.
    `checkpoint` runs at the safe points: before reading, and every `CHECKPOINT_ROWS` rows of a
    streamed CSV file (it raises to stop the work)."""
    checkpoint()
    if path.stat().st_size <= stream_above:
        return FileProfile.of(parse_content(path.read_bytes(), filename, mime_type))
    head = _read_head(path, filename, mime_type)
    if head.kind == "binary":
        return FileProfile("binary")
    if head.kind == "json":
        return FileProfile.of(parse_content(path.read_bytes(), filename, mime_type))
    if head.kind == "csv":
        try:
            return _profile_csv_file(path, head.delimiter, checkpoint)
        except UnicodeDecodeError:
            return FileProfile("binary")
        except csv.Error as exc:
            if head.declared_csv:
                raise ContentError(
                    f"{filename or 'the file'} is not readable as CSV: {exc}"
                ) from exc
    return FileProfile("text" if _is_utf8(path) else "binary")


def read_table(
    path: Path,
    filename: str = "",
    mime_type: str = "",
    *,
    checkpoint: Callable[[], None] = _no_checkpoint,
) -> Table | None:
    """The table of a tabular file on disk (None when it is not one), as `parse_content` reads
    it. CSV is streamed row by row and every column's repeated values share one string, so a
    table costs about its rows' lists plus its distinct values, not its text several times over
    (a 30 MB CSV of codes: about 100 MB instead of 500). JSON and NDJSON are read whole.
    Raises `ContentError` for a file declared CSV that is not readable as CSV. `checkpoint` runs
    every `CHECKPOINT_ROWS` rows of a CSV file (it raises to stop)."""
    head = _read_head(path, filename, mime_type)
    if head.kind == "json":
        return parse_content(path.read_bytes(), filename, mime_type).table
    if head.kind != "csv":
        return None
    try:
        return _read_csv_file(path, head.delimiter, checkpoint)
    except UnicodeDecodeError:
        return None
    except csv.Error as exc:
        if head.declared_csv:
            raise ContentError(f"{filename or 'the file'} is not readable as CSV: {exc}") from exc
        return None


def _read_csv_file(path: Path, delimiter: str, checkpoint: Callable[[], None]) -> Table:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        columns = next((row for row in reader if row), None)
        if columns is None:
            return Table(columns=[], rows=[])
        names = unique_names(columns)
        width = len(names)
        shared = [dict[str, str]().setdefault for _ in names]
        rows: list[list[Any]] = []
        for row in reader:
            if not row:
                continue
            if len(rows) % CHECKPOINT_ROWS == CHECKPOINT_ROWS - 1:
                checkpoint()
            # A long row is cut to the header's width, a short one padded.
            values: list[Any] = [same(v, v) for same, v in zip(shared, row, strict=False)]
            if len(values) < width:
                values.extend([None] * (width - len(values)))
            rows.append(values)
    return Table(columns=names, rows=rows)


def _profile_csv_file(path: Path, delimiter: str, checkpoint: Callable[[], None]) -> FileProfile:
    """Stream a CSV file into column profilers (as `parse_csv` reads it: blank rows skipped,
    short rows padded with nulls, long ones cut)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        profilers: list[ColumnProfiler] | None = None
        rows = 0
        for row in reader:
            if not row:
                continue
            if profilers is None:
                profilers = [ColumnProfiler(name) for name in unique_names(row)]
                continue
            rows += 1
            if rows % CHECKPOINT_ROWS == 0:
                checkpoint()
            width = len(row)
            for index, profiler in enumerate(profilers):
                profiler.add(row[index] if index < width else None)
    if profilers is None:
        return FileProfile("csv", [], 0)
    return FileProfile("csv", [profiler.profile() for profiler in profilers], rows)


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_BYTES):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def describe_file(
    *,
    file_id: str,
    filename: str,
    mime_type: str,
    size: int,
    sha256: str,
    profile: FileProfile,
    created_at: str | None = None,
) -> dict[str, Any]:
    """The `file` artifact's semantic payload for stored content."""
    columns = profile.columns
    return {
        "file_id": file_id,
        "filename": filename,
        "mime_type": mime_type,
        "size": size,
        "sha256": sha256,
        "created_at": created_at,
        "format": profile.format,
        "tabular": columns is not None,
        "columns": [c.as_json() for c in columns] if columns is not None else None,
        "row_count": profile.row_count,
    }
