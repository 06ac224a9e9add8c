"""Open streams per tenant counted across replicas, in Redis.
Per tenant one hash holds each replica's count (field: replica id); each replica keeps a lease
key of its own alive. Taking a place sums the counts of the replicas whose lease is alive, drops
the others (a replica that crashed took its streams with it) and adds one to this replica's, in
one Lua script, so two replicas cannot both take the last place. That script writes this
replica's lease too, so no place is ever counted without a live lease: a place taken before the
first renewal (or after a renewal failed) would otherwise be dropped as a dead replica's by the
next count on another replica.
A replica whose lease lapsed while it lived (it was paused, or Redis lost its data in a
restart) finds its counts dropped; it writes them back, as "at least what this replica holds",
with every renewal and every place it takes, so the ceiling holds again within a third of the
lease. Giving a place back never waits for Redis (it happens in `finally` blocks of cancelled
tasks): it is sent in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from types import TracebackType
from typing import Final, Self

from experience_plane.cluster.link import REDIS_ERRORS, RedisLink
from experience_plane.services.streams import LocalStreamCounter

__all__ = ["RedisStreamCounter"]

logger = logging.getLogger(__name__)

# KEYS: the tenant's hash. ARGV: replica id, limit, lease key prefix, lease ms, places this
# replica holds already (its count is at least that: a lapsed lease may have dropped it).
# Returns 1 if taken.
_ACQUIRE: Final = """
redis.call('SET', ARGV[3] .. ARGV[1], '1', 'PX', ARGV[4])
local own = math.max(tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0'), tonumber(ARGV[5]))
local total = own
local counts = redis.call('HGETALL', KEYS[1])
for i = 1, #counts, 2 do
  local replica = counts[i]
  if replica ~= ARGV[1] then
    if redis.call('EXISTS', ARGV[3] .. replica) == 1 then
      total = total + tonumber(counts[i + 1])
    else
      redis.call('HDEL', KEYS[1], replica)
    end
  end
end
if total >= tonumber(ARGV[2]) then
  if own > 0 then redis.call('HSET', KEYS[1], ARGV[1], own) end
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], own + 1)
return 1
"""

# KEYS: the lease, then the hash of each tenant this replica holds places in. ARGV: replica
# id, lease ms, then the places held in each of those tenants.
_RENEW: Final = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
for i = 2, #KEYS do
  local held = tonumber(ARGV[i + 1])
  if tonumber(redis.call('HGET', KEYS[i], ARGV[1]) or '0') < held then
    redis.call('HSET', KEYS[i], ARGV[1], held)
  end
end
return 1
"""

# KEYS: the tenant's hash. ARGV: replica id.
_RELEASE: Final = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"""


class RedisStreamCounter:
    """A `StreamCounter` shared by the replicas; this replica's own count while Redis is down
    (the limit then holds per replica)."""

    def __init__(
        self, link: RedisLink, *, replica_id: str, prefix: str, lease_seconds: float
    ) -> None:
        self._link = link
        self._replica_id = replica_id
        self._prefix = f"{prefix}:streams:"
        self._lease_prefix = f"{prefix}:streams-replica:"
        self._lease_key = self._lease_prefix + replica_id
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._local = LocalStreamCounter()
        self._shared: Counter[str] = Counter()  # places this replica holds in Redis
        self._acquire = link.redis.register_script(_ACQUIRE)
        self._release = link.redis.register_script(_RELEASE)
        self._renew = link.redis.register_script(_RENEW)
        self._pending: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        # The first lease before any place is taken (each place writes it too).
        await self._renew_once()
        self._renewer = asyncio.create_task(self._renew_lease(), name="stream-count-lease")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        if self._pending:
            await asyncio.wait(self._pending, timeout=1.0)
        # Whatever this replica still holds stops counting when its lease lapses, as after a
        # crash: no Redis call on the way out, where Redis may be the thing going away.

    async def acquire(self, tenant_id: str, limit: int) -> bool:
        if self._link.up:
            try:
                taken = await self._acquire(
                    keys=[self._prefix + tenant_id],
                    args=[
                        self._replica_id,
                        limit,
                        self._lease_prefix,
                        self._lease_ms,
                        self._shared[tenant_id],
                    ],
                )
            except REDIS_ERRORS as exc:
                self._link.failed(exc)
            else:
                if int(taken):
                    self._shared[tenant_id] += 1
                    return True
                return False
        return await self._local.acquire(tenant_id, limit)

    def release(self, tenant_id: str) -> None:
        # Which of the tenant's streams ended is not known, only how many remain: places taken
        # while Redis was down go first, as they need no Redis to be given back.
        if self._local.count(tenant_id) > 0 or self._shared[tenant_id] <= 0:
            self._local.release(tenant_id)
            return
        self._shared[tenant_id] -= 1
        if self._shared[tenant_id] == 0:
            del self._shared[tenant_id]
        task = asyncio.create_task(self._give_back(tenant_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _give_back(self, tenant_id: str) -> None:
        try:
            await self._release(keys=[self._prefix + tenant_id], args=[self._replica_id])
        except REDIS_ERRORS as exc:
            # The place stays counted while this replica lives (its lease is renewed): rare,
            # and said in the log.
            self._link.failed(exc)
            logger.warning("A stream of tenant %s could not be uncounted in Redis", tenant_id)

    async def _renew_lease(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            await self._renew_once()

    async def _renew_once(self) -> None:
        """Extend the lease and write back any count of this replica's found lower than what it
        holds (dropped while the lease had lapsed)."""
        if not self._link.up:
            return  # the link's own probe judges Redis's health
        held = [(tenant, count) for tenant, count in self._shared.items() if count > 0]
        try:
            await self._renew(
                keys=[self._lease_key, *(self._prefix + tenant for tenant, _ in held)],
                args=[self._replica_id, self._lease_ms, *(count for _, count in held)],
            )
        except REDIS_ERRORS as exc:
            # A lapsed renewal is retried; the next place taken writes the lease as well.
            logger.debug("Renewing the stream count lease failed: %r", exc)
