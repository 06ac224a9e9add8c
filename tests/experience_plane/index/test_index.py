"""The execution index, in SQLite and in a real Redis alike: windows of the newest-first order,
filters, counts, updates, tenant isolation and surviving a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from experience_plane.cluster import RedisLink
from experience_plane.index import (
    DATABASE_NAME,
    ExecutionFilter,
    ExecutionIndex,
    IndexEntry,
    IndexUnavailable,
    InvalidCursor,
    Listed,
    Position,
    RedisExecutionIndex,
    Scope,
    SqliteExecutionIndex,
    decode_cursor,
    encode_cursor,
)
from experience_plane.runtime import ExecutionState, ExecutionStatus
from tests.support.redis import RedisServer

T0 = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
UPLOAD, MASH = "content.upload", "data_mash.create"
Opener = Callable[[], Awaitable[ExecutionIndex]]


def status(
    execution_id: str,
    state: ExecutionState = ExecutionState.COMPLETED,
    *,
    intent_type: str = UPLOAD,
    created_at: datetime | None = None,
) -> ExecutionStatus:
    return ExecutionStatus(
        execution_id=execution_id,
        state=state,
        raw_status=state.value,
        intent_id=None,
        intent_type=intent_type,
        progress=None,
        error=None,
        created_at=created_at,
        updated_at=created_at,
        artifacts=(),
        events=(),
    )


def entry(
    tenant: str,
    user: str,
    number: int,
    state: ExecutionState = ExecutionState.COMPLETED,
    intent_type: str = UPLOAD,
) -> IndexEntry:
    created = T0 + timedelta(seconds=number)
    return IndexEntry.of(
        tenant,
        user,
        status(f"exec-{number:03d}", state, intent_type=intent_type, created_at=created),
    )


def ids(listed: list[Listed] | tuple[Listed, ...] | object) -> list[str]:
    assert isinstance(listed, list | tuple)
    return [item.status.execution_id for item in listed]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["sqlite", "redis"])
async def opener(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens the index (again: as a restarted service would); everything opened is closed."""
    opened: list[ExecutionIndex] = []
    links: list[RedisLink] = []
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        if not server.ping():
            server.start()
        async with RedisLink(server.url, timeout=0.5, probe_interval=0.1) as first:
            await first.redis.flushdb()

    async def open_index() -> ExecutionIndex:
        index: ExecutionIndex
        if request.param == "sqlite":
            index = SqliteExecutionIndex(tmp_path / "data" / DATABASE_NAME)
        else:
            link = await RedisLink(server.url, timeout=0.5, probe_interval=0.1).__aenter__()
            links.append(link)
            index = RedisExecutionIndex(link, prefix="test")
        opened.append(index)
        return index

    yield open_index
    for index in opened:
        await index.aclose()
    for link in links:
        await link.__aexit__(None, None, None)


@pytest.fixture
async def index(opener: Opener) -> ExecutionIndex:
    return await opener()


async def fill(index: ExecutionIndex, *entries: IndexEntry) -> None:
    for item in entries:
        await index.record(item)


ANN = Scope("t1", "ann")
NO_FILTER = ExecutionFilter()


async def test_pages_run_newest_first_in_both_directions(index: ExecutionIndex) -> None:
    await fill(index, *(entry("t1", "ann", n) for n in range(10)))
    first = await index.head(ANN, NO_FILTER, after=None, before=None, limit=4)
    assert ids(first) == ["exec-009", "exec-008", "exec-007", "exec-006"]
    second = await index.head(ANN, NO_FILTER, after=first[-1].position, before=None, limit=4)
    assert ids(second) == ["exec-005", "exec-004", "exec-003", "exec-002"]
    oldest = await index.tail(ANN, NO_FILTER, after=None, before=None, limit=3)
    assert ids(oldest) == ["exec-002", "exec-001", "exec-000"]
    back = await index.tail(ANN, NO_FILTER, after=None, before=second[0].position, limit=2)
    assert ids(back) == ["exec-007", "exec-006"]
    between = await index.head(
        ANN, NO_FILTER, after=first[0].position, before=second[-1].position, limit=10
    )
    assert ids(between) == [f"exec-{n:03d}" for n in range(8, 2, -1)]
    assert await index.head(ANN, NO_FILTER, after=None, before=None, limit=0) == []


