"""The one path every intent takes to the Runtime: the tenant is admitted against its rate limit,
the idempotency key is checked once, the intent is sent with the caller's Runtime session (kept
alive across a Runtime that forgot it), and the accepted execution is recorded, the whole submit
running at most once per idempotency key through `IdempotentSubmits`."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping

from experience_plane.auth import Principal, RateLimiter
from experience_plane.runtime import ExecutionStatus, RuntimeCaller, SubmitResult
from experience_plane.services.errors import InvalidInputError, RateLimitedError
from experience_plane.services.executions import ExecutionService
from experience_plane.services.idempotent import IdempotentSubmits, checked_key
from experience_plane.services.presentation import runtime_errors
from experience_plane.services.sessions import RuntimeSessions

__all__ = ["Submitter", "idempotency_key_of"]


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


class Submitter:
    """Submits the services' intents: admission, idempotency, session and acceptance, once.

    A service calls `admit` first (before its own validation, so a tenant over its rate is
    refused before anything else), then `submit` with the checked key `admit` returned.
    """

    def __init__(
        self,
        sessions: RuntimeSessions,
        executions: ExecutionService,
        *,
        limiter: RateLimiter | None = None,
        idempotent: IdempotentSubmits | None = None,
    ) -> None:
        self._sessions = sessions
        self._executions = executions
        self._limiter = limiter
        self._idempotent = idempotent

    async def admit(
        self, principal: Principal, idempotency_key: str | None, idempotency_header: str | None
    ) -> str | None:
        """Take one unit of the tenant's rate budget, then return the request's checked key.

        Raises `RateLimitedError` when the tenant is over its rate (repeats count too: a client
        retrying in a loop is slowed down like any other), `InvalidInputError` for a bad key.
        """
        if self._limiter is not None:
            decision = await self._limiter.try_acquire(principal.tenant_id)
            if not decision.allowed:
                # Whole milliseconds: precise enough to wait on, stable enough to print.
                retry_after = math.ceil(decision.retry_after_seconds * 1000) / 1000
                raise RateLimitedError(
                    f"Too many requests for your tenant; try again in {retry_after:g} s.",
                    retry_after_seconds=retry_after,
                )
        return idempotency_key_of(idempotency_key, idempotency_header)

    async def submit(
        self,
        principal: Principal,
        *,
        intent: str,
        operation: str,
        key: str | None,
        request: Mapping[str, object],
        send: Callable[[RuntimeCaller], Awaitable[SubmitResult]],
        client_session: str | None = None,
        rewind: Callable[[], Awaitable[bool]] | None = None,
        identity: Callable[[], Awaitable[Mapping[str, object]]] | None = None,
    ) -> ExecutionStatus:
        """Send the intent and return its accepted execution (terminal on a sync Runtime).

        With a `key`, a repeat of the same `operation` with the same `request` (plus what
        `identity` adds, such as a hash of an upload's bytes, computed only then) from the same
        tenant returns the first one's execution and sends nothing; other input under that key
        raises `IdempotencyConflictError`. `rewind` is passed on to `RuntimeSessions.submit`.
        Runtime failures are raised as the services' errors.
        """

        async def submit() -> ExecutionStatus:
            with runtime_errors():
                submitted = await self._sessions.submit(
                    principal, client_session, send, rewind=rewind
                )
            return await self._executions.accepted(principal, submitted, intent)

        if key is None or self._idempotent is None:
            return await submit()
        fingerprinted = {**request, **(await identity() if identity is not None else {})}
        return await self._idempotent.run(principal, operation, key, fingerprinted, submit)
