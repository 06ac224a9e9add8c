"""The shared rate limit: replicas spend one budget per tenant, alone while Redis is away."""

from __future__ import annotations

import asyncio
import logging

import pytest

from experience_plane.auth import TokenBucketLimiter
from experience_plane.cluster import RedisLink, RedisRateLimiter
from tests.experience_plane.cluster.conftest import open_link
from tests.support.redis import RedisServer


def limiter(link: RedisLink, burst: int = 3) -> RedisRateLimiter:
    local = TokenBucketLimiter(0.5, burst)
    return RedisRateLimiter(link, local, rate_per_second=0.5, burst=burst, prefix="test")


async def test_two_replicas_share_one_budget_per_tenant(
    link: RedisLink, redis_server: RedisServer
) -> None:
    other = await open_link(redis_server)
    try:
        a, b = limiter(link), limiter(other)
        decisions = [await a.try_acquire("t1"), await b.try_acquire("t1")]
        decisions += [await b.try_acquire("t1"), await a.try_acquire("t1")]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert 0 < decisions[-1].retry_after_seconds <= 2.0
        # Another tenant has a budget of its own.
        assert (await b.try_acquire("t2")).allowed
    finally:
        await other.__aexit__(None, None, None)


async def test_redis_down_falls_back_to_the_local_bucket_then_shares_again(
    link: RedisLink, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    shared = limiter(link, burst=1)
    assert (await shared.try_acquire("t1")).allowed
    assert not (await shared.try_acquire("t1")).allowed

    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="experience_plane.cluster.link"):
        # Per replica now: the local bucket has its own (full) burst, and no request fails.
        assert (await shared.try_acquire("t1")).allowed
        assert not (await shared.try_acquire("t1")).allowed
        assert not link.up
    assert link.report()["status"] == "degraded"
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1  # once per transition, not per request

    redis_server.start()
    for _ in range(100):
        if link.up:
            break
        await asyncio.sleep(0.05)
    assert link.up
    assert link.report()["status"] == "ok"
    # Shared again: Redis restarted empty, so the tenant has a fresh shared burst of one.
    assert (await shared.try_acquire("t1")).allowed
    assert not (await shared.try_acquire("t1")).allowed
