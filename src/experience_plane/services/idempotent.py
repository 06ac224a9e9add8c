"""Idempotent submits for the services: one user action, one execution, however often it is sent.
`IdempotentSubmits` puts a service's submit behind the application's `IdempotencyStore`: the
first request with a key runs, repeats from the same tenant with the same input get its
execution (waiting for it while it is in flight), and the same key with other input is an
`IdempotencyConflictError`. Requests without a key run as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from experience_plane.auth import Principal
from experience_plane.idempotency import (
    IdempotencyConflict,
    IdempotencyKey,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    InvalidIdempotencyKey,
    fingerprint,
    nothing_accepted,
    parse_idempotency_key,
)
from experience_plane.runtime import ExecutionStatus
from experience_plane.services.errors import (
    IdempotencyConflictError,
    InvalidInputError,
    RateLimitedError,
    RuntimeRejectedError,
    ServiceError,
    UploadTooLargeError,
)

__all__ = ["IdempotentSubmits", "checked_key", "releases_key"]

# Refusals that prove nothing was started: the key is released, as if never used.
_NOTHING_STARTED = (InvalidInputError, UploadTooLargeError, RateLimitedError)


def releases_key(exc: BaseException) -> bool:
    """Whether a failed submit leaves nothing behind on the Runtime, so its key is free again.

    Service errors are judged by the Runtime client error they were raised from (see
    `idempotency.nothing_accepted`); a rejection without a cause is a submit answered without
    an execution id, which started nothing either.
    """
    if isinstance(exc, _NOTHING_STARTED):
        return True
    if isinstance(exc, ServiceError):
        cause = exc.__cause__
        if cause is None:
            return isinstance(exc, RuntimeRejectedError)
        return nothing_accepted(cause)
    return nothing_accepted(exc)


def checked_key(raw: str | None) -> str | None:
    """A client's idempotency key, checked (None when it sent none); `InvalidInputError` else."""
    if raw is None:
        return None
    try:
        return parse_idempotency_key(raw)
    except InvalidIdempotencyKey as exc:
        raise InvalidInputError(str(exc), field="idempotencyKey") from exc


class IdempotentSubmits:
    """Runs submits once per (tenant, operation, key) through an `IdempotencyStore`."""

    def __init__(self, store: IdempotencyStore[ExecutionStatus]) -> None:
        self.store = store

    @classmethod
    def in_memory(cls, *, ttl_seconds: float, max_entries: int) -> IdempotentSubmits:
        """Over this process's `InMemoryIdempotencyStore`."""
        return cls(
            InMemoryIdempotencyStore[ExecutionStatus](
                ttl_seconds=ttl_seconds, max_entries=max_entries, releases_key=releases_key
            )
        )

    async def run(
        self,
        principal: Principal,
        operation: str,
        key: str | None,
        request: object,
        submit: Callable[[], Awaitable[ExecutionStatus]],
    ) -> ExecutionStatus:
        """`submit()` once for this key and `request` (its fingerprinted input); at once
        without a key. Raises `IdempotencyConflictError` for the key reused with other input."""
        if key is None:
            return await submit()
        scoped = IdempotencyKey(principal.tenant_id, operation, key)
        try:
            return await self.store.run(scoped, fingerprint(request), submit)
        except IdempotencyConflict as exc:
            raise IdempotencyConflictError(exc.message) from exc
