"""The open-stream count shared by replicas: one ceiling per tenant across the cluster, places
given back, dead replicas' places dropped, and a replica's own places kept counted however its
lease lapses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from experience_plane.cluster import RedisLink, RedisStreamCounter
from tests.experience_plane.cluster.conftest import open_link
from tests.support.redis import RedisServer

LEASE_SECONDS = 0.6  # renewed every 0.2 s
PREFIX = "test"


def counter(link: RedisLink, replica_id: str | None = None) -> RedisStreamCounter:
    return RedisStreamCounter(
        link,
        replica_id=replica_id or uuid.uuid4().hex,
        prefix=PREFIX,
        lease_seconds=LEASE_SECONDS,
    )


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> bool:
    """Whether `check()` comes true within `within` seconds (a generous deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.fixture
async def other_link(redis_server: RedisServer) -> AsyncIterator[RedisLink]:
    """A second replica's link to the same Redis."""
    other = await open_link(redis_server)
    yield other
    await other.__aexit__(None, None, None)


@pytest.fixture
async def replicas(
    link: RedisLink, other_link: RedisLink
) -> AsyncIterator[tuple[RedisStreamCounter, RedisStreamCounter]]:
    """Two replicas' counters, running (their leases renewed)."""
    async with counter(link) as a, counter(other_link) as b:
        yield a, b


async def test_two_replicas_share_one_ceiling_per_tenant(
    replicas: tuple[RedisStreamCounter, RedisStreamCounter],
) -> None:
    a, b = replicas
    taken = [await a.acquire("t1", 3), await b.acquire("t1", 3), await a.acquire("t1", 3)]
    assert taken == [True, True, True]
    assert not await b.acquire("t1", 3)
    assert not await a.acquire("t1", 3)
    # Another tenant has places of its own.
    assert await b.acquire("t2", 3)


async def test_concurrent_takers_of_the_last_place_get_it_once(
    replicas: tuple[RedisStreamCounter, RedisStreamCounter],
) -> None:
    a, b = replicas
    results = await asyncio.gather(*(side.acquire("t1", 5) for side in (a, b) * 10))
    assert results.count(True) == 5


async def test_a_place_given_back_on_one_replica_is_free_on_the_other(
    replicas: tuple[RedisStreamCounter, RedisStreamCounter],
) -> None:
    a, b = replicas
    assert await a.acquire("t1", 1)
    assert not await b.acquire("t1", 1)
    a.release("t1")  # never waits: sent in the background
    assert await eventually(lambda: b.acquire("t1", 1))


async def test_a_dead_replicas_places_stop_counting_when_its_lease_lapses(
    link: RedisLink, other_link: RedisLink
) -> None:
    async with counter(link) as survivor:
        dead = counter(other_link)
        await dead.__aenter__()
        assert await dead.acquire("t1", 2)
        assert await dead.acquire("t1", 2)
        assert not await survivor.acquire("t1", 2)
        # Killed, not shut down: its lease is no longer renewed, and nothing gives places back.
        await dead.__aexit__(None, None, None)
        assert await eventually(lambda: survivor.acquire("t1", 2), within=LEASE_SECONDS * 10)


async def test_a_place_taken_before_the_first_renewal_counts_on_other_replicas(
    link: RedisLink, other_link: RedisLink
) -> None:
    """The race a lease written only by the renewal loop had: a place taken before the loop's
    first turn (or after a renewal failed) sat in the hash with no lease, and the next count on
    another replica dropped it as a dead replica's, letting the tenant past its ceiling."""
    async with counter(other_link) as running:
        fresh = counter(link)  # not entered: no renewal has ever run for it
        assert await fresh.acquire("t1", 1)
        assert not await running.acquire("t1", 1)
        # And after a full lease: still this replica's place, renewed by nobody but itself.
        await fresh.__aenter__()
        try:
            await asyncio.sleep(LEASE_SECONDS * 2)
            assert not await running.acquire("t1", 1)
        finally:
            await fresh.__aexit__(None, None, None)


@pytest.mark.parametrize("lost", ["redis restarted empty", "lease lapsed while paused"])
async def test_places_dropped_while_a_replica_lived_are_counted_again(
    replicas: tuple[RedisStreamCounter, RedisStreamCounter],
    link: RedisLink,
    lost: str,
) -> None:
    a, b = replicas
    assert await a.acquire("t1", 2)
    assert await a.acquire("t1", 2)
    if lost == "redis restarted empty":
        await link.redis.flushdb()
    else:
        # What another replica does when it finds a lapsed lease: the places go with it.
        await link.redis.delete(f"{PREFIX}:streams-replica:{a._replica_id}")
        await link.redis.hdel(f"{PREFIX}:streams:t1", a._replica_id)
    # Within a renewal, a's two places count again: b finds the tenant full.
    assert await eventually(
        lambda: link.redis.hexists(f"{PREFIX}:streams:t1", a._replica_id), within=5.0
    )
    assert not await b.acquire("t1", 2)
    # And giving them back frees them.
    a.release("t1")
    a.release("t1")
    assert await eventually(lambda: b.acquire("t1", 2))
    assert await b.acquire("t1", 2)
    assert not await b.acquire("t1", 2)


async def test_taking_a_place_restores_this_replicas_dropped_count_first(
    replicas: tuple[RedisStreamCounter, RedisStreamCounter],
    link: RedisLink,
) -> None:
    a, b = replicas
    assert await a.acquire("t1", 3)
    assert await a.acquire("t1", 3)
    await link.redis.flushdb()
    # a's next place sees its own two first: three in all, the ceiling.
    assert await a.acquire("t1", 3)
    assert not await b.acquire("t1", 3)


async def test_redis_down_counts_per_replica_then_shares_again(
    link: RedisLink, redis_server: RedisServer
) -> None:
    async with counter(link) as alone:
        assert await alone.acquire("t1", 2)
        redis_server.stop()
        # Per replica now (the place held in Redis aside), and no call fails.
        assert await alone.acquire("t1", 2)
        assert await alone.acquire("t1", 2)
        assert not await alone.acquire("t1", 2)
        assert not link.up
        alone.release("t1")  # a place taken without Redis is given back without it
        assert await alone.acquire("t1", 2)
        alone.release("t1")
        alone.release("t1")
        # Redis is back, empty: the place this replica took in it before counts again.
        redis_server.start()
        assert await eventually(lambda: link.check(), within=10.0)
        assert await alone.acquire("t1", 2)
        assert not await alone.acquire("t1", 2)
