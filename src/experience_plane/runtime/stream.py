"""Following an execution over the Runtime's optional WebSocket stream.

The Runtime sends keep-alives (`{"type": "ping"}`, every few seconds by the contract) while
nothing changes, so silence means something is wrong: a frozen Runtime, a half-open connection
a proxy keeps alive. A stream silent for longer than `idle_timeout` fails with `RuntimeTimeout`,
and its caller falls back to reading the status.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Mapping

import pydantic
from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
)

from experience_plane.runtime.errors import (
    RuntimeProtocolError,
    RuntimeTimeout,
    RuntimeUnavailable,
    StreamUnavailable,
)
from experience_plane.runtime.models import ExecutionStatus
from experience_plane.runtime.wire import WireStatus, status_from_wire

__all__ = ["stream_statuses"]

# Keep-alive messages that carry no status.
_KEEPALIVE_TYPES = frozenset({"ping", "pong", "keepalive", "heartbeat"})
# A status holds the artifacts' semantic payloads (never the records): generous, but bounded.
MAX_MESSAGE_SIZE = 16 * 2**20


async def stream_statuses(
    url: str,
    *,
    open_timeout: float | None,
    idle_timeout: float,
    headers: Mapping[str, str] | None = None,
    heard: Callable[[], None] | None = None,
) -> AsyncGenerator[ExecutionStatus, None]:
    """Yield each new status the Runtime pushes on `url` (opened with `headers`), ending after
    a terminal one or when the Runtime closes the stream normally; `heard` is called at every
    message, keep-alives included, and `idle_timeout` seconds without one raise
    `RuntimeTimeout`. See `RuntimeClient.stream_execution`."""
    try:
        # Proxies configured for outbound traffic must not capture the internal Runtime.
        websocket = await connect(
            url,
            open_timeout=open_timeout,
            proxy=None,
            max_size=MAX_MESSAGE_SIZE,
            additional_headers=headers,
        )
    except InvalidStatus as exc:
        code = exc.response.status_code
        if code in (403, 404):
            raise StreamUnavailable(
                f"The Runtime refused the execution stream ({code})", status_code=code
            ) from exc
        raise RuntimeUnavailable(
            f"The Runtime refused the execution stream ({code})", status_code=code
        ) from exc
    except TimeoutError as exc:
        raise RuntimeTimeout("The Runtime did not open the execution stream in time") from exc
    except (OSError, InvalidHandshake, ConnectionClosed) as exc:
        # ConnectionClosed: the Runtime went away in the middle of the handshake (a restart).
        raise RuntimeUnavailable(f"The execution stream could not be opened: {exc!r}") from exc
    last: ExecutionStatus | None = None
    try:
        while True:
            try:
                async with asyncio.timeout(idle_timeout):
                    message = await websocket.recv()
            except TimeoutError as exc:
                raise RuntimeTimeout(
                    f"The execution stream was silent for more than {idle_timeout:g}s"
                ) from exc
            if heard is not None:
                heard()
            status = _parse(message)
            if status is None or status == last:
                continue
            last = status
            yield status
            if status.state.is_terminal:
                return
    except ConnectionClosedOK:
        return
    except ConnectionClosedError as exc:
        raise RuntimeUnavailable(f"The execution stream was lost: {exc}") from exc
    finally:
        await websocket.close()


def _parse(message: str | bytes) -> ExecutionStatus | None:
    """The status a message carries, or None for a keep-alive."""
    try:
        data = json.loads(message)
    except ValueError as exc:
        raise RuntimeProtocolError(f"The execution stream sent non-JSON: {message!r:.200}") from exc
    if isinstance(data, dict) and str(data.get("type", "")).lower() in _KEEPALIVE_TYPES:
        return None
    try:
        return status_from_wire(WireStatus.model_validate(data))
    except pydantic.ValidationError as exc:
        raise RuntimeProtocolError(
            f"The execution stream sent an unexpected message: {exc}"
        ) from exc
