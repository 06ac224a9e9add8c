"""The SQLite store and the content-addressed blob store."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_runtime.blobs import BlobNotFound, BlobStore
from reference_runtime.store import ExecutionRecord, Store


def test_blobs_are_stored_once_under_their_sha256(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    digest = blobs.put(b"hello")
    assert digest == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert blobs.put(b"hello") == digest
    assert blobs.get(digest) == b"hello"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]
    with pytest.raises(BlobNotFound):
        blobs.get("0" * 64)


def test_a_file_in_incoming_is_adopted_once_and_leftovers_are_cleared_at_start(
    tmp_path: Path,
) -> None:
    blobs = BlobStore(tmp_path)
    digest = blobs.put(b"hello")
    for _ in range(2):
        arrived = blobs.incoming / "file-1"
        arrived.write_bytes(b"hello, world")
        other = "09ca7e4eaa6e8ae9c7d261167129184883644d07dfba7cbfbc4c8a2e08360d5b"
        blobs.adopt(arrived, other)
        assert not arrived.exists()
        assert blobs.get(other) == b"hello, world"
    (blobs.incoming / "spool-left-by-a-crash").write_bytes(b"x")
    assert list(BlobStore(tmp_path).incoming.iterdir()) == []
    assert blobs.get(digest) == b"hello"


def _execution(status: str) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=f"exec_{status}",
        tenant_id="t",
        session_id="s",
        solution_id="default",
        user_id=None,
        intent_id="i",
        intent_type="content.upload",
        idempotency_key=None,
        status=status,
        phase=status,
        percent=0.0,
        error=None,
        artifacts=None,
        created_at="2025-01-01T00:00:00+00:00",
        updated_at="2025-01-01T00:00:00+00:00",
    )


def test_executions_survive_reopening_and_unfinished_ones_are_found(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    for status in ("created", "executing", "completed", "failed"):
        store.insert_execution(_execution(status))
    done = store.get_execution("exec_completed", "t")
    assert done is not None
    done.artifacts = {"file": {"result_type": "file", "semantic_payload": {"file_id": "f"}}}
    store.save_progress(done)
    store.close()

    reopened = Store(tmp_path / "db.sqlite3")
    assert reopened.get_execution("exec_completed", "t") == done
    assert reopened.get_execution("exec_completed", "other") is None
    unfinished = sorted(r.execution_id for r in reopened.unfinished_executions())
    assert unfinished == ["exec_created", "exec_executing"]
    reopened.close()
