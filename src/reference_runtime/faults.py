"""Test controls: live-tunable faults, request counters, and the middleware applying both.
The counters run whether or not faults are configured; they are only exposed (under `/_control`)
when the control endpoints are enabled.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_runtime.settings import RuntimeSettings

STATUS_PATH = re.compile(r"/api/execution/(?P<execution_id>[^/]+)/status")
SUBMIT_PATH = "/api/intent/submit"
STREAM_PATH = re.compile(r"/api/execution/(?P<execution_id>[^/]+)/stream")
# What a dropped response promises before the connection goes away.
_DROP_CONTENT_LENGTH = b"4096"
_DROP_PARTIAL_BODY = b'{"execution_id": "'
RECENT_HEADERS = 200


@dataclass(slots=True)
class LiveControls:
    """Fault and pacing knobs that can be changed while the Runtime runs."""

    latency: float = 0.0
    status_error_rate: float = 0.0
    drop_rate: float = 0.0
    phase_delay: float = 0.0
    error_rate: float = 0.0
    drop_after_handling_rate: float = 0.0
    # Seconds every safe point of a realm's work waits (cut short by a cancellation): makes an
    # upload or a mash slow enough to be cancelled in the middle.
    step_delay: float = 0.0

    @classmethod
    def from_settings(cls, settings: RuntimeSettings) -> LiveControls:
        """The starting values, as configured."""
        return cls(
            latency=settings.fault_latency,
            status_error_rate=settings.fault_status_error_rate,
            drop_rate=settings.fault_drop_rate,
            phase_delay=settings.phase_delay,
        )

    def as_json(self) -> dict[str, float]:
        """The current values."""
        return {
            "latency": self.latency,
            "status_error_rate": self.status_error_rate,
            "drop_rate": self.drop_rate,
            "phase_delay": self.phase_delay,
            "error_rate": self.error_rate,
            "drop_after_handling_rate": self.drop_after_handling_rate,
            "step_delay": self.step_delay,
        }


class RuntimeStats:
    """Counts of requests by route, status reads and stream connections by execution, submits
    by intent type, and of those, how many started a new execution (`executions_created`) and
    how many an idempotency key answered with an earlier one (`submits_deduplicated`)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.status_reads: Counter[str] = Counter()
        self.stream_connections: Counter[str] = Counter()
        self.submits: Counter[str] = Counter()
        self.executions_created: Counter[str] = Counter()
        self.submits_deduplicated: Counter[str] = Counter()
        # The correlation headers of the latest requests, so tests can see what callers send.
        self.recent_headers: deque[dict[str, str | None]] = deque(maxlen=RECENT_HEADERS)

    def record_headers(self, route: str, scope: Scope) -> None:
        """Keep `route`'s `traceparent` and `x-request-id` (None when absent)."""
        headers = Headers(scope=scope)
        self.recent_headers.append(
            {
                "route": route,
                "traceparent": headers.get("traceparent"),
                "x_request_id": headers.get("x-request-id"),
            }
        )

    def reset(self) -> None:
        """Forget every count."""
        for counter in (
            self.requests,
            self.status_reads,
            self.stream_connections,
            self.submits,
            self.executions_created,
            self.submits_deduplicated,
        ):
            counter.clear()
        self.recent_headers.clear()

    def as_json(self) -> dict[str, dict[str, int]]:
        """The counts, as `GET /_control/stats` answers them."""
        return {
            "requests": dict(self.requests),
            "status_reads": dict(self.status_reads),
            "stream_connections": dict(self.stream_connections),
            "submits": dict(self.submits),
            "executions_created": dict(self.executions_created),
            "submits_deduplicated": dict(self.submits_deduplicated),
        }


@dataclass(frozen=True, slots=True)
class RouteTemplate:
    """One route's path template, the pattern it matches and the methods it answers."""

    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str]


