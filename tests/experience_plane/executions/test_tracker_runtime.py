"""The execution tracker with the real Runtime client against a real reference Runtime process."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from experience_plane.executions import ExecutionTracker
from experience_plane.runtime import (
    ExecutionNotFound,
    ExecutionState,
    ExecutionStatus,
    RuntimeCaller,
    RuntimeClient,
    RuntimeFlavour,
)
from tests.support.processes import RuntimeProcess

PHASES = ["created", "executing", "artifacts_received", "completed"]
# Long enough for a watcher to see every phase, short enough to keep the suite quick.
PHASE_DELAY = 0.4
CSV = b"id,name,joined\n1,Ada,2024-01-02\n2,Grace,2024-02-03\n"


class RecordedSleep:
    """Real sleeps, recorded: how many poll rounds the tracker made, whatever their timing."""

    def __init__(self) -> None:
        self.durations: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.durations.append(seconds)
        await asyncio.sleep(seconds)


def open_client(process: RuntimeProcess, flavour: RuntimeFlavour) -> RuntimeClient:
    # Short retry backoff: injected faults must not stall a read for longer than a phase.
    return RuntimeClient(process.url, flavour=flavour, backoff_base=0.01, backoff_max=0.02)


@pytest.fixture
async def client(runtime: RuntimeProcess) -> AsyncIterator[RuntimeClient]:
    runtime.set_faults(phase_delay=PHASE_DELAY)
    async with open_client(runtime, RuntimeFlavour.REFERENCE) as client:
        yield client


async def upload(client: RuntimeClient, tenant_id: str = "tenant-a") -> str:
    session_id = await client.create_session(tenant_id, "user-1")
    result = await client.upload_content(
        RuntimeCaller(tenant_id, "user-1", session_id),
        filename="people.csv",
        mime_type="text/csv",
        content=CSV,
    )
    assert result.execution_id is not None, result.error
    return result.execution_id


async def collect(
    tracker: ExecutionTracker, execution_id: str, tenant_id: str = "tenant-a"
) -> list[ExecutionStatus]:
    return [snapshot.status async for snapshot in tracker.follow(tenant_id, execution_id)]


def polling_tracker(client: RuntimeClient, sleep: RecordedSleep) -> ExecutionTracker:
    return ExecutionTracker(
        client, use_stream=False, poll_interval_min=0.02, poll_interval_max=0.05, sleep=sleep
    )


async def test_streamed_subscriber_sees_every_phase_once_in_order(
    runtime: RuntimeProcess, client: RuntimeClient
) -> None:
    async with ExecutionTracker(client) as tracker:
        execution_id = await upload(client)
        seen = await collect(tracker, execution_id)

    assert [status.raw_status for status in seen] == PHASES
    assert seen[-1].artifacts  # the completed status carries the file's artifact
    stats = runtime.stats()
    assert stats["stream_connections"][execution_id] == 1
    assert stats["status_reads"][execution_id] == 1  # the first read; the stream did the rest


async def test_polling_subscriber_sees_every_phase_once_in_order(
    runtime: RuntimeProcess, client: RuntimeClient
) -> None:
    sleep = RecordedSleep()
    async with polling_tracker(client, sleep) as tracker:
        execution_id = await upload(client)
        seen = await collect(tracker, execution_id)

    assert [status.raw_status for status in seen] == PHASES
    stats = runtime.stats()
    assert stats["status_reads"][execution_id] == 1 + len(sleep.durations)
    assert execution_id not in stats["stream_connections"]


@pytest.mark.parametrize("use_stream", [True, False], ids=["stream", "polling"])
async def test_fifty_subscribers_cost_the_runtime_one_watcher(
    runtime: RuntimeProcess, client: RuntimeClient, use_stream: bool
) -> None:
    sleep = RecordedSleep()
    async with ExecutionTracker(
        client, use_stream=use_stream, poll_interval_min=0.02, poll_interval_max=0.05, sleep=sleep
    ) as tracker:
        execution_id = await upload(client)
        runtime.reset_stats()
        results = await asyncio.gather(*(collect(tracker, execution_id) for _ in range(50)))
        assert tracker.active_watchers == 0
        assert tracker.active_subscribers == 0

    assert all([s.raw_status for s in seen] == PHASES for seen in results)
    stats = runtime.stats()
    if use_stream:
        assert stats["status_reads"][execution_id] == 1
        assert stats["stream_connections"][execution_id] == 1
    else:
        assert stats["status_reads"][execution_id] == 1 + len(sleep.durations)
        assert execution_id not in stats["stream_connections"]


async def test_status_read_errors_are_retried_not_reported(
    runtime: RuntimeProcess, client: RuntimeClient
) -> None:
    sleep = RecordedSleep()
    async with polling_tracker(client, sleep) as tracker:
        execution_id = await upload(client)
        first = tracker.follow("tenant-a", execution_id)
        seen = [(await anext(first)).status]
        runtime.set_faults(status_error_rate=0.6)  # often more failures than the client retries
        seen += [snapshot.status async for snapshot in first]

    assert [status.raw_status for status in seen] == PHASES
    assert runtime.stats()["requests"]["GET /api/execution/{execution_id}/status"] > len(
        sleep.durations
    )


@pytest.mark.own_runtime
async def test_runtime_restart_mid_stream_is_followed_to_the_true_final_status(
    runtime: RuntimeProcess, client: RuntimeClient
) -> None:
    async with ExecutionTracker(client, poll_interval_min=0.02, poll_interval_max=0.1) as tracker:
        execution_id = await upload(client)
        watch = tracker.follow("tenant-a", execution_id)
        snapshots = [await anext(watch)]
        # The stream breaks, the status reads fail while the Runtime is down, then recover.
        await asyncio.to_thread(runtime.restart)
        snapshots += [snapshot async for snapshot in watch]

    seen = [snapshot.status for snapshot in snapshots]
    assert seen[0].raw_status == "created"
    # Only changes are yielded: a status repeats only as the outage flags it stale or fresh.
    assert all(a.status != b.status or a.stale != b.stale for a, b in itertools.pairwise(snapshots))
    # The restarted Runtime reports what became of the execution it lost: that, not a guess.
    assert seen[-1].state is ExecutionState.FAILED
    assert seen[-1].error is not None
    assert "restarted" in seen[-1].error
    assert runtime.stats()["status_reads"][execution_id] >= 1


async def test_another_tenants_execution_is_not_found(
    runtime: RuntimeProcess, client: RuntimeClient
) -> None:
    async with ExecutionTracker(client) as tracker:
        execution_id = await upload(client, tenant_id="tenant-a")
        with pytest.raises(ExecutionNotFound):
            await collect(tracker, execution_id, tenant_id="tenant-b")
        assert await collect(tracker, execution_id, tenant_id="tenant-a")


async def test_platform_runtime_yields_its_terminal_status_once(
    platform_runtime: RuntimeProcess,
) -> None:
    async with (
        open_client(platform_runtime, RuntimeFlavour.PLATFORM) as client,
        ExecutionTracker(client) as tracker,
    ):
        execution_id = await upload(client)
        platform_runtime.reset_stats()

        seen = await collect(tracker, execution_id)
        again = await collect(tracker, execution_id)

    assert [status.state for status in seen] == [ExecutionState.COMPLETED]
    assert again == seen  # from the terminal cache
    stats = platform_runtime.stats()
    assert stats["status_reads"] == {execution_id: 1}
    assert stats["stream_connections"] == {}
