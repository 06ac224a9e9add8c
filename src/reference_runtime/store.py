"""Durable state of the reference Runtime: sessions, executions and artifacts in SQLite.
One connection in WAL mode, guarded by a lock, so that the blocking calls can run on worker
threads (`asyncio.to_thread`) without two of them interleaving on the connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "unknown"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id)
);
CREATE TABLE IF NOT EXISTS executions (
    execution_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    solution_id TEXT NOT NULL,
    user_id TEXT,
    intent_id TEXT NOT NULL,
    intent_type TEXT NOT NULL,
    idempotency_key TEXT,
    status TEXT NOT NULL,
    phase TEXT NOT NULL,
    percent REAL NOT NULL,
    error TEXT,
    artifacts TEXT,
    events TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_idempotency
    ON executions (tenant_id, intent_type, idempotency_key);
CREATE INDEX IF NOT EXISTS executions_status ON executions (status);
-- Listing, newest first: the rowid (insertion order, under the submit lock) breaks ties
-- between executions created in the same millisecond; every index ends with it implicitly.
CREATE INDEX IF NOT EXISTS executions_by_tenant ON executions (tenant_id, created_at);
CREATE INDEX IF NOT EXISTS executions_by_user ON executions (tenant_id, user_id, created_at);
CREATE TABLE IF NOT EXISTS artifacts (
    artifact_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    artifact_type TEXT NOT NULL,
    name TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    hash TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class ListPosition:
    """Where an execution stands in the newest-first list: its creation time, then its rowid
    (the order executions were recorded in)."""

    created_at: str
    seq: int


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session as the Runtime keeps it."""

    session_id: str
    tenant_id: str
    user_id: str
    metadata: dict[str, Any]
    created_at: str


