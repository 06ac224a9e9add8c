"""The ceiling on open streams per tenant (one replica's count) and the word that the service
is restarting."""

from __future__ import annotations

import asyncio

import pytest

from experience_plane.services import ErrorCode, OpenStreams, TooManySubscriptionsError
from experience_plane.services.streams import LocalStreamCounter


async def test_the_local_count_refuses_past_the_limit_per_tenant() -> None:
    count = LocalStreamCounter()
    assert [await count.acquire("t1", 2) for _ in range(3)] == [True, True, False]
    assert await count.acquire("t2", 2)  # another tenant is not affected
    assert count.count("t1") == 2
    count.release("t1")
    assert count.count("t1") == 1
    assert await count.acquire("t1", 2)
    count.release("t1")
    count.release("t1")
    assert count.count("t1") == 0


async def test_past_the_ceiling_a_stream_is_refused_with_a_typed_error() -> None:
    streams = OpenStreams(limit=1)
    await streams.open("t1")
    with pytest.raises(TooManySubscriptionsError) as refused:
        await streams.open("t1")
    assert refused.value.code is ErrorCode.TOO_MANY_SUBSCRIPTIONS
    assert refused.value.limit == 1
    await streams.open("t2")
    streams.close("t1")
    await streams.open("t1")


async def test_a_held_place_is_given_back_however_the_block_ends() -> None:
    streams = OpenStreams(limit=1)
    with pytest.raises(ValueError, match="boom"):
        async with streams.held("t1"):
            raise ValueError("boom")

    async def hold_forever() -> None:
        async with streams.held("t1"):
            await asyncio.Event().wait()

    task = asyncio.create_task(hold_forever())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    with pytest.raises(TooManySubscriptionsError):
        await streams.open("t1")
    task.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await task
    async with streams.held("t1"):
        pass


async def test_restart_calls_every_registered_transport_once() -> None:
    streams = OpenStreams(limit=10)
    called: list[str] = []

    async def first() -> None:
        called.append("first")

    async def failing() -> None:
        called.append("failing")
        raise ConnectionError("already gone")

    async def gone() -> None:
        called.append("gone")

    streams.on_restart(first)
    streams.on_restart(failing)
    streams.on_restart(gone)()  # unregistered: its connection ended
    assert not streams.restarting
    await streams.restart()
    assert streams.restarting
    assert sorted(called) == ["failing", "first"]
    await streams.restart()
    assert sorted(called) == ["failing", "first"]
