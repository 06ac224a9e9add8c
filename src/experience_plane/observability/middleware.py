"""`ObservabilityMiddleware`: trace context, metrics and (when configured) a span per request.
Plain ASGI like the other middleware, so streaming responses and WebSockets pass untouched. It
sits just inside `RequestIdMiddleware` (the request id is set first, so everything it records
can carry it) and outside everything else, so a 413 from the body size limit is counted too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from experience_plane.observability.metrics import Metrics, reset_metrics, use_metrics
from experience_plane.observability.tracecontext import (
    TRACEPARENT_HEADER,
    TraceContext,
    reset_trace,
    set_trace,
)
from experience_plane.observability.tracing import RecordingSpan, SpanKind, Tracing

__all__ = ["UNMATCHED_ROUTE", "ObservabilityMiddleware", "route_template"]

# Requests no route answers share one label: raw paths would let a scanner grow the series.
UNMATCHED_ROUTE = "unmatched"
_TRACEPARENT_BYTES = TRACEPARENT_HEADER.encode()
# Responses that stay open while events flow: their duration is not a latency.
_STREAM_TYPES = (b"text/event-stream", b"multipart/mixed")


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/v1/executions/{execution_id}`), set on the
    scope by Starlette's router; `UNMATCHED_ROUTE` when no route matched."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


def _traceparent_of(scope: Scope) -> str | None:
    # The raw list, not starlette's `Headers`: this runs on every request.
    for name, value in scope["headers"]:
        if name == _TRACEPARENT_BYTES:
            return str(value.decode("latin-1"))
    return None


def _is_stream(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.lower().startswith(_STREAM_TYPES)
    return False


class ObservabilityMiddleware:
    """Continues or starts the W3C trace of each request and WebSocket connection, counts HTTP
    requests by method, route template and status with their duration, and keeps the open
    WebSocket gauge. `metrics` None turns metrics off; `tracing` None records no spans (the
    trace context is still propagated to the Runtime)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None, tracing: Tracing | None) -> None:
        self.app = app
        self.metrics = metrics
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = TraceContext.parse(_traceparent_of(scope))
        method = scope["method"] if kind == "http" else "WEBSOCKET"
        span_scope: AbstractContextManager[RecordingSpan | None] = nullcontext()
        if self.tracing is not None:
            span_scope = self.tracing.span(
                method,
                SpanKind.SERVER,
                incoming,
                {"http.request.method": method, "url.path": scope["path"]},
            )
        metrics_token = use_metrics(self.metrics)
        with span_scope as span:
            if span is not None:
                trace = span.context
            else:
                trace = incoming.child() if incoming is not None else TraceContext.start()
            trace_token = set_trace(trace)
            try:
                if kind == "http":
                    await self._http(scope, receive, send, method, span)
                else:
                    await self._websocket(scope, receive, send, span)
            finally:
                reset_trace(trace_token)
                reset_metrics(metrics_token)

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, method: str, span: RecordingSpan | None
    ) -> None:
        status = 500  # what the client gets when the application fails before answering
        streamed = False
        started = time.perf_counter()

        async def observed_send(message: Message) -> None:
            nonlocal status, streamed
            if message["type"] == "http.response.start":
                status = message["status"]
                streamed = _is_stream(message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            route = route_template(scope)
            if self.metrics is not None:
                # A stream (SSE, multipart subscription) lasts as long as the client listens.
                seconds = None if streamed else time.perf_counter() - started
                self.metrics.observe_http(method, route, status, seconds)
            if span is not None:
                span.rename(f"{method} {route}")
                span.set("http.route", route)
                span.set("http.response.status_code", status)
                if status >= 500:
                    span.fail(f"HTTP {status}")

    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, span: RecordingSpan | None
    ) -> None:
        metrics = self.metrics
        if metrics is not None:
            metrics.websocket_connections += 1
        try:
            await self.app(scope, receive, send)
        finally:
            if metrics is not None:
                metrics.websocket_connections -= 1
            if span is not None:
                route = route_template(scope)
                span.rename(f"WEBSOCKET {route}")
                span.set("http.route", route)
