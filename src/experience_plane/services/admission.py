"""Admitting a mutation: the tenant's rate budget, then the request's idempotency key, checked.
Every mutation (the submits, a cancellation) passes here first."""

from __future__ import annotations

import math

from experience_plane.auth import Principal, RateLimiter
from experience_plane.services.errors import InvalidInputError, RateLimitedError
from experience_plane.services.idempotent import checked_key

__all__ = ["admit", "idempotency_key_of"]


def idempotency_key_of(argument: str | None, header: str | None = None) -> str | None:
    """The request's idempotency key, checked: the argument, else the `Idempotency-Key` header.

    Raises `InvalidInputError` for a malformed key, or for both given and different: one of
    them is a mistake.
    """
    from_argument, from_header = checked_key(argument), checked_key(header)
    if from_argument is not None and from_header is not None and from_argument != from_header:
        raise InvalidInputError(
            "The idempotencyKey argument and the Idempotency-Key header differ; send one key.",
            field="idempotencyKey",
        )
    return from_argument if from_argument is not None else from_header


async def admit(
    limiter: RateLimiter | None,
    principal: Principal,
    idempotency_key: str | None,
    idempotency_header: str | None,
) -> str | None:
    """Take one unit of the tenant's mutation budget, then return the request's checked key.

    Raises `RateLimitedError` when the tenant is over its rate (repeats count too: a client
    retrying in a loop is slowed down like any other), `InvalidInputError` for a bad key.
    """
    if limiter is not None:
        decision = await limiter.try_acquire(principal.tenant_id)
        if not decision.allowed:
            # Whole milliseconds: precise enough to wait on, stable enough to print.
            retry_after = math.ceil(decision.retry_after_seconds * 1000) / 1000
            raise RateLimitedError(
                f"Too many requests for your tenant; try again in {retry_after:g} s.",
                retry_after_seconds=retry_after,
            )
    return idempotency_key_of(idempotency_key, idempotency_header)
