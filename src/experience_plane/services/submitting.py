"""The one path every intent takes to the Runtime: the tenant is admitted against its rate limit,
the idempotency key is checked once, the intent is sent with the caller's Runtime session (kept
alive across a Runtime that forgot it), and the accepted execution is recorded (in the execution
index too, with no Runtime call), the whole submit running at most once per idempotency key
through `IdempotentSubmits`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from experience_plane.auth import Principal, RateLimiter
from experience_plane.runtime import ExecutionStatus, RuntimeCaller, SubmitResult
from experience_plane.services.admission import admit, idempotency_key_of
from experience_plane.services.executions import ExecutionService
from experience_plane.services.idempotent import IdempotentSubmits
from experience_plane.services.presentation import runtime_errors
from experience_plane.services.sessions import RuntimeSessions

__all__ = ["Submitter", "admit", "idempotency_key_of"]


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
        """Take one unit of the tenant's rate budget, then return the request's checked key
        (see `admit`)."""
        return await admit(self._limiter, principal, idempotency_key, idempotency_header)

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
            accepted = await self._executions.accepted(principal, submitted, intent)
            await self._executions.record_started(principal, accepted)
            return accepted

        if key is None or self._idempotent is None:
            return await submit()
        fingerprinted = {**request, **(await identity() if identity is not None else {})}
        return await self._idempotent.run(principal, operation, key, fingerprinted, submit)
