"""Listing 50 executions of a user with 100,000 from the execution index: one indexed read.

    .venv/bin/python bench/list_index.py [--quick]

Fills the index (SQLite, then a private `redis-server`) with N executions of one user plus
executions of other users and tenants, then reads pages of 50 through the index's own `head`, as
the service does: the first page, and one deep in the list (after a cursor half-way down). It
shows the read is one indexed read (SQLite: `EXPLAIN QUERY PLAN` uses the (tenant, user,
created, id) index and no temporary sort; Redis: the commands one page sends, from `INFO
commandstats`), and times it against baselines measured in the same run: a point read of one
execution by primary key (SQLite) or hash field (Redis); for SQLite also the same page with the
index disabled (`NOT INDEXED`), i.e. what a scan of the table would cost. `--quick`: N = 10,000.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.redis import RedisServer

from experience_plane.cluster import RedisLink
from experience_plane.index import (
    DATABASE_NAME,
    ExecutionFilter,
    ExecutionIndex,
    IndexEntry,
    Listed,
    RedisExecutionIndex,
    Scope,
    SqliteExecutionIndex,
)
from experience_plane.index.sqlite import window_sql
from experience_plane.runtime import (
    ColumnProfile,
    ExecutionState,
    ExecutionStatus,
    FileArtifact,
    Progress,
)
from harness import print_table, verdict

TENANT, USER = "bench-tenant", "bench-user"
PAGE = 50
REPEATS = 200
OTHERS = 20_000  # executions of other users of the tenant, and of another tenant
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def status(number: int) -> ExecutionStatus:
    """A finished upload's status as the index keeps it (a small CSV's profile)."""
    created = T0 + timedelta(seconds=number)
    columns = tuple(ColumnProfile(name, "string", 0, 10) for name in ("id", "name", "email"))
    artifact = FileArtifact(
        f"file_{number:08d}", f"f{number}.csv", "text/csv", 120, "ab" * 32, "csv", columns, 10, True
    )
    return ExecutionStatus(
        execution_id=f"exec_{number:08d}",
        state=ExecutionState.COMPLETED,
        raw_status="completed",
        intent_id=f"intent_{number:08d}",
        intent_type="content.upload",
        progress=Progress("completed", 100.0),
        error=None,
        created_at=created,
        updated_at=created,
        artifacts=(artifact,),
        events=(),
    )


async def fill(index: ExecutionIndex, count: int) -> float:
    """Record `count` executions of the user, and `OTHERS` of others; the seconds it took."""
    started = time.perf_counter()
    entries = [IndexEntry.of(TENANT, USER, status(n)) for n in range(count)]
    entries += [IndexEntry.of(TENANT, f"user-{n % 50}", status(count + n)) for n in range(OTHERS)]
    entries += [IndexEntry.of("other-tenant", USER, status(-n - 1)) for n in range(OTHERS)]
    # A few at a time: within the Redis client's connection pool, and the SQLite thread pool.
    for start in range(0, len(entries), 32):
        await asyncio.gather(*(index.record(entry) for entry in entries[start : start + 32]))
    return time.perf_counter() - started


async def median_us(read: Callable[[], Awaitable[object]]) -> float:
    """The median wall time of `read` over `REPEATS` runs, in microseconds."""
    for _ in range(10):
        await read()
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


async def pages(index: ExecutionIndex, count: int) -> tuple[list[Listed], list[Listed]]:
    scope, no_filter = Scope(TENANT, USER), ExecutionFilter()
    first = await index.head(scope, no_filter, after=None, before=None, limit=PAGE)
    middle = await index.head(scope, no_filter, after=None, before=None, limit=count // 2)
    deep = await index.head(scope, no_filter, after=middle[-1].position, before=None, limit=PAGE)
    return list(first), list(deep)


def check_pages(first: list[Listed], deep: list[Listed], count: int) -> bool:
    newest = [f"exec_{n:08d}" for n in range(count - 1, count - 1 - PAGE, -1)]
    after = count - count // 2 - 1
    deeper = [f"exec_{n:08d}" for n in range(after, after - PAGE, -1)]
    return [i.status.execution_id for i in first] == newest and [
        i.status.execution_id for i in deep
    ] == deeper


async def bench_sqlite(count: int, directory: Path) -> list[list[object]]:
    index = SqliteExecutionIndex(directory / DATABASE_NAME)
    fill_s = await fill(index, count)
    scope, no_filter = Scope(TENANT, USER), ExecutionFilter()
    plan = index.query_plan(scope, no_filter, PAGE + 1)
    print(f"\nSQLite: {count:,} executions of the user (+{2 * OTHERS:,} others) in {fill_s:.1f} s")
    print("EXPLAIN QUERY PLAN of a page:", "; ".join(plan))
    first, deep = await pages(index, count)
    correct = check_pages(first, deep, count)
    after = first[-1].position

    # Raw reads on one connection of the same file, in a worker thread as the index reads:
    # the page's own query, a point read by primary key, and the page with its terms hidden
    # from the planner (`+column`: a table scan and a sort, what the page costs without index).
    plain = sqlite3.connect(directory / DATABASE_NAME, check_same_thread=False)
    page_sql, page_params = window_sql(scope, no_filter, None, None, PAGE + 1, newest_first=True)
    deep_sql, deep_params = window_sql(scope, no_filter, after, None, PAGE + 1, newest_first=True)
    scan_sql = page_sql.replace("tenant_id = ?", "+tenant_id = ?").replace(
        "user_id = ?", "+user_id = ?"
    )
    scan_plan = [
        str(row[-1]) for row in plain.execute("EXPLAIN QUERY PLAN " + scan_sql, page_params)
    ]

    def run(sql: str, params: tuple[object, ...]) -> Callable[[], Awaitable[object]]:
        return lambda: asyncio.to_thread(lambda: plain.execute(sql, params).fetchall())

    point_sql = "SELECT status FROM executions WHERE tenant_id = ? AND execution_id = ?"
    point = await median_us(run(point_sql, (TENANT, "exec_00000007")))
    page = await median_us(run(page_sql, page_params))
    deeper = await median_us(run(deep_sql, deep_params))
    scan = await median_us(run(scan_sql, page_params))
    decoded = await median_us(
        lambda: index.head(scope, no_filter, after=None, before=None, limit=PAGE + 1)
    )
    plain.close()
    await index.aclose()
    one_read = (
        len(plan) == 1
        and "USING INDEX executions_by_user" in plan[0]
        and not any("TEMP B-TREE" in step for step in plan)
    )
    return [
        ["SQLite: point read by primary key (baseline)", point, 1.0, "PK search"],
        ["SQLite: first page of 51, its query", page, page / point, "; ".join(plan)],
        ["SQLite: page of 51 half-way down, its query", deeper, deeper / point, "same range read"],
        ["SQLite: the page without the index", scan, scan / point, "; ".join(scan_plan)],
        ["SQLite: first page via the index's `head`", decoded, decoded / point, "+ 51 decoded"],
        ["SQLite: pages correct / one indexed read", "", "", f"{correct} / {verdict(one_read)}"],
    ]


async def command_counts(link: RedisLink, read: Callable[[], Awaitable[object]]) -> dict[str, int]:
    """The Redis commands `read` sends (`INFO commandstats` before and after)."""

    async def stats() -> dict[str, int]:
        info = await link.redis.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()}

    before = await stats()
    await read()
    after = await stats()
    return {
        name: calls - before.get(name, 0)
        for name, calls in after.items()
        if calls != before.get(name, 0) and name != "info"
    }


async def bench_redis(count: int, directory: Path) -> list[list[object]]:
    with RedisServer(directory / "redis") as server:
        async with RedisLink(server.url, timeout=5.0) as link:
            index = RedisExecutionIndex(link, prefix="bench")
            fill_s = await fill(index, count)
            print(f"\nRedis: {count:,} executions of the user (+{2 * OTHERS:,}) in {fill_s:.1f} s")
            scope, no_filter = Scope(TENANT, USER), ExecutionFilter()
            first, deep = await pages(index, count)
            correct = check_pages(first, deep, count)
            after = first[-1].position

            def head() -> Awaitable[object]:
                return index.head(scope, no_filter, after=None, before=None, limit=PAGE + 1)

            commands = await command_counts(link, head)
            print("Redis commands of one page:", commands)
            redis = link.redis
            entries_key = f"bench:executions:{TENANT}:entries"
            user_key = f"bench:executions:{TENANT}:user:{USER}"
            middle = f"({after.created_us:016d}:{after.execution_id}"

            def raw(high: str) -> Callable[[], Awaitable[object]]:
                # What `head` sends, without decoding the entries.
                async def read() -> object:
                    members = await redis.zrevrangebylex(user_key, high, "-", 0, PAGE + 1)
                    ids = [member.decode().split(":", 1)[1] for member in members]
                    return await redis.hmget(entries_key, ids)

                return read

            point = await median_us(lambda: redis.hget(entries_key, "exec_00000007"))
            page = await median_us(raw("+"))
            deeper = await median_us(raw(middle))
            decoded = await median_us(head)
    sent = sum(commands.values())
    how = _names(commands)
    return [
        ["Redis: point read, HGET one entry (baseline)", point, 1.0, "HGET"],
        ["Redis: first page of 51, its commands", page, page / point, how],
        ["Redis: page of 51 half-way down, its commands", deeper, deeper / point, how],
        ["Redis: first page via the index's `head`", decoded, decoded / point, "+ 51 decoded"],
        ["Redis: pages correct / commands per page", "", "", f"{correct} / {sent}"],
    ]


def _names(commands: dict[str, int]) -> str:
    return " + ".join(f"{name} x{calls}" for name, calls in sorted(commands.items()))


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-list-index-") as tmp:
        rows = await bench_sqlite(count, Path(tmp))
        rows += await bench_redis(count, Path(tmp))
    print_table(
        f"Listing {PAGE} of one user's {count:,} executions (median of {REPEATS})",
        ["read", "µs", "x baseline", "how"],
        rows,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 executions, not 100,000")
    arguments = parser.parse_args()
    asyncio.run(main(10_000 if arguments.quick else 100_000))
