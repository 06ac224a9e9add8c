"""A data mash's records on disk: NDJSON, one record per line, and a line index beside it.
The records are a blob like any other: its name (the mash artifact's `hash`) is the sha256 of the
NDJSON bytes. Beside the blob, `<sha256>.lines` holds the byte offset at which each line starts,
and the offset of the end, as 8-byte little-endian unsigned integers; it is derived from the blob
alone, so mashes with the same records share both. Reading a page is then two seeks and two short
reads, whatever the mash's size. A mash stored before the index existed is a JSON array with no
index beside it, and is read whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from reference_runtime.blobs import BlobStore, write_atomically

INDEX_SUFFIX = ".lines"
_OFFSET = "Q"  # unsigned 64-bit
_OFFSET_BYTES = 8
_FLUSH_BYTES = 1024 * 1024


def index_path(blobs: BlobStore, digest: str) -> Path:
    """Where the line index of the records blob `digest` lives."""
    blob = blobs.path_for(digest)
    return blob.with_name(blob.name + INDEX_SUFFIX)


def _little_endian(offsets: array[int]) -> bytes:
    if sys.byteorder == "big":
        offsets = array(_OFFSET, offsets)
        offsets.byteswap()
    return offsets.tobytes()


def _from_little_endian(data: bytes) -> array[int]:
    offsets = array(_OFFSET)
    offsets.frombytes(data)
    if sys.byteorder == "big":
        offsets.byteswap()
    return offsets


@dataclass(frozen=True, slots=True)
class StoredRecords:
    """Where a mash's records went: the blob's sha256, its size in bytes, and how many."""

    digest: str
    size: int
    count: int


class RecordsWriter:
    """Writes records as they come to a new file in the blob store's `incoming`, hashing and
    indexing them on the way; `commit` moves them into place. Used as a context manager, an
    uncommitted file is deleted on the way out (a failed or cancelled mash leaves nothing)."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        fd, name = tempfile.mkstemp(dir=blobs.incoming, prefix="mash-")
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self._offsets = array(_OFFSET, [0])
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._size = 0
        self._encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        self._done = False

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        line = (self._encode(record) + "\n").encode()
        self._pending.append(line)
        self._pending_bytes += len(line)
        self._size += len(line)
        self._offsets.append(self._size)
        if self._pending_bytes >= _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        chunk = b"".join(self._pending)
        self._digest.update(chunk)
        self._file.write(chunk)
        self._pending.clear()
        self._pending_bytes = 0

    def commit(self) -> StoredRecords:
        """Store the records written: the index first, then the blob it describes."""
        self._flush()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._digest.hexdigest()
        target = index_path(self._blobs, digest)
        write_atomically(target, _little_endian(self._offsets))
        self._blobs.adopt(self._path, digest)
        self._done = True
        return StoredRecords(digest, self._size, len(self._offsets) - 1)

    def discard(self) -> None:
        """Forget the records written (idempotent; nothing after a commit)."""
        if not self._done:
            self._file.close()
            self._path.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()


def read_lines(
    blobs: BlobStore, digest: str, offset: int = 0, limit: int | None = None
) -> tuple[list[bytes], int]:
    """`limit` records (all when None) from position `offset` of the records blob `digest`, each
    as the bytes of one JSON object, and how many records it holds in all. Raises
    `BlobNotFound` when the blob is missing."""
    index = index_path(blobs, digest)
    if not index.exists():
        records = json.loads(blobs.get(digest))
        end = None if limit is None else offset + limit
        return [json.dumps(r, separators=(",", ":")).encode() for r in records[offset:end]], len(
            records
        )
    total = index.stat().st_size // _OFFSET_BYTES - 1
    start = min(offset, total)
    stop = total if limit is None else min(total, start + limit)
    if stop == start:
        return [], total
    with index.open("rb") as handle:
        handle.seek(start * _OFFSET_BYTES)
        offsets = _from_little_endian(handle.read((stop - start + 1) * _OFFSET_BYTES))
    data = blobs.read_range(digest, offsets[0], offsets[-1] - offsets[0])
    return data.splitlines(), total


def read_page(
    blobs: BlobStore, digest: str, offset: int = 0, limit: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """As `read_lines`, the records decoded."""
    lines, total = read_lines(blobs, digest, offset, limit)
    return [json.loads(line) for line in lines], total
