"""Open subscriptions and event streams: a ceiling per tenant, and the word that the service
is restarting. Every long-lived stream (a WebSocket subscription on either GraphQL protocol,
a GraphQL SSE stream, a REST event stream or socket) holds one place in its tenant's count
while it is open (`OpenStreams.held`); past `EXPERIENCE_MAX_STREAMS_PER_TENANT` the next one is
refused with `TooManySubscriptionsError` (`TOO_MANY_SUBSCRIPTIONS`). The count is this
replica's (`LocalStreamCounter`) or, with Redis, the cluster's (`cluster.streams`).
On shutdown `Lifecycle.drain` calls `OpenStreams.restart()` before it closes the tracker: the
transports registered with `on_restart` close their connections as a restart (WebSocket 1012),
and `restarting` tells the others that the end of a stream is no completion.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from experience_plane.services.errors import TooManySubscriptionsError

__all__ = ["LocalStreamCounter", "OpenStreams", "StreamCounter"]

logger = logging.getLogger(__name__)

RestartCallback = Callable[[], Awaitable[None]]


class StreamCounter(Protocol):
    """Where the open streams of each tenant are counted."""

    async def acquire(self, tenant_id: str, limit: int) -> bool:
        """Take a place in `tenant_id`'s count unless it already holds `limit`."""
        ...

    def release(self, tenant_id: str) -> None:
        """Give back a place taken by `acquire` (never blocks: it runs in `finally` blocks of
        cancelled tasks)."""
        ...


class LocalStreamCounter:
    """This replica's own count of open streams per tenant."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def count(self, tenant_id: str) -> int:
        """The streams `tenant_id` has open on this replica."""
        return self._open[tenant_id]

    async def acquire(self, tenant_id: str, limit: int) -> bool:
        if self._open[tenant_id] >= limit:
            return False
        self._open[tenant_id] += 1
        return True

    def release(self, tenant_id: str) -> None:
        self._open[tenant_id] -= 1
        if self._open[tenant_id] <= 0:
            del self._open[tenant_id]


class OpenStreams:
    """The application's open subscriptions and streams: counted per tenant against `limit`,
    and told when the service restarts."""

    def __init__(self, limit: int, counter: StreamCounter | None = None) -> None:
        self.limit = limit
        self.counter: StreamCounter = counter or LocalStreamCounter()
        self.restarting = False
        self._on_restart: dict[int, RestartCallback] = {}
        self._next_id = 0

    async def open(self, tenant_id: str) -> None:
        """Count one more stream of `tenant_id`; raise `TooManySubscriptionsError` past the
        limit. Pair with `close`."""
        if not await self.counter.acquire(tenant_id, self.limit):
            logger.info("Tenant %s refused a stream: %d open already", tenant_id, self.limit)
            raise TooManySubscriptionsError(self.limit)

    def close(self, tenant_id: str) -> None:
        """Count one stream of `tenant_id` fewer."""
        self.counter.release(tenant_id)

    @asynccontextmanager
    async def held(self, tenant_id: str) -> AsyncIterator[None]:
        """One place in `tenant_id`'s count for the block (`open`, then `close` however the
        block ends)."""
        await self.open(tenant_id)
        try:
            yield
        finally:
            self.close(tenant_id)

    def on_restart(self, callback: RestartCallback) -> Callable[[], None]:
        """Call `callback` when the service restarts; returns the function that unregisters it."""
        key = self._next_id
        self._next_id += 1
        self._on_restart[key] = callback

        def unregister() -> None:
            self._on_restart.pop(key, None)

        return unregister

    async def restart(self) -> None:
        """Tell every registered transport that the service is restarting (they close their
        connections as a restart, not as a completion) and wait for them to have done so."""
        self.restarting = True
        callbacks = list(self._on_restart.values())
        self._on_restart.clear()
        if not callbacks:
            return
        logger.info("Shutting down: %d connection(s) told to reconnect", len(callbacks))
        results = await asyncio.gather(*(call() for call in callbacks), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                # A connection already gone is no problem: it needs no restart any more.
                logger.debug("Restarting a connection failed: %r", result)
