"""Cancelling a running execution: the flag its work checks at safe points.
A `CancelToken` belongs to one running execution. `POST /api/execution/{id}/cancel` calls
`cancel()`; the realm's work calls `checkpoint()` at its safe points (between chunks of an
upload, between sources and stages of a mash), which raises `ExecutionCancelled` once the flag is
up, and `commit()` just before it makes its result durable: from then on the execution can no
longer be cancelled (`cancel()` answers False), so a result is either written whole or not at
all. The checks run on worker threads as well as on the event loop, hence the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

__all__ = ["CancelToken", "ExecutionCancelled"]

CANCELLED_MESSAGE = "Cancelled: the execution was stopped at the caller's request"


class ExecutionCancelled(Exception):
    """Raised at a safe point of an execution whose cancellation was asked for."""


class CancelToken:
    """The cancellation flag of one running execution.

    `step_delay` gives the seconds every checkpoint waits first (the test control that makes
    work slow enough to be cancelled in the middle; 0 normally); the wait ends early when the
    execution is cancelled.
    """

    def __init__(self, step_delay: Callable[[], float] = lambda: 0.0) -> None:
        self._step_delay = step_delay
        self._lock = threading.Lock()
        self._flag = threading.Event()
        self._wake = asyncio.Event()
        self._committed = False

    @property
    def cancelled(self) -> bool:
        """Whether the cancellation was asked for (and accepted)."""
        return self._flag.is_set()

    @property
    def committed(self) -> bool:
        """Whether the work passed its point of no return."""
        return self._committed

    def cancel(self) -> bool:
        """Ask the work to stop at its next safe point; False when it is too late (committed).

        Call it on the event loop's thread."""
        with self._lock:
            if self._committed:
                return False
            self._flag.set()
        self._wake.set()
        return True

    def checkpoint(self) -> None:
        """A safe point (blocking: call it on a worker thread): raise `ExecutionCancelled` when
        cancelled."""
        delay = self._step_delay()
        if delay > 0:
            self._flag.wait(delay)
        if self._flag.is_set():
            raise ExecutionCancelled

    async def acheckpoint(self) -> None:
        """A safe point on the event loop."""
        await self.pause(self._step_delay())
        if self._flag.is_set():
            raise ExecutionCancelled

    async def pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less when the execution is cancelled meanwhile."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def commit(self) -> None:
        """The point of no return: raise `ExecutionCancelled` when cancelled already, else refuse
        every later cancellation."""
        with self._lock:
            if self._flag.is_set():
                raise ExecutionCancelled
            self._committed = True
