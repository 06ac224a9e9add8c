"""Listing and cancelling executions through the service layer, over the app's real lifespan and
a real reference Runtime process: its own list and cancel in asynchronous mode; the Experience
Plane's index (SQLite, then Redis) in platform mode, which has neither."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from experience_plane.auth import Principal
from experience_plane.executions import ExecutionTracker
from experience_plane.index import ExecutionFilter, SqliteExecutionIndex
from experience_plane.runtime import (
    ExecutionState,
    ExecutionStatus,
    RuntimeCaller,
    RuntimeClient,
)
from experience_plane.services import (
    TENANT_ADMIN_ROLE,
    AlreadyFinishedError,
    CancelUnsupportedError,
    ExecutionsPage,
    InvalidInputError,
    NotFoundError,
    PageRequest,
    Services,
)
from experience_plane.settings import Settings
from tests.experience_plane.support import running_app
from tests.support.processes import RuntimeProcess
from tests.support.redis import RedisServer

CSV = b"id,name\n1,Ann\n2,Bob\n"
Open = Callable[[], AbstractAsyncContextManager[Services]]


class Bytes:
    """An upload source over bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self, size: int = -1) -> bytes:
        size = len(self.data) if size < 0 else size
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


def principal(tenant: str, user: str, *roles: str) -> Principal:
    return Principal(tenant, user, frozenset(roles))


async def upload(services: Services, who: Principal, name: str) -> ExecutionStatus:
    return await services.content.upload(
        who, Bytes(CSV), filename=name, mime_type="text/csv", size=len(CSV)
    )


async def settled(services: Services, who: Principal, execution_id: str) -> ExecutionStatus:
    async for snapshot in services.executions.follow(who, execution_id):
        if snapshot.status.state.is_terminal:
            return snapshot.status
    raise AssertionError("the subscription ended without a terminal status")


def ids(page: ExecutionsPage) -> list[str]:
    return [edge.execution.execution_id for edge in page.edges]


def app_opener(runtime: RuntimeProcess, data_dir: Path, **settings: object) -> Open:
    flavour = "platform" if runtime.mode == "platform" else "reference"

    @asynccontextmanager
    async def open_services() -> AsyncIterator[Services]:
        options: dict[str, object] = {
            "runtime_url": runtime.url,
            "runtime_flavour": flavour,
            "insecure_dev": True,
            "data_dir": data_dir,
            "rate_limit_per_second": 0,
            **settings,
        }
        async with running_app(Settings(**options)) as app:  # type: ignore[arg-type]
            yield app.services

    return open_services


async def check_paging(services: Services, who: Principal, started: list[str]) -> None:
    """`started` (oldest first, seven of them) pages both ways with stable, opaque cursors."""
    lister = services.executions
    newest = started[::-1]
    first = await lister.list_executions(who, page=PageRequest(first=3))
    assert ids(first) == newest[:3]
    assert (first.has_next_page, first.has_previous_page) == (True, False)
    assert await first.total_count() == 7
    second = await lister.list_executions(who, page=PageRequest(first=3, after=first.end_cursor))
    assert ids(second) == newest[3:6]
    assert (second.has_next_page, second.has_previous_page) == (True, True)
    rest = await lister.list_executions(who, page=PageRequest(first=3, after=second.end_cursor))
    assert ids(rest) == newest[6:]
    assert (rest.has_next_page, rest.has_previous_page) == (False, True)
    back = await lister.list_executions(who, page=PageRequest(last=2, before=second.start_cursor))
    assert ids(back) == newest[1:3]
    assert (back.has_next_page, back.has_previous_page) == (True, True)
    oldest = await lister.list_executions(who, page=PageRequest(last=2))
    assert ids(oldest) == newest[5:]
    assert (oldest.has_next_page, oldest.has_previous_page) == (False, True)
    # The same cursor gives the same page, however often (and after new work).
    again = await lister.list_executions(who, page=PageRequest(first=3, after=first.end_cursor))
    assert ids(again) == ids(second)
    assert [edge.cursor for edge in again.edges] == [edge.cursor for edge in second.edges]


