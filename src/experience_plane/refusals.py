"""One error shape per surface, for what no route answers itself: `/v1` answers in the REST
error body (`rest.errors`), every other path in GraphQL's (`negotiation.graphql_error_response`).

`http_exception_response` answers starlette's own refusals (an unknown path, a method a route
does not take) that would otherwise be `{"detail": ...}`; `UnexpectedErrorMiddleware` answers an
exception no route caught with the surface's masked 500 and the request id to quote (instead of
starlette's `text/plain` "Internal Server Error" without one), and closes a WebSocket whose
handler failed with 1011 and a reason (instead of dropping it without a close frame). The
detail goes to the log, under the request id.
"""

from __future__ import annotations

import contextlib
import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from experience_plane.negotiation import graphql_error_response
from experience_plane.observability.metrics import record_error
from experience_plane.request_ids import current_request_id
from experience_plane.rest.errors import INVALID_INPUT, NOT_FOUND, RestError, internal_error
from experience_plane.services.presentation import INTERNAL_ERROR_CODE

__all__ = [
    "INTERNAL_ERROR_CLOSE",
    "REST_PREFIX",
    "UnexpectedErrorMiddleware",
    "http_exception_response",
    "is_rest",
]

REST_PREFIX = "/v1"
"""Paths answered in the REST error body: this and everything under it."""
INTERNAL_ERROR_CLOSE = 1011
"""The WebSocket close code of an unexpected failure (RFC 6455: an unexpected condition)."""
# WebSocket close reasons are at most 123 bytes.
_MAX_CLOSE_REASON = 123

logger = logging.getLogger(__name__)


def is_rest(path: str) -> bool:
    """Whether `path` belongs to the REST surface (answered in its error body)."""
    return path == REST_PREFIX or path.startswith(REST_PREFIX + "/")


def http_exception_response(request: Request, exc: HTTPException) -> Response:
    """Starlette's refusal (404, 405 with `Allow`, ...) in the surface's error shape."""
    headers = dict(exc.headers or {})
    if is_rest(request.url.path):
        code = NOT_FOUND if exc.status_code == 404 else INVALID_INPUT
        error = RestError(code, str(exc.detail), status_code=exc.status_code, headers=headers)
        return error.response()
    return graphql_error_response(
        exc.status_code, str(exc.detail), accept=request.headers.get("accept"), headers=headers
    )


def unexpected_error_response(scope: Scope) -> Response:
    """The masked 500 of the surface `scope` belongs to, with the request id to quote."""
    if is_rest(scope.get("path", "")):
        return internal_error().response()
    request_id = current_request_id()
    record_error("graphql", INTERNAL_ERROR_CODE)
    return graphql_error_response(
        500,
        f"Unexpected error (request id {request_id}).",
        accept=Request(scope).headers.get("accept"),
        code=INTERNAL_ERROR_CODE,
    )


def close_reason(text: str) -> str:
    """`text` cut to what a WebSocket close frame carries (123 bytes of UTF-8)."""
    encoded = text.encode("utf-8")
    if len(encoded) <= _MAX_CLOSE_REASON:
        return text
    return encoded[:_MAX_CLOSE_REASON].decode("utf-8", errors="ignore")


class UnexpectedErrorMiddleware:
    """Answers what escapes every route: a masked 500 in the surface's shape while nothing has
    been sent (after that, the connection can only be cut), or, on a WebSocket, a close with
    1011 and the request id. The exception is logged with its traceback and request id.

    Sits inside `RequestIdMiddleware` (the 500 carries `X-Request-Id`) and the observability
    middleware (which counts it), outside the routes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            _log(scope)
            if started:
                raise  # the answer is under way: the server can only cut the connection
            await unexpected_error_response(scope)(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = closed = False

        async def watched_send(message: Message) -> None:
            nonlocal accepted, closed
            if message["type"] == "websocket.accept":
                accepted = True
            elif message["type"] == "websocket.close":
                closed = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            _log(scope)
            if closed:
                return
            reason = close_reason(f"Internal error (request id {current_request_id()})")
            # Before the handshake was accepted, a close refuses it (HTTP 403).
            message: Message = {"type": "websocket.close", "code": INTERNAL_ERROR_CLOSE}
            if accepted:
                message["reason"] = reason
            with contextlib.suppress(Exception):  # the client may be gone already
                await send(message)


def _log(scope: Scope) -> None:
    kind = "WebSocket" if scope["type"] == "websocket" else scope.get("method", "HTTP")
    logger.exception(
        "Unexpected error in %s %s (request id %s)",
        kind,
        scope.get("path", "?"),
        current_request_id(),
    )
