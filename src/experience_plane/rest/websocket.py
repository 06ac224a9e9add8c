"""The WebSocket at `/v1/execution/{id}/events`: the same events as SSE, as JSON messages.
Authentication: the handshake's `Authorization: Bearer <token>` header, or, for browsers (which
cannot set headers on a WebSocket), a first message `{"type": "auth", "token": "<token>"}`
within `ws_connection_init_timeout` seconds. A refused caller is closed with 4403 and a reason
such as `Forbidden: expired` before anything is sent; a first message beyond `json_input`'s
limits (nested too deep, a lone surrogate) with 4400 and the reason. Cross-origin pages are
refused (4403) unless listed in `ws_allowed_origins` (or loopback in development), as on `/graphql`.
Messages: `{"type": "status", "execution": {...}}` per change; close 1000 after the terminal
one. A failure is `{"type": "error", "error": {...}}` (the common error body), then a close:
4404 not found, 4403 token expired, 1012 the service is shutting down (reconnect), 1013 Runtime
unavailable or too many open streams in the tenant (try again later), 1011 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from contextlib import aclosing

from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect

from experience_plane import json_input
from experience_plane.auth import AuthenticationError, AuthFailure, Principal
from experience_plane.context import get_authenticator, get_services
from experience_plane.json_input import JsonInputError
from experience_plane.rest.errors import NOT_FOUND, UNAUTHENTICATED, RestError
from experience_plane.rest.models import Execution
from experience_plane.rest.streams import SHUTTING_DOWN, follow_execution
from experience_plane.services import ErrorCode, Services
from experience_plane.strawberry_adapter import (
    is_same_origin,
    normalize_allowed_origins,
    normalize_origin,
)

logger = logging.getLogger(__name__)

# A first message beyond `json_input`'s limits (as graphql-transport-ws closes a bad message).
INVALID_MESSAGE = 4400
FORBIDDEN = 4403
NOT_FOUND_CLOSE = 4404
TRY_AGAIN_LATER = 1013
INTERNAL_ERROR = 1011
SERVICE_RESTART = 1012

_RETRYABLE = frozenset(
    {
        ErrorCode.RUNTIME_UNAVAILABLE.name,
        ErrorCode.RUNTIME_TIMEOUT.name,
        ErrorCode.RUNTIME_PROTOCOL_ERROR.name,
        # Another stream of the tenant's may end meanwhile.
        ErrorCode.TOO_MANY_SUBSCRIPTIONS.name,
    }
)


class Refused(Exception):
    """The connection is refused before anything is sent: closed with `code` (4403 unless
    said otherwise) and `close_reason`; `reason` is the stable part of it."""

    def __init__(self, reason: str, *, code: int = FORBIDDEN, message: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        # At most 123 bytes, as close frames allow: the reasons and messages are short.
        self.close_reason = message or f"Forbidden: {reason}"


def origin_allowed(
    websocket: WebSocket, allowed: tuple[str, ...], pattern: re.Pattern[str] | None = None
) -> bool:
    """The rule of `/graphql`: no `Origin` (not a browser), same origin, listed, or matching
    `pattern` (loopback pages in development)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if websocket.headers.get("sec-fetch-site") == "same-origin" or is_same_origin(
        origin, websocket.headers.get("host")
    ):
        return True
    if pattern is not None and pattern.fullmatch(origin):
        return True
    origins = normalize_allowed_origins(allowed)
    return "*" in origins or normalize_origin(origin) in origins


async def authenticate(websocket: WebSocket, wait_seconds: float) -> Principal:
    """The caller, from the handshake header or a first `auth` message; raises `Refused`."""
    authenticator = get_authenticator(websocket)
    header = websocket.headers.get("authorization")
    try:
        if header or authenticator.insecure:
            return await authenticator.from_header(header)
        try:
            async with asyncio.timeout(wait_seconds):
                received = await websocket.receive()
        except TimeoutError:
            raise Refused(AuthFailure.MISSING_TOKEN.value) from None
        if received["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(received.get("code", 1000))
        raw = received.get("text")
        if raw is None:  # a binary message is no `auth` message
            raise Refused(AuthFailure.MISSING_TOKEN.value)
        try:
            message = json_input.loads(raw)
        except JsonInputError as exc:
            if exc.malformed:
                raise Refused(AuthFailure.MISSING_TOKEN.value) from None
            raise Refused(
                exc.reason.value, code=INVALID_MESSAGE, message=f"Invalid input: {exc.message}"
            ) from exc
        if not isinstance(message, dict) or message.get("type") != "auth":
            raise Refused(AuthFailure.MISSING_TOKEN.value)
        token = message.get("token")
        if not isinstance(token, str):
            raise Refused(AuthFailure.MISSING_TOKEN.value)
        return await authenticator.from_header(token)
    except AuthenticationError as exc:
        logger.info("REST WebSocket refused: %s", exc)
        raise Refused(exc.reason.value) from exc


def close_code(error: RestError) -> int:
    """The close code that ends a stream after `error`."""
    if error.code == NOT_FOUND:
        return NOT_FOUND_CLOSE
    if error.code == UNAUTHENTICATED:
        return FORBIDDEN
    if error.details.get("reason") == SHUTTING_DOWN:
        return SERVICE_RESTART
    if error.code in _RETRYABLE:
        return TRY_AGAIN_LATER
    return INTERNAL_ERROR


def add_websocket_route(router: APIRouter) -> None:
    """Register the WebSocket events endpoint on `router`."""

    @router.websocket("/v1/execution/{execution_id}/events")
    async def execution_events_ws(websocket: WebSocket, execution_id: str) -> None:
        services = get_services(websocket)
        settings = services.settings
        await websocket.accept()
        try:
            if not origin_allowed(
                websocket, settings.ws_allowed_origin_list, settings.loopback_origin_pattern
            ):
                raise Refused("origin")
            principal = await authenticate(websocket, settings.tuning.ws_connection_init_timeout)
        except Refused as refused:
            await websocket.close(code=refused.code, reason=refused.close_reason)
            return
        except WebSocketDisconnect:
            return

        sender = asyncio.create_task(_send_events(websocket, services, principal, execution_id))
        receiver = asyncio.create_task(_until_disconnected(websocket))
        try:
            await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, receiver):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await task


async def _send_events(
    websocket: WebSocket, services: Services, principal: Principal, execution_id: str
) -> None:
    try:
        async with aclosing(follow_execution(services, principal, execution_id)) as items:
            async for item in items:
                if isinstance(item, Execution):
                    message = {"type": "status", "execution": item.model_dump(mode="json")}
                    await websocket.send_json(message)
    except RestError as exc:
        await websocket.send_json({"type": "error", **exc.body()})
        await websocket.close(code=close_code(exc), reason=exc.code)
        return
    await websocket.close(code=1000)


async def _until_disconnected(websocket: WebSocket) -> None:
    # Messages after authentication mean nothing; reading them notices the client leaving.
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
