"""Per-key rate limiting (one key per tenant for mutations): a protocol and an in-memory bucket.
Callers depend on the protocol only, so the Redis-backed limiter shared by several replicas
(`experience_plane.cluster`) stands in for the bucket without changing them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether one more operation may run now; if not, how long until it may."""

    allowed: bool
    retry_after_seconds: float = 0.0


class RateLimiter(Protocol):
    """Decides whether the caller identified by `key` may do one more operation now."""

    async def try_acquire(self, key: str) -> RateDecision:
        """Take one unit for `key` if available; never waits."""
        ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: float


class TokenBucketLimiter:
    """A token bucket per key: `burst` operations at once, then `rate_per_second` sustained.

    Memory stays bounded: a bucket idle long enough to have refilled completely is the same as
    no bucket, so it is dropped; beyond `max_keys` live buckets the least recently used is
    dropped too (that key merely gets a fresh burst). The limiter is per process: with several
    replicas each enforces its own budget.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_second <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate_per_second must be > 0, burst >= 1 and max_keys >= 1.")
        self._rate = rate_per_second
        self._burst = float(burst)
        self._max_keys = max_keys
        self._clock = clock
        # Ordered by last use, oldest first, so eviction scans only what it drops.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def tracked_keys(self) -> int:
        """How many buckets are held in memory."""
        return len(self._buckets)

    async def try_acquire(self, key: str) -> RateDecision:
        """Take one token from `key`'s bucket, or say when the next one will be there."""
        now = self._clock()
        self._evict_idle(now)
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(tokens=self._burst, updated_at=now)
        else:
            elapsed = max(0.0, now - bucket.updated_at)
            bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
            bucket.updated_at = now
        self._buckets[key] = bucket
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after_seconds=(1.0 - bucket.tokens) / self._rate)

    def _evict_idle(self, now: float) -> None:
        # Any bucket untouched for burst/rate seconds is full again, whatever it held.
        refill_seconds = self._burst / self._rate
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if now - oldest.updated_at < refill_seconds:
                break
            self._buckets.popitem(last=False)