async def check_filters_scope_and_errors(
    services: Services, ann: Principal, started: list[str], bobs: str
) -> None:
    lister = services.executions
    uploads = ExecutionFilter(intent_types=frozenset({"content.upload", "ingest_file"}))
    assert ids(await lister.list_executions(ann, uploads)) == started[::-1]
    nothing = ExecutionFilter(intent_types=frozenset({"data_mash.create"}))
    empty = await lister.list_executions(ann, nothing)
    assert (ids(empty), empty.start_cursor, await empty.total_count()) == ([], None, 0)
    completed = ExecutionFilter(states=frozenset({ExecutionState.COMPLETED}))
    assert await (await lister.list_executions(ann, completed)).total_count() == 7
    failed = ExecutionFilter(states=frozenset({ExecutionState.FAILED}))
    assert ids(await lister.list_executions(ann, failed)) == []
    page = await lister.list_executions(ann, page=PageRequest(first=7))
    created = [edge.execution.created_at for edge in page.edges]
    assert all(moment is not None for moment in created)
    middle = created[3]
    assert middle is not None
    window = ExecutionFilter(
        created_after=middle - timedelta(microseconds=1),
        created_before=middle + timedelta(microseconds=1),
    )
    assert ids(await lister.list_executions(ann, window)) == [started[3]]

    # Bob's execution is his; the tenant admin sees both users'; another tenant sees nothing.
    assert bobs not in ids(await lister.list_executions(ann, page=PageRequest(first=50)))
    admin = principal(ann.tenant_id, "carol", TENANT_ADMIN_ROLE)
    everyone = await lister.list_executions(admin, page=PageRequest(first=50))
    assert set(ids(everyone)) == {*started, bobs}
    assert {edge.user_id for edge in everyone.edges} == {"ann", "bob"}
    stranger = principal("other-" + ann.tenant_id, "ann", TENANT_ADMIN_ROLE)
    alone = await lister.list_executions(stranger)
    assert (ids(alone), await alone.total_count()) == ([], 0)

    for request, field in (
        (PageRequest(after="not-a-cursor"), "after"),
        (PageRequest(last=1, before="eyJ2IjoxfQ"), "before"),
        (PageRequest(first=1, last=1), "last"),
        (PageRequest(first=101), "first"),
        (PageRequest(last=-1), "last"),
    ):
        with pytest.raises(InvalidInputError) as refused:
            await lister.list_executions(ann, page=request)
        assert refused.value.field == field


async def start_seven(services: Services, ann: Principal) -> tuple[list[str], str]:
    started = []
    for number in range(7):
        status = await upload(services, ann, f"f{number}.csv")
        started.append(status.execution_id)
        await settled(services, ann, status.execution_id)
    bob = await upload(services, principal(ann.tenant_id, "bob"), "bob.csv")
    return started, bob.execution_id


# -- the Runtime's own list and cancel (asynchronous mode) ------------------------------------


async def test_over_the_runtimes_list(runtime: RuntimeProcess, tmp_path: Path) -> None:
    ann = principal(f"t-{uuid.uuid4().hex[:8]}", "ann")
    async with app_opener(runtime, tmp_path / "data")() as services:
        started, bobs = await start_seven(services, ann)
        await check_paging(services, ann, started)
        await check_filters_scope_and_errors(services, ann, started, bobs)

        # The Runtime's list holds what others started on it too, and the index is not read.
        async with RuntimeClient(runtime.url) as direct:
            caller = RuntimeCaller(ann.tenant_id, "ann", "elsewhere")
            outside = await direct.upload_content(
                caller, filename="x.csv", mime_type="text/csv", content=CSV
            )
        page = await services.executions.list_executions(ann, page=PageRequest(first=1))
        assert ids(page) == [outside.execution_id]
    assert runtime.stats()["requests"]["GET /api/executions"] > 0


@pytest.mark.own_runtime
async def test_cancel_stops_the_execution_and_its_subscribers_complete(
    runtime: RuntimeProcess, tmp_path: Path
) -> None:
    ann = principal("t-cancel", "ann")
    async with app_opener(runtime, tmp_path / "data")() as services:
        runtime.set_faults(phase_delay=30.0)
        started = await upload(services, ann, "slow.csv")
        execution_id = started.execution_id
        seen: list[ExecutionState] = []
        subscribed = asyncio.Event()

        async def subscribe() -> None:
            async for snapshot in services.executions.follow(ann, execution_id):
                seen.append(snapshot.status.state)
                subscribed.set()

        subscriber = asyncio.create_task(subscribe())
        await asyncio.wait_for(subscribed.wait(), 10)

        cancelled = await services.executions.cancel_execution(ann, execution_id, "key-1")

        assert cancelled.state is ExecutionState.CANCELLED
        assert cancelled.intent_type == "content.upload"
        await asyncio.wait_for(subscriber, 10)  # the subscription completes
        assert seen[-1] is ExecutionState.CANCELLED
        status = await services.executions.get(ann, execution_id)
        assert status is not None
        assert status.state is ExecutionState.CANCELLED
        # The same key again: the first answer, and no second cancel reaches the Runtime.
        repeat = await services.executions.cancel_execution(ann, execution_id, "key-1")
        assert repeat == cancelled
        requests = runtime.stats()["requests"]
        assert requests["POST /api/execution/{execution_id}/cancel"] == 1
        with pytest.raises(AlreadyFinishedError):
            await services.executions.cancel_execution(ann, execution_id, "key-2")
        with pytest.raises(NotFoundError):
            await services.executions.cancel_execution(ann, "exec_missing")
        with pytest.raises(NotFoundError):  # another tenant's is as unknown as a missing one
            await services.executions.cancel_execution(principal("t-x", "ann"), execution_id)
        runtime.set_faults(phase_delay=0.0)
        listed = await services.executions.list_executions(
            ann, ExecutionFilter(states=frozenset({ExecutionState.CANCELLED}))
        )
        assert ids(listed) == [execution_id]


