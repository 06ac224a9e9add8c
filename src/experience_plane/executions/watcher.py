"""One execution's watcher: a single task that follows it on the Runtime and records each change.
The watcher is the only thing that talks to the Runtime about its execution, whatever the number
of subscribers. It publishes each distinct snapshot into a `Broadcast` (`executions.broadcast`),
which its subscribers replay: each change exactly once and in order, ending after the terminal
status, with no queue per subscriber. Executions have few distinct statuses, so the history stays
small; it is bounded all the same, and a subscriber that falls further behind than the bound
resumes at the oldest snapshot kept.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from experience_plane.executions.broadcast import Broadcast
from experience_plane.executions.cache import ExecutionKey
from experience_plane.runtime import (
    ExecutionNotFound,
    ExecutionStatus,
    RuntimeClientError,
    StreamUnavailable,
)

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 256
"""Snapshots kept per watcher; far above the handful of statuses an execution goes through."""

Sleep = Callable[[float], Awaitable[None]]


class StatusSource(Protocol):
    """The two Runtime client calls a watcher makes; `RuntimeClient` provides both."""

    async def get_execution(self, tenant_id: str, execution_id: str, /) -> ExecutionStatus:
        """Read the execution's status once (the client retries transient failures)."""
        ...

    def stream_execution(
        self, tenant_id: str, execution_id: str, /
    ) -> AsyncIterator[ExecutionStatus]:
        """Push the status at each change; raises `StreamUnavailable` if the Runtime has none."""
        ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One published state of a watched execution: its status, and whether it is current.

    `stale` is True while the Runtime has not answered the watcher's reads for longer than
    `PollPolicy.stale_after`: `status` is then the last one known, `last_error` says why it
    could not be refreshed and `stale_since` when reads began failing. The next snapshot after
    the Runtime answers again has `stale` False and the true status.
    """

    status: ExecutionStatus
    stale: bool = False
    last_error: str | None = None
    stale_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How a watcher paces its status reads when it cannot (or may not) use the stream."""

    interval_min: float
    interval_max: float
    backoff: float
    use_stream: bool
    sleep: Sleep
    stale_after: float = 5.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if not 0 < self.interval_min <= self.interval_max:
            raise ValueError("poll intervals must be 0 < poll_interval_min <= poll_interval_max")
        if self.backoff < 1:
            raise ValueError(f"poll_backoff must be >= 1, got {self.backoff}")

    def next_interval(self, interval: float) -> float:
        """The interval after a read that brought nothing new."""
        return min(interval * self.backoff, self.interval_max)


class StreamSupport:
    """Whether the Runtime has the stream endpoint, learnt once per tracker (optimistic start)."""

    def __init__(self) -> None:
        self.available = True