@dataclass(slots=True)
class ExecutionRecord:
    """One execution of an intent, with where it got to."""

    execution_id: str
    tenant_id: str
    session_id: str
    solution_id: str
    user_id: str | None
    intent_id: str
    intent_type: str
    idempotency_key: str | None
    status: str
    phase: str
    percent: float
    error: str | None
    artifacts: dict[str, Any] | None
    events: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""

    @property
    def is_terminal(self) -> bool:
        """Whether the execution has finished, one way or another."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """Something an execution produced: an uploaded file or a data mash.

    `hash` is the sha256 of the stored bytes (the file itself, or a mash's records as NDJSON,
    one per line, with their line index beside the blob: `record_files`) and also the name of
    the blob holding them.
    """

    artifact_id: str
    tenant_id: str
    artifact_type: str
    name: str
    mime_type: str
    size: int
    hash: str
    execution_id: str
    payload: dict[str, Any]
    created_at: str


_EXECUTION_COLUMNS = (
    "execution_id, tenant_id, session_id, solution_id, user_id, intent_id, intent_type, "
    "idempotency_key, status, phase, percent, error, artifacts, events, created_at, updated_at"
)
_ARTIFACT_COLUMNS = (
    "artifact_id, tenant_id, artifact_type, name, mime_type, size, hash, execution_id, payload, "
    "created_at"
)


def _execution_from_row(row: sqlite3.Row) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=row["execution_id"],
        tenant_id=row["tenant_id"],
        session_id=row["session_id"],
        solution_id=row["solution_id"],
        user_id=row["user_id"],
        intent_id=row["intent_id"],
        intent_type=row["intent_type"],
        idempotency_key=row["idempotency_key"],
        status=row["status"],
        phase=row["phase"],
        percent=row["percent"],
        error=row["error"],
        artifacts=json.loads(row["artifacts"]) if row["artifacts"] is not None else None,
        events=json.loads(row["events"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _artifact_from_row(row: sqlite3.Row) -> ArtifactRecord:
    return ArtifactRecord(
        artifact_id=row["artifact_id"],
        tenant_id=row["tenant_id"],
        artifact_type=row["artifact_type"],
        name=row["name"],
        mime_type=row["mime_type"],
        size=row["size"],
        hash=row["hash"],
        execution_id=row["execution_id"],
        payload=json.loads(row["payload"]),
        created_at=row["created_at"],
    )


class Store:
    """The SQLite database under the data directory."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._conn.close()

    def _fetch_one(self, sql: str, params: tuple[object, ...]) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def _fetch_all(self, sql: str, params: tuple[object, ...]) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    # Sessions -------------------------------------------------------------------------------

    def create_session(self, record: SessionRecord) -> SessionRecord:
        """Store a session; creating an existing one again returns the stored one."""
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO sessions VALUES (?, ?, ?, ?, ?)",
                (
                    record.tenant_id,
                    record.session_id,
                    record.user_id,
                    json.dumps(record.metadata),
                    record.created_at,
                ),
            )
        stored = self.get_session(record.tenant_id, record.session_id)
        assert stored is not None  # inserted just above, and sessions are never deleted
        return stored

    def get_session(self, tenant_id: str, session_id: str) -> SessionRecord | None:
        """The tenant's session with this id, if there is one."""
        row = self._fetch_one(
            "SELECT * FROM sessions WHERE tenant_id = ? AND session_id = ?",
            (tenant_id, session_id),
        )
        if row is None:
            return None
        return SessionRecord(
            session_id=row["session_id"],
            tenant_id=row["tenant_id"],
            user_id=row["user_id"],
            metadata=json.loads(row["metadata"]),
            created_at=row["created_at"],
        )

    # Executions -----------------------------------------------------------------------------

    def insert_execution(self, record: ExecutionRecord) -> None:
        """Store a new execution."""
        with self._lock:
            self._conn.execute(
                f"INSERT INTO executions ({_EXECUTION_COLUMNS}) "  # noqa: S608 - constant columns
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.execution_id,
                    record.tenant_id,
                    record.session_id,
                    record.solution_id,
                    record.user_id,
                    record.intent_id,
                    record.intent_type,
                    record.idempotency_key,
                    record.status,
                    record.phase,
                    record.percent,
                    record.error,
                    json.dumps(record.artifacts) if record.artifacts is not None else None,
                    json.dumps(record.events),
                    record.created_at,
                    record.updated_at,
                ),
            )

    def save_progress(
        self, record: ExecutionRecord, new_artifacts: Sequence[ArtifactRecord] = ()
    ) -> None:
        """Write back the mutable part of an execution (status, progress, error, artifacts),
        and store `new_artifacts` in the same transaction: an execution's artifacts become
        readable together with the status that names them, never before."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for artifact in new_artifacts:
                    self._insert_artifact(artifact)
                self._conn.execute(
                    "UPDATE executions SET status = ?, phase = ?, percent = ?, error = ?, "
                    "artifacts = ?, events = ?, updated_at = ? WHERE execution_id = ?",
                    (
                        record.status,
                        record.phase,
                        record.percent,
                        record.error,
                        json.dumps(record.artifacts) if record.artifacts is not None else None,
                        json.dumps(record.events),
                        record.updated_at,
                        record.execution_id,
                    ),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def get_execution(self, execution_id: str, tenant_id: str) -> ExecutionRecord | None:
        """The tenant's execution with this id; another tenant's is as absent as a missing one."""
        row = self._fetch_one(
            f"SELECT {_EXECUTION_COLUMNS} FROM executions "  # noqa: S608 - constant columns
            "WHERE execution_id = ? AND tenant_id = ?",
            (execution_id, tenant_id),
        )
        return _execution_from_row(row) if row is not None else None

    def find_by_idempotency_key(
        self, tenant_id: str, intent_type: str, key: str
    ) -> ExecutionRecord | None:
        """The execution an earlier submit with the same idempotency key started, if any."""
        row = self._fetch_one(
            f"SELECT {_EXECUTION_COLUMNS} FROM executions "  # noqa: S608 - constant columns
            "WHERE tenant_id = ? AND intent_type = ? AND idempotency_key = ? "
            "ORDER BY created_at LIMIT 1",
            (tenant_id, intent_type, key),
        )
        return _execution_from_row(row) if row is not None else None

    def list_executions(
        self,
        tenant_id: str,
        *,
        user_id: str | None = None,
        limit: int,
        older_than: ListPosition | None = None,
    ) -> list[tuple[ListPosition, ExecutionRecord]]:
        """The tenant's executions (one user's when `user_id` is given), newest first, at most
        `limit`, strictly older than `older_than`; each with its position in that order.

        One range read of an index ((tenant, created_at) or (tenant, user, created_at))."""
        where = ["tenant_id = ?"]
        params: list[object] = [tenant_id]
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if older_than is not None:
            where.append("(created_at, rowid) < (?, ?)")
            params += [older_than.created_at, older_than.seq]
        params.append(limit)
        rows = self._fetch_all(
            f"SELECT rowid AS seq, {_EXECUTION_COLUMNS} FROM executions "  # noqa: S608 - constant columns
            f"WHERE {' AND '.join(where)} ORDER BY created_at DESC, rowid DESC LIMIT ?",
            tuple(params),
        )
        return [
            (ListPosition(row["created_at"], row["seq"]), _execution_from_row(row)) for row in rows
        ]

    def unfinished_executions(self) -> list[ExecutionRecord]:
        """Executions that never reached a terminal status (the process stopped under them)."""
        placeholders = ", ".join("?" for _ in TERMINAL_STATUSES)
        rows = self._fetch_all(
            f"SELECT {_EXECUTION_COLUMNS} FROM executions "  # noqa: S608 - constant columns
            f"WHERE status NOT IN ({placeholders})",
            tuple(sorted(TERMINAL_STATUSES)),
        )
        return [_execution_from_row(row) for row in rows]

    # Artifacts ------------------------------------------------------------------------------

    def insert_artifact(self, record: ArtifactRecord) -> None:
        """Store a new artifact."""
        with self._lock:
            self._insert_artifact(record)

    def _insert_artifact(self, record: ArtifactRecord) -> None:
        self._conn.execute(
            f"INSERT INTO artifacts ({_ARTIFACT_COLUMNS}) "  # noqa: S608 - constant columns
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.artifact_id,
                record.tenant_id,
                record.artifact_type,
                record.name,
                record.mime_type,
                record.size,
                record.hash,
                record.execution_id,
                json.dumps(record.payload),
                record.created_at,
            ),
        )

    def get_artifact(self, artifact_id: str, tenant_id: str) -> ArtifactRecord | None:
        """The tenant's artifact with this id; another tenant's is as absent as a missing one."""
        row = self._fetch_one(
            f"SELECT {_ARTIFACT_COLUMNS} FROM artifacts "  # noqa: S608 - constant columns
            "WHERE artifact_id = ? AND tenant_id = ?",
            (artifact_id, tenant_id),
        )
        return _artifact_from_row(row) if row is not None else None
