"""OpenTelemetry spans, recorded by the SDK's in-memory exporter: a server span continuing the
caller's trace, a client span per Runtime call under it, and the Runtime told that span's id."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from experience_plane.observability.middleware import ObservabilityMiddleware
from experience_plane.observability.runtime import ObservedCarrier
from experience_plane.observability.tracing import Tracing, tracing_requested
from experience_plane.runtime import RuntimeClient

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_tracing_follows_the_setting_else_the_otlp_endpoint() -> None:
    assert tracing_requested(None, {}) is False
    assert tracing_requested(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing_requested(None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1"})
    assert (
        tracing_requested(False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}) is False
    )
    assert tracing_requested(True, {}) is True


def test_configure_builds_an_otlp_exporting_provider() -> None:
    tracing = Tracing.configure()
    try:
        assert isinstance(tracing.provider, TracerProvider)
        assert tracing.provider.resource.attributes["service.name"] == "experience-plane"
    finally:
        tracing.shutdown()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


async def test_request_and_runtime_call_spans_continue_the_callers_trace(
    exporter: InMemorySpanExporter,
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider)
    sent: list[httpx.Request] = []

    def runtime(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503, json={"detail": "down"})

    client = RuntimeClient(
        "http://runtime",
        transport=httpx.MockTransport(runtime),
        instrument=lambda carrier: ObservedCarrier(carrier, tracing=tracing),
        status_retries=0,
    )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"runtime": await client.health()})

    app = Starlette(routes=[Route("/things/{thing_id}", health)])
    wrapped = ObservabilityMiddleware(app, metrics=None, tracing=tracing)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wrapped), base_url="http://testserver"
    ) as http:
        response = await http.get(
            "/things/42", headers={"traceparent": f"00-{TRACE}-{CALLER_SPAN}-01"}
        )
    await client.aclose()
    assert response.json() == {"runtime": False}

    spans = {span.kind: span for span in exporter.get_finished_spans()}
    server, call = spans[SpanKind.SERVER], spans[SpanKind.CLIENT]
    assert server.name == "GET /things/{thing_id}"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/things/{thing_id}"
    assert server.attributes["http.response.status_code"] == 200
    assert format_trace_id(server.context.trace_id) == TRACE
    assert server.parent is not None
    assert format_span_id(server.parent.span_id) == CALLER_SPAN

    assert call.name == "Runtime health"
    assert call.parent is not None
    assert call.parent.span_id == server.context.span_id
    assert call.status.status_code is StatusCode.ERROR
    # The Runtime is told the client span is its parent.
    expected = f"00-{TRACE}-{format_span_id(call.context.span_id)}-01"
    assert sent[0].headers["traceparent"] == expected
