"""Runtime sessions, one per (tenant, user), created lazily and reused."""

from __future__ import annotations

import asyncio

from experience_plane.auth import Principal
from experience_plane.runtime import RuntimeCaller, RuntimeClient
from experience_plane.services.errors import runtime_errors


class RuntimeSessions:
    """Creates a Runtime session the first time a principal submits, then reuses it.

    Concurrent first requests of one principal share a single in-flight creation, so the
    Runtime sees one `/api/session/create` per principal. A failed creation is not cached.
    """

    def __init__(self, client: RuntimeClient) -> None:
        self._client = client
        self._sessions: dict[tuple[str, str], asyncio.Future[str]] = {}

    async def caller_for(self, principal: Principal) -> RuntimeCaller:
        """The identity to submit intents with: the principal plus its Runtime session."""
        session_id = await self.session_id(principal)
        return RuntimeCaller(
            tenant_id=principal.tenant_id, user_id=principal.user_id, session_id=session_id
        )

    async def session_id(self, principal: Principal) -> str:
        """The principal's Runtime session id, created on first use."""
        key = (principal.tenant_id, principal.user_id)
        future = self._sessions.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._sessions[key] = future
            try:
                with runtime_errors():
                    session_id = await self._client.create_session(
                        principal.tenant_id, principal.user_id
                    )
            except asyncio.CancelledError:
                del self._sessions[key]
                future.cancel()
                raise
            except Exception as exc:
                # Forget the failure so the next request tries again; tell the waiters.
                del self._sessions[key]
                future.set_exception(exc)
                # Mark it retrieved: with no other waiter asyncio would log it as lost.
                future.exception()
                raise
            future.set_result(session_id)
        # shield: one waiter going away must not cancel the creation the others wait on.
        return await asyncio.shield(future)
