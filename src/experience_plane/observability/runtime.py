"""`ObservedTransport`: what every Runtime call carries and reports.

Wraps the Runtime client's pooled transport: each request gets the current `traceparent` and
`X-Request-Id` (see `tracecontext`), is counted and timed by kind of call and outcome, and, when
tracing is configured, recorded as a client span whose id is the `traceparent` sent. Being a
transport, it sees every attempt, retries included, and the client's own code stays unchanged.
"""

from __future__ import annotations

import re
import time
from types import TracebackType

import httpx

from experience_plane.observability.metrics import Metrics
from experience_plane.observability.tracecontext import (
    TRACEPARENT_HEADER,
    current_trace,
    outgoing_headers,
)
from experience_plane.observability.tracing import SpanKind, Tracing
from experience_plane.runtime.transport import TRANSPORT_ERRORS, is_timeout

__all__ = ["ObservedTransport", "runtime_call_kind"]

# The Runtime contract's paths, each named once; ids never become labels.
_CALL_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/api/execution/[^/]+/status"), "status"),
    (re.compile(r"/api/intent/submit"), "submit"),
    (re.compile(r"/api/artifacts/[^/]+"), "artifact"),
    (re.compile(r"/api/session/create"), "session"),
    (re.compile(r"/health"), "health"),
)


_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


def runtime_call_kind(path: str) -> str:
    """The kind of a Runtime call from its path (`status`, `submit`, ...; `other` if unknown)."""
    for pattern, kind in _CALL_KINDS:
        if pattern.fullmatch(path):
            return kind
    return "other"


class ObservedTransport(httpx.AsyncBaseTransport):
    """Propagates the trace context to the Runtime and reports each call (module docstring).
    `metrics` None counts nothing; `tracing` None records no spans."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.inner = inner
        self.metrics = metrics
        self.tracing = tracing

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = runtime_call_kind(request.url.path)
        if self.tracing is None:
            request.headers.update(outgoing_headers())
            return await self._measured(kind, request)
        with self.tracing.span(
            f"Runtime {kind}",
            SpanKind.CLIENT,
            current_trace(),
            {"http.request.method": request.method, "server.address": request.url.host},
        ) as span:
            request.headers.update(outgoing_headers())
            # The Runtime's parent is this span, not the request's.
            request.headers[TRACEPARENT_HEADER] = span.context.traceparent
            response = await self._measured(kind, request)
            span.set("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.fail(f"HTTP {response.status_code}")
            return response

    async def _measured(self, kind: str, request: httpx.Request) -> httpx.Response:
        if self.metrics is None:
            return await self.inner.handle_async_request(request)
        started = time.perf_counter()
        try:
            response = await self.inner.handle_async_request(request)
        except TRANSPORT_ERRORS as exc:
            outcome = "timeout" if is_timeout(exc) else "error"
            self.metrics.observe_runtime_call(kind, outcome, None)
            raise
        outcome = _STATUS_CLASSES.get(response.status_code // 100, "other")
        self.metrics.observe_runtime_call(kind, outcome, time.perf_counter() - started)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> ObservedTransport:
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.inner.__aexit__(exc_type, exc_value, traceback)
