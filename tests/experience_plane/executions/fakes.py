"""A scripted stand-in for the two Runtime client calls the tracker makes, a manual poll clock
and a virtual clock for the freshness timer.

Unit tests only: the integration tests run the tracker against the real reference Runtime.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from experience_plane.executions import ExecutionKey, ExecutionTracker
from experience_plane.runtime import (
    ExecutionNotFound,
    ExecutionState,
    ExecutionStatus,
    Progress,
    StreamUnavailable,
)


@dataclass
class Hang:
    """A step that blocks, as a frozen or slow Runtime does, until `answer()`; then the read
    returns `status` (or the stream goes on)."""

    status: ExecutionStatus | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self) -> None:
        self._released.set()

    async def wait(self) -> None:
        await self._released.wait()


@dataclass(frozen=True)
class Ping:
    """A stream step: a keep-alive, which carries no status."""


Step = ExecutionStatus | Exception | Hang | Ping


def status(execution_id: str, raw: str, percent: float | None = None) -> ExecutionStatus:
    """An execution status as the client would parse it from the reference Runtime."""
    return ExecutionStatus(
        execution_id=execution_id,
        state=ExecutionState.from_raw(raw),
        raw_status=raw,
        intent_id="intent-" + execution_id,
        intent_type="content.upload",
        progress=None if percent is None else Progress(phase=raw, percent=percent),
        error="it broke" if raw == "failed" else None,
        created_at=None,
        updated_at=None,
        artifacts=(),
        events=(),
    )


def lifecycle(execution_id: str) -> list[ExecutionStatus]:
    """The reference Runtime's four statuses of a successful execution, in order."""
    return [
        status(execution_id, raw)
        for raw in ("created", "executing", "artifacts_received", "completed")
    ]


class ScriptedRuntime:
    """Answers status reads and streams from per-execution scripts, counting every call.

    Each status read takes the next step of the execution's read script (the last step repeats
    once the script is used up); a step that is an exception is raised. An execution without a
    script is unknown: `ExecutionNotFound`, as the Runtime answers for another tenant's id too.
    """

    def __init__(self, *, has_stream: bool = False) -> None:
        self.has_stream = has_stream
        self.reads: Counter[ExecutionKey] = Counter()
        self.stream_opens: Counter[ExecutionKey] = Counter()
        self.open_streams = 0
        self._reads: dict[ExecutionKey, list[Step]] = {}
        self._streams: dict[ExecutionKey, list[Step]] = {}

    def script(
        self,
        tenant_id: str,
        execution_id: str,
        reads: Sequence[Step],
        stream: Sequence[Step] = (),
    ) -> None:
        self._reads[(tenant_id, execution_id)] = list(reads)
        self._streams[(tenant_id, execution_id)] = list(stream)

    @property
    def total_reads(self) -> int:
        return sum(self.reads.values())

    async def get_execution(self, tenant_id: str, execution_id: str) -> ExecutionStatus:
        key = (tenant_id, execution_id)
        self.reads[key] += 1
        await asyncio.sleep(0)  # a real read suspends the caller
        script = self._reads.get(key)
        if script is None:
            raise ExecutionNotFound("Execution not found", status_code=404)
        step = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(step, Hang):
            await step.wait()
            step = step.status
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, ExecutionStatus), f"a read cannot answer {step!r}"
        return step

    async def stream_execution(
        self, tenant_id: str, execution_id: str, *, heard: Callable[[], None] | None = None
    ) -> AsyncIterator[ExecutionStatus]:
        key = (tenant_id, execution_id)
        self.stream_opens[key] += 1
        if not self.has_stream:
            raise StreamUnavailable("stream handshake refused", status_code=404)
        self.open_streams += 1
        try:
            for step in self._streams.get(key, []):
                await asyncio.sleep(0)
                if isinstance(step, Hang):
                    await step.wait()
                    if step.status is None:
                        continue
                    step = step.status
                if isinstance(step, Exception):
                    raise step
                if heard is not None:
                    heard()
                if isinstance(step, ExecutionStatus):
                    yield step
        finally:
            self.open_streams -= 1


class ManualClock:
    """The tracker's `sleep`: records each interval instead of waiting it out.

    With `auto` every sleep returns at the next loop turn; otherwise sleeps block until
    `release()`, so a test can advance the watchers one poll round at a time.
    """

    def __init__(self, *, auto: bool = True) -> None:
        self.auto = auto
        self.sleeps: list[float] = []
        self._pending: list[asyncio.Future[None]] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.auto:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        self._pending.append(future)
        await future

    @property
    def sleeping(self) -> int:
        return sum(not future.done() for future in self._pending)

    def release(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            if not future.done():
                future.set_result(None)


class VirtualTime:
    """The freshness timer's clock (`executions.Timers`): time stands still until `advance()`,
    which runs the callbacks that fall due, in order."""

    def __init__(self) -> None:
        self.now = 0.0
        self._due: list[tuple[float, int, _Handle]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object], /) -> _Handle:
        handle = _Handle(callback)
        heapq.heappush(self._due, (when, next(self._order), handle))
        return handle

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while self._due and self._due[0][0] <= self.now:
            _, _, handle = heapq.heappop(self._due)
            if not handle.cancelled:
                handle.callback()


@dataclass
class _Handle:
    callback: Callable[[], object]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


async def settle() -> None:
    """Let every ready task run until the loop is quiet (nothing here does real I/O)."""
    for _ in range(50):
        await asyncio.sleep(0)


def assert_nothing_left(tracker: ExecutionTracker) -> None:
    """No watcher, no subscriber, and no task but the test's own."""
    assert tracker.active_watchers == 0
    assert tracker.active_subscribers == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