class ExecutionWatcher:
    """Follows one `(tenant_id, execution_id)` and keeps the history its subscribers replay.

    `run()` is the body of the watcher's task: a fresh read first (whose failure, such as
    `ExecutionNotFound`, goes to the subscribers waiting for their first item), then the stream
    when the Runtime has one, else polling with backoff. Transient Runtime errors after the first
    read are retried here and never surface as a status. `on_finished` is called exactly once,
    synchronously, when no more snapshots will come: after the terminal status, an error, or
    cancellation.
    """

    def __init__(
        self,
        key: ExecutionKey,
        source: StatusSource,
        policy: PollPolicy,
        streams: StreamSupport,
        on_finished: Callable[[ExecutionWatcher], None],
    ) -> None:
        self.key = key
        self.broadcast: Broadcast[Snapshot] = Broadcast(HISTORY_LIMIT, is_last=_is_terminal)
        self._source = source
        self._policy = policy
        self._streams = streams
        self._on_finished = on_finished

    @property
    def finished(self) -> bool:
        """Whether no more snapshots will come (see `finish`)."""
        return self.broadcast.finished

    @property
    def error(self) -> BaseException | None:
        """What ended the watcher early (`ExecutionNotFound`, a failed first read), if anything."""
        return self.broadcast.error

    @property
    def latest(self) -> ExecutionStatus | None:
        """The newest status, or None before the first read has answered."""
        snapshot = self.broadcast.latest
        return snapshot.status if snapshot is not None else None

    @property
    def stale(self) -> bool:
        """Whether the newest snapshot is flagged stale (the Runtime is not answering)."""
        snapshot = self.broadcast.latest
        return snapshot is not None and snapshot.stale

    def finish(self, error: BaseException | None = None) -> None:
        """Mark the watcher finished (idempotent) and wake every subscriber."""
        if self.broadcast.finish(error):
            self._on_finished(self)

    async def run(self) -> None:
        """The watcher task: follow the execution until it ends, then finish."""
        try:
            await self._watch()
            self.finish()
        except ExecutionNotFound as exc:  # unknown, or vanished while watched
            self.finish(exc)
        except Exception as exc:
            # A failure of the first read is the subscribers' to raise, not a watcher's failure.
            if self.broadcast.version > 0:
                logger.exception("watcher for execution %s failed", self.key[1])
            self.finish(exc)
        finally:
            # Cancelled (last subscriber gone, tracker closed): end whoever still listens.
            self.finish()

    async def _watch(self) -> None:
        """Read the execution from the Runtime, then follow it, publishing every change."""
        status = await self._source.get_execution(*self.key)
        self._publish(status)
        if not status.state.is_terminal:
            self._publish(await self._follow())

    async def _follow(self) -> ExecutionStatus:
        """Publish every change after the first read; return the terminal status unpublished."""
        if self._policy.use_stream and self._streams.available:
            terminal = await self._stream()
            if terminal is not None:
                return terminal
            # The stream is gone or never was: re-read at once so no change in between is lost.
            return await self._poll(read_at_once=True)
        return await self._poll(read_at_once=False)

    async def _stream(self) -> ExecutionStatus | None:
        """Follow the Runtime's stream; None when it is unavailable or drops before the end."""
        tenant_id, execution_id = self.key
        stream = self._source.stream_execution(tenant_id, execution_id)
        try:
            async for status in stream:
                if status.state.is_terminal:
                    # Published by run() once the stream is closed, so the task ends right away.
                    return status
                self._publish(status)
        except StreamUnavailable:
            self._streams.available = False
            logger.info("the Runtime has no execution stream; polling from now on")
        except RuntimeClientError as exc:  # a dropped stream is recoverable: polling takes over
            logger.warning("execution stream for %s dropped (%s); polling", execution_id, exc)
        except Exception:  # unexpected, so with its traceback; polling is still a safe way on
            logger.exception("execution stream for %s failed; polling", execution_id)
        else:
            logger.info("execution stream for %s ended early; polling", execution_id)
        finally:
            await _close_stream(stream)
        return None

    async def _poll(self, *, read_at_once: bool) -> ExecutionStatus:
        """Poll with backoff until the status is terminal; returns it unpublished."""
        tenant_id, execution_id = self.key
        policy = self._policy
        interval = policy.interval_min
        failing_since: float | None = None
        failing_at: datetime | None = None
        if not read_at_once:
            await policy.sleep(interval)
        while True:
            try:
                status = await self._source.get_execution(tenant_id, execution_id)
            except ExecutionNotFound:
                raise
            except RuntimeClientError as exc:
                # The client has already retried this read; keep polling, but more gently.
                if failing_since is None:
                    logger.warning("status read for %s failed (%s); retrying", execution_id, exc)
                    failing_since, failing_at = policy.clock(), datetime.now(UTC)
                interval = policy.next_interval(interval)
                latest = self.latest
                if latest is not None and policy.clock() - failing_since >= policy.stale_after:
                    # Tell subscribers the status may be out of date, without inventing one.
                    self._publish(latest, stale=Snapshot(latest, True, str(exc), failing_at))
            else:
                if failing_since is not None:
                    logger.info("status reads for %s recovered", execution_id)
                failing_since = failing_at = None
                if status.state.is_terminal:
                    return status
                changed = self._publish(status) is not None
                interval = policy.interval_min if changed else policy.next_interval(interval)
            await policy.sleep(interval)

    def _publish(
        self, status: ExecutionStatus, *, stale: Snapshot | None = None
    ) -> Snapshot | None:
        """Publish `status` (or the `stale` snapshot) unless it equals the latest snapshot; the
        snapshot published, None when it was no news. A stale snapshot replaces nothing: the
        status it carries is the last known one, and the next fresh status clears the flag."""
        snapshot = stale if stale is not None else Snapshot(status)
        latest = self.broadcast.latest
        if latest is not None and _same(latest, snapshot):
            return None
        self.broadcast.publish(snapshot)
        return snapshot


def _is_terminal(snapshot: Snapshot) -> bool:
    return snapshot.status.state.is_terminal


def _same(a: Snapshot, b: Snapshot) -> bool:
    # A stale snapshot repeated with a newer error message is no news to subscribers.
    return a.status == b.status and a.stale == b.stale


async def _close_stream(stream: AsyncIterator[ExecutionStatus]) -> None:
    """Close an async-generator stream so its connection is released now, not at GC time."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):  # closing a broken stream must not hide the cause
            await aclose()
