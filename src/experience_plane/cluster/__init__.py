"""Scale-out: N stateless replicas coordinated through Redis (`EXPERIENCE_REDIS_URL`).
`Cluster` is what `create_app` builds when a Redis URL is set: one `RedisLink` (connection and
health), the `RedisWatchCoordinator` the execution tracker shares watching through, and the
factories for the shared idempotency store and rate limiter, and the per-tenant count of open
streams (`RedisStreamCounter`). Every shared part degrades to this
replica's in-memory behaviour while Redis is unreachable and comes back by itself; `/readyz`
reports it under `redis` (still ready: a replica alone serves correctly, only less frugally).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from experience_plane.auth import TokenBucketLimiter
from experience_plane.cluster.codec import decode_status, encode_status
from experience_plane.cluster.idempotency import RedisIdempotencyStore
from experience_plane.cluster.link import RedisLink, redact_url
from experience_plane.cluster.ratelimit import RedisRateLimiter
from experience_plane.cluster.streams import RedisStreamCounter
from experience_plane.cluster.watching import RedisWatchCoordinator
from experience_plane.idempotency import InMemoryIdempotencyStore
from experience_plane.runtime import ExecutionStatus
from experience_plane.settings import Settings

__all__ = [
    "Cluster",
    "RedisIdempotencyStore",
    "RedisLink",
    "RedisRateLimiter",
    "RedisStreamCounter",
    "RedisWatchCoordinator",
    "redact_url",
]

# How long the last known (or terminal) status of an execution stays cached in Redis: a day, as
# long as an idempotency key's result is kept by default.
STATUS_TTL_SECONDS = 86_400.0


class Cluster:
    """This replica's share of the Redis-coordinated cluster, opened for the app's lifetime."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.settings = settings
        self.link = RedisLink(url, timeout=settings.tuning.redis_timeout_seconds)
        self.watching = RedisWatchCoordinator(
            self.link,
            prefix=settings.redis_key_prefix,
            lease_seconds=settings.tuning.redis_lease_seconds,
            status_ttl_seconds=STATUS_TTL_SECONDS,
        )
        self.streams = RedisStreamCounter(
            self.link,
            replica_id=self.watching.replica_id,
            prefix=settings.redis_key_prefix,
            lease_seconds=settings.tuning.redis_lease_seconds,
        )

    async def __aenter__(self) -> Self:
        await self.link.__aenter__()
        await self.watching.__aenter__()
        await self.streams.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.streams.__aexit__(exc_type, exc, tb)
        await self.watching.__aexit__(exc_type, exc, tb)
        await self.link.__aexit__(exc_type, exc, tb)

    def rate_limiter(self, local: TokenBucketLimiter) -> RedisRateLimiter:
        """The per-tenant mutation limit shared by the replicas (`local` while Redis is down)."""
        return RedisRateLimiter(
            self.link,
            local,
            rate_per_second=self.settings.rate_limit_per_second,
            burst=self.settings.rate_limit_burst,
            prefix=self.settings.redis_key_prefix,
        )

    def idempotency_store(
        self,
        local: InMemoryIdempotencyStore[ExecutionStatus],
        releases_key: Callable[[BaseException], bool],
    ) -> RedisIdempotencyStore[ExecutionStatus]:
        """The idempotency store shared by the replicas (`local` while Redis is down)."""
        return RedisIdempotencyStore(
            self.link,
            local,
            encode=encode_status,
            decode=decode_status,
            prefix=self.settings.redis_key_prefix,
            ttl_seconds=self.settings.idempotency_ttl_seconds,
            releases_key=releases_key,
        )

    async def report(self) -> dict[str, object]:
        """The `redis` part of `/readyz` (after a PING, so it is current), with the id this
        replica holds leases under. `ok` needs the subscription to be open too: until then
        this replica still watches executions alone."""
        await self.link.check()
        body = {**self.link.report(), "replica_id": self.watching.replica_id}
        if self.link.up and not self.watching.available:
            body["status"] = "degraded"
            body["effect"] = "per-replica execution watching until the subscription reopens"
        return body
