"""The connection to Redis and whether it is usable: one link per replica, watched by a probe.
Every Redis-backed part asks `RedisLink.up` before using Redis and reports failures through
`failed()`: while the link is down they fall back to per-replica behaviour at once (no timeout
per request), and a background probe (PING every `probe_interval`) brings them back when Redis
answers again. Transitions are logged once each, never per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

__all__ = ["REDIS_ERRORS", "RedisLink", "redact_url"]

logger = logging.getLogger(__name__)

REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
"""What a Redis call raises when Redis is unreachable, slow or broken."""


def redact_url(url: str) -> str:
    """`url` without its password, fit for logs and `/readyz`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisLink:
    """One pooled Redis client and the replica's view of whether Redis is reachable.

    Redis calls are not retried by the client (a retry would only delay the fallback); a
    failed call marks the link down until the probe's next PING succeeds.
    """

    def __init__(self, url: str, *, timeout: float = 1.0, probe_interval: float = 1.0) -> None:
        self.url = url
        self.redis: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._probe_interval = probe_interval
        self._up: bool | None = None  # None until the first answer or failure
        self.last_error: str | None = None
        self._probe: asyncio.Task[None] | None = None
        self._closing = False

    async def __aenter__(self) -> Self:
        await self.check()
        self._probe = asyncio.create_task(self._probe_loop(), name="redis-probe")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The flag as well as the cancellation: a cancellation that lands while a command's own
        # timeout fires can come out as a TimeoutError, which the probe treats as Redis being
        # down and carries on; the flag still ends it at its next turn.
        self._closing = True
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.wait({self._probe})
        with contextlib.suppress(*REDIS_ERRORS):
            await self.redis.aclose()

    @property
    def up(self) -> bool:
        """Whether Redis answered the last call or probe."""
        return bool(self._up)

    def failed(self, exc: BaseException) -> None:
        """Record a failed Redis call: the link is down until a probe succeeds."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self._up is not False:
            logger.warning(
                "Redis at %s is unavailable (%s): degraded to per-replica execution watching, "
                "idempotency and rate limits until it answers again",
                redact_url(self.url),
                self.last_error,
            )
        self._up = False

    def recovered(self) -> None:
        """Record an answer from Redis: shared behaviour resumes."""
        if self._up is not True:
            logger.info("Redis at %s is available: replicas share state", redact_url(self.url))
        self._up = True
        self.last_error = None

    async def check(self) -> bool:
        """PING Redis now and update the link's state; whether it answered."""
        was_down = self._up is False
        try:
            await self.redis.ping()
        except REDIS_ERRORS as exc:
            self.failed(exc)
            return False
        if was_down:
            # Connections pooled before the outage point at a server that is gone (a restarted
            # Redis): each would fail its next call and take the link down again, one by one.
            with contextlib.suppress(*REDIS_ERRORS):
                await self.redis.connection_pool.disconnect(inuse_connections=False)
        self.recovered()
        return True

    def report(self) -> dict[str, object]:
        """What `/readyz` says about Redis: `ok`, or `degraded` and what that means; never the
        address or the error (they are logged when the link goes down)."""
        body: dict[str, object] = {"status": "ok" if self.up else "degraded"}
        if not self.up:
            body["effect"] = "per-replica watching, idempotency and rate limits"
        return body

    async def _probe_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._probe_interval)
            if not self._closing:
                await self.check()