async def test_executions_created_in_the_same_microsecond_keep_one_order(
    index: ExecutionIndex,
) -> None:
    same = [IndexEntry.of("t1", "ann", status(f"exec-{c}", created_at=T0)) for c in "bca"]
    await fill(index, *same)
    listed = await index.head(ANN, NO_FILTER, after=None, before=None, limit=10)
    assert ids(listed) == ["exec-c", "exec-b", "exec-a"]
    rest = await index.head(ANN, NO_FILTER, after=listed[0].position, before=None, limit=10)
    assert ids(rest) == ["exec-b", "exec-a"]


async def test_a_user_sees_their_own_and_the_tenant_scope_sees_everyone(
    index: ExecutionIndex,
) -> None:
    await fill(index, entry("t1", "ann", 1), entry("t1", "bob", 2), entry("t1", "ann", 3))
    mine = await index.head(ANN, NO_FILTER, after=None, before=None, limit=10)
    assert ids(mine) == ["exec-003", "exec-001"]
    assert {item.user_id for item in mine} == {"ann"}
    tenant = await index.head(Scope("t1", None), NO_FILTER, after=None, before=None, limit=10)
    assert ids(tenant) == ["exec-003", "exec-002", "exec-001"]
    assert await index.count(Scope("t1", None), NO_FILTER) == 3
    assert await index.count(ANN, NO_FILTER) == 2


@pytest.mark.parametrize("intruder", ["t2", "t1:user:ann", "t1%3Auser%3Aann", "t", "t1 "])
async def test_tenants_never_see_each_others_entries(index: ExecutionIndex, intruder: str) -> None:
    await fill(index, entry("t1", "ann", 1), entry("t1", "ann:x", 2))
    for scope in (Scope(intruder, "ann"), Scope(intruder, None), Scope(intruder, "ann:x")):
        assert await index.head(scope, NO_FILTER, after=None, before=None, limit=10) == []
        assert await index.tail(scope, NO_FILTER, after=None, before=None, limit=10) == []
        assert await index.count(scope, NO_FILTER) == 0
    # Updating another tenant's execution id changes nothing for its owner.
    await index.update(intruder, status("exec-001", ExecutionState.FAILED))
    (listed,) = await index.head(ANN, NO_FILTER, after=None, before=None, limit=10)
    assert listed.status.state is ExecutionState.COMPLETED


async def test_filters_by_state_intent_and_creation_time(index: ExecutionIndex) -> None:
    states = [ExecutionState.COMPLETED, ExecutionState.FAILED, ExecutionState.RUNNING]
    await fill(
        index,
        *(entry("t1", "ann", n, states[n % 3], MASH if n % 2 else UPLOAD) for n in range(30)),
    )
    failed = ExecutionFilter(states=frozenset({ExecutionState.FAILED}))
    listed = await index.head(ANN, failed, after=None, before=None, limit=4)
    assert ids(listed) == ["exec-028", "exec-025", "exec-022", "exec-019"]
    more = await index.head(ANN, failed, after=listed[-1].position, before=None, limit=100)
    assert ids(more) == ["exec-016", "exec-013", "exec-010", "exec-007", "exec-004", "exec-001"]
    assert await index.count(ANN, failed) == 10
    last = await index.tail(ANN, failed, after=None, before=None, limit=2)
    assert ids(last) == ["exec-004", "exec-001"]

    failed_mashes = ExecutionFilter(
        states=frozenset({ExecutionState.FAILED}), intent_types=frozenset({MASH})
    )
    assert ids(await index.head(ANN, failed_mashes, after=None, before=None, limit=3)) == [
        "exec-025",
        "exec-019",
        "exec-013",
    ]
    assert await index.count(ANN, failed_mashes) == 5

    window = ExecutionFilter(
        created_after=T0 + timedelta(seconds=10), created_before=T0 + timedelta(seconds=14)
    )
    assert ids(await index.head(ANN, window, after=None, before=None, limit=10)) == [
        "exec-013",
        "exec-012",
        "exec-011",
    ]
    assert await index.count(ANN, window) == 3
    nothing = ExecutionFilter(intent_types=frozenset({"nope"}))
    assert await index.head(ANN, nothing, after=None, before=None, limit=10) == []
    assert await index.count(ANN, nothing) == 0


