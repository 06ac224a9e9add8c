"""A circuit breaker that stops the Runtime client from hammering a Runtime that is down.
While **closed**, calls go through, and `failure_threshold` consecutive failures (the Runtime
unreachable, timing out or answering 5xx, each within `failure_window` seconds of the first)
open it; any answer given on purpose (2xx, 4xx, even a malformed body) resets the count. While
**open**, calls fail at once with `CircuitOpen` (carrying the seconds to the next probe as
`retry_after`). Once **half_open**, exactly one call goes through as a probe: its success closes
the circuit, its failure opens it again for a cool-down multiplied by `backoff_factor` (capped at
`max_reset_seconds`). It is a synchronous state machine without I/O and with an injectable clock:
`RuntimeClient` asks `admit()` and reports `record_success()`, `record_failure()` or `release()`
per logical call, not per attempt, so a blip the retries absorb never moves it, and an open
circuit ends every retry loop as well as every new call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from experience_plane.runtime.errors import CircuitOpen

__all__ = ["BreakerSnapshot", "BreakerState", "CircuitBreaker", "Permit"]


class BreakerState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Permit(StrEnum):
    """What `admit()` allows: an ordinary call, or the one probe of a half-open circuit."""

    CALL = "call"
    PROBE = "probe"


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A consistent view of the breaker, for `/readyz` and logs.

    `retry_after` is the seconds until a probe will be let through (0 unless open);
    `cooldown` the current open period; `trips` how many times the circuit has opened since it
    was created; `last_failure` the message of the failure that last counted.
    """

    state: BreakerState
    consecutive_failures: int
    failure_threshold: int
    cooldown: float
    retry_after: float
    trips: int
    last_failure: str | None

    def as_dict(self) -> dict[str, object]:
        """The snapshot as JSON-ready values, for anyone to read: states and counts, not
        `last_failure` (its text names the Runtime's address and the raw error)."""
        return {
            "state": self.state.value,
            "consecutive_failures": self.consecutive_failures,
            "failure_threshold": self.failure_threshold,
            "cooldown_seconds": self.cooldown,
            "retry_after_seconds": self.retry_after,
            "trips": self.trips,
        }


class CircuitBreaker:
    """The breaker's state machine (see the module docstring for the states).

    `failure_threshold` consecutive failures within `failure_window` seconds open it for
    `reset_seconds`; each failed probe multiplies the cool-down by `backoff_factor`, up to
    `max_reset_seconds`; a successful probe closes it and restores `reset_seconds`.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        failure_window: float = 30.0,
        reset_seconds: float = 5.0,
        max_reset_seconds: float = 60.0,
        backoff_factor: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_seconds <= 0 or max_reset_seconds < reset_seconds or backoff_factor < 1:
            raise ValueError("need 0 < reset_seconds <= max_reset_seconds and backoff_factor >= 1")
        self.failure_threshold = failure_threshold
        self.failure_window = failure_window
        self.reset_seconds = reset_seconds
        self.max_reset_seconds = max_reset_seconds
        self.backoff_factor = backoff_factor
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._first_failure_at = 0.0
        self._opened_at = 0.0
        self._cooldown = reset_seconds
        self._probing = False
        self._trips = 0
        self._last_failure: str | None = None

    @property
    def state(self) -> BreakerState:
        """The current state; an open circuit whose cool-down is over reads as half-open."""
        if self._state is BreakerState.OPEN and self._remaining() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    def snapshot(self) -> BreakerSnapshot:
        """The breaker's state and counters at this instant."""
        state = self.state
        return BreakerSnapshot(
            state=state,
            consecutive_failures=self._failures,
            failure_threshold=self.failure_threshold,
            cooldown=self._cooldown,
            retry_after=self._remaining() if state is BreakerState.OPEN else 0.0,
            trips=self._trips,
            last_failure=self._last_failure,
        )

    def admit(self) -> Permit:
        """Let a call through, or raise `CircuitOpen` without it touching the network.

        Returns `Permit.PROBE` to the one call that tests a half-open circuit; its outcome
        must be reported (`record_success`, `record_failure` or `release`).
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit.CALL
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._state = BreakerState.HALF_OPEN
            self._probing = True
            return Permit.PROBE
        if state is BreakerState.OPEN:
            wait = self._remaining()
            raise CircuitOpen(
                f"The Runtime is unavailable (circuit open; next probe in {wait:.1f}s): "
                f"{self._last_failure}",
                retry_after=wait,
            )
        raise CircuitOpen(
            "The Runtime is unavailable (circuit half-open: a probe is checking whether it is "
            f"back): {self._last_failure}",
            retry_after=min(1.0, self.reset_seconds),
        )

    def still_closed(self) -> bool:
        """Whether a retry may go ahead: the circuit has not opened since the call began."""
        return self._state is BreakerState.CLOSED

    def record_success(self, permit: Permit = Permit.CALL) -> None:
        """The Runtime answered: reset the failure count; a probe's success closes the circuit."""
        if permit is Permit.PROBE or self._state is BreakerState.CLOSED:
            self._state = BreakerState.CLOSED
            self._probing = False
            self._failures = 0
            self._cooldown = self.reset_seconds

    def record_failure(self, reason: str, permit: Permit = Permit.CALL) -> None:
        """The call found the Runtime down: count it; open the circuit at the threshold, or
        re-open it with a longer cool-down when the call was the probe."""
        now = self._clock()
        self._last_failure = reason
        if permit is Permit.PROBE:
            self._probing = False
            self._cooldown = min(self._cooldown * self.backoff_factor, self.max_reset_seconds)
            self._open(now)
            return
        if self._state is not BreakerState.CLOSED:
            return  # calls admitted before the circuit opened do not extend the cool-down
        if self._failures == 0 or now - self._first_failure_at > self.failure_window:
            self._failures = 0
            self._first_failure_at = now
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open(now)

    def release(self, permit: Permit) -> None:
        """The call ended without telling whether the Runtime is up (it was cancelled, say):
        a probe gives its place to the next call."""
        if permit is Permit.PROBE:
            self._probing = False

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._trips += 1

    def _remaining(self) -> float:
        return max(0.0, self._opened_at + self._cooldown - self._clock())
