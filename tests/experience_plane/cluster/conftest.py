"""A real `redis-server` for the cluster tests (one per module), emptied before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from experience_plane.cluster import RedisLink
from tests.support.redis import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def link(redis_server: RedisServer) -> AsyncIterator[RedisLink]:
    """A link to the test's Redis, emptied first, restarted if a previous test stopped it."""
    if not redis_server.ping():
        redis_server.start()
    async with RedisLink(redis_server.url, timeout=0.5, probe_interval=0.1) as opened:
        await opened.redis.flushdb()
        yield opened


async def open_link(redis_server: RedisServer) -> RedisLink:
    """Another replica's link to the same Redis (the caller closes it)."""
    return await RedisLink(redis_server.url, timeout=0.5, probe_interval=0.1).__aenter__()
