"""`RuntimeConnection`: what every Runtime call shares, the core of `RuntimeClient`.

One pooled HTTP connection pool with explicit timeouts and limits (aiohttp's, see
`runtime.transport`), owned here and closed by `aclose()`; `_send` translates every transport
failure into `runtime.errors`. Every call passes one `CircuitBreaker` (see `runtime.breaker`),
whose probe is the Runtime's `/health`; `_backoff` spaces the retries of reads and of submits.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

import httpx

from experience_plane.runtime.answers import json_body, parse_answer
from experience_plane.runtime.breaker import BreakerSnapshot, BreakerState, CircuitBreaker, Permit
from experience_plane.runtime.errors import (
    RuntimeClientError,
    RuntimeProtocolError,
    RuntimeTimeout,
    RuntimeUnavailable,
)
from experience_plane.runtime.guarded import GuardedCalls
from experience_plane.runtime.models import RuntimeFlavour
from experience_plane.runtime.optional import OptionalEndpoints
from experience_plane.runtime.transport import (
    TRANSPORT_ERRORS,
    Answer,
    Body,
    Carrier,
    is_timeout,
    make_carrier,
)
from experience_plane.runtime.wire import WireHealth

__all__ = ["RuntimeConnection"]

# `Retry-After` is honoured up to this many seconds: one header must not park a status read for
# minutes; past the cap the read is simply retried sooner.
RETRY_AFTER_CAP = 30.0


class RuntimeConnection:
    """The pooled transport, circuit breaker and backoff that `RuntimeClient`'s calls share.

    `transport` replaces the pooled network transport (tests pass an `httpx.MockTransport`);
    otherwise aiohttp carries the requests (see `runtime.transport`). `backoff_base` and
    `backoff_max` shape the full-jitter exponential backoff between status-read retries. The
    `breaker_*` arguments configure the circuit breaker (see `CircuitBreaker`); `breaker` replaces
    it whole (tests pass one with a fake clock).
    `submit_outcome_retries` is how many times a submit carrying an idempotency key is repeated
    when its answer is lost (0: never). An execution stream silent for `stream_idle_timeout`
    seconds (the Runtime sends keep-alives) is given up as failed. `stream_headers` gives the
    headers to open an execution stream with (the trace context); `instrument` wraps whatever
    carries the requests (observability adds headers, metrics and spans that way).
    """

    def __init__(
        self,
        base_url: str,
        *,
        flavour: RuntimeFlavour = RuntimeFlavour.REFERENCE,
        timeout: float = 10.0,
        connect_timeout: float = 2.0,
        solution_id: str = "default",
        status_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.1,
        backoff_max: float = 2.0,
        breaker_failure_threshold: int = 5,
        breaker_failure_window: float = 30.0,
        breaker_reset_seconds: float = 5.0,
        breaker_max_reset_seconds: float = 60.0,
        breaker: CircuitBreaker | None = None,
        submit_outcome_retries: int = 1,
        stream_idle_timeout: float = 10.0,
        stream_headers: Callable[[], Mapping[str, str]] | None = None,
        instrument: Callable[[Carrier], Carrier] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.flavour = RuntimeFlavour(flavour)
        self.solution_id = solution_id
        self.status_retries = max(0, status_retries)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.submit_outcome_retries = max(0, submit_outcome_retries)
        self.stream_idle_timeout = stream_idle_timeout
        self._stream_headers = stream_headers
        self._breaker = breaker or CircuitBreaker(
            failure_threshold=breaker_failure_threshold,
            failure_window=breaker_failure_window,
            reset_seconds=breaker_reset_seconds,
            max_reset_seconds=max(breaker_max_reset_seconds, breaker_reset_seconds),
        )
        self._guard = GuardedCalls(self._breaker, self._health_once)
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=timeout, write=timeout, pool=timeout
        )
        carrier = make_carrier(
            self.base_url,
            timeout=self._timeout,
            transport=transport,
        )
        self._http = instrument(carrier) if instrument is not None else carrier
        self._random = random.Random()  # noqa: S311 - jitter, not cryptography
        # The optional endpoints (list, cancel) the Runtime was found without.
        self.optional_endpoints = OptionalEndpoints()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections. The client cannot be used afterwards."""
        await self._http.aclose()

    # -- breaker and its probe -------------------------------------------------------------

    @property
    def breaker_state(self) -> BreakerState:
        """The circuit breaker's state: `closed`, `open` or `half_open`."""
        return self._breaker.state

    def breaker_snapshot(self) -> BreakerSnapshot:
        """The circuit breaker's state and counters (for a readiness endpoint)."""
        return self._breaker.snapshot()

    async def health(self) -> bool:
        """True when the Runtime's `/health` says `healthy`; False when it says otherwise or
        cannot be reached (a readiness probe wants an answer, not an exception). While the
        circuit is open this answers False without asking; once it is half-open, this call
        may be the probe that closes it."""
        try:
            await self._guard.call(self._health_once, can_probe=True)
        except RuntimeClientError:
            return False
        return True

    async def _health_once(self, _: Permit) -> None:
        response = await self._send("GET", "/health")
        health = parse_answer(WireHealth, json_body(response, None))
        if health.status.lower() != "healthy":
            # An answer, but one that says the Runtime cannot work: down, for the breaker too.
            raise RuntimeUnavailable(f"GET /health: the Runtime says {health.status!r}")

    # -- plumbing ---------------------------------------------------------------------------

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return self._random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request; transport failures leave as `RuntimeUnavailable`/`RuntimeTimeout`."""
        what = f"{method} {path}"
        try:
            return await self._http.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.DecodingError as exc:
            raise RuntimeProtocolError(f"{what}: undecodable answer: {exc}") from exc
        except TRANSPORT_ERRORS as exc:
            if is_timeout(exc):
                raise RuntimeTimeout(f"{what}: the Runtime did not answer in time") from exc
            raise RuntimeUnavailable(f"{what}: the Runtime is unreachable: {exc!r}") from exc
