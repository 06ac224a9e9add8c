"""Durable state of the reference Runtime: sessions, executions and artifacts in SQLite.
One connection in WAL mode, guarded by a lock, so that the blocking calls can run on worker
threads (`asyncio.to_thread`) without two of them interleaving on the connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
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

    def save_progress(self, record: ExecutionRecord) -> None:
        """Write back the mutable part of an execution: status, progress, error, artifacts."""
        with self._lock:
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
