"""Per-tenant rate limits shared by every replica: one token bucket per key, in Redis."""

from __future__ import annotations

from typing import Final

from experience_plane.auth import RateDecision, TokenBucketLimiter
from experience_plane.cluster.link import REDIS_ERRORS, RedisLink

__all__ = ["RedisRateLimiter"]

# The bucket refills with Redis's own clock (TIME), so replicas' clocks need not agree; it
# expires once it would be full again, which is the same as no bucket.
# KEYS: bucket. ARGV: rate per second, burst. Returns {allowed (0/1), retry after (s, text)}.
_TAKE: Final = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed, retry = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(retry)}
"""


class RedisRateLimiter:
    """A `RateLimiter` whose buckets live in Redis, so N replicas share one budget per key.

    While Redis is unreachable each replica falls back to its own in-memory bucket (`local`):
    the limit is then enforced per replica, and shared again once Redis answers.
    """

    def __init__(
        self,
        link: RedisLink,
        local: TokenBucketLimiter,
        *,
        rate_per_second: float,
        burst: int,
        prefix: str,
    ) -> None:
        self._link = link
        self._local = local
        self._args = [repr(float(rate_per_second)), str(burst)]
        self._prefix = f"{prefix}:rate:"
        self._take = link.redis.register_script(_TAKE)

    async def try_acquire(self, key: str) -> RateDecision:
        """Take one token from `key`'s shared bucket (the local one while Redis is down)."""
        if not self._link.up:
            return await self._local.try_acquire(key)
        try:
            allowed, retry = await self._take(keys=[self._prefix + key], args=self._args)
        except REDIS_ERRORS as exc:
            self._link.failed(exc)
            return await self._local.try_acquire(key)
        if int(allowed):
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after_seconds=float(retry))