# -- the Experience Plane's own index (platform mode: no list, no cancel) ---------------------


async def check_index_mode(runtime: RuntimeProcess, open_services: Open, tenant: str) -> None:
    ann = principal(tenant, "ann")
    async with open_services() as services:
        started, bobs = await start_seven(services, ann)
        await check_paging(services, ann, started)
        await check_filters_scope_and_errors(services, ann, started, bobs)
        # A synchronous Runtime's executions are finished at once: nothing to cancel.
        with pytest.raises(AlreadyFinishedError):
            await services.executions.cancel_execution(ann, started[0])
        with pytest.raises(NotFoundError):
            await services.executions.cancel_execution(ann, "exec_missing")
        before = await services.executions.list_executions(ann, page=PageRequest(first=3))
    runtime.reset_stats()
    async with open_services() as services:  # the API restarted
        after = await services.executions.list_executions(ann, page=PageRequest(first=3))
        assert ids(after) == ids(before)
        assert [edge.cursor for edge in after.edges] == [edge.cursor for edge in before.edges]
        assert await after.total_count() == 7
        assert after.edges[0].execution.artifacts  # the finished status in full
    # Listing finished executions from the index asks the Runtime nothing but its list.
    requests = runtime.stats()["requests"]
    assert set(requests) <= {"GET /api/executions"}, requests


async def test_over_the_index_in_sqlite(platform_runtime: RuntimeProcess, tmp_path: Path) -> None:
    opener = app_opener(platform_runtime, tmp_path / "data")
    await check_index_mode(platform_runtime, opener, f"t-{uuid.uuid4().hex[:8]}")
    assert (tmp_path / "data" / "executions.sqlite3").exists()


async def test_over_the_index_in_redis(platform_runtime: RuntimeProcess, tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as redis:
        opener = app_opener(platform_runtime, tmp_path / "data", redis_url=redis.url)
        await check_index_mode(platform_runtime, opener, f"t-{uuid.uuid4().hex[:8]}")
    assert not (tmp_path / "data").exists()  # with Redis, no file is written


# -- a Runtime whose cancel endpoint is missing while executions run ---------------------------


async def test_a_runtime_without_cancel_is_cancel_unsupported() -> None:
    running = {"execution_id": "exec-1", "status": "executing", "intent_type": "content.upload"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/execution/exec-1/status":
            return httpx.Response(200, json=running)
        return httpx.Response(404, json={"detail": "Not Found"})

    client = RuntimeClient("http://runtime.test", transport=httpx.MockTransport(answer))
    async with client, ExecutionTracker(client, use_stream=False) as tracker:
        services = Services.build(Settings(insecure_dev=True), client, tracker)
        with pytest.raises(CancelUnsupportedError):
            await services.executions.cancel_execution(principal("t", "ann"), "exec-1")
        with pytest.raises(NotFoundError):
            await services.executions.cancel_execution(principal("t", "ann"), "exec-2")


async def test_unfinished_executions_of_an_index_page_are_read_again(tmp_path: Path) -> None:
    """Against a Runtime without a list, the index answers; an execution it last knew running
    is read again (once: the index keeps the end it read)."""
    reads: list[str] = []
    finished = {
        "execution_id": "exec-1",
        "status": "completed",
        "intent_type": "content.upload",
        "created_at": "2026-01-01T00:00:00Z",
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/execution/exec-1/status":
            reads.append(request.url.path)
            return httpx.Response(200, json=finished)
        return httpx.Response(404, json={"detail": "Not Found"})

    ann = principal("t", "ann")
    running = ExecutionStatus(
        "exec-1", ExecutionState.RUNNING, "executing", None, "content.upload", None, None,
        None, None, (), (),
    )  # fmt: skip
    client = RuntimeClient("http://runtime.test", transport=httpx.MockTransport(answer))
    index = SqliteExecutionIndex(tmp_path / "executions.sqlite3")
    async with client, ExecutionTracker(client, use_stream=False) as tracker:
        services = Services.build(Settings(insecure_dev=True), client, tracker, index=index)
        await services.executions.record_started(ann, running)
        for _ in range(2):
            page = await services.executions.list_executions(ann)
            (edge,) = page.edges
            assert edge.execution.state is ExecutionState.COMPLETED
            assert edge.user_id == "ann"
        assert len(reads) == 1
        completed = ExecutionFilter(states=frozenset({ExecutionState.COMPLETED}))
        assert await (await services.executions.list_executions(ann, completed)).total_count() == 1
    await index.aclose()
