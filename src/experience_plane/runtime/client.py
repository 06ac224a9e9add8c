"""`RuntimeClient`: the one way the Experience Plane talks to the Runtime.
One pooled HTTP connection pool with explicit timeouts and limits (aiohttp's, see
`runtime.transport`), owned by the client and closed by `aclose()`. Every failure below this
boundary leaves it as one of `runtime.errors`. Status and artifact reads are retried (they are safe
to repeat); a submit is retried only when it carries an idempotency key and its first answer was
lost (`SubmitOutcomeUnknown`), at most `submit_outcome_retries` times, because the Runtime
deduplicates submits by that key.
Every call passes a `CircuitBreaker` (see `runtime.breaker`): once the Runtime has failed
`breaker_failure_threshold` calls in a row, calls fail fast with `CircuitOpen` until a probe
(a read, or `/health` run on a submit's behalf) finds it back. `breaker_state` and
`breaker_snapshot()` expose it for a readiness endpoint.

The calls are split by concept: `runtime.reads` (status, artifacts, records, the stream),
`runtime.writes` (sessions, intents, uploads), over the shared core of `runtime.connection`.
"""

from __future__ import annotations

from experience_plane.runtime.reads import RuntimeReads
from experience_plane.runtime.writes import RuntimeWrites

__all__ = ["RuntimeClient"]


class RuntimeClient(RuntimeReads, RuntimeWrites):
    """A typed async client of the Runtime HTTP contract, for either Runtime flavour.

    Use it as an async context manager, or call `aclose()`. Its constructor's arguments (the
    transport, timeouts, retries, circuit breaker and instrumentation) are `RuntimeConnection`'s.
    """
