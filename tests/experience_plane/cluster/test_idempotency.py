"""The shared idempotency store: one submission per key across replicas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from experience_plane.cluster import RedisIdempotencyStore, RedisLink
from experience_plane.idempotency import (
    IdempotencyConflict,
    IdempotencyKey,
    InMemoryIdempotencyStore,
)
from experience_plane.runtime import RuntimeRejected, SubmitOutcomeUnknown
from tests.experience_plane.cluster.conftest import open_link
from tests.support.redis import RedisServer

KEY = IdempotencyKey("t1", "uploadContent", "k-1")


def store(link: RedisLink, claim_seconds: float = 10.0) -> RedisIdempotencyStore[str]:
    return RedisIdempotencyStore(
        link,
        InMemoryIdempotencyStore[str](),
        encode=str,
        decode=str,
        prefix="test",
        ttl_seconds=60,
        claim_seconds=claim_seconds,
        poll_seconds=0.01,
    )


class Submits:
    """Counts submissions; each takes a moment and returns a new execution id."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> str:
        self.count += 1
        number = self.count
        await asyncio.sleep(0.2)
        return f"execution-{number}"


@pytest.fixture
async def replicas(
    link: RedisLink, redis_server: RedisServer
) -> AsyncIterator[tuple[RedisIdempotencyStore[str], RedisIdempotencyStore[str]]]:
    other = await open_link(redis_server)
    yield store(link), store(other)
    await other.__aexit__(None, None, None)


async def test_concurrent_requests_on_two_replicas_submit_once(
    replicas: tuple[RedisIdempotencyStore[str], RedisIdempotencyStore[str]],
) -> None:
    a, b = replicas
    submit = Submits()
    results = await asyncio.gather(a.run(KEY, "fp", submit), b.run(KEY, "fp", submit))
    assert results == ["execution-1", "execution-1"]
    # Later, on either replica: the stored result, nothing submitted.
    assert await b.run(KEY, "fp", submit) == "execution-1"
    assert submit.count == 1


async def test_same_key_other_input_is_a_conflict_on_another_replica(
    replicas: tuple[RedisIdempotencyStore[str], RedisIdempotencyStore[str]],
) -> None:
    a, b = replicas
    submit = Submits()
    await a.run(KEY, "fp", submit)
    with pytest.raises(IdempotencyConflict):
        await b.run(KEY, "other", submit)
    # Tenants and operations scope keys.
    assert await b.run(IdempotencyKey("t2", "uploadContent", "k-1"), "other", submit)
    assert submit.count == 2


async def test_refused_submit_releases_the_key_unknown_outcome_binds_it(
    replicas: tuple[RedisIdempotencyStore[str], RedisIdempotencyStore[str]],
) -> None:
    a, b = replicas

    async def refused() -> str:
        raise RuntimeRejected("no", status_code=422)

    async def unknown() -> str:
        raise SubmitOutcomeUnknown("lost answer", idempotency_key="k-2")

    with pytest.raises(RuntimeRejected):
        await a.run(KEY, "fp", refused)
    assert await b.run(KEY, "new input is fine", Submits()) == "execution-1"

    key = IdempotencyKey("t1", "uploadContent", "k-2")
    with pytest.raises(SubmitOutcomeUnknown):
        await a.run(key, "fp", unknown)
    with pytest.raises(IdempotencyConflict):
        await b.run(key, "other", Submits())
    assert await b.run(key, "fp", Submits()) == "execution-1"  # runs again, same input


async def test_a_dead_replicas_claim_expires_and_a_retry_runs(link: RedisLink) -> None:
    b = store(link, claim_seconds=0.3)
    # What a replica that died mid-submit leaves: a running claim nobody refreshes.
    claim = json.dumps({"fingerprint": "fp", "owner": "dead", "state": "running"})
    await link.redis.set(b.entry_key(KEY), claim, px=300)
    submit = Submits()
    assert await b.run(KEY, "fp", submit) == "execution-1"  # waited, then claimed it
    assert submit.count == 1


async def test_redis_down_runs_against_the_local_store(
    link: RedisLink, redis_server: RedisServer
) -> None:
    a = store(link)
    submit = Submits()
    redis_server.stop()
    assert await a.run(KEY, "fp", submit) == "execution-1"
    assert await a.run(KEY, "fp", submit) == "execution-1"  # deduplicated, per replica
    assert submit.count == 1
    assert not link.up