class RouteTable:
    """Finds the path template of a request without running the app's router.

    Faulted requests never reach the router, yet they are counted under their route template.
    """

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._templates: list[RouteTemplate] = []
        for route in routes:
            path = getattr(route, "path", None)
            pattern = getattr(route, "path_regex", None)
            if isinstance(path, str) and isinstance(pattern, re.Pattern):
                methods = getattr(route, "methods", None) or {"WS"}
                self._templates.append(RouteTemplate(path, pattern, frozenset(methods)))

    def template_for(self, method: str, path: str) -> str:
        """The template of the route answering `method path` (the raw path when none does)."""
        for template in self._templates:
            if method in template.methods and template.pattern.match(path):
                return template.template
        return path


class FaultInjectionMiddleware:
    """Counts every request, then applies the configured faults to `/api` requests.

    - `latency` seconds are added before every `/api` request is handled (the execution
      stream also sends each message that much later: `api.executions`);
    - `status_error_rate` of status reads answer 503 with `Retry-After: 0`;
    - `drop_rate` of `/api` HTTP requests are not handled: the response starts with a
      Content-Length and the connection is closed part-way, as a failing network would;
    - `error_rate` of `/api` requests of any kind (submits too) answer 503 unhandled, the
      handshakes of execution streams included (an open stream fails as often: see
      `api.executions`);
    - `drop_after_handling_rate` of submits (`POST /api/intent/submit`) are handled (the
      execution starts) and then their answer is dropped the same way: the caller cannot
      know whether anything happened, the case idempotency keys exist for.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: RouteTable,
        controls: LiveControls,
        stats: RuntimeStats,
    ) -> None:
        self.app = app
        self.routes = routes
        self.controls = controls
        self.stats = stats
        # Faults are drawn from a plain PRNG: this is test chaos, not security.
        self._random = random.Random()  # noqa: S311

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_http = scope["type"] == "http"
        method = scope["method"] if is_http else "WS"
        if not path.startswith("/_control"):
            route = f"{method} {self.routes.template_for(method, path)}"
            self.stats.requests[route] += 1
            self.stats.record_headers(route, scope)
        status_read = STATUS_PATH.fullmatch(path) if is_http and method == "GET" else None
        if status_read is not None:
            self.stats.status_reads[status_read["execution_id"]] += 1
        stream = STREAM_PATH.fullmatch(path) if not is_http else None
        if stream is not None:
            self.stats.stream_connections[stream["execution_id"]] += 1

        if path.startswith("/api/"):
            if self.controls.latency > 0:
                await asyncio.sleep(self.controls.latency)
            if is_http and self._chance(self.controls.drop_rate):
                await self._drop(send)
                return
            if status_read is not None and self._chance(self.controls.status_error_rate):
                await self._unavailable(send)
                return
            if self._chance(self.controls.error_rate):
                if is_http:
                    await self._unavailable(send)
                else:
                    await self._refuse_handshake(scope, send)
                return
            if (
                is_http
                and method == "POST"
                and path == SUBMIT_PATH
                and self._chance(self.controls.drop_after_handling_rate)
            ):
                await self.app(scope, receive, _discard)
                await self._drop(send)
                return
        await self.app(scope, receive, send)

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    @staticmethod
    async def _unavailable(send: Send) -> None:
        body = b'{"detail": "Injected fault: the Runtime is temporarily unavailable"}'
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", b"0"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @classmethod
    async def _refuse_handshake(cls, scope: Scope, send: Send) -> None:
        """Answer a WebSocket handshake with the 503 an HTTP request gets, where the server
        can (the ASGI `websocket.http.response` extension); else close before accepting."""
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1011})
            return
        body = b'{"detail": "Injected fault: the Runtime is temporarily unavailable"}'
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})

    @staticmethod
    async def _drop(send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", _DROP_CONTENT_LENGTH),
        ]
        start: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": _DROP_PARTIAL_BODY, "more_body": True})
        # Returning with the body incomplete makes the server close the connection.


async def _discard(message: Message) -> None:
    """A `send` that throws the app's answer away (it is dropped after handling)."""
