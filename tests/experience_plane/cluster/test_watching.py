"""Execution watching shared through Redis by two trackers (two replicas) over one Runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from experience_plane.cluster import RedisLink, RedisWatchCoordinator
from experience_plane.executions import ExecutionTracker, Snapshot, StaleCause
from experience_plane.runtime import ExecutionNotFound, RuntimeUnavailable
from tests.experience_plane.cluster.conftest import open_link
from tests.experience_plane.executions.fakes import (
    ManualClock,
    ScriptedRuntime,
    VirtualTime,
    lifecycle,
    status,
)
from tests.support.redis import RedisServer

LEASE = 0.8
STALE_AFTER = 5.0
RAW = ["created", "executing", "artifacts_received", "completed"]


@dataclass
class Replica:
    """A tracker with its own Redis connection, poll clock and freshness clock, like one API
    process."""

    tracker: ExecutionTracker
    clock: ManualClock
    time: VirtualTime
    coordinator: RedisWatchCoordinator


async def until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110  # polls state other tasks change; a test helper
            await asyncio.sleep(0.01)


async def start_replica(stack: AsyncExitStack, link: RedisLink, fake: ScriptedRuntime) -> Replica:
    coordinator = await stack.enter_async_context(
        RedisWatchCoordinator(link, prefix="test", lease_seconds=LEASE, status_ttl_seconds=60)
    )
    await until(lambda: coordinator.available)
    clock, time = ManualClock(auto=False), VirtualTime()
    tracker = await stack.enter_async_context(
        ExecutionTracker(
            fake,
            use_stream=False,
            sleep=clock.sleep,
            timers=time,
            stale_after=STALE_AFTER,
            coordinator=coordinator,
        )
    )
    return Replica(tracker, clock, time, coordinator)


@pytest.fixture
async def two(
    link: RedisLink, redis_server: RedisServer
) -> AsyncIterator[tuple[ScriptedRuntime, Replica, Replica]]:
    fake = ScriptedRuntime()
    async with AsyncExitStack() as stack:
        other = await open_link(redis_server)
        stack.push_async_exit(other)
        a = await start_replica(stack, link, fake)
        b = await start_replica(stack, other, fake)
        yield fake, a, b


class Follower:
    """A subscriber collecting raw statuses in a task."""

    def __init__(self, replica: Replica, execution_id: str, tenant: str = "t1") -> None:
        self.seen: list[str] = []
        self.task = asyncio.create_task(self._run(replica, tenant, execution_id))

    async def _run(self, replica: Replica, tenant: str, execution_id: str) -> None:
        async for item in replica.tracker.follow(tenant, execution_id):
            self.seen.append(item.status.raw_status)


async def test_subscribers_on_both_replicas_see_every_change_from_one_watcher(
    two: tuple[ScriptedRuntime, Replica, Replica],
) -> None:
    fake, a, b = two
    fake.script("t1", "e1", lifecycle("e1"))
    on_a = Follower(a, "e1")
    await until(lambda: on_a.seen == ["created"])
    on_b = Follower(b, "e1")  # follows a's watcher: starts from the cached latest snapshot
    await until(lambda: on_b.seen == ["created"])
    for step in range(2, len(RAW) + 1):
        a.clock.release()  # one poll round of the leader
        await until(lambda step=step: len(on_a.seen) == len(on_b.seen) == step)
    await asyncio.wait({on_a.task, on_b.task}, timeout=20)
    assert on_a.seen == on_b.seen == RAW
    assert fake.reads[("t1", "e1")] == len(RAW)  # one watcher's reads, not two
    assert b.clock.sleeps == []  # the follower never polled
    # A late subscriber on either replica gets the terminal status with no Runtime read.
    assert (await b.tracker.current("t1", "e1")).status.raw_status == "completed"
    assert fake.reads[("t1", "e1")] == len(RAW)


async def test_a_follower_takes_over_when_the_leaders_lease_expires(
    two: tuple[ScriptedRuntime, Replica, Replica], link: RedisLink
) -> None:
    fake, _a, b = two
    fake.script("t1", "e2", lifecycle("e2"))
    # A dead replica's lease: nobody renews it, it expires after LEASE.
    await link.redis.set("test:exec:2:t1:e2:lease", "dead-replica", px=round(LEASE * 1000))
    on_b = Follower(b, "e2")
    await asyncio.sleep(LEASE / 2)
    assert on_b.seen == []
    assert fake.reads[("t1", "e2")] == 0
    await until(lambda: on_b.seen == ["created"], seconds=LEASE * 3)  # took over, read first
    for _ in range(3):
        b.clock.release()
        await asyncio.sleep(0.05)
    await asyncio.wait({on_b.task}, timeout=20)
    assert on_b.seen == RAW


async def test_unknown_execution_is_not_found_on_every_replica(
    two: tuple[ScriptedRuntime, Replica, Replica],
) -> None:
    fake, a, b = two
    for replica in (a, b):
        with pytest.raises(ExecutionNotFound):
            await anext(replica.tracker.follow("t1", "nope"))
    # The leader's answer was shared: the second replica did not ask the Runtime again.
    assert fake.reads[("t1", "nope")] == 1


async def test_without_redis_each_replica_watches_alone(
    two: tuple[ScriptedRuntime, Replica, Replica], redis_server: RedisServer
) -> None:
    fake, a, b = two
    # Each replica reads each status once: the script serves every step twice.
    fake.script("t1", "e3", [step for step in lifecycle("e3") for _ in range(2)])
    redis_server.stop()
    await until(lambda: not a.coordinator.available and not b.coordinator.available)
    on_a, on_b = Follower(a, "e3"), Follower(b, "e3")
    await until(lambda: on_a.seen == on_b.seen == ["created"])
    for _ in range(3):
        a.clock.release()
        b.clock.release()
        await asyncio.sleep(0.05)
    await asyncio.wait({on_a.task, on_b.task}, timeout=20)
    assert on_a.seen == on_b.seen == RAW
    assert fake.reads[("t1", "e3")] == 2 * len(RAW)  # one watcher per replica


async def test_when_the_leaders_subscribers_leave_a_follower_takes_over(
    two: tuple[ScriptedRuntime, Replica, Replica],
) -> None:
    fake, a, b = two
    fake.script("t1", "e4", lifecycle("e4"))
    on_a = Follower(a, "e4")
    await until(lambda: on_a.seen == ["created"])
    on_b = Follower(b, "e4")
    await until(lambda: on_b.seen == ["created"])
    on_a.task.cancel()  # a's last subscriber leaves: a stops watching and gives the lease up
    await asyncio.wait({on_a.task}, timeout=20)
    assert a.tracker.active_watchers == 0
    # b takes over within a quarter lease and reads the Runtime first.
    await until(lambda: on_b.seen == ["created", "executing"], seconds=LEASE * 2)
    for step in (3, 4):
        b.clock.release()
        await until(lambda step=step: len(on_b.seen) == step)
    await asyncio.wait({on_b.task}, timeout=20)
    assert on_b.seen == RAW
    assert fake.reads[("t1", "e4")] == len(RAW)  # never two watchers at once


async def test_stale_flags_reach_the_followers_with_their_cause(
    two: tuple[ScriptedRuntime, Replica, Replica],
) -> None:
    fake, a, b = two
    running, done = status("e5", "executing", 40), status("e5", "completed")
    down = RuntimeUnavailable("GET /status: connection refused")
    fake.script("t1", "e5", [running, down, down, running, done])
    on_a = Follower(a, "e5")
    await until(lambda: on_a.seen == ["executing"])
    snapshots: list[Snapshot] = []

    async def follow_b() -> None:
        async for snapshot in b.tracker.follow("t1", "e5"):
            snapshots.append(snapshot)

    on_b = asyncio.create_task(follow_b())
    await until(lambda: len(snapshots) == 1)
    a.clock.release()  # the leader's read fails
    await asyncio.sleep(0.05)
    a.time.advance(STALE_AFTER)  # the leader's promise falls due; the follower is told
    await until(lambda: len(snapshots) == 2)
    b.time.advance(STALE_AFTER * 10)  # a follower keeps no deadline: the leader says
    while not on_b.done():
        a.clock.release()
        await asyncio.sleep(0.05)
    assert [(s.status.raw_status, s.stale) for s in snapshots] == [
        ("executing", False),
        ("executing", True),
        ("executing", False),
        ("completed", False),
    ]
    assert snapshots[1].stale_cause is StaleCause.UNAVAILABLE
    assert snapshots[1].stale_since is not None
    await asyncio.wait({on_a.task}, timeout=20)
