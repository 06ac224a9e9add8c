"""ASGI middleware every surface shares: request ids and the request body size limit.
Both are plain ASGI (not `BaseHTTPMiddleware`), so streaming responses (SSE) and WebSockets
pass through untouched.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from functools import partial

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from experience_plane.negotiation import (
    REQUEST_TOO_LARGE,
    UPLOAD_TOO_LARGE,
    graphql_error_response,
)
from experience_plane.observability.metrics import record_error
from experience_plane.request_ids import REQUEST_ID_HEADER, current_request_id, request_id_var

__all__ = [
    "REQUEST_ID_HEADER",
    "BodySizeLimitMiddleware",
    "RequestIdMiddleware",
    "TooLargeResponder",
    "current_request_id",
    "graphql_too_large",
]

# An incoming id is kept only if it is short and plain: it ends up in logs and headers.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode()


class RequestIdMiddleware:
    """Gives every request and WebSocket connection an id, answered as `X-Request-Id`.

    A sane incoming `X-Request-Id` (from a proxy or the client) is kept so that logs line up
    across services; anything else is replaced by a fresh one. Masked errors quote the id and
    the log line with the detail carries it, so a user's report leads to the log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:  # the raw list: this runs on every request
            if name == _REQUEST_ID_BYTES:
                incoming = value.decode("latin-1")
                break
        request_id = (
            incoming if incoming and _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        )
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != _REQUEST_ID_BYTES
                ]
                headers.append((_REQUEST_ID_BYTES, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        except BaseException:
            # Left set on purpose: the server logs the traceback next, in this same task (one
            # per request, so nothing outlives it), and that line must carry the id too.
            raise
        request_id_var.reset(token)


TooLargeResponder = Callable[[str, int, bool], Response]
"""Builds a 413 answer from a message for people, the limit (in bytes) that was exceeded and
whether the body was an upload (multipart): a file too large rather than a request."""


def graphql_too_large(
    message: str, max_bytes: int, upload: bool, accept: str | None = None
) -> Response:
    """The 413 in GraphQL's error shape, in the JSON media type `accept` negotiates: the default
    answer. An upload's code is `UPLOAD_TOO_LARGE` with `maxBytes` (as `UploadTooLargeError`
    has them), any other body's `REQUEST_TOO_LARGE`."""
    if not upload:
        record_error("graphql", REQUEST_TOO_LARGE)
        return graphql_error_response(413, message, accept=accept, code=REQUEST_TOO_LARGE)
    record_error("graphql", UPLOAD_TOO_LARGE)
    return graphql_error_response(
        413, message, accept=accept, code=UPLOAD_TOO_LARGE, extensions={"maxBytes": max_bytes}
    )


class _BodyTooLarge(Exception):
    """Raised from `receive` when a body without a `Content-Length` grows past the limit."""


class BodySizeLimitMiddleware:
    """Answers 413 for a request body over the limit, before the application parses it.

    A multipart body (a file upload) may be as large as `max_upload_bytes` plus room for the
    multipart envelope; any other body `max_request_bytes`. A declared `Content-Length` is
    checked up front; a chunked body is counted as it is read.

    The 413 comes from `responders`, keyed by path prefix (`{"/v1": ...}` answers `/v1` and
    everything under it), so each surface answers in its own error shape; other paths get
    `graphql_too_large`, in the media type the request's `Accept` negotiates. Each is told
    whether the body was an upload (its code is then `UPLOAD_TOO_LARGE`).
    """

    # Room for the multipart envelope (operations, map, part headers) around the file itself.
    MULTIPART_OVERHEAD_BYTES = 1024 * 1024

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_request_bytes: int,
        max_upload_bytes: int,
        responders: Mapping[str, TooLargeResponder] | None = None,
    ) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes
        self.responders = dict(responders or {})

    def _responder(self, path: str, accept: str | None) -> TooLargeResponder:
        for prefix, responder in self.responders.items():
            base = prefix.rstrip("/")
            if path == base or path.startswith(base + "/"):
                return responder
        return partial(graphql_too_large, accept=accept)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The raw header list, scanned once: this runs on every request.
        content_type = declared = accept = None
        for name, value in scope["headers"]:
            # The first of each, as starlette's `Headers.get` reads them.
            if name == b"content-type" and content_type is None:
                content_type = value
            elif name == b"content-length" and declared is None:
                declared = value
            elif name == b"accept" and accept is None:
                accept = value.decode("latin-1")
        multipart = content_type is not None and content_type.lower().startswith(b"multipart/")
        limit = (
            self.max_upload_bytes + self.MULTIPART_OVERHEAD_BYTES
            if multipart
            else self.max_request_bytes
        )

        async def too_large() -> None:
            message = (
                f"The request is larger than the limit of {self.max_upload_bytes} bytes for an "
                "upload (plus the multipart envelope)."
                if multipart
                else f"The request body is larger than the limit of {self.max_request_bytes} bytes."
            )
            max_bytes = self.max_upload_bytes if multipart else self.max_request_bytes
            # Only a file makes a multipart body this large: its other parts are small.
            response = self._responder(scope["path"], accept)(message, max_bytes, multipart)
            # The rest of the body is never read: the connection cannot be reused.
            response.headers["connection"] = "close"
            await response(scope, receive, send)

        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large()
            return

        received = 0
        started = exceeded = answered = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            incoming = await receive()
            if incoming["type"] == "http.request":
                received += len(incoming.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return incoming

        async def guarded_send(outgoing: Message) -> None:
            nonlocal started, answered
            if exceeded and not started:
                # The application caught the error and answers (FastAPI: a 400 "error
                # parsing the body"); the client gets the 413 it deserves instead.
                if not answered:
                    answered = True
                    await too_large()
                return
            if outgoing["type"] == "http.response.start":
                started = True
            await send(outgoing)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if started:
                raise
            if not answered:
                await too_large()
