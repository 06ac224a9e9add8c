"""`InMemoryIdempotencyStore`: one run per key, shared in-flight results, conflicts, expiry,
released and still-bound keys after failures, bounded memory, tenants apart (fake clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from experience_plane.idempotency import (
    IdempotencyConflict,
    IdempotencyKey,
    InMemoryIdempotencyStore,
    fingerprint,
)
from experience_plane.runtime import (
    CircuitOpen,
    RuntimeRejected,
    RuntimeUnavailable,
    SubmitOutcomeUnknown,
)

UPLOAD = IdempotencyKey("tenant-a", "uploadContent", "key-1")
INPUT = fingerprint({"filename": "a.csv", "size": 10})
OTHER_INPUT = fingerprint({"filename": "b.csv", "size": 10})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Work:
    """A submission that counts its runs; it can be held open until released."""

    def __init__(self, result: str = "exec-1", *, hold: bool = False) -> None:
        self.result = result
        self.runs = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        if not hold:
            self.release.set()
        self.failures: list[BaseException] = []

    async def __call__(self) -> str:
        self.runs += 1
        self.started.set()
        await self.release.wait()
        if self.failures:
            raise self.failures.pop(0)
        return f"{self.result}#{self.runs}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> InMemoryIdempotencyStore[str]:
    return InMemoryIdempotencyStore(ttl_seconds=60.0, max_entries=100, clock=clock)


async def test_first_call_runs_the_work_and_repeats_get_its_result(
    store: InMemoryIdempotencyStore[str],
) -> None:
    work = Work()
    assert await store.run(UPLOAD, INPUT, work) == "exec-1#1"
    assert await store.run(UPLOAD, INPUT, work) == "exec-1#1"
    assert work.runs == 1


async def test_concurrent_callers_share_the_one_in_flight_run(
    store: InMemoryIdempotencyStore[str],
) -> None:
    work = Work(hold=True)
    first = asyncio.create_task(store.run(UPLOAD, INPUT, work))
    await work.started.wait()
    others = [asyncio.create_task(store.run(UPLOAD, INPUT, work)) for _ in range(5)]
    await asyncio.sleep(0)
    work.release.set()
    results = await asyncio.gather(first, *others)
    assert results == ["exec-1#1"] * 6
    assert work.runs == 1


async def test_different_input_under_the_same_key_is_a_conflict(
    store: InMemoryIdempotencyStore[str],
) -> None:
    work = Work(hold=True)
    first = asyncio.create_task(store.run(UPLOAD, INPUT, work))
    await work.started.wait()
    with pytest.raises(IdempotencyConflict) as in_flight:
        await store.run(UPLOAD, OTHER_INPUT, work)
    work.release.set()
    await first
    with pytest.raises(IdempotencyConflict, match="different input") as settled:
        await store.run(UPLOAD, OTHER_INPUT, work)
    assert in_flight.value.key == settled.value.key == UPLOAD
    assert "'key-1'" in settled.value.message
    assert work.runs == 1


async def test_results_expire_after_the_ttl(
    store: InMemoryIdempotencyStore[str], clock: FakeClock
) -> None:
    work = Work()
    await store.run(UPLOAD, INPUT, work)
    clock.now = 59.9
    assert await store.run(UPLOAD, INPUT, work) == "exec-1#1"
    clock.now = 60.0
    assert await store.run(UPLOAD, OTHER_INPUT, work) == "exec-1#2"  # the key is free again
    assert work.runs == 2


async def test_expired_entries_are_swept(clock: FakeClock) -> None:
    store: InMemoryIdempotencyStore[str] = InMemoryIdempotencyStore(
        ttl_seconds=10.0, sweep_seconds=5.0, clock=clock
    )
    for index in range(50):
        await store.run(IdempotencyKey("t", "op", f"k{index}"), INPUT, Work())
    assert len(store) == 50
    clock.now = 11.0
    await store.run(IdempotencyKey("t", "op", "fresh"), INPUT, Work())
    assert len(store) == 1


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeRejected("400: unknown intent", status_code=400),
        RuntimeUnavailable("connection refused"),
        CircuitOpen("circuit open", retry_after=5.0),
    ],
    ids=["rejected", "refused", "circuit-open"],
)
async def test_a_failure_that_accepted_nothing_releases_the_key(
    store: InMemoryIdempotencyStore[str], failure: Exception
) -> None:
    work = Work()
    work.failures.append(failure)
    with pytest.raises(type(failure)):
        await store.run(UPLOAD, INPUT, work)
    assert len(store) == 0
    # Released: the retry may even carry corrected input.
    assert await store.run(UPLOAD, OTHER_INPUT, work) == "exec-1#2"


@pytest.mark.parametrize(
    "failure",
    [
        SubmitOutcomeUnknown("answer lost", idempotency_key="key-1"),
        RuntimeUnavailable("503 after recording", status_code=503),
        ValueError("the service failed after the submit"),
    ],
    ids=["outcome-unknown", "5xx", "unexpected"],
)
async def test_a_failure_with_an_unknown_outcome_keeps_the_key_bound_to_its_input(
    store: InMemoryIdempotencyStore[str], failure: Exception
) -> None:
    work = Work()
    work.failures.append(failure)
    with pytest.raises(type(failure)):
        await store.run(UPLOAD, INPUT, work)
    with pytest.raises(IdempotencyConflict):
        await store.run(UPLOAD, OTHER_INPUT, work)
    # The same input runs again: it re-sends the key, which the Runtime deduplicates.
    assert await store.run(UPLOAD, INPUT, work) == "exec-1#2"
    assert await store.run(UPLOAD, INPUT, work) == "exec-1#2"


async def test_waiters_get_the_first_callers_failure_without_running_again(
    store: InMemoryIdempotencyStore[str],
) -> None:
    work = Work(hold=True)
    work.failures.append(SubmitOutcomeUnknown("answer lost", idempotency_key="key-1"))
    first = asyncio.create_task(store.run(UPLOAD, INPUT, work))
    await work.started.wait()
    waiter = asyncio.create_task(store.run(UPLOAD, INPUT, work))
    await asyncio.sleep(0)
    work.release.set()
    for task in (first, waiter):
        with pytest.raises(SubmitOutcomeUnknown):
            await task
    assert work.runs == 1


async def test_a_waiter_takes_over_when_the_first_caller_is_cancelled(
    store: InMemoryIdempotencyStore[str],
) -> None:
    work = Work(hold=True)
    first = asyncio.create_task(store.run(UPLOAD, INPUT, work))
    await work.started.wait()
    waiter = asyncio.create_task(store.run(UPLOAD, INPUT, work))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    work.release.set()
    assert await waiter == "exec-1#2"
    assert work.runs == 2


async def test_a_cancelled_waiter_does_not_cancel_the_work(
    store: InMemoryIdempotencyStore[str],
) -> None:
    work = Work(hold=True)
    first = asyncio.create_task(store.run(UPLOAD, INPUT, work))
    await work.started.wait()
    waiter = asyncio.create_task(store.run(UPLOAD, INPUT, work))
    await asyncio.sleep(0)
    waiter.cancel()
    work.release.set()
    assert await first == "exec-1#1"
    assert waiter.cancelled()


async def test_memory_is_bounded_least_recently_used_first(clock: FakeClock) -> None:
    store: InMemoryIdempotencyStore[str] = InMemoryIdempotencyStore(max_entries=3, clock=clock)
    keys = [IdempotencyKey("t", "op", f"k{index}") for index in range(4)]
    work = Work()
    for key in keys[:3]:
        await store.run(key, INPUT, work)
    await store.run(keys[0], INPUT, work)  # k0 is used again: k1 is now the oldest
    await store.run(keys[3], INPUT, work)
    assert len(store) == 3
    assert work.runs == 4
    assert await store.run(keys[0], INPUT, work) == "exec-1#1"  # kept
    assert await store.run(keys[1], INPUT, work) == "exec-1#5"  # evicted: ran again


async def test_tenants_and_operations_are_kept_apart(
    store: InMemoryIdempotencyStore[str],
) -> None:
    work = Work()
    keys = [
        IdempotencyKey("tenant-a", "uploadContent", "same"),
        IdempotencyKey("tenant-b", "uploadContent", "same"),
        IdempotencyKey("tenant-a", "createDataMash", "same"),
    ]
    results = [await store.run(key, INPUT, work) for key in keys]
    assert results == ["exec-1#1", "exec-1#2", "exec-1#3"]
    # Another tenant's different input under the same key is no conflict.
    assert await store.run(IdempotencyKey("tenant-c", "uploadContent", "same"), OTHER_INPUT, work)


async def test_many_keys_at_once(store: InMemoryIdempotencyStore[str]) -> None:
    calls: dict[str, int] = {}

    def counted(name: str) -> Callable[[], Awaitable[str]]:
        async def work() -> str:
            calls[name] = calls.get(name, 0) + 1
            await asyncio.sleep(0)
            return name

        return work

    keys = [f"k{index % 10}" for index in range(100)]
    results = await asyncio.gather(
        *(store.run(IdempotencyKey("t", "op", key), INPUT, counted(key)) for key in keys)
    )
    assert results == keys
    assert calls == {f"k{index}": 1 for index in range(10)}


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        InMemoryIdempotencyStore[str](ttl_seconds=0)
    with pytest.raises(ValueError, match="max_entries"):
        InMemoryIdempotencyStore[str](max_entries=0)