async def test_updates_keep_the_last_known_status_and_a_terminal_one_for_good(
    index: ExecutionIndex,
) -> None:
    await index.record(entry("t1", "ann", 1, ExecutionState.PENDING))
    await index.update("t1", status("exec-001", ExecutionState.RUNNING))
    await index.update("t1", status("exec-001", ExecutionState.CANCELLED))
    await index.update("t1", status("exec-001", ExecutionState.RUNNING))  # late, out of order
    await index.update("t1", status("exec-404", ExecutionState.FAILED))  # never recorded
    (listed,) = await index.head(Scope("t1", None), NO_FILTER, after=None, before=None, limit=9)
    assert listed.status.state is ExecutionState.CANCELLED
    # The position never moves: the update kept the time it was created.
    assert listed.position == Position(entry("t1", "ann", 1).created_us, "exec-001")
    cancelled = ExecutionFilter(states=frozenset({ExecutionState.CANCELLED}))
    assert await index.count(ANN, cancelled) == 1


async def test_recording_twice_lists_once(index: ExecutionIndex) -> None:
    await index.record(entry("t1", "ann", 1))
    later = IndexEntry("t1", "ann", entry("t1", "ann", 1).status, T0 + timedelta(days=1))
    await index.record(later)
    assert ids(await index.head(ANN, NO_FILTER, after=None, before=None, limit=9)) == ["exec-001"]
    assert await index.count(ANN, NO_FILTER) == 1


async def test_a_status_without_a_creation_time_is_listed_with_the_recorded_one(
    index: ExecutionIndex,
) -> None:
    await index.record(IndexEntry("t1", "ann", status("exec-x"), T0))
    (listed,) = await index.head(ANN, NO_FILTER, after=None, before=None, limit=9)
    assert listed.status.created_at == T0


async def test_the_index_survives_a_restart(opener: Opener) -> None:
    first = await opener()
    await fill(first, *(entry("t1", "ann", n) for n in range(5)))
    await first.update("t1", status("exec-004", ExecutionState.FAILED))
    await first.aclose()
    again = await opener()
    listed = await again.head(ANN, NO_FILTER, after=None, before=None, limit=3)
    assert ids(listed) == ["exec-004", "exec-003", "exec-002"]
    assert listed[0].status.state is ExecutionState.COMPLETED  # recorded terminal: kept
    assert await again.count(ANN, NO_FILTER) == 5


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    for position in (Position(0, "e"), Position(1_738_324_800_123_000, "exec/ü:1", "rc==")):
        assert decode_cursor(encode_cursor(position)) == position
    cursor = encode_cursor(Position(5, "e"))
    assert "=" not in cursor
    for bad in ("", "nope", cursor[:-3], "e30", "eyJ2IjoxfQ", "W10", cursor + "!!"):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)


async def test_an_unreachable_redis_is_index_unavailable(redis_server: RedisServer) -> None:
    if not redis_server.ping():
        redis_server.start()
    async with RedisLink(redis_server.url, timeout=0.5, probe_interval=0.1) as link:
        index = RedisExecutionIndex(link, prefix="down")
        redis_server.stop()
        try:
            with pytest.raises(IndexUnavailable):
                await index.record(entry("t1", "ann", 1))
            with pytest.raises(IndexUnavailable):  # and fast while the link is down
                await index.head(ANN, NO_FILTER, after=None, before=None, limit=1)
        finally:
            redis_server.start()


def test_an_unusable_data_dir_is_index_unavailable(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(IndexUnavailable):
        SqliteExecutionIndex(blocked / "data" / DATABASE_NAME)
