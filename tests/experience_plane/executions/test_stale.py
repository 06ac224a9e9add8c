"""Status that is temporarily unknown: a watcher whose reads keep failing flags its last status
stale (once), never invents one, and publishes the true status when reads succeed again."""

from __future__ import annotations

import pytest

from experience_plane.executions import ExecutionTracker, Snapshot
from experience_plane.runtime import CircuitOpen, RuntimeUnavailable
from tests.experience_plane.executions.fakes import ManualClock, ScriptedRuntime, status


async def follow(tracker: ExecutionTracker, execution_id: str) -> list[Snapshot]:
    return [snapshot async for snapshot in tracker.follow("t1", execution_id)]


async def test_failing_reads_flag_the_last_status_stale_then_the_truth_follows() -> None:
    fake, clock = ScriptedRuntime(), ManualClock()
    running = status("e1", "executing", 40)
    down = RuntimeUnavailable("GET /status: connection refused")
    fake.script(
        "t1",
        "e1",
        [
            running,
            down,
            down,
            CircuitOpen("circuit open"),
            down,
            running,
            status("e1", "completed"),
        ],
    )
    async with ExecutionTracker(
        fake, use_stream=False, sleep=clock.sleep, stale_after=1e-9
    ) as tracker:
        snapshots = await follow(tracker, "e1")
    assert [(s.status.raw_status, s.stale) for s in snapshots] == [
        ("executing", False),
        ("executing", True),  # flagged once, however many reads fail
        ("executing", False),  # the Runtime answers again: fresh, same status
        ("completed", False),
    ]
    stale = snapshots[1]
    assert stale.last_error is not None
    assert "connection refused" in stale.last_error
    assert stale.stale_since is not None
    assert all(s.status.state.value != "failed" for s in snapshots)


async def test_freshness_changes_repeat_the_last_status() -> None:
    fake, clock = ScriptedRuntime(), ManualClock()
    down = RuntimeUnavailable("refused")
    running = status("e1", "executing", 40)
    fake.script("t1", "e1", [running, down, down, running, status("e1", "completed")])
    async with ExecutionTracker(
        fake, use_stream=False, sleep=clock.sleep, stale_after=1e-9
    ) as tracker:
        snapshots = await follow(tracker, "e1")
    # Going stale and fresh again changes the flag only: the status subscribers see stays put.
    assert [s.status.raw_status for s in snapshots] == [
        "executing",
        "executing",
        "executing",
        "completed",
    ]
    assert [s.stale for s in snapshots] == [False, True, False, False]
    assert snapshots[0].status == snapshots[1].status == snapshots[2].status == running


async def test_short_outages_are_not_reported() -> None:
    fake, clock = ScriptedRuntime(), ManualClock()
    down = RuntimeUnavailable("refused")
    fake.script("t1", "e1", [status("e1", "executing"), down, status("e1", "completed")])
    async with ExecutionTracker(fake, use_stream=False, sleep=clock.sleep, stale_after=60) as t:
        snapshots = await follow(t, "e1")
    assert not any(s.stale for s in snapshots)


async def test_a_query_does_not_serve_a_stale_status() -> None:
    """While a watcher's status is stale, `current()` asks the Runtime (and fails, typed)."""
    fake, clock = ScriptedRuntime(), ManualClock()
    fake.script("t1", "e1", [status("e1", "executing"), RuntimeUnavailable("refused")])
    async with ExecutionTracker(
        fake, use_stream=False, sleep=clock.sleep, stale_after=1e-9
    ) as tracker:
        snapshots = tracker.follow("t1", "e1")
        assert not (await anext(snapshots)).stale
        assert (await anext(snapshots)).stale
        with pytest.raises(RuntimeUnavailable):
            await tracker.current("t1", "e1")
        await snapshots.aclose()
    assert tracker.active_watchers == 0
