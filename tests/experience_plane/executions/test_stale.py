"""The stale promise, with the clock under the test's control: a watcher flags its last status
stale no later than `stale_after` after the Runtime was last heard from, whether reads fail,
hang or are slow, never invents a status, and publishes the true one when the Runtime answers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import pytest

from experience_plane.executions import ExecutionTracker, Snapshot, StaleCause
from experience_plane.executions.freshness import Freshness
from experience_plane.runtime import CircuitOpen, RuntimeTimeout, RuntimeUnavailable
from tests.experience_plane.executions.fakes import (
    Hang,
    ManualClock,
    Ping,
    ScriptedRuntime,
    VirtualTime,
    assert_nothing_left,
    settle,
    status,
)

STALE_AFTER = 1.0


# -- the timer alone ---------------------------------------------------------------------------


def test_the_deadline_fires_once_per_silence_and_moves_with_every_sign_of_life() -> None:
    time = VirtualTime()
    fired: list[tuple[StaleCause, datetime]] = []
    freshness = Freshness(STALE_AFTER, lambda cause, since: fired.append((cause, since)), time)
    time.advance(10)
    assert fired == []  # not armed before the Runtime was first heard
    freshness.heard()
    time.advance(0.6)
    freshness.heard()  # the deadline moves on: 1.6
    time.advance(0.6)
    assert fired == []
    assert not freshness.expired
    freshness.failed(RuntimeUnavailable("GET /status: connection refused"))
    time.advance(0.4)
    assert freshness.expired
    assert [cause for cause, _ in fired] == [StaleCause.UNAVAILABLE]
    assert fired[0][1] == freshness.heard_at
    time.advance(60)
    assert len(fired) == 1  # once per silence
    freshness.heard()
    time.advance(STALE_AFTER)
    assert [cause for cause, _ in fired] == [StaleCause.UNAVAILABLE, StaleCause.NOT_ANSWERING]
    freshness.heard()
    freshness.stop()
    time.advance(60)
    assert len(fired) == 2
    assert not freshness.expired


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (RuntimeUnavailable("refused"), StaleCause.UNAVAILABLE),
        (RuntimeUnavailable("503", status_code=503), StaleCause.UNAVAILABLE),
        (CircuitOpen("circuit open"), StaleCause.UNAVAILABLE),
        (RuntimeTimeout("read timeout"), StaleCause.NOT_ANSWERING),
    ],
)
def test_the_last_failure_names_the_cause(error: Exception, cause: StaleCause) -> None:
    time = VirtualTime()
    fired: list[StaleCause] = []
    freshness = Freshness(STALE_AFTER, lambda c, _: fired.append(c), time)
    freshness.heard()
    assert isinstance(error, RuntimeUnavailable)
    freshness.failed(error)
    time.advance(STALE_AFTER)
    assert fired == [cause]


# -- through the tracker -----------------------------------------------------------------------


def tracker(
    fake: ScriptedRuntime, time: VirtualTime, clock: ManualClock, *, stream: bool = False
) -> ExecutionTracker:
    return ExecutionTracker(
        fake,
        use_stream=stream,
        sleep=clock.sleep,
        timers=time,
        stale_after=STALE_AFTER,
        poll_interval_min=0.1,
        poll_interval_max=0.4,
    )


class Subscriber:
    """Collects what one `follow()` yields, a poll round at a time."""

    def __init__(self, snapshots: AsyncGenerator[Snapshot, None]) -> None:
        self.snapshots = snapshots
        self.seen: list[Snapshot] = []

    async def take(self) -> Snapshot:
        snapshot = await anext(self.snapshots)
        self.seen.append(snapshot)
        return snapshot


async def test_failing_reads_go_stale_at_the_deadline_then_the_truth_follows() -> None:
    fake, time, clock = ScriptedRuntime(), VirtualTime(), ManualClock(auto=False)
    running = status("e1", "executing", 40)
    down = RuntimeUnavailable("GET /status: connection refused")
    fake.script(
        "t1", "e1", [running, down, down, CircuitOpen("open"), running, status("e1", "completed")]
    )
    async with tracker(fake, time, clock) as t:
        subscriber = Subscriber(t.follow("t1", "e1"))
        assert not (await subscriber.take()).stale
        clock.release()  # a failed read
        await settle()
        time.advance(STALE_AFTER - 0.01)
        clock.release()  # another
        await settle()
        assert subscriber.seen[-1].stale is False
        time.advance(0.01)  # the deadline: whatever the reads are doing
        stale = await subscriber.take()
        assert stale.stale
        assert stale.status == running  # the last status known, never an invented one
        assert stale.stale_cause is StaleCause.UNAVAILABLE
        assert stale.stale_since is not None
        clock.release()  # circuit open: no news for subscribers
        await settle()
        clock.release()  # the Runtime answers the same status: fresh again
        fresh = await subscriber.take()
        assert (fresh.status, fresh.stale) == (running, False)
        clock.release()
        assert (await subscriber.take()).status.raw_status == "completed"
        await subscriber.snapshots.aclose()
    assert [(s.status.raw_status, s.stale) for s in subscriber.seen] == [
        ("executing", False),
        ("executing", True),  # once, however many reads fail
        ("executing", False),
        ("completed", False),
    ]
    assert_nothing_left(t)


async def test_a_read_that_hangs_is_stale_at_the_deadline_and_fresh_when_it_answers() -> None:
    fake, time, clock = ScriptedRuntime(), VirtualTime(), ManualClock(auto=False)
    running = status("e1", "executing", 40)
    frozen = Hang(status("e1", "executing", 60))  # a SIGSTOPped Runtime, or one answering late
    fake.script("t1", "e1", [running, frozen, status("e1", "completed")])
    async with tracker(fake, time, clock) as t:
        subscriber = Subscriber(t.follow("t1", "e1"))
        await subscriber.take()
        clock.release()  # the read that hangs
        await settle()
        time.advance(STALE_AFTER)
        stale = await subscriber.take()
        assert (stale.status, stale.stale) == (running, True)
        assert stale.stale_cause is StaleCause.NOT_ANSWERING  # no read has failed: none came back
        # A query says so too, without asking the Runtime (which would hang as well).
        reads = fake.total_reads
        current = await t.current("t1", "e1")
        assert current == stale
        assert fake.total_reads == reads
        frozen.answer()  # late, but an answer: the true status, fresh
        fresh = await subscriber.take()
        assert (fresh.status.progress and fresh.status.progress.percent, fresh.stale) == (60, False)
        assert not (await t.current("t1", "e1")).stale
        clock.release()
        assert (await subscriber.take()).status.raw_status == "completed"
        await subscriber.snapshots.aclose()


async def test_a_query_is_stale_past_the_deadline_even_before_the_timer_runs() -> None:
    fake, time, clock = ScriptedRuntime(), VirtualTime(), ManualClock(auto=False)
    fake.script("t1", "e1", [status("e1", "executing"), Hang()])
    async with tracker(fake, time, clock) as t:
        snapshots = t.follow("t1", "e1")
        await anext(snapshots)
        clock.release()
        await settle()
        time.now += STALE_AFTER  # the clock moved, the timer has not run
        current = await t.current("t1", "e1")
        assert current.stale
        assert current.stale_cause is StaleCause.NOT_ANSWERING
        await snapshots.aclose()


async def test_short_outages_are_not_reported() -> None:
    fake, time, clock = ScriptedRuntime(), VirtualTime(), ManualClock(auto=False)
    down = RuntimeUnavailable("refused")
    fake.script("t1", "e1", [status("e1", "executing"), down, status("e1", "completed")])
    async with tracker(fake, time, clock) as t:
        subscriber = Subscriber(t.follow("t1", "e1"))
        await subscriber.take()
        clock.release()
        await settle()
        time.advance(STALE_AFTER / 2)
        clock.release()
        await subscriber.take()
        await subscriber.snapshots.aclose()
    assert not any(s.stale for s in subscriber.seen)


async def test_polling_reads_twice_per_promise_so_a_quiet_runtime_never_looks_stale() -> None:
    fake, clock = ScriptedRuntime(), ManualClock()
    fake.script("t1", "e1", [status("e1", "executing")] * 30 + [status("e1", "completed")])
    async with ExecutionTracker(
        fake, use_stream=False, sleep=clock.sleep, stale_after=STALE_AFTER, poll_interval_max=10
    ) as t:
        _ = [s async for s in t.follow("t1", "e1")]
    assert max(clock.sleeps) == STALE_AFTER / 2


async def test_a_silent_stream_is_stale_at_the_deadline_and_keep_alives_keep_it_fresh() -> None:
    fake, time, clock = ScriptedRuntime(has_stream=True), VirtualTime(), ManualClock(auto=False)
    running = status("e1", "executing")
    pings, silence = Hang(), Hang()
    fake.script(
        "t1", "e1", [running], stream=[running, pings, Ping(), silence, status("e1", "completed")]
    )
    async with tracker(fake, time, clock, stream=True) as t:
        subscriber = Subscriber(t.follow("t1", "e1"))
        await subscriber.take()
        await settle()
        time.advance(STALE_AFTER * 0.9)
        pings.answer()  # a keep-alive: the Runtime is alive
        await settle()
        time.advance(STALE_AFTER * 0.9)
        await settle()
        assert subscriber.seen[-1].stale is False
        time.advance(STALE_AFTER * 0.1)  # nothing since the keep-alive for the whole promise
        stale = await subscriber.take()
        assert (stale.status, stale.stale) == (running, True)
        silence.answer()
        assert (await subscriber.take()).status.raw_status == "completed"
        await subscriber.snapshots.aclose()
