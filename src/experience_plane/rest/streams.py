"""Following an execution for SSE and WebSocket clients: one async generator both share.

`follow_execution` yields the REST `Execution` now and on each change (keep-alive ticks in
between when asked), ends after the terminal one, and raises `RestError` for a failure: an
unknown id, the Runtime going away, or the caller's token expiring mid-stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta

from experience_plane.auth import Principal
from experience_plane.rest.errors import UNAUTHENTICATED, RestError
from experience_plane.rest.models import Execution, execution_json
from experience_plane.rest.route import to_rest_error
from experience_plane.runtime import ExecutionStatus
from experience_plane.services import Services

TOKEN_EXPIRED_MESSAGE = "Your token has expired; reconnect with a fresh one."  # noqa: S105 - a message


class KeepAlive:
    """Yielded by `follow_execution` when nothing changed for a keep-alive interval."""


KEEP_ALIVE = KeepAlive()

_Item = ExecutionStatus | Exception | None


async def follow_execution(
    services: Services,
    principal: Principal,
    execution_id: str,
    *,
    keep_alive: float | None = None,
) -> AsyncGenerator[Execution | KeepAlive, None]:
    """The execution now and once per change, until (and including) a terminal status.

    Closing the generator (the client went away) stops the tracker's stream at once.
    """
    queue: asyncio.Queue[_Item] = asyncio.Queue()

    async def pump() -> None:
        # The tracker's stream is read in its own task, so that waiting for the next change
        # can time out (keep-alives, token expiry) without cancelling the stream itself.
        try:
            async with aclosing(services.executions.watch(principal, execution_id)) as statuses:
                async for status in statuses:
                    await queue.put(status)
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
                return
            if isinstance(item, Exception):
                raise to_rest_error(item)
            try:
                execution = await execution_json(services.executions, principal, item)
            except Exception as exc:
                raise to_rest_error(exc) from exc
            yield execution
            if execution.is_terminal:
                return
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
