"""Running the Runtime client's calls under its circuit breaker.
`GuardedCalls` is the glue between `RuntimeClient` and `CircuitBreaker`: it asks the breaker to
admit a logical call, runs it, and reports how it ended. Which failures count, and why a probe
is a read or `/health` and never a submit, is decided here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

from experience_plane.runtime.breaker import CircuitBreaker, Permit
from experience_plane.runtime.errors import CircuitOpen, RuntimeClientError, RuntimeUnavailable
from experience_plane.runtime.models import ExecutionStatus

__all__ = ["GuardedCalls", "means_down"]

_T = TypeVar("_T")
Call = Callable[[Permit], Awaitable[_T]]


def means_down(exc: RuntimeClientError) -> bool:
    """Whether a failed call counts against the breaker: the Runtime could not be reached,
    timed out or answered 5xx. A 429 (slow down), a 4xx, a not-found or a malformed answer
    all prove it is up; `CircuitOpen` was never sent."""
    if not isinstance(exc, RuntimeUnavailable) or isinstance(exc, CircuitOpen):
        return False
    return exc.status_code is None or exc.status_code >= 500


class GuardedCalls:
    """Runs logical calls under `breaker`; `probe` is the health check run on behalf of a call
    that may not probe itself (it raises `RuntimeUnavailable` when the Runtime is not up)."""

    def __init__(self, breaker: CircuitBreaker, probe: Call[None]) -> None:
        self.breaker = breaker
        self._probe = probe

    async def call(self, call: Call[_T], *, can_probe: bool) -> _T:
        """Run one logical call: an open circuit raises `CircuitOpen` at once.

        In a half-open circuit the call is the probe when `can_probe` (reads: safe to send to a
        Runtime that may be down, and their answer is a fair verdict). Otherwise (submits,
        session creation) the health probe runs first and the call follows only if the Runtime
        is back, so a client that only ever submits still closes its circuit.
        """
        permit = self.breaker.admit()
        if permit is Permit.PROBE and not can_probe:
            await self._probe_first()
            permit = self.breaker.admit()
        return await self._run(call, permit)

    async def stream(
        self, open_stream: Callable[[], AsyncGenerator[ExecutionStatus, None]]
    ) -> AsyncIterator[ExecutionStatus]:
        """Yield from `open_stream()` under the breaker: failing to get a first status counts as
        a failure, the first status as a success. A stream is never the probe: it may wait long
        for its first status, so the health probe decides."""
        permit = self.breaker.admit()
        if permit is Permit.PROBE:
            await self._probe_first()
            permit = self.breaker.admit()
        statuses = open_stream()
        decided = False
        try:
            async for status in statuses:
                if not decided:
                    decided = True
                    self.breaker.record_success(permit)
                yield status
        except RuntimeClientError as exc:
            if not decided:
                decided = True
                self._record(exc, permit)
            raise
        finally:
            if not decided:
                self.breaker.release(permit)
            await statuses.aclose()

    async def _probe_first(self) -> None:
        try:
            await self._run(self._probe, Permit.PROBE)
        except RuntimeClientError as exc:
            if not means_down(exc):
                return  # the Runtime answered (oddly): it is up, the circuit is closed
            raise CircuitOpen(
                f"The Runtime is unavailable: the probe found it still down ({exc})",
                retry_after=self.breaker.snapshot().retry_after,
            ) from exc

    async def _run(self, call: Call[_T], permit: Permit) -> _T:
        try:
            result = await call(permit)
        except RuntimeClientError as exc:
            self._record(exc, permit)
            raise
        except BaseException:
            self.breaker.release(permit)
            raise
        self.breaker.record_success(permit)
        return result

    def _record(self, exc: RuntimeClientError, permit: Permit) -> None:
        if means_down(exc):
            self.breaker.record_failure(str(exc), permit)
        else:
            self.breaker.record_success(permit)
