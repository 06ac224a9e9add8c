"""The replaying fan-out behind execution watchers and shared subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from experience_plane.executions.broadcast import Broadcast


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def collect(items: AsyncGenerator[int, None]) -> list[int]:
    return [item async for item in items]


async def forever() -> None:
    await asyncio.Event().wait()


def test_a_broadcast_keeps_at_least_one_item() -> None:
    with pytest.raises(ValueError, match="at least one item"):
        Broadcast[int](0)


async def test_subscribers_get_every_item_in_order_then_end_when_finished() -> None:
    broadcast = Broadcast[int](8)
    subscribers = [asyncio.create_task(collect(broadcast.subscribe())) for _ in range(3)]
    await settle()
    assert broadcast.subscribers == 3
    for item in (1, 2, 3):
        broadcast.publish(item)
    await settle()
    broadcast.publish(4)
    assert broadcast.finish()
    assert await asyncio.gather(*subscribers) == [[1, 2, 3, 4]] * 3
    assert broadcast.subscribers == 0
    assert (broadcast.version, broadcast.latest) == (4, 4)


async def test_a_late_subscriber_starts_at_the_latest_item_then_gets_newer_ones() -> None:
    broadcast = Broadcast[int](8)
    for item in (1, 2, 3):
        broadcast.publish(item)
    late = asyncio.create_task(collect(broadcast.subscribe()))
    await settle()
    broadcast.publish(4)
    broadcast.finish()
    assert await late == [3, 4]


async def test_a_subscriber_that_falls_behind_the_history_resumes_at_the_oldest_kept() -> None:
    broadcast = Broadcast[int](2)
    broadcast.publish(1)
    items = broadcast.subscribe()
    assert await anext(items) == 1
    for item in (2, 3, 4, 5):  # the subscriber is busy: 2 and 3 fall out of the history
        broadcast.publish(item)
    broadcast.finish()
    assert await collect(items) == [4, 5]


async def test_the_last_item_ends_every_subscription_without_waiting_for_the_producer() -> None:
    broadcast = Broadcast[int](8, is_last=lambda item: item < 0)
    producer = broadcast.start(forever(), name="producer")
    early = asyncio.create_task(collect(broadcast.subscribe()))
    await settle()
    broadcast.publish(1)
    broadcast.publish(-1)
    assert await early == [1, -1]
    # A subscriber joining after the last item gets it alone, at once.
    assert await collect(broadcast.subscribe()) == [-1]
    assert not broadcast.finished
    # The last subscriber is gone and the producer never finished: it is cancelled.
    await asyncio.wait({producer})
    assert producer.cancelled()


async def test_the_producers_error_is_raised_after_the_items_before_it() -> None:
    broadcast = Broadcast[int](8)
    subscriber = asyncio.create_task(collect(broadcast.subscribe()))
    await settle()
    broadcast.publish(1)
    error = LookupError("gone")
    assert broadcast.finish(error)
    assert not broadcast.finish()  # only the first finish counts
    with pytest.raises(LookupError) as raised:
        await subscriber
    assert raised.value is error
    assert broadcast.error is error
    with pytest.raises(LookupError):  # and to a subscriber who comes later
        await collect(broadcast.subscribe())


async def test_a_subscriber_waiting_for_the_first_item_ends_when_finished_empty() -> None:
    broadcast = Broadcast[int](8)
    subscriber = asyncio.create_task(collect(broadcast.subscribe()))
    await settle()
    broadcast.finish()
    assert await subscriber == []
    assert broadcast.latest is None


async def test_the_producer_runs_until_the_last_subscriber_leaves() -> None:
    broadcast = Broadcast[int](8)
    producer = broadcast.start(forever(), name="producer")
    first, second = broadcast.subscribe(), broadcast.subscribe()
    broadcast.publish(1)
    assert await anext(first) == 1
    assert await anext(second) == 1
    await first.aclose()
    await settle()
    assert broadcast.subscribers == 1
    assert not producer.done()
    await second.aclose()
    assert broadcast.subscribers == 0
    await asyncio.wait({producer})
    assert producer.cancelled()


async def test_a_cancelled_subscriber_leaves_and_the_others_go_on() -> None:
    broadcast = Broadcast[int](8)
    producer = broadcast.start(forever(), name="producer")
    cancelled = asyncio.create_task(collect(broadcast.subscribe()))
    staying = asyncio.create_task(collect(broadcast.subscribe()))
    await settle()
    cancelled.cancel()
    await asyncio.wait({cancelled})
    assert broadcast.subscribers == 1
    broadcast.publish(1)
    await settle()
    assert not producer.done()
    staying.cancel()
    await asyncio.wait({staying, producer})
    assert broadcast.subscribers == 0
    assert producer.cancelled()


async def test_a_finished_producer_is_not_cancelled_when_the_last_subscriber_leaves() -> None:
    broadcast = Broadcast[int](8)
    release = asyncio.Event()

    async def produce() -> None:
        broadcast.publish(1)
        broadcast.finish()
        await release.wait()  # still closing its source when the subscriber leaves

    producer = broadcast.start(produce(), name="producer")
    assert await collect(broadcast.subscribe()) == [1]
    await settle()
    assert not producer.done()
    release.set()
    await producer
    assert not producer.cancelled()
