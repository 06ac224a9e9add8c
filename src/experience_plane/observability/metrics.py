"""Prometheus metrics: one registry per application, rendered at `/metrics`.
Every label has a bounded set of values: HTTP routes are the route templates
(`/v1/execution/{execution_id}/status`, never a raw path), GraphQL operations are named by their
type and root fields (never the client-chosen operation name), error codes are the documented
ones, Runtime calls are named by kind. Gauges that describe live state (subscriptions, watchers,
the circuit breaker) are read from the tracker and the Runtime client when scraped, so they cost
nothing between scrapes.
Counting happens on every request, so it is plain arithmetic on dictionaries: the service runs
one event loop per process, and everything is counted from it (the scrape included), which makes
`prometheus_client`'s per-sample locks and checks a cost with no use here (measured on this
machine: a counter increment plus a histogram observation, 2.3 µs through cached
`prometheus_client` children against 1.1 µs here; 11 µs with a `labels()` lookup each time). The
registry only turns the counts into Prometheus' format when scraped.
The registry belongs to the application, not to the module: two apps in one process (tests) do
not share counts, and nothing is registered at import time. `uvicorn` runs one worker per
process here; with several processes (replicas), each is scraped on its own.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar, Token

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
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
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[str, ...]


class CounterFamily:
    """A counter with labels: `inc(labels)` adds one to the series of those label values."""

    def __init__(self, name: str, documentation: str, label_names: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = list(label_names)
        self.values: dict[Labels, float] = {}

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        """Add `amount` to the series of `labels` (one value per label name, in order)."""
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def collect(self) -> Metric:
        """The family in Prometheus' data model (samples `<name>_total`)."""
        family = CounterMetricFamily(self.name, self.documentation, labels=self.label_names)
        for labels, value in self.values.items():
            family.add_metric(list(labels), value)
        return family


class _Series:
    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)  # the last one is +Inf
        self.total = 0.0


class HistogramFamily:
    """A histogram with labels: `observe(labels, value)` counts `value` in its bucket."""

    def __init__(
        self,
        name: str,
        documentation: str,
        label_names: Sequence[str],
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = list(label_names)
        self.bounds = tuple(sorted(buckets))
        self.series: dict[Labels, _Series] = {}

    def observe(self, labels: Labels, value: float) -> None:
        """Count `value` in the series of `labels`."""
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = _Series(len(self.bounds))
        # Buckets are "less than or equal": the first bound >= value.
        series.counts[bisect_left(self.bounds, value)] += 1
        series.total += value

    def collect(self) -> Metric:
        """The family in Prometheus' data model (cumulative `_bucket`s, `_count`, `_sum`)."""
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)
        # `repr` writes these bounds as prometheus_client does ("0.001", "1.0", "10.0").
        edges = [*(repr(float(bound)) for bound in self.bounds), "+Inf"]
        for labels, series in self.series.items():
            cumulative, running = [], 0
            for edge, count in zip(edges, series.counts, strict=True):
                running += count
                cumulative.append((edge, float(running)))
            family.add_metric(list(labels), cumulative, series.total)
        return family


