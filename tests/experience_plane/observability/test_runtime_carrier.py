"""`ObservedCarrier` under the real `RuntimeClient`, over `httpx.MockTransport`: headers sent,
calls counted by kind and outcome, ids never labels."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from experience_plane.observability.metrics import Metrics
from experience_plane.observability.runtime import ObservedCarrier, runtime_call_kind
from experience_plane.observability.tracecontext import TraceContext, reset_trace, set_trace
from experience_plane.runtime import RuntimeClient
from experience_plane.runtime.errors import ExecutionNotFound, RuntimeUnavailable
from experience_plane.runtime.transport import Carrier

TRACE = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)
STATUS = {
    "execution_id": "e1",
    "status": "running",
    "intent_type": "content.upload",
    "tenant_id": "t1",
}


def observed(metrics: Metrics | None = None) -> Callable[[Carrier], Carrier]:
    """What the app passes as `RuntimeClient(instrument=...)`."""
    return lambda carrier: ObservedCarrier(carrier, metrics=metrics)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_call_kinds_are_named_from_the_contract_paths() -> None:
    assert runtime_call_kind("/api/execution/abc/status") == "status"
    assert runtime_call_kind("/api/intent/submit") == "submit"
    assert runtime_call_kind("/api/artifacts/a%2Fb") == "artifact"
    assert runtime_call_kind("/api/session/create") == "session"
    assert runtime_call_kind("/health") == "health"
    assert runtime_call_kind("/api/execution/abc/status/extra") == "other"


async def test_runtime_calls_carry_the_trace_and_are_counted() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/missing/status"):
            return httpx.Response(404, json={"detail": "not found"})
        return httpx.Response(200, json=STATUS)

    metrics = Metrics()
    token = set_trace(TRACE)
    try:
        async with RuntimeClient(
            "http://runtime", transport=httpx.MockTransport(answer), instrument=observed(metrics)
        ) as client:
            await client.get_execution("t1", "e1")
            with pytest.raises(ExecutionNotFound):
                await client.get_execution("t1", "missing")
    finally:
        reset_trace(token)
    assert [request.headers["traceparent"] for request in seen] == [TRACE.traceparent] * 2
    assert sample(metrics, "experience_runtime_calls_total", call="status", outcome="2xx") == 1
    assert sample(metrics, "experience_runtime_calls_total", call="status", outcome="4xx") == 1
    count = "experience_runtime_call_duration_seconds_count"
    assert sample(metrics, count, call="status") == 2


async def test_a_failed_connection_counts_as_an_error_with_every_retry() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    metrics = Metrics()
    async with RuntimeClient(
        "http://runtime",
        transport=httpx.MockTransport(refuse),
        instrument=observed(metrics),
        status_retries=2,
        backoff_base=0.0,
    ) as client:
        with pytest.raises(RuntimeUnavailable):
            await client.get_execution("t1", "e1")
    assert sample(metrics, "experience_runtime_calls_total", call="status", outcome="error") == 3


async def test_without_a_request_nothing_is_added() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "healthy"})

    async with RuntimeClient(
        "http://runtime", transport=httpx.MockTransport(answer), instrument=observed()
    ) as client:
        assert await client.health()
    assert "traceparent" not in seen[0].headers
    assert "x-request-id" not in seen[0].headers
