"""The execution tracker against a scripted Runtime: fan-out, pacing, fallbacks and cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from experience_plane.executions import ExecutionTracker, TrackerClosed
from experience_plane.executions import watcher as watcher_module
from experience_plane.runtime import (
    ExecutionNotFound,
    ExecutionState,
    ExecutionStatus,
    RuntimeProtocolError,
    RuntimeTimeout,
    RuntimeUnavailable,
)
from tests.experience_plane.executions.fakes import (
    Hang,
    ManualClock,
    ScriptedRuntime,
    assert_nothing_left,
    lifecycle,
    settle,
    status,
)


@pytest.fixture
def fake() -> ScriptedRuntime:
    return ScriptedRuntime()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def tracker(fake: ScriptedRuntime, clock: ManualClock) -> AsyncIterator[ExecutionTracker]:
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep) as tracker:
        yield tracker


async def collect(
    tracker: ExecutionTracker, tenant_id: str, execution_id: str
) -> list[ExecutionStatus]:
    return [item.status async for item in tracker.follow(tenant_id, execution_id)]


# -- what a subscriber sees ------------------------------------------------------------------


async def test_first_item_is_the_current_status_at_once(fake: ScriptedRuntime) -> None:
    clock = ManualClock(auto=False)  # no poll round ever completes in this test
    fake.script("t1", "e1", [status("e1", "executing", 40)])
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep) as tracker:
        watch = tracker.follow("t1", "e1")
        assert (await anext(watch)).status == status("e1", "executing", 40)
        assert fake.reads[("t1", "e1")] == 1
        await watch.aclose()
        assert_nothing_left(tracker)


async def test_each_change_is_seen_once_in_order(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    created, executing, received, completed = lifecycle("e1")
    fake.script(
        "t1", "e1", [created, executing, executing, received, received, received, completed]
    )

    assert await collect(tracker, "t1", "e1") == [created, executing, received, completed]


async def test_unchanged_statuses_are_not_repeated(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    running = status("e1", "executing", 50)
    fake.script(
        "t1", "e1", [running] * 10 + [status("e1", "executing", 60), status("e1", "failed")]
    )

    seen = await collect(tracker, "t1", "e1")

    assert seen == [running, status("e1", "executing", 60), status("e1", "failed")]


async def test_stream_of_statuses_ends_after_the_terminal_one(
    tracker: ExecutionTracker, fake: ScriptedRuntime, clock: ManualClock
) -> None:
    fake.script("t1", "e1", lifecycle("e1"))

    seen = await collect(tracker, "t1", "e1")

    assert isinstance(seen[-1], ExecutionStatus)
    assert seen[-1].state is ExecutionState.COMPLETED
    await settle()
    assert fake.reads[("t1", "e1")] == 4  # nothing is read after the terminal status
    assert_nothing_left(tracker)


async def test_synchronous_runtime_yields_its_one_terminal_status(fake: ScriptedRuntime) -> None:
    fake.has_stream = True  # even with a stream, an execution that has finished is not streamed
    clock = ManualClock()
    done = status("e1", "completed")
    fake.script("t1", "e1", [done])
    async with ExecutionTracker(fake, sleep=clock.sleep) as tracker:
        assert await collect(tracker, "t1", "e1") == [done]
        assert fake.stream_opens.total() == 0
        assert clock.sleeps == []
        assert_nothing_left(tracker)


async def test_subscriber_joining_a_running_watcher_starts_at_its_latest_snapshot(
    fake: ScriptedRuntime,
) -> None:
    clock = ManualClock(auto=False)
    created, executing, received, completed = lifecycle("e1")
    fake.script("t1", "e1", [created, executing, received, completed])
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep) as tracker:
        first = tracker.follow("t1", "e1")
        assert (await anext(first)).status == created
        clock.release()
        await settle()

        late = tracker.follow("t1", "e1")
        assert (await anext(late)).status == executing
        clock.release()
        await settle()
        clock.release()
        await settle()

        assert [s.status async for s in late] == [received, completed]
        # The first subscriber was not iterating meanwhile: it replays everything it missed.
        assert [s.status async for s in first] == [executing, received, completed]
        assert fake.reads[("t1", "e1")] == 4
        assert_nothing_left(tracker)


# -- sharing: one watcher per (tenant, execution) --------------------------------------------


async def test_fifty_subscribers_share_one_watcher(fake: ScriptedRuntime) -> None:
    clock = ManualClock(auto=False)
    created, executing, received, completed = lifecycle("e1")
    script = [created, created, executing, received, received, completed]
    fake.script("t1", "e1", script)
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep) as tracker:
        subscribers = [asyncio.create_task(collect(tracker, "t1", "e1")) for _ in range(50)]
        await settle()
        assert tracker.active_watchers == 1
        assert tracker.active_subscribers == 50
        assert fake.reads[("t1", "e1")] == 1

        for poll_round in range(1, len(script)):
            assert clock.sleeping == 1  # one watcher waits for its next poll, not fifty
            clock.release()
            await settle()
            assert fake.reads[("t1", "e1")] == 1 + poll_round

        results = await asyncio.gather(*subscribers)
        assert all(seen == [created, executing, received, completed] for seen in results)
        assert_nothing_left(tracker)


async def test_subscribers_arriving_together_share_the_first_read(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    fake.script("t1", "e1", lifecycle("e1"))

    results = await asyncio.gather(*(collect(tracker, "t1", "e1") for _ in range(50)))

    assert all(seen == lifecycle("e1") for seen in results)
    assert fake.reads[("t1", "e1")] == len(lifecycle("e1"))


async def test_tenants_never_share_a_watcher(fake: ScriptedRuntime) -> None:
    clock = ManualClock(auto=False)
    fake.script("tenant-a", "e1", [status("e1", "executing", 10)])
    fake.script("tenant-b", "e1", [status("e1", "executing", 90)])
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep) as tracker:
        watch_a = tracker.follow("tenant-a", "e1")
        watch_b = tracker.follow("tenant-b", "e1")

        assert (await anext(watch_a)).status == status("e1", "executing", 10)
        assert (await anext(watch_b)).status == status("e1", "executing", 90)
        assert tracker.active_watchers == 2
        assert fake.reads == {("tenant-a", "e1"): 1, ("tenant-b", "e1"): 1}

        # Tenant c asks for the same id: its own read, and the Runtime does not know it.
        with pytest.raises(ExecutionNotFound):
            await anext(tracker.follow("tenant-c", "e1"))
        await watch_a.aclose()
        await watch_b.aclose()
        assert_nothing_left(tracker)


async def test_terminal_status_is_not_shared_across_tenants(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    fake.script("tenant-a", "e1", [status("e1", "completed")])
    await collect(tracker, "tenant-a", "e1")

    with pytest.raises(ExecutionNotFound):
        await collect(tracker, "tenant-b", "e1")
    with pytest.raises(ExecutionNotFound):
        await tracker.current("tenant-b", "e1")


# -- lifetime and cleanup --------------------------------------------------------------------


async def test_last_subscriber_leaving_stops_the_watcher(fake: ScriptedRuntime) -> None:
    clock = ManualClock(auto=False)
    fake.script("t1", "e1", [status("e1", "executing")])
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep) as tracker:
        first, second = tracker.follow("t1", "e1"), tracker.follow("t1", "e1")
        await anext(first)
        await anext(second)
        await first.aclose()
        assert tracker.active_watchers == 1
        assert tracker.active_subscribers == 1

        await second.aclose()

        assert_nothing_left(tracker)
        reads = fake.total_reads
        clock.release()
        await settle()
        assert fake.total_reads == reads


async def test_cancelled_subscriber_task_leaves_nothing_behind(fake: ScriptedRuntime) -> None:
    clock = ManualClock(auto=False)
    fake.script("t1", "e1", [status("e1", "executing")])
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep) as tracker:
        first_item = asyncio.Event()

        async def subscribe() -> None:
            async for _ in tracker.follow("t1", "e1"):
                first_item.set()

        subscriber = asyncio.create_task(subscribe())
        await first_item.wait()
        subscriber.cancel()
        with pytest.raises(asyncio.CancelledError):
            await subscriber

        assert_nothing_left(tracker)


async def test_subscriber_cancelled_before_the_first_read_leaves_nothing_behind(
    fake: ScriptedRuntime, tracker: ExecutionTracker
) -> None:
    fake.script("t1", "e1", [status("e1", "executing")])
    subscriber = asyncio.create_task(collect(tracker, "t1", "e1"))
    await asyncio.sleep(0)  # subscribed, the watcher's first read not answered yet
    assert tracker.active_watchers == 1
    subscriber.cancel()
    with pytest.raises(asyncio.CancelledError):
        await subscriber

    assert_nothing_left(tracker)


async def test_a_thousand_subscribe_close_cycles_leave_nothing_behind(
    fake: ScriptedRuntime,
) -> None:
    clock = ManualClock(auto=False)
    fake.script("t1", "e1", [status("e1", "executing")])
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep) as tracker:
        for _ in range(1_000):
            watch = tracker.follow("t1", "e1")
            await anext(watch)
            await watch.aclose()
        assert_nothing_left(tracker)
        assert clock.sleeping == 0


async def test_closing_the_tracker_ends_every_subscription(fake: ScriptedRuntime) -> None:
    clock = ManualClock(auto=False)
    fake.script("t1", "e1", [status("e1", "executing")])
    fake.script("t1", "e2", [status("e2", "created")])
    tracker = ExecutionTracker(fake, use_stream=False, sleep=clock.sleep)
    subscribers = [
        asyncio.create_task(collect(tracker, "t1", execution_id))
        for execution_id in ("e1", "e1", "e2")
    ]
    await settle()
    assert tracker.active_watchers == 2

    await tracker.aclose()

    results = await asyncio.gather(*subscribers)
    assert results == [[status("e1", "executing")]] * 2 + [[status("e2", "created")]]
    assert_nothing_left(tracker)
    with pytest.raises(TrackerClosed):
        await anext(tracker.follow("t1", "e1"))


# -- the terminal cache, current() and remember() --------------------------------------------


async def test_late_subscriber_gets_the_cached_terminal_status_without_a_runtime_call(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    fake.script("t1", "e1", lifecycle("e1"))
    await collect(tracker, "t1", "e1")
    reads = fake.total_reads

    assert await collect(tracker, "t1", "e1") == [status("e1", "completed")]
    assert (await tracker.current("t1", "e1")).status == status("e1", "completed")
    assert fake.total_reads == reads
    assert_nothing_left(tracker)


async def test_terminal_cache_keeps_the_most_recently_used(fake: ScriptedRuntime) -> None:
    for execution_id in ("e1", "e2"):
        fake.script("t1", execution_id, [status(execution_id, "completed")])
    async with ExecutionTracker(
        fake, use_stream=False, terminal_cache_size=1, sleep=ManualClock().sleep
    ) as tracker:
        await collect(tracker, "t1", "e1")
        await collect(tracker, "t1", "e2")  # evicts e1
        await collect(tracker, "t1", "e2")
        await collect(tracker, "t1", "e1")

    assert fake.reads == {("t1", "e1"): 2, ("t1", "e2"): 1}


async def test_current_prefers_the_running_watcher_then_the_cache(fake: ScriptedRuntime) -> None:
    clock = ManualClock(auto=False)
    fake.script("t1", "e1", [status("e1", "executing"), status("e1", "completed")])
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep) as tracker:
        watch = tracker.follow("t1", "e1")
        await anext(watch)
        assert (await tracker.current("t1", "e1")).status == status("e1", "executing")
        assert fake.total_reads == 1

        clock.release()
        assert [s.status async for s in watch] == [status("e1", "completed")]
        assert (await tracker.current("t1", "e1")).status == status("e1", "completed")
        assert fake.total_reads == 2


async def test_current_reads_the_runtime_when_nothing_is_known(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    fake.script("t1", "e1", [status("e1", "executing"), status("e1", "completed")])

    assert (await tracker.current("t1", "e1")).status == status("e1", "executing")
    assert (await tracker.current("t1", "e1")).status == status("e1", "completed")
    assert (await tracker.current("t1", "e1")).status == status("e1", "completed")  # cached now
    assert fake.total_reads == 2
    with pytest.raises(ExecutionNotFound):
        await tracker.current("t1", "unknown")


async def test_concurrent_current_reads_of_one_execution_are_one_runtime_call(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    hang = Hang(status("e1", "executing", 10))
    fake.script("t1", "e1", [hang, status("e1", "executing", 20)])
    fake.script("t2", "e1", [status("e1", "executing", 90)])

    waiting = [asyncio.create_task(tracker.current("t1", "e1")) for _ in range(8)]
    other_tenant = asyncio.create_task(tracker.current("t2", "e1"))
    await settle()
    assert fake.reads == {("t1", "e1"): 1, ("t2", "e1"): 1}  # one per tenant, not per caller
    hang.answer()
    answers = await asyncio.gather(*waiting)

    assert [a.status for a in answers] == [status("e1", "executing", 10)] * 8
    assert (await other_tenant).status == status("e1", "executing", 90)
    # The answer has arrived: the next call reads again and sees the newer status.
    assert (await tracker.current("t1", "e1")).status == status("e1", "executing", 20)
    assert fake.reads[("t1", "e1")] == 2
    assert_nothing_left(tracker)


async def test_sequential_current_reads_each_ask_the_runtime(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    fake.script("t1", "e1", [status("e1", "executing", p) for p in (10, 20, 30)])

    seen = [(await tracker.current("t1", "e1")).status for _ in range(3)]

    assert seen == [status("e1", "executing", p) for p in (10, 20, 30)]
    assert fake.reads[("t1", "e1")] == 3


class FailingOnce(ScriptedRuntime):
    """The first read of any execution waits for `release`, then fails with `error`."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.error = RuntimeUnavailable("503 after retries", status_code=503)

    async def get_execution(self, tenant_id: str, execution_id: str) -> ExecutionStatus:
        if sum(self.reads.values()) == 0:
            self.reads[(tenant_id, execution_id)] += 1
            await self.release.wait()
            raise self.error
        return await super().get_execution(tenant_id, execution_id)


