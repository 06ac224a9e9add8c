"""Following an execution for SSE and WebSocket clients: one async generator both share.
`follow_execution` yields the REST `Execution` now and on each change (of status, or of
freshness: `stale` while the Runtime does not answer), keep-alive ticks in between when asked,
and ends after the terminal one. It raises `RestError` for a failure: an unknown id, the
caller's tenant holding as many open streams as it may (`TOO_MANY_SUBSCRIPTIONS`, 429), the
caller's token expiring mid-stream (`UNAUTHENTICATED`), or the service shutting down before the
execution finished (`RUNTIME_UNAVAILABLE`, `details.reason` `shutting_down`: the transports
present it as a restart, never as the end of the execution).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta

from experience_plane.auth import Principal
from experience_plane.executions import Snapshot
from experience_plane.rest.errors import UNAUTHENTICATED, RestError
from experience_plane.rest.models import Execution, snapshot_json
from experience_plane.rest.route import to_rest_error
from experience_plane.services import ErrorCode, Services, TooManySubscriptionsError
from experience_plane.services.executions import SHUTTING_DOWN_MESSAGE
from experience_plane.services.presentation import TOKEN_EXPIRED_MESSAGE


class KeepAlive:
    """Yielded by `follow_execution` when nothing changed for a keep-alive interval."""


KEEP_ALIVE = KeepAlive()
SHUTTING_DOWN = "shutting_down"

_Item = Snapshot | Exception | None


async def follow_execution(
    services: Services,
    principal: Principal,
    execution_id: str,
    *,
    keep_alive: float | None = None,
) -> AsyncGenerator[Execution | KeepAlive, None]:
    """The execution now and once per change, until (and including) a terminal status.

    Closing the generator (the client went away) stops the tracker's stream at once. The
    stream holds a place in the tenant's count of open streams while it runs.
    """
    try:
        await services.streams.open(principal.tenant_id)
    except TooManySubscriptionsError as exc:
        raise RestError(exc.code.name, exc.message, details={"limit": exc.limit}) from exc
    try:
        async for item in _follow(services, principal, execution_id, keep_alive):
            yield item
    finally:
        services.streams.close(principal.tenant_id)


async def _follow(
    services: Services, principal: Principal, execution_id: str, keep_alive: float | None
) -> AsyncGenerator[Execution | KeepAlive, None]:
    queue: asyncio.Queue[_Item] = asyncio.Queue()

    async def pump() -> None:
        # The tracker's stream is read in its own task, so that waiting for the next change
        # can time out (keep-alives, token expiry) without cancelling the stream itself.
        try:
            async with aclosing(services.executions.follow(principal, execution_id)) as events:
                async for snapshot in events:
                    await queue.put(snapshot)
            await queue.put(None)
        except Exception as exc:
            await queue.put(exc)

    task = asyncio.create_task(pump())
    leeway = timedelta(seconds=services.settings.auth_leeway_seconds)
    try:
        while True:
            remaining = principal.seconds_until_expiry(datetime.now(UTC) - leeway)
            if remaining == 0.0:
                raise RestError(
                    UNAUTHENTICATED, TOKEN_EXPIRED_MESSAGE, details={"reason": "expired"}
                )
            waits = [wait for wait in (keep_alive, remaining) if wait is not None]
            try:
                item = await asyncio.wait_for(queue.get(), min(waits) if waits else None)
            except TimeoutError:
                if keep_alive is not None:
                    yield KEEP_ALIVE
                continue
            if item is None:
                # The tracker ends streams quietly only when the service shuts down.
                raise RestError(
                    ErrorCode.RUNTIME_UNAVAILABLE.name,
                    SHUTTING_DOWN_MESSAGE,
                    details={"reason": SHUTTING_DOWN},
                )
            if isinstance(item, Exception):
                raise to_rest_error(item)
            try:
                execution = await snapshot_json(services.executions, principal, item)
            except Exception as exc:
                raise to_rest_error(exc) from exc
            yield execution
            if execution.is_terminal:
                return
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
