"""Limits both surfaces apply: a page of records at most, and admission of work per tenant
(mutations spend from the tenant's rate-limit budget)."""

from __future__ import annotations

import math

from experience_plane.auth import Principal, RateLimiter
from experience_plane.services.errors import RateLimitedError

MAX_RECORDS_PAGE = 500
"""The most records one page may ask for (GraphQL's `first`, REST's `limit`)."""


async def admit(limiter: RateLimiter | None, principal: Principal) -> None:
    """Take one unit of the principal's tenant budget, or raise `RateLimitedError`."""
    if limiter is None:
        return
    decision = await limiter.try_acquire(principal.tenant_id)
    if not decision.allowed:
        # Whole milliseconds: precise enough to wait on, stable enough to print.
        retry_after = math.ceil(decision.retry_after_seconds * 1000) / 1000
        raise RateLimitedError(
            f"Too many requests for your tenant; try again in {retry_after:g} s.",
            retry_after_seconds=retry_after,
        )
