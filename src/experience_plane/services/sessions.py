"""Runtime sessions, one per (tenant, user, client session), created lazily and reused; and
the one way intents are submitted with them."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from experience_plane.auth import Principal
from experience_plane.runtime import RuntimeCaller, RuntimeClient, RuntimeRejected
from experience_plane.services.presentation import runtime_errors

logger = logging.getLogger(__name__)

T = TypeVar("T")
SessionKey = tuple[str, str, str]
"""(tenant id, user id, client session id or "")."""

# The Runtime's answer to a submit naming a session it does not know (e.g. after losing its
# state): 404 `{"detail": "Session not found"}`.
_UNKNOWN_SESSION_DETAIL = "session not found"


def is_unknown_session(error: RuntimeRejected) -> bool:
    """Whether the Runtime refused a submit because it does not know the session."""
    detail = error.detail if isinstance(error.detail, str) else ""
    return error.status_code == 404 and detail.strip().lower() == _UNKNOWN_SESSION_DETAIL


class RuntimeSessions:
    """Creates a Runtime session the first time a caller submits, then reuses it.

    A caller is a principal plus, optionally, the client's own session (`X-Session-Id`): each
    client session gets a Runtime session of its own; without one, the principal shares one.
    Concurrent first requests share a single in-flight creation, so the Runtime sees one
    `/api/session/create` per caller. A failed creation is not cached. At most `max_sessions`
    are remembered (least recently used dropped first: that caller merely gets a new one).
    """

    def __init__(self, client: RuntimeClient, *, max_sessions: int = 10_000) -> None:
        self._client = client
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[SessionKey, asyncio.Future[str]] = OrderedDict()

    async def caller_for(
        self, principal: Principal, client_session: str | None = None
    ) -> RuntimeCaller:
        """The identity to submit intents with: the principal plus its Runtime session."""
        session_id = await self.session_id(principal, client_session)
        return RuntimeCaller(
            tenant_id=principal.tenant_id, user_id=principal.user_id, session_id=session_id
        )

    async def session_id(self, principal: Principal, client_session: str | None = None) -> str:
        """The caller's Runtime session id, created on first use."""
        key = (principal.tenant_id, principal.user_id, client_session or "")
        future = self._sessions.get(key)
        if future is not None:
            self._sessions.move_to_end(key)
        else:
            future = asyncio.get_running_loop().create_future()
            self._sessions[key] = future
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
            try:
                metadata = {"client_session_id": client_session} if client_session else None
                with runtime_errors():
                    session_id = await self._client.create_session(
                        principal.tenant_id, principal.user_id, metadata=metadata
                    )
            except asyncio.CancelledError:
                self._drop(key, future)
                future.cancel()
                raise
            except Exception as exc:
                # Forget the failure so the next request tries again; tell the waiters.
                self._drop(key, future)
                future.set_exception(exc)
                # Mark it retrieved: with no other waiter asyncio would log it as lost.
                future.exception()
                raise
            future.set_result(session_id)
        # shield: one waiter going away must not cancel the creation the others wait on.
        return await asyncio.shield(future)

    def forget(self, principal: Principal, client_session: str | None, session_id: str) -> None:
        """Drop the cached session if it is still `session_id` (the Runtime no longer knows it)."""
        key = (principal.tenant_id, principal.user_id, client_session or "")
        future = self._sessions.get(key)
        if (
            future is not None
            and future.done()
            and not future.cancelled()
            and future.exception() is None
            and future.result() == session_id
        ):
            del self._sessions[key]

    async def submit(
        self,
        principal: Principal,
        client_session: str | None,
        send: Callable[[RuntimeCaller], Awaitable[T]],
        *,
        rewind: Callable[[], Awaitable[bool]] | None = None,
    ) -> T:
        """Run `send` with the caller's session; re-establish the session once if it is unknown.

        Resubmitting is safe then: the Runtime refused the intent before creating anything.
        `rewind` makes the request body readable again (an upload's file); when it cannot
        (returns False) the refusal is raised as it is. Raises the Runtime client's errors.
        """
        caller = await self.caller_for(principal, client_session)
        try:
            return await send(caller)
        except RuntimeRejected as exc:
            if not is_unknown_session(exc) or (rewind is not None and not await rewind()):
                raise
        logger.info(
            "The Runtime no longer knows session %s of tenant %s; creating a new one",
            caller.session_id,
            principal.tenant_id,
        )
        self.forget(principal, client_session, caller.session_id)
        return await send(await self.caller_for(principal, client_session))

    def _drop(self, key: SessionKey, future: asyncio.Future[str]) -> None:
        if self._sessions.get(key) is future:
            del self._sessions[key]