class Metrics(Collector):
    """The application's metrics and their registry (see the module docstring for labels)."""

    def __init__(self) -> None:
        self.http_requests = CounterFamily(
            "experience_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
        )
        self.http_duration = HistogramFamily(
            "experience_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of its body; streams not), by route.",
            ["method", "route"],
        )
        self.graphql_operations = CounterFamily(
            "experience_graphql_operations",
            "GraphQL operations run, by type, root fields and outcome (ok or error).",
            ["type", "operation", "outcome"],
        )
        self.graphql_duration = HistogramFamily(
            "experience_graphql_operation_duration_seconds",
            "Time to run a GraphQL query or mutation, by type and root fields.",
            ["type", "operation"],
        )
        self.errors = CounterFamily(
            "experience_errors",
            "Errors answered to clients, by surface (graphql, rest) and error code.",
            ["surface", "code"],
        )
        self.runtime_calls = CounterFamily(
            "experience_runtime_calls",
            "HTTP calls to the Runtime, by kind and outcome (2xx, 4xx, 5xx, timeout, error).",
            ["call", "outcome"],
        )
        self.runtime_duration = HistogramFamily(
            "experience_runtime_call_duration_seconds",
            "Time until the Runtime's answer headers arrived, by kind of call.",
            ["call"],
        )
        self.websocket_connections = 0
        self._subscribers: Callable[[], int] | None = None
        self._watchers: Callable[[], int] | None = None
        self._breaker: Callable[[], BreakerSnapshot] | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # -- recording (the hot path) ------------------------------------------------------------

    def observe_http(self, method: str, route: str, status: int, seconds: float | None) -> None:
        """Count an answered HTTP request; its duration unless `seconds` is None (a stream)."""
        self.http_requests.inc((method, route, str(status)))
        if seconds is not None:
            self.http_duration.observe((method, route), seconds)

    def observe_operation(self, kind: str, operation: str, outcome: str, seconds: float) -> None:
        """Count a GraphQL operation; its duration unless it is a subscription (which lasts as
        long as the client wants: its lifetime is not latency)."""
        self.graphql_operations.inc((kind, operation, outcome))
        if kind != "subscription":
            self.graphql_duration.observe((kind, operation), seconds)

    def observe_runtime_call(self, call: str, outcome: str, seconds: float | None) -> None:
        """Count a Runtime call; its duration when it was answered (`seconds` not None)."""
        self.runtime_calls.inc((call, outcome))
        if seconds is not None:
            self.runtime_duration.observe((call,), seconds)

    def count_error(self, surface: str, code: str) -> None:
        """Count an error answered to a client."""
        self.errors.inc((surface, code))

    # -- live state and exposition -----------------------------------------------------------

    def watch_state(
        self,
        *,
        subscribers: Callable[[], int],
        watchers: Callable[[], int],
        breaker: Callable[[], BreakerSnapshot],
    ) -> None:
        """Report live state from these readers at every scrape (set by the lifespan)."""
        self._subscribers = subscribers
        self._watchers = watchers
        self._breaker = breaker

    def collect(self) -> Iterator[Metric]:
        """Every family, for the registry (Prometheus' `Collector` protocol)."""
        for family in (
            self.http_requests,
            self.http_duration,
            self.graphql_operations,
            self.graphql_duration,
            self.errors,
            self.runtime_calls,
            self.runtime_duration,
        ):
            yield family.collect()
        yield GaugeMetricFamily(
            "experience_websocket_connections",
            "WebSocket connections open (GraphQL subscriptions and REST streams).",
            value=self.websocket_connections,
        )
        yield from self._live_state()

    def _live_state(self) -> Iterator[Metric]:
        if self._subscribers is not None:
            yield GaugeMetricFamily(
                "experience_subscriptions_active",
                "Execution subscriptions open in this process (GraphQL, SSE and WebSocket).",
                value=self._subscribers(),
            )
        if self._watchers is not None:
            yield GaugeMetricFamily(
                "experience_execution_watchers_active",
                "Executions this process is watching on the Runtime (one watcher each).",
                value=self._watchers(),
            )
        if self._breaker is not None:
            snapshot = self._breaker()
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

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return generate_latest(self.registry)


_metrics: ContextVar[Metrics | None] = ContextVar("experience_plane_metrics", default=None)


def current_metrics() -> Metrics | None:
    """The metrics of the application serving the current request, if any."""
    return _metrics.get()


def use_metrics(metrics: Metrics | None) -> Token[Metrics | None]:
    """Make `metrics` the current request's (done by `ObservabilityMiddleware`)."""
    return _metrics.set(metrics)


def reset_metrics(token: Token[Metrics | None]) -> None:
    """Restore the metrics that were current before `use_metrics` returned `token`."""
    _metrics.reset(token)


def record_error(surface: str, code: str) -> None:
    """Count an error answered to a client. Called where the answer is built, so every path
    to an error response counts once; outside of a request (a unit test) it does nothing."""
    metrics = _metrics.get()
    if metrics is not None:
        metrics.count_error(surface, code)
