"""A mash's records on disk: NDJSON blobs with a line index, read a page at a time."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reference_runtime.blobs import BlobNotFound, BlobStore
from reference_runtime.record_files import RecordsWriter, index_path, read_page

RECORDS = [
    {"n": n, "name": f"row {n}", "note": "ünïcode\nline" if n == 3 else None} for n in range(10)
]


def _write(blobs: BlobStore, records: list[dict[str, object]]) -> str:
    with RecordsWriter(blobs) as writer:
        for record in records:
            writer.write(record)
        stored = writer.commit()
    assert stored.count == len(records)
    return stored.digest


def test_records_are_an_ndjson_blob_named_by_its_sha256_with_a_line_index(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    digest = _write(blobs, RECORDS)
    body = blobs.get(digest)
    assert hashlib.sha256(body).hexdigest() == digest
    assert [json.loads(line) for line in body.splitlines()] == RECORDS
    assert index_path(blobs, digest).stat().st_size == 8 * (len(RECORDS) + 1)
    assert list(blobs.incoming.iterdir()) == []
    # The same records again share the blob and its index.
    assert _write(blobs, RECORDS) == digest


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, None, RECORDS),
        (2, 3, RECORDS[2:5]),
        (8, 5, RECORDS[8:]),
        (10, 5, []),
        (50, 1, []),
        (4, 0, []),
    ],
)
def test_a_page_is_read_without_the_rest(
    tmp_path: Path, offset: int, limit: int | None, expected: list[dict[str, object]]
) -> None:
    blobs = BlobStore(tmp_path)
    digest = _write(blobs, RECORDS)
    assert read_page(blobs, digest, offset, limit) == (expected, len(RECORDS))


def test_an_empty_mash_has_no_records(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    assert read_page(blobs, _write(blobs, []), 0, 10) == ([], 0)


def test_a_mash_stored_before_the_index_is_a_json_array_read_whole(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    digest = blobs.put(json.dumps(RECORDS).encode())
    assert read_page(blobs, digest, 1, 2) == (RECORDS[1:3], len(RECORDS))
    with pytest.raises(BlobNotFound):
        read_page(blobs, "0" * 64)


def test_records_of_a_failed_mash_leave_nothing_behind(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)

    def failing_mash() -> None:
        with RecordsWriter(blobs) as writer:
            writer.write({"n": 1})
            raise RuntimeError("the mash failed")

    with pytest.raises(RuntimeError):
        failing_mash()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
