"""The Experience Plane's own index of the executions it started, for a Runtime without a list.

The Runtime contract's list endpoint is optional (the platform's current Runtime has none), yet a
client must be able to rebuild its list of work after a reload. So every execution the service
starts is recorded (tenant, user, execution id, intent type, creation time, last known status) by
the one submit path, with no Runtime call: in Redis when `EXPERIENCE_REDIS_URL` is set (shared by
the replicas, `index.redis`), otherwise in a SQLite file in `EXPERIENCE_DATA_DIR`
(`index.sqlite`); either way the list survives a restart of the service. Reads are by tenant (and
user), newest first, in pages bounded by opaque cursors (`index.model`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from experience_plane.index.model import (
    ExecutionFilter,
    ExecutionIndex,
    IndexEntry,
    IndexUnavailable,
    InvalidCursor,
    Listed,
    ListingSource,
    Position,
    Scope,
    decode_cursor,
    encode_cursor,
    microseconds,
)
from experience_plane.index.redis import RedisExecutionIndex
from experience_plane.index.sqlite import DATABASE_NAME, SqliteExecutionIndex

if TYPE_CHECKING:
    from experience_plane.cluster import Cluster
    from experience_plane.settings import Settings

__all__ = [
    "DATABASE_NAME",
    "ExecutionFilter",
    "ExecutionIndex",
    "IndexEntry",
    "IndexUnavailable",
    "InvalidCursor",
    "Listed",
    "ListingSource",
    "Position",
    "RedisExecutionIndex",
    "Scope",
    "SqliteExecutionIndex",
    "decode_cursor",
    "encode_cursor",
    "microseconds",
    "open_execution_index",
]


@asynccontextmanager
async def open_execution_index(
    settings: Settings, cluster: Cluster | None
) -> AsyncIterator[ExecutionIndex]:
    """The index the settings call for: in the cluster's Redis when there is one, else in
    `<data dir>/executions.sqlite3`. Raises `IndexUnavailable` when the file cannot be opened."""
    index: ExecutionIndex
    if cluster is not None:
        index = RedisExecutionIndex(cluster.link, prefix=settings.redis_key_prefix)
    else:
        index = SqliteExecutionIndex(settings.data_dir / DATABASE_NAME)
    try:
        yield index
    finally:
        await index.aclose()
