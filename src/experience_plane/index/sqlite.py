"""The execution index in a SQLite file (one process, or replicas sharing a disk, no Redis).

One row per execution, keyed by (tenant, execution id), with two indexes in list order: (tenant,
user, created, id) and (tenant, created, id). A page is one range read of one of them, newest
first, bounded by the cursors' positions (row values) and the creation-time filters; state and
intent filters are checked on the rows the range visits. The connection is in WAL mode and used
from worker threads under a lock, as the reference Runtime's store is.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from experience_plane.cluster.codec import decode_status, encode_status
from experience_plane.index.model import (
    TERMINAL_STATES,
    ExecutionFilter,
    IndexEntry,
    IndexUnavailable,
    Listed,
    Position,
    RangeReads,
    Scope,
    from_microseconds,
)
from experience_plane.runtime import ExecutionStatus

__all__ = ["DATABASE_NAME", "SqliteExecutionIndex", "window_sql"]

DATABASE_NAME = "executions.sqlite3"
# Another process writing the same file (a second replica on the same disk) holds the lock
# for microseconds; waiting this long for it covers any real contention.
_BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    tenant_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    intent_type TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (tenant_id, execution_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS executions_by_user
    ON executions (tenant_id, user_id, created_us, execution_id);
CREATE INDEX IF NOT EXISTS executions_by_tenant
    ON executions (tenant_id, created_us, execution_id);
"""

T = TypeVar("T")


class SqliteExecutionIndex(RangeReads):
    """`ExecutionIndex` over the SQLite file `path` (created with its directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise IndexUnavailable(f"cannot open the execution index at {path}: {exc}") from exc
        self._lock = threading.Lock()

    async def aclose(self) -> None:
        """Close the file."""
        await self._run(self._conn.close)

    async def record(self, entry: IndexEntry) -> None:
        """Add the execution unless it is there already."""
        status = entry.status
        row = (
            entry.tenant_id,
            status.execution_id,
            entry.user_id,
            entry.intent_type,
            entry.created_us,
            status.state.value,
            encode_status(status),
        )
        await self._run(
            lambda: self._conn.execute(
                "INSERT OR IGNORE INTO executions (tenant_id, execution_id, user_id, "
                "intent_type, created_us, state, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    async def update(self, tenant_id: str, status: ExecutionStatus) -> None:
        """Keep `status` unless the entry is unknown or terminal already."""
        terminal = sorted(TERMINAL_STATES)
        placeholders = ", ".join("?" for _ in terminal)
        params = (status.state.value, encode_status(status), tenant_id, status.execution_id)
        await self._run(
            lambda: self._conn.execute(
                "UPDATE executions SET state = ?, status = ? "  # noqa: S608 - placeholders only
                f"WHERE tenant_id = ? AND execution_id = ? AND state NOT IN ({placeholders})",
                (*params, *terminal),
            )
        )

    async def count(self, scope: Scope, filter: ExecutionFilter) -> int:
        """How many executions of `scope` pass `filter` (a count over the index range)."""
        where, params = _conditions(scope, filter, None, None)
        sql = f"SELECT count(*) FROM executions WHERE {where}"  # noqa: S608 - built from constants

        def count() -> int:
            total: int = self._conn.execute(sql, params).fetchone()[0]
            return total

        return await self._run(count)

    def query_plan(self, scope: Scope, filter: ExecutionFilter, limit: int) -> list[str]:
        """How SQLite reads a first page (EXPLAIN QUERY PLAN), for the benchmark."""
        sql, params = window_sql(scope, filter, None, None, limit, newest_first=True)
        with self._lock:
            rows = self._conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return [str(row[-1]) for row in rows]

    async def _window(
        self,
        scope: Scope,
        filter: ExecutionFilter,
        after: Position | None,
        before: Position | None,
        limit: int,
        *,
        newest_first: bool,
    ) -> list[Listed]:
        if limit <= 0:
            return []
        sql, params = window_sql(scope, filter, after, before, limit, newest_first=newest_first)

        def read() -> list[tuple[str, str, int, str]]:
            return list(self._conn.execute(sql, params).fetchall())

        rows = await self._run(read)
        return [_listed(*row) for row in rows]

    async def _run(self, work: Callable[[], T]) -> T:
        def locked() -> T:
            with self._lock:
                return work()

        try:
            return await asyncio.to_thread(locked)
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"the execution index at {self.path} failed: {exc}") from exc


def _listed(user_id: str, execution_id: str, created_us: int, status_json: str) -> Listed:
    entry = IndexEntry(
        tenant_id="",
        user_id=user_id,
        status=decode_status(status_json),
        created_at=from_microseconds(created_us),
    )
    listed = entry.listed()
    assert listed.position.execution_id == execution_id
    return listed


def _conditions(
    scope: Scope, filter: ExecutionFilter, after: Position | None, before: Position | None
) -> tuple[str, tuple[object, ...]]:
    where = ["tenant_id = ?"]
    params: list[object] = [scope.tenant_id]
    if scope.user_id is not None:
        where.append("user_id = ?")
        params.append(scope.user_id)
    if after is not None:
        where.append("(created_us, execution_id) < (?, ?)")
        params += [after.created_us, after.execution_id]
    if before is not None:
        where.append("(created_us, execution_id) > (?, ?)")
        params += [before.created_us, before.execution_id]
    if filter.after_us is not None:
        where.append("created_us > ?")
        params.append(filter.after_us)
    if filter.before_us is not None:
        where.append("created_us < ?")
        params.append(filter.before_us)
    if filter.states:
        states = sorted(state.value for state in filter.states)
        where.append(f"state IN ({', '.join('?' for _ in states)})")
        params += states
    if filter.intent_types:
        intents = sorted(filter.intent_types)
        where.append(f"intent_type IN ({', '.join('?' for _ in intents)})")
        params += intents
    return " AND ".join(where), tuple(params)


def window_sql(
    scope: Scope,
    filter: ExecutionFilter,
    after: Position | None,
    before: Position | None,
    limit: int,
    *,
    newest_first: bool,
) -> tuple[str, tuple[object, ...]]:
    """The query (and its parameters) reading a window: what `head` and `tail` run, and what
    `query_plan` and the benchmark look at."""
    where, params = _conditions(scope, filter, after, before)
    order = "DESC" if newest_first else "ASC"
    sql = (
        "SELECT user_id, execution_id, created_us, status FROM executions "  # noqa: S608
        f"WHERE {where} ORDER BY created_us {order}, execution_id {order} LIMIT ?"
    )
    return sql, (*params, limit)
