"""Prometheus metrics: one registry per application, rendered at `/metrics`.

Every label has a bounded set of values: HTTP routes are the route templates
(`/v1/executions/{execution_id}`, never a raw path), GraphQL operations are named by their type
and root fields (never the client-chosen operation name), error codes are the documented ones,
Runtime calls are named by kind. Gauges that describe live state (subscriptions, watchers, the
circuit breaker) are read from the tracker and the Runtime client when scraped, so they cost
nothing between scrapes.

The registry belongs to the application, not to the module: two apps in one process (tests) do
not share counters, and nothing is registered at import time. `uvicorn` runs one worker per
process here; with several processes (replicas), each is scraped on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from experience_plane.runtime.breaker import BreakerSnapshot, BreakerState

__all__ = [
    "CONTENT_TYPE_LATEST",
    "Metrics",
    "current_metrics",
    "record_error",
    "reset_metrics",
    "use_metrics",
]

# Runtime calls are mostly single-digit milliseconds; requests add the service's own work.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _LiveState(Collector):
    """Reads the gauges of live state when Prometheus scrapes: nothing is kept in between."""

    def __init__(self) -> None:
        self.subscribers: Callable[[], int] | None = None
        self.watchers: Callable[[], int] | None = None
        self.breaker: Callable[[], BreakerSnapshot] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.subscribers is not None:
            yield GaugeMetricFamily(
                "experience_subscriptions_active",
                "Execution subscriptions open in this process (GraphQL, SSE and WebSocket).",
                value=self.subscribers(),
            )
        if self.watchers is not None:
            yield GaugeMetricFamily(
                "experience_execution_watchers_active",
                "Executions this process is watching on the Runtime (one watcher each).",
                value=self.watchers(),
            )
        if self.breaker is not None:
            snapshot = self.breaker()
            state = GaugeMetricFamily(
                "experience_runtime_breaker_state",
                "The Runtime client's circuit breaker: 1 for the state it is in, 0 otherwise.",
                labels=["state"],
            )
            for candidate in BreakerState:
                state.add_metric([candidate.value], 1.0 if candidate is snapshot.state else 0.0)
            yield state
            yield GaugeMetricFamily(
                "experience_runtime_breaker_consecutive_failures",
                "Failed Runtime calls in a row counted by the circuit breaker.",
                value=snapshot.consecutive_failures,
            )


class Metrics:
    """The application's metrics and their registry (see the module docstring for labels)."""

    def __init__(self) -> None:
        # `*_created` series double the exposition for a value nobody here reads; the switch
        # is process-wide, and nothing else in the process exports Prometheus metrics.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.http_requests = Counter(
            "experience_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "experience_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of its body), by method and route.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.websocket_connections = Gauge(
            "experience_websocket_connections",
            "WebSocket connections open (GraphQL subscriptions and REST streams).",
            registry=registry,
        )
        self.graphql_operations = Counter(
            "experience_graphql_operations",
            "GraphQL operations run, by type, root fields and outcome (ok or error).",
            ["type", "operation", "outcome"],
            registry=registry,
        )
        self.graphql_duration = Histogram(
            "experience_graphql_operation_duration_seconds",
            "Time to run a GraphQL query or mutation, by type and root fields.",
            ["type", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "experience_errors",
            "Errors answered to clients, by surface (graphql, rest) and error code.",
            ["surface", "code"],
            registry=registry,
        )
        self.runtime_calls = Counter(
            "experience_runtime_calls",
            "HTTP calls to the Runtime, by kind and outcome (2xx, 4xx, 5xx, timeout, error).",
            ["call", "outcome"],
            registry=registry,
        )
        self.runtime_duration = Histogram(
            "experience_runtime_call_duration_seconds",
            "Time until the Runtime's answer headers arrived, by kind of call.",
            ["call"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._live = _LiveState()
        registry.register(self._live)
        # Labelled children, looked up once per label set: `labels()` takes a lock and
        # builds a key each time, which the hot path should not pay. Bounded like the labels.
        self._children: dict[tuple[str, ...], tuple[Any, Any]] = {}

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count an answered HTTP request and its duration."""
        key = ("http", method, route, str(status))
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.http_requests.labels(method, route, str(status)),
                self.http_duration.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def observe_operation(self, kind: str, operation: str, outcome: str, seconds: float) -> None:
        """Count a GraphQL operation; its duration unless it is a subscription (which lasts as
        long as the client wants: its lifetime is not latency)."""
        key = ("graphql", kind, operation, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.graphql_operations.labels(kind, operation, outcome),
                self.graphql_duration.labels(kind, operation),
            )
        children[0].inc()
        if kind != "subscription":
            children[1].observe(seconds)

    def observe_runtime_call(self, call: str, outcome: str, seconds: float | None) -> None:
        """Count a Runtime call; its duration when it was answered (`seconds` not None)."""
        key = ("runtime", call, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.runtime_calls.labels(call, outcome),
                self.runtime_duration.labels(call),
            )
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)

    def watch_state(
        self,
        *,
        subscribers: Callable[[], int],
        watchers: Callable[[], int],
        breaker: Callable[[], BreakerSnapshot],
    ) -> None:
        """Report live state from these readers at every scrape (set by the lifespan)."""
        self._live.subscribers = subscribers
        self._live.watchers = watchers
        self._live.breaker = breaker

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return generate_latest(self.registry)


_metrics: ContextVar[Metrics | None] = ContextVar("experience_plane_metrics", default=None)


def current_metrics() -> Metrics | None:
    """The metrics of the application serving the current request, if any."""
    return _metrics.get()


def use_metrics(metrics: Metrics | None) -> Token[Metrics | None]:
    """Make `metrics` the current request's (done by `RequestMetricsMiddleware`)."""
    return _metrics.set(metrics)


def reset_metrics(token: Token[Metrics | None]) -> None:
    """Restore the metrics that were current before `use_metrics` returned `token`."""
    _metrics.reset(token)


def record_error(surface: str, code: str) -> None:
    """Count an error answered to a client. Called where the answer is built, so every path
    to an error response counts once; outside of a request (a unit test) it does nothing."""
    metrics = _metrics.get()
    if metrics is not None:
        metrics.errors.labels(surface, code).inc()
