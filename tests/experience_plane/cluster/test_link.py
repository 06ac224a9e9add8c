"""The Redis link across a Redis restart: connections pooled before the outage are dropped on
recovery, so the first calls afterwards do not take the link down again one by one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from experience_plane.cluster import RedisLink
from tests.support.redis import RedisServer


async def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.05)):
        if condition() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.05)


async def test_after_a_restart_pooled_connections_do_not_fail_again(
    link: RedisLink, redis_server: RedisServer
) -> None:
    # Several connections in the pool: concurrent calls each take one.
    await asyncio.gather(*(link.redis.set(f"k{n}", n) for n in range(8)))
    redis_server.stop()
    redis_server.start()
    await _until(lambda: not link.up)  # the probe sees the outage
    await _until(lambda: link.up)  # and the recovery
    assert link.up
    failures = 0
    for n in range(8):
        try:
            await asyncio.gather(*(link.redis.get(f"k{n}{m}") for m in range(8)))
        except Exception:
            failures += 1
    assert failures == 0
    assert link.up
