"""The metric families: what Prometheus reads back is what was counted."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from experience_plane.observability.metrics import Metrics, record_error, reset_metrics, use_metrics
from experience_plane.runtime.breaker import CircuitBreaker


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.render().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    metrics = Metrics()
    for seconds in (0.001, 0.0011, 0.3, 20.0):
        metrics.observe_http("GET", "/v1/x/{id}", 200, seconds)
    read = samples(metrics)

    def bucket(le: str) -> float:
        labels = frozenset({"method": "GET", "route": "/v1/x/{id}", "le": le}.items())
        return read[("experience_http_request_duration_seconds_bucket", labels)]

    assert bucket("0.001") == 1  # "less than or equal"
    assert bucket("0.0025") == 2
    assert bucket("0.25") == 2
    assert bucket("0.5") == 3
    assert bucket("10.0") == 3
    assert bucket("+Inf") == 4
    labels = frozenset({"method": "GET", "route": "/v1/x/{id}"}.items())
    assert read[("experience_http_request_duration_seconds_count", labels)] == 4
    assert abs(read[("experience_http_request_duration_seconds_sum", labels)] - 20.3021) < 1e-9
    status = frozenset({"method": "GET", "route": "/v1/x/{id}", "status": "200"}.items())
    assert read[("experience_http_requests_total", status)] == 4


def test_subscriptions_are_counted_without_a_duration() -> None:
    metrics = Metrics()
    metrics.observe_operation("subscription", "executionStatus", "ok", 120.0)
    metrics.observe_operation("query", "executionStatus", "error", 0.01)
    read = samples(metrics)
    operations = "experience_graphql_operations_total"
    subscription = {"type": "subscription", "operation": "executionStatus", "outcome": "ok"}
    assert read[(operations, frozenset(subscription.items()))] == 1
    durations = {labels for name, labels in read if name.endswith("_duration_seconds_count")}
    assert durations == {frozenset({"type": "query", "operation": "executionStatus"}.items())}


def test_errors_count_only_inside_a_request_with_metrics() -> None:
    metrics = Metrics()
    record_error("rest", "NOT_FOUND")  # no request: nothing to count into
    token = use_metrics(metrics)
    try:
        record_error("rest", "NOT_FOUND")
        record_error("rest", "NOT_FOUND")
        record_error("graphql", "RATE_LIMITED")
    finally:
        reset_metrics(token)
    read = samples(metrics)
    errors = "experience_errors_total"
    assert read[(errors, frozenset({"surface": "rest", "code": "NOT_FOUND"}.items()))] == 2
    assert read[(errors, frozenset({"surface": "graphql", "code": "RATE_LIMITED"}.items()))] == 1


def test_live_state_is_read_at_scrape_time() -> None:
    metrics = Metrics()
    assert "experience_subscriptions_active" not in metrics.render().decode()
    open_subscriptions = [3]
    breaker = CircuitBreaker(failure_threshold=1)
    metrics.watch_state(
        subscribers=lambda: open_subscriptions[0],
        watchers=lambda: 2,
        breaker=breaker.snapshot,
    )
    metrics.websocket_connections += 1
    read = samples(metrics)
    assert read[("experience_subscriptions_active", frozenset())] == 3
    assert read[("experience_execution_watchers_active", frozenset())] == 2
    assert read[("experience_websocket_connections", frozenset())] == 1
    assert read[("experience_runtime_breaker_state", frozenset({("state", "closed")}))] == 1
    open_subscriptions[0] = 0
    breaker.record_failure("down", breaker.admit())
    read = samples(metrics)
    assert read[("experience_subscriptions_active", frozenset())] == 0
    assert read[("experience_runtime_breaker_state", frozenset({("state", "open")}))] == 1
    assert read[("experience_runtime_breaker_state", frozenset({("state", "closed")}))] == 0
