"""The per-tenant token bucket, driven by a hand-moved clock."""

from __future__ import annotations

import pytest

from experience_plane.auth.ratelimit import RateDecision, RateLimiter, TokenBucketLimiter
from tests.experience_plane.auth.support import FakeClock


async def acquire_many(limiter: RateLimiter, key: str, times: int) -> list[bool]:
    return [(await limiter.try_acquire(key)).allowed for _ in range(times)]


async def test_burst_then_refused_with_retry_after() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate_per_second=2, burst=5, clock=clock)
    assert await acquire_many(limiter, "acme", 5) == [True] * 5
    decision = await limiter.try_acquire("acme")
    assert decision == RateDecision(allowed=False, retry_after_seconds=0.5)


async def test_tokens_refill_at_the_rate_up_to_the_burst() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate_per_second=2, burst=3, clock=clock)
    assert await acquire_many(limiter, "acme", 3) == [True] * 3
    clock.advance(0.25)
    decision = await limiter.try_acquire("acme")
    assert not decision.allowed
    assert decision.retry_after_seconds == pytest.approx(0.25)
    clock.advance(0.25)
    assert await acquire_many(limiter, "acme", 2) == [True, False]
    clock.advance(3600)  # a long pause refills to the burst, not beyond
    assert await acquire_many(limiter, "acme", 4) == [True, True, True, False]


async def test_tenants_are_isolated() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate_per_second=1, burst=2, clock=clock)
    assert await acquire_many(limiter, "acme", 3) == [True, True, False]
    assert await acquire_many(limiter, "globex", 2) == [True, True]
    assert not (await limiter.try_acquire("acme")).allowed


async def test_idle_buckets_are_evicted() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate_per_second=1, burst=2, clock=clock)
    for tenant in range(100):
        await limiter.try_acquire(f"tenant-{tenant}")
    assert limiter.tracked_keys == 100
    clock.advance(2)  # burst / rate: every one of them is full again
    await limiter.try_acquire("fresh")
    assert limiter.tracked_keys == 1


async def test_memory_is_bounded_by_max_keys() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate_per_second=0.001, burst=1, max_keys=10, clock=clock)
    for tenant in range(50):
        assert (await limiter.try_acquire(f"tenant-{tenant}")).allowed
    assert limiter.tracked_keys == 10
    # The most recent tenants are still limited; the evicted oldest ones start afresh.
    assert not (await limiter.try_acquire("tenant-49")).allowed
    assert (await limiter.try_acquire("tenant-0")).allowed


async def test_a_busy_tenant_is_not_evicted_by_idle_ones() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate_per_second=1, burst=2, clock=clock)
    await limiter.try_acquire("idle")
    clock.advance(1.5)
    assert await acquire_many(limiter, "busy", 3) == [True, True, False]
    clock.advance(0.6)  # "idle" is full again and dropped; "busy" keeps its state
    await limiter.try_acquire("other")
    assert limiter.tracked_keys == 2
    assert not (await limiter.try_acquire("busy")).allowed


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_invalid_parameters_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate_per_second"):
        TokenBucketLimiter(rate_per_second=rate, burst=burst)
