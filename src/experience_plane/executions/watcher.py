"""One execution's watcher: a single task that follows it on the Runtime and records each change.
The watcher is the only thing that talks to the Runtime about its execution, whatever the number
of subscribers. It publishes each distinct snapshot into a `Broadcast` (`executions.broadcast`),
which its subscribers replay: each change exactly once and in order, ending after the terminal
status, with no queue per subscriber. Executions have few distinct statuses, so the history stays
small; it is bounded all the same, and a subscriber that falls further behind than the bound
resumes at the oldest snapshot kept. Whether the snapshot is still current is the watcher's
`Freshness` (`executions.freshness`): a deadline timer beside the reads, so that subscribers hear
`stale: true` within the promise even while a read hangs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from experience_plane.executions.broadcast import Broadcast
from experience_plane.executions.cache import ExecutionKey
from experience_plane.executions.freshness import Freshness, StaleCause, Timers
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
        self, tenant_id: str, execution_id: str, /, *, heard: Callable[[], None] | None = None
    ) -> AsyncIterator[ExecutionStatus]:
        """Push the status at each change, calling `heard` at every message (keep-alives
        too); raises `StreamUnavailable` if the Runtime has none."""
        ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One published state of a watched execution: its status, and whether it is current.

    `stale` is True once the Runtime has not been heard from for `PollPolicy.stale_after`
    seconds: `status` is then the last one known, `stale_cause` says why it could not be
    refreshed and `stale_since` when the Runtime was last heard. The next snapshot after the
    Runtime answers again has `stale` False and the true status.
    """

    status: ExecutionStatus
    stale: bool = False
    stale_cause: StaleCause | None = None
    stale_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How a watcher paces its status reads when it cannot (or may not) use the stream, and
    how long the Runtime may stay silent before its subscribers are told (`stale_after`).

    A watcher reads at least twice per `stale_after`, whatever `interval_max` says, so that
    a Runtime that answers never looks stale. `timers` runs the freshness deadline (the event
    loop when None; unit tests pass a clock of their own).
    """

    interval_min: float
    interval_max: float
    backoff: float
    use_stream: bool
    sleep: Sleep
    stale_after: float = 5.0
    timers: Timers | None = None

    def __post_init__(self) -> None:
        if not 0 < self.interval_min <= self.interval_max:
            raise ValueError("poll intervals must be 0 < poll_interval_min <= poll_interval_max")
        if self.backoff < 1:
            raise ValueError(f"poll_backoff must be >= 1, got {self.backoff}")
        if self.stale_after <= 0:
            raise ValueError(f"stale_after must be > 0, got {self.stale_after}")

    @property
    def longest(self) -> float:
        """The longest pause between two reads."""
        return min(self.interval_max, self.stale_after / 2)

    @property
    def shortest(self) -> float:
        """The pause after a read that brought news."""
        return min(self.interval_min, self.longest)

    def next_interval(self, interval: float) -> float:
        """The interval after a read that brought nothing new."""
        return min(interval * self.backoff, self.longest)


class StreamSupport:
    """Whether the Runtime has the stream endpoint, learnt once per tracker (optimistic start)."""

    def __init__(self) -> None:
        self.available = True


class ExecutionWatcher:
    """Follows one `(tenant_id, execution_id)` and keeps the history its subscribers replay.

    `run()` is the body of the watcher's task: a fresh read first (whose failure, such as
    `ExecutionNotFound`, goes to the subscribers waiting for their first item), then the stream
    when the Runtime has one, else polling with backoff. Transient Runtime errors after the first
    read are retried here and never surface as a status: once the Runtime has not been heard
    from for `stale_after`, `freshness` republishes the last status flagged stale. `on_finished`
    is called exactly once, synchronously, when no more snapshots will come: after the terminal
    status, an error, or cancellation.
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
        self.freshness = Freshness(policy.stale_after, self._went_stale, policy.timers)

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
    def snapshot(self) -> Snapshot | None:
        """The newest snapshot as it stands now: flagged stale once the Runtime has not been
        heard from for `stale_after`, even if the freshness timer has not run yet."""
        latest = self.broadcast.latest
        if latest is None or latest.stale or not self.freshness.expired:
            return latest
        return self._stale(latest.status, self.freshness.cause, self.freshness.heard_at)

    def finish(self, error: BaseException | None = None) -> None:
        """Mark the watcher finished (idempotent) and wake every subscriber."""
        self.freshness.stop()
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
        """Read the execution from the Runtime, then follow it, publishing every change.

        A watcher that already has a snapshot (one taking over from another replica) follows
        on from it: its subscribers keep what they have while the Runtime does not answer."""
        taking_over = self.broadcast.latest is not None
        if taking_over:
            self.freshness.heard()  # the other replica's last news; this one's promise starts
        else:
            status = await self._source.get_execution(*self.key)
            self.freshness.heard()
            self._publish(status)
            if status.state.is_terminal:
                return
        self._publish(await self._follow(read_at_once=taking_over))

    async def _follow(self, *, read_at_once: bool) -> ExecutionStatus:
        """Publish every change after the first read; return the terminal status unpublished."""
        if self._policy.use_stream and self._streams.available:
            terminal = await self._stream()
            if terminal is not None:
                return terminal
            # The stream is gone or never was: re-read at once so no change in between is lost.
            return await self._poll(read_at_once=True)
        return await self._poll(read_at_once=read_at_once)

    async def _stream(self) -> ExecutionStatus | None:
        """Follow the Runtime's stream; None when it is unavailable or drops before the end."""
        tenant_id, execution_id = self.key
        stream = self._source.stream_execution(tenant_id, execution_id, heard=self.freshness.heard)
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
            self.freshness.failed(exc)
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
        interval = policy.shortest
        failing = False
        if not read_at_once:
            await policy.sleep(interval)
        while True:
            try:
                status = await self._source.get_execution(tenant_id, execution_id)
            except ExecutionNotFound:
                raise
            except RuntimeClientError as exc:
                # The client has already retried this read; keep polling, but more gently. The
                # freshness timer tells subscribers, in time, without inventing a status.
                self.freshness.failed(exc)
                if not failing:
                    logger.warning("status read for %s failed (%s); retrying", execution_id, exc)
                    failing = True
                interval = policy.next_interval(interval)
            else:
                self.freshness.heard()
                if failing:
                    logger.info("status reads for %s recovered", execution_id)
                    failing = False
                if status.state.is_terminal:
                    return status
                changed = self._publish(status) is not None
                interval = policy.shortest if changed else policy.next_interval(interval)
            await policy.sleep(interval)

    def _went_stale(self, cause: StaleCause, since: datetime) -> None:
        """The freshness timer: republish the last status flagged stale (never a new one)."""
        latest = self.broadcast.latest
        if latest is None or self.finished:
            return
        logger.warning(
            "execution %s: the Runtime has not been heard from for %.1fs (%s); "
            "subscribers are told the status is stale",
            self.key[1],
            self.freshness.stale_after,
            cause.value,
        )
        self._publish(latest.status, stale=self._stale(latest.status, cause, since))

    @staticmethod
    def _stale(status: ExecutionStatus, cause: StaleCause, since: datetime | None) -> Snapshot:
        return Snapshot(status, stale=True, stale_cause=cause, stale_since=since)

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
    # A stale snapshot repeated with another cause is no news to subscribers.
    return a.status == b.status and a.stale == b.stale


async def _close_stream(stream: AsyncIterator[ExecutionStatus]) -> None:
    """Close an async-generator stream so its connection is released now, not at GC time."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):  # closing a broken stream must not hide the cause
            await aclose()
