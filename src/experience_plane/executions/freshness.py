"""The stale promise: a watched execution is flagged stale no later than `stale_after` seconds
after the last time the Runtime was heard from, however it fails.

A watcher cannot learn that the Runtime has gone quiet from the Runtime: a read that hangs (a frozen
process), or answers after many seconds (an overloaded one), or is retried until its timeout has
passed once per retry, says nothing until it ends. So freshness is a deadline timer of its own,
beside the reads: every sign of life (a status read that succeeded, any message on the Runtime's
stream, keep-alives included) moves the deadline on, and when the deadline passes the timer fires,
whatever read is in flight. What the failed reads said in the meantime only picks the `StaleCause`
reported. The timer runs on an injectable `Timers` (the event loop by default), so unit tests drive
it with a clock of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from experience_plane.runtime import RuntimeClientError, RuntimeProtocolError, RuntimeTimeout

__all__ = ["Freshness", "StaleCause", "Timers", "cause_of"]


class StaleCause(StrEnum):
    """Why a status could not be refreshed; clients are told a fixed sentence per cause
    (`services.presentation.STALE_REASONS`), the details go to the log."""

    NOT_ANSWERING = "not_answering"
    """Nothing came back in time: a hung or slow Runtime, a silent stream, a timeout."""
    UNAVAILABLE = "unavailable"
    """The Runtime refused the connection, answered 5xx, or the circuit breaker is open."""
    UNREADABLE = "unreadable"
    """The Runtime answered something that could not be read."""


def cause_of(error: RuntimeClientError) -> StaleCause:
    """The stale cause a failed read (or a lost stream) stands for."""
    if isinstance(error, RuntimeTimeout):
        return StaleCause.NOT_ANSWERING
    if isinstance(error, RuntimeProtocolError):
        return StaleCause.UNREADABLE
    return StaleCause.UNAVAILABLE


class TimerHandle(Protocol):
    """A scheduled callback that can be called off (`asyncio.TimerHandle`)."""

    def cancel(self) -> None:
        """Do not run the callback."""
        ...


class Timers(Protocol):
    """A monotonic clock and callbacks at a time on it: the event loop's, or a test's."""

    def time(self) -> float:
        """Now, in seconds."""
        ...

    def call_at(self, when: float, callback: Callable[[], object], /) -> TimerHandle:
        """Run `callback` once `time()` reaches `when`."""
        ...


OnStale = Callable[[StaleCause, datetime], None]
"""Called when the deadline passes, with the cause and when the Runtime was last heard."""


class Freshness:
    """The deadline timer of one watched execution.

    Not armed until `heard()` is first called (a watcher has nothing to flag before its first
    status). `on_stale` runs once per silence, from the timer, never from inside a read; the
    next `heard()` makes the execution fresh and re-arms it. `stop()` disarms it for good.
    """

    def __init__(self, stale_after: float, on_stale: OnStale, timers: Timers | None = None) -> None:
        if stale_after <= 0:
            raise ValueError(f"stale_after must be > 0, got {stale_after}")
        self.stale_after = stale_after
        self._on_stale = on_stale
        self._timers = timers
        self._deadline: float | None = None  # None: not armed (never heard, or stopped)
        self._handle: TimerHandle | None = None
        self._heard_at: datetime | None = None
        self._cause: StaleCause | None = None  # what the reads said since the last sign of life
        self._fired = False

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed (the timer may not have run yet)."""
        deadline = self._deadline
        return deadline is not None and self._now() >= deadline

    @property
    def cause(self) -> StaleCause:
        """Why the status is not being refreshed: the last failure reported since the
        Runtime was last heard, or (none reported: a read is still waiting) not answering."""
        return self._cause or StaleCause.NOT_ANSWERING

    @property
    def heard_at(self) -> datetime | None:
        """When the Runtime was last heard (wall clock), or None before the first time."""
        return self._heard_at

    def heard(self) -> None:
        """The Runtime answered (a read succeeded, the stream sent something): fresh until
        `stale_after` from now."""
        self._heard_at = datetime.now(UTC)
        self._cause = None
        self._fired = False
        self._deadline = self._now() + self.stale_after
        if self._handle is None:
            self._schedule(self._deadline)
        # Otherwise the timer already set fires early, sees the deadline moved and sets itself
        # again: one timer per silence rather than one per read.

    def failed(self, error: RuntimeClientError) -> None:
        """A read failed: remembered as the cause; the deadline stays where it is."""
        self._cause = cause_of(error)

    def stop(self) -> None:
        """Disarm for good (the watcher finished)."""
        self._deadline = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _now(self) -> float:
        return self._clock().time()

    def _clock(self) -> Timers:
        if self._timers is None:
            self._timers = asyncio.get_running_loop()
        return self._timers

    def _schedule(self, when: float) -> None:
        self._handle = self._clock().call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        deadline = self._deadline
        if deadline is None or self._fired:
            return
        if self._now() < deadline:
            self._schedule(deadline)  # heard from since this timer was set
            return
        self._fired = True
        heard_at = self._heard_at or datetime.now(UTC)
        self._on_stale(self.cause, heard_at)
