"""Open streams per tenant counted across replicas, in Redis.
Per tenant one hash holds each replica's count (field: replica id); each replica renews a
lease key of its own every third of `lease_seconds`. Taking a place sums the counts of the
replicas whose lease is alive, drops the others (a replica that crashed took its streams with
it) and adds one to this replica's, in one Lua script, so two replicas cannot both take the
last place. Giving a place back never waits for Redis (it happens in `finally` blocks of
cancelled tasks): it is sent in the background.
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

# KEYS: the tenant's hash. ARGV: replica id, limit, lease key prefix. Returns 1 if taken.
_ACQUIRE: Final = """
local counts = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #counts, 2 do
  local replica = counts[i]
  if replica == ARGV[1] or redis.call('EXISTS', ARGV[3] .. replica) == 1 then
    total = total + tonumber(counts[i + 1])
  else
    redis.call('HDEL', KEYS[1], replica)
  end
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
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
        self._pending: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
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
                    args=[self._replica_id, limit, self._lease_prefix],
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
        if self._shared[tenant_id] <= 0:
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
            if self._link.up:
                # The link's own probe judges Redis's health; a lapsed renewal is retried.
                with contextlib.suppress(*REDIS_ERRORS):
                    await self._link.redis.set(self._lease_key, "1", px=self._lease_ms)
            await asyncio.sleep(self._lease_ms / 3000)
