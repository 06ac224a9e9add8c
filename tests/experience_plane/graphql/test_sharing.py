"""Shared subscription work: one source per operation key, every subscriber sees its results."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

from experience_plane.auth import Principal
from experience_plane.graphql.sharing import (
    SharedItem,
    SharedSubscriptions,
    is_subscription,
    operation_key,
    shared_principal,
)

WATCH = "subscription ($id: ID!) { executionStatus(executionId: $id) { id state } }"
ALICE = Principal(tenant_id="t1", user_id="alice", expires_at=datetime(2030, 1, 1, tzinfo=UTC))


class CountingSource:
    """A result stream fed by the test; counts how many streams were started (executions)."""

    def __init__(self) -> None:
        self.started = 0
        self.closed = 0
        self.queue: asyncio.Queue[object | None] = asyncio.Queue()

    async def __call__(self) -> AsyncGenerator[object, None]:
        self.started += 1
        return self._results()

    async def _results(self) -> AsyncGenerator[object, None]:
        try:
            while (item := await self.queue.get()) is not None:
                yield item
        finally:
            self.closed += 1


def encode(result: object) -> str:
    return f'{{"n":{result}}}'


async def collect(results: AsyncGenerator[SharedItem, None]) -> list[SharedItem]:
    return [item async for item in results]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_subscribers_of_one_key_share_one_source_and_get_identical_results() -> None:
    hub = SharedSubscriptions()
    source = CountingSource()
    key = operation_key(WATCH, {"id": "e1"}, None, ALICE)
    assert key is not None
    subscribers = [
        asyncio.create_task(collect(hub.subscribe(key, source, encode))) for _ in range(5)
    ]
    await settle()
    for n in (1, 2, 3):
        source.queue.put_nowait(n)
    source.queue.put_nowait(None)
    received = await asyncio.gather(*subscribers)
    assert source.started == 1
    assert hub.results_published == 3  # executed and encoded once each, for five subscribers
    assert all(items == ['{"n":1}', '{"n":2}', '{"n":3}'] for items in received)
    assert hub.active_operations == 0


async def test_different_keys_do_not_share() -> None:
    hub = SharedSubscriptions()
    sources = {"t1": CountingSource(), "t2": CountingSource()}
    other_tenant = Principal(tenant_id="t2", user_id="bob")
    keys = {
        "t1": operation_key(WATCH, {"id": "e1"}, None, ALICE),
        "t2": operation_key(WATCH, {"id": "e1"}, None, other_tenant),
    }
    assert keys["t1"] != keys["t2"]
    assert operation_key(WATCH, {"id": "e2"}, None, ALICE) != keys["t1"]
    assert operation_key(WATCH.replace(" state", ""), {"id": "e1"}, None, ALICE) != keys["t1"]
    tasks = {
        tenant: asyncio.create_task(collect(hub.subscribe(key, sources[tenant], encode)))
        for tenant, key in keys.items()
        if key is not None
    }
    await settle()
    assert hub.active_operations == 2
    sources["t1"].queue.put_nowait(1)
    sources["t2"].queue.put_nowait(2)
    for source in sources.values():
        source.queue.put_nowait(None)
    assert await tasks["t1"] == ['{"n":1}']
    assert await tasks["t2"] == ['{"n":2}']


async def test_a_late_subscriber_starts_at_the_latest_result() -> None:
    hub = SharedSubscriptions()
    source = CountingSource()
    key = operation_key(WATCH, {"id": "e1"}, None, ALICE)
    assert key is not None
    early = asyncio.create_task(collect(hub.subscribe(key, source, encode)))
    await settle()
    source.queue.put_nowait(1)
    source.queue.put_nowait(2)
    await settle()
    late = asyncio.create_task(collect(hub.subscribe(key, source, encode)))
    await settle()
    source.queue.put_nowait(3)
    source.queue.put_nowait(None)
    assert await early == ['{"n":1}', '{"n":2}', '{"n":3}']
    assert await late == ['{"n":2}', '{"n":3}']
    assert source.started == 1


async def test_the_last_subscriber_leaving_stops_the_source() -> None:
    hub = SharedSubscriptions()
    source = CountingSource()
    key = operation_key(WATCH, {"id": "e1"}, None, ALICE)
    assert key is not None
    first, second = hub.subscribe(key, source, encode), hub.subscribe(key, source, encode)
    waiting = [asyncio.create_task(anext(first)), asyncio.create_task(anext(second))]
    await settle()
    source.queue.put_nowait(1)
    assert await asyncio.gather(*waiting) == ['{"n":1}', '{"n":1}']
    await first.aclose()
    await settle()
    assert source.closed == 0  # one subscriber is still there
    await second.aclose()
    await settle()
    assert source.closed == 1
    assert hub.active_operations == 0


async def test_an_error_of_the_operation_reaches_every_subscriber() -> None:
    hub = SharedSubscriptions()
    key = operation_key(WATCH, {"id": "e1"}, None, ALICE)
    assert key is not None

    async def failing() -> AsyncGenerator[object, None]:
        async def results() -> AsyncGenerator[object, None]:
            yield 1
            raise LookupError("gone")

        return results()

    outcomes = await asyncio.gather(
        *(collect(hub.subscribe(key, failing, encode)) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(outcome, LookupError) for outcome in outcomes)


def test_only_subscriptions_are_shared() -> None:
    assert is_subscription(WATCH, None)
    assert not is_subscription('query { executionStatus(executionId: "e") { id } }', None)
    assert not is_subscription("mutation { createDataMash { __typename } }", None)
    assert not is_subscription("subscription {", None)  # unparsable: Strawberry reports it
    two = f"{WATCH.replace('subscription', 'subscription S')} query Q {{ __typename }}"
    assert is_subscription(two, "S")
    assert not is_subscription(two, "Q")
    assert not is_subscription(two, None)  # ambiguous: Strawberry reports it


def test_variables_are_compared_as_json_and_expiry_stays_with_the_subscriber() -> None:
    one = operation_key(WATCH, {"id": "e1", "x": 1}, None, ALICE)
    assert one == operation_key(WATCH, {"x": 1, "id": "e1"}, None, ALICE)
    assert operation_key(WATCH, {"id": object()}, None, ALICE) is None
    shared = shared_principal(ALICE)
    assert shared.expires_at is None
    assert (shared.tenant_id, shared.roles) == (ALICE.tenant_id, ALICE.roles)
