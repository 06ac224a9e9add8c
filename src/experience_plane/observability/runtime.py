"""`ObservedCarrier`: what every Runtime call carries and reports.
Wraps the Runtime client's carrier (`runtime.transport.Carrier`): each request gets the current
`traceparent` and `X-Request-Id` (see `tracecontext`), is counted and timed by kind of call and
outcome, and, when tracing is configured, recorded as a client span whose id is the `traceparent`
sent. Being the carrier, it sees every attempt, retries included, and the client's own code
stays unchanged.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping

from experience_plane.observability.metrics import Metrics
from experience_plane.observability.tracecontext import (
    TRACEPARENT_HEADER,
    current_trace,
    outgoing_headers,
)
from experience_plane.observability.tracing import SpanKind, Tracing
from experience_plane.runtime.transport import TRANSPORT_ERRORS, Answer, Body, Carrier, is_timeout

__all__ = ["ObservedCarrier", "runtime_call_kind"]

logger = logging.getLogger(__name__)

# The Runtime contract's paths, each named once; ids never become labels.
_CALL_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/api/execution/[^/]+/status"), "status"),
    (re.compile(r"/api/execution/[^/]+/cancel"), "cancel"),
    (re.compile(r"/api/executions"), "list"),
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


class ObservedCarrier:
    """Propagates the trace context to the Runtime and reports each call (module docstring).

    Wraps whichever `Carrier` the client uses (aiohttp's by default, httpx over an injected
    transport in tests). `metrics` None counts nothing; `tracing` None records no spans.
    """

    def __init__(
        self,
        inner: Carrier,
        *,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        server_address: str | None = None,
    ) -> None:
        self.inner = inner
        self.metrics = metrics
        self.tracing = tracing
        self.server_address = server_address

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send through the inner carrier with the trace headers; count, time and trace it."""
        kind = runtime_call_kind(path)
        sent = {**(headers or {}), **outgoing_headers()}
        if self.tracing is None:
            return await self._measured(kind, method, path, params, content, sent)
        attributes = {"http.request.method": method}
        if self.server_address:
            attributes["server.address"] = self.server_address
        with self.tracing.span(
            f"Runtime {kind}", SpanKind.CLIENT, current_trace(), attributes
        ) as span:
            # The Runtime's parent is this span, not the request's.
            sent[TRACEPARENT_HEADER] = span.context.traceparent
            answer = await self._measured(kind, method, path, params, content, sent)
            span.set("http.response.status_code", answer.status_code)
            if answer.status_code >= 500:
                span.fail(f"HTTP {answer.status_code}")
            return answer

    async def _measured(
        self,
        kind: str,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        content: Body | None,
        headers: Mapping[str, str],
    ) -> Answer:
        started = time.perf_counter()
        try:
            answer = await self.inner.request(
                method, path, params=params, content=content, headers=headers
            )
        except TRANSPORT_ERRORS as exc:
            outcome = "timeout" if is_timeout(exc) else "error"
            if self.metrics is not None:
                self.metrics.observe_runtime_call(kind, outcome, None)
            logger.debug("Runtime call %s %s: %s (%r)", method, path, outcome, exc)
            raise
        seconds = time.perf_counter() - started
        if self.metrics is not None:
            outcome = _STATUS_CLASSES.get(answer.status_code // 100, "other")
            self.metrics.observe_runtime_call(kind, outcome, seconds)
        logger.debug(
            "Runtime call %s %s: %d in %.1f ms", method, path, answer.status_code, seconds * 1e3
        )
        return answer

    async def aclose(self) -> None:
        """Close the inner carrier."""
        await self.inner.aclose()
