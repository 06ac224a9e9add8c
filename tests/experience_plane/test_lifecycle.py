"""Shutdown and cleanup in process: draining ends every subscription, and a thousand
subscribe/leave cycles leave no watcher, subscriber or task behind."""

from __future__ import annotations

import asyncio

import pytest

from experience_plane.auth import Principal
from experience_plane.executions import ExecutionTracker
from experience_plane.lifecycle import Lifecycle
from experience_plane.services import ExecutionService, RuntimeUnavailableError
from tests.experience_plane.executions.fakes import ManualClock, ScriptedRuntime, status


async def test_drain_ends_open_subscriptions_and_refuses_new_ones() -> None:
    fake = ScriptedRuntime()
    fake.script("t1", "e1", [status("e1", "executing")])  # runs forever
    lifecycle = Lifecycle()
    async with ExecutionTracker(fake, use_stream=False, sleep=ManualClock().sleep) as tracker:
        lifecycle.tracker = tracker
        service = ExecutionService(client=None, tracker=tracker)  # type: ignore[arg-type]
        principal = Principal(tenant_id="t1", user_id="u1")

        started = 0
        all_started = asyncio.Event()

        async def subscriber() -> list[str]:
            nonlocal started
            seen = []
            async for snapshot in service.follow(principal, "e1"):
                seen.append(snapshot.status.raw_status)
                started += 1
                if started == 5:
                    all_started.set()
            return seen

        subscribers = [asyncio.create_task(subscriber()) for _ in range(5)]
        await asyncio.wait_for(all_started.wait(), 5)
        await lifecycle.drain()
        # Each saw the running status and then ended normally (no error, no FAILED).
        assert await asyncio.gather(*subscribers) == [["executing"]] * 5
        assert tracker.active_watchers == tracker.active_subscribers == 0
        assert lifecycle.draining
        with pytest.raises(RuntimeUnavailableError, match="shutting down"):
            await anext(service.follow(principal, "e1"))


async def test_a_thousand_subscribe_and_leave_cycles_leave_no_task_behind() -> None:
    fake = ScriptedRuntime()
    fake.script("t1", "running", [status("running", "executing")])
    fake.script("t1", "done", [status("done", "completed")])
    baseline = len(asyncio.all_tasks())
    async with ExecutionTracker(fake, use_stream=False, sleep=ManualClock().sleep) as tracker:
        for n in range(1000):
            if n % 3 == 2:  # an unknown execution: an error before anything is yielded
                with pytest.raises(Exception, match="not found"):
                    await anext(tracker.follow("t1", f"missing-{n}"))
                continue
            snapshots = tracker.follow("t1", "running" if n % 3 == 0 else "done")
            await anext(snapshots)
            await snapshots.aclose()  # the client went away (or the execution ended)
        assert tracker.active_watchers == 0
        assert tracker.active_subscribers == 0
        await asyncio.sleep(0)
        assert len(asyncio.all_tasks()) == baseline