async def test_a_coalesced_read_error_reaches_every_waiter_and_is_not_kept() -> None:
    fake = FailingOnce()
    fake.script("t1", "e1", [status("e1", "executing", 10)])
    async with ExecutionTracker(fake, use_stream=False, sleep=ManualClock().sleep) as tracker:
        waiting = [asyncio.create_task(tracker.current("t1", "e1")) for _ in range(5)]
        await settle()
        fake.release.set()
        results = await asyncio.gather(*waiting, return_exceptions=True)

        assert results == [fake.error] * 5
        assert fake.reads[("t1", "e1")] == 1
        # The failure is not remembered: the next call reads again.
        assert (await tracker.current("t1", "e1")).status == status("e1", "executing", 10)
        assert fake.reads[("t1", "e1")] == 2
        assert_nothing_left(tracker)


async def test_a_waiter_that_gives_up_leaves_the_read_to_the_others(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    hang = Hang(status("e1", "executing", 10))
    fake.script("t1", "e1", [hang])
    first = asyncio.create_task(tracker.current("t1", "e1"))
    second = asyncio.create_task(tracker.current("t1", "e1"))
    await settle()
    first.cancel()
    await settle()
    hang.answer()

    assert (await second).status == status("e1", "executing", 10)
    assert first.cancelled()
    assert fake.reads[("t1", "e1")] == 1


async def test_remember_seeds_the_terminal_cache(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    done = status("e1", "completed")
    tracker.remember("t1", done)
    tracker.remember("t1", status("e2", "executing"))  # not terminal: not cached
    fake.script("t1", "e2", [status("e2", "completed")])

    assert await collect(tracker, "t1", "e1") == [done]
    assert (await tracker.current("t1", "e2")).status == status("e2", "completed")
    assert fake.reads == {("t1", "e2"): 1}


# -- failures --------------------------------------------------------------------------------


async def test_unknown_execution_raises_before_yielding(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    watch = tracker.follow("t1", "missing")

    with pytest.raises(ExecutionNotFound):
        await anext(watch)
    assert_nothing_left(tracker)


async def test_concurrent_subscribers_to_an_unknown_execution_share_one_read(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    results = await asyncio.gather(
        *(collect(tracker, "t1", "missing") for _ in range(10)), return_exceptions=True
    )

    assert all(isinstance(result, ExecutionNotFound) for result in results)
    assert fake.reads[("t1", "missing")] == 1
    assert_nothing_left(tracker)


async def test_first_read_failure_is_raised_and_not_remembered(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    fake.script("t1", "e1", [RuntimeUnavailable("connection refused"), status("e1", "completed")])

    with pytest.raises(RuntimeUnavailable):
        await collect(tracker, "t1", "e1")
    assert await collect(tracker, "t1", "e1") == [status("e1", "completed")]


async def test_transient_errors_while_watching_are_retried_not_emitted(
    tracker: ExecutionTracker, fake: ScriptedRuntime, clock: ManualClock
) -> None:
    created, executing, _, completed = lifecycle("e1")
    fake.script(
        "t1",
        "e1",
        [
            created,
            RuntimeUnavailable("503 after retries", status_code=503),
            RuntimeTimeout("read timeout"),
            RuntimeProtocolError("an HTML page"),
            executing,
            completed,
        ],
    )

    seen = await collect(tracker, "t1", "e1")

    assert seen == [created, executing, completed]
    assert clock.sleeps == pytest.approx([0.1, 0.15, 0.225, 0.3375, 0.1])  # errors back off


async def test_execution_vanishing_while_watched_is_raised(
    tracker: ExecutionTracker, fake: ScriptedRuntime
) -> None:
    fake.script("t1", "e1", [status("e1", "executing"), ExecutionNotFound("gone")])
    watch = tracker.follow("t1", "e1")

    assert (await anext(watch)).status == status("e1", "executing")
    with pytest.raises(ExecutionNotFound):
        await anext(watch)
    assert_nothing_left(tracker)


# -- pacing ----------------------------------------------------------------------------------


async def test_poll_interval_backs_off_while_unchanged_and_resets_after_a_change(
    fake: ScriptedRuntime,
) -> None:
    clock = ManualClock()
    one, two = status("e1", "executing", 10), status("e1", "executing", 20)
    fake.script("t1", "e1", [one, one, one, one, two, two, two, status("e1", "completed")])
    async with ExecutionTracker(
        fake,
        use_stream=False,
        poll_interval_min=0.1,
        poll_interval_max=0.5,
        poll_backoff=2.0,
        sleep=clock.sleep,
    ) as tracker:
        await collect(tracker, "t1", "e1")

    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.1, 0.2, 0.4])


@pytest.mark.parametrize(
    "settings",
    [
        {"poll_interval_min": 0},
        {"poll_interval_min": 3.0, "poll_interval_max": 2.0},
        {"poll_backoff": 0.5},
        {"terminal_cache_size": -1},
    ],
)
def test_nonsensical_settings_are_refused(
    fake: ScriptedRuntime, settings: dict[str, float]
) -> None:
    with pytest.raises(ValueError, match="must be"):
        ExecutionTracker(fake, **settings)  # type: ignore[arg-type]


# -- the stream ------------------------------------------------------------------------------


async def test_stream_is_used_when_the_runtime_has_one(clock: ManualClock) -> None:
    fake = ScriptedRuntime(has_stream=True)
    created, executing, received, completed = lifecycle("e1")
    # The stream starts with the status the first read already saw: not repeated.
    fake.script("t1", "e1", [created], stream=[created, executing, executing, received, completed])
    async with ExecutionTracker(fake, sleep=clock.sleep) as tracker:
        assert await collect(tracker, "t1", "e1") == [created, executing, received, completed]
        assert fake.reads[("t1", "e1")] == 1
        assert fake.stream_opens[("t1", "e1")] == 1
        assert clock.sleeps == []
        assert fake.open_streams == 0
        assert_nothing_left(tracker)


async def test_runtime_without_stream_is_polled_and_not_asked_again(clock: ManualClock) -> None:
    fake = ScriptedRuntime(has_stream=False)
    for execution_id in ("e1", "e2"):
        fake.script("t1", execution_id, lifecycle(execution_id))
    async with ExecutionTracker(fake, sleep=clock.sleep) as tracker:
        assert await collect(tracker, "t1", "e1") == lifecycle("e1")
        assert await collect(tracker, "t1", "e2") == lifecycle("e2")

    assert fake.stream_opens.total() == 1  # learnt once per tracker
    assert fake.reads == {("t1", "e1"): 4, ("t1", "e2"): 4}


@pytest.mark.parametrize(
    "ending", [RuntimeUnavailable("connection lost"), None], ids=["dropped", "closed-early"]
)
async def test_stream_ending_before_the_terminal_status_falls_back_to_polling(
    clock: ManualClock, ending: Exception | None
) -> None:
    fake = ScriptedRuntime(has_stream=True)
    created, executing, received, completed = lifecycle("e1")
    stream: list[ExecutionStatus | Exception] = [executing]
    if ending is not None:
        stream.append(ending)
    fake.script("t1", "e1", [created, received, completed], stream=stream)
    async with ExecutionTracker(fake, sleep=clock.sleep) as tracker:
        assert await collect(tracker, "t1", "e1") == [created, executing, received, completed]
        # The status is re-read at once after the drop, then polled.
        assert fake.reads[("t1", "e1")] == 3
        assert clock.sleeps == pytest.approx([0.1])
        assert fake.open_streams == 0

        # A drop is not a missing endpoint: the next execution is streamed again.
        fake.script("t1", "e2", [status("e2", "created")], stream=[status("e2", "completed")])
        assert await collect(tracker, "t1", "e2") == [
            status("e2", "created"),
            status("e2", "completed"),
        ]
        assert fake.stream_opens[("t1", "e2")] == 1
        assert_nothing_left(tracker)


async def test_leaving_a_streamed_execution_closes_the_stream() -> None:
    gate = asyncio.Event()

    class HangingStream(ScriptedRuntime):
        async def stream_execution(
            self, tenant_id: str, execution_id: str, *, heard: Callable[[], None] | None = None
        ) -> AsyncIterator[ExecutionStatus]:
            self.open_streams += 1
            try:
                await gate.wait()
                yield status(execution_id, "completed")
            finally:
                self.open_streams -= 1

    fake = HangingStream(has_stream=True)
    fake.script("t1", "e1", [status("e1", "executing")])
    async with ExecutionTracker(fake, sleep=ManualClock().sleep) as tracker:
        watch = tracker.follow("t1", "e1")
        await anext(watch)
        await settle()
        assert fake.open_streams == 1

        await watch.aclose()

        assert fake.open_streams == 0
        assert_nothing_left(tracker)


async def test_subscriber_falling_behind_the_kept_history_resumes_at_the_oldest_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watcher_module, "HISTORY_LIMIT", 5)
    fake = ScriptedRuntime(has_stream=True)
    updates = [status("e1", "executing", percent) for percent in range(1, 20)]
    fake.script("t1", "e1", [status("e1", "created")], stream=[*updates, status("e1", "completed")])
    async with ExecutionTracker(fake, sleep=ManualClock().sleep) as tracker:
        watch = tracker.follow("t1", "e1")
        assert (await anext(watch)).status == status("e1", "created")
        for _ in range(10):  # the watcher runs to the end while nobody reads
            await settle()
        assert tracker.active_watchers == 0

        assert [s.status async for s in watch] == [*updates[-4:], status("e1", "completed")]
