"""`ObservabilityMiddleware` over a small Starlette app: route templates, statuses, streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from experience_plane.observability.metrics import Metrics
from experience_plane.observability.middleware import ObservabilityMiddleware
from experience_plane.observability.tracecontext import current_trace


async def thing(request: Request) -> Response:
    trace = current_trace()
    assert trace is not None
    return PlainTextResponse(trace.trace_id)


async def events(request: Request) -> Response:
    async def stream() -> AsyncIterator[bytes]:
        yield b"event: status\ndata: {}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


async def broken(request: Request) -> Response:
    raise ValueError("a bug")


async def test_requests_are_counted_by_template_and_streams_have_no_duration() -> None:
    metrics = Metrics()
    app = Starlette(
        routes=[
            Route("/things/{thing_id}", thing),
            Route("/things/{thing_id}/events", events),
            Route("/broken", broken),
        ]
    )
    transport = httpx.ASGITransport(
        app=ObservabilityMiddleware(app, metrics=metrics, tracing=None),
        raise_app_exceptions=False,
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        first = await http.get("/things/1")
        second = await http.get("/things/2")
        continued = await http.get(
            "/things/3",
            headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        )
        assert (await http.get("/things/1/events")).status_code == 200
        assert (await http.get("/nothing/here")).status_code == 404
        assert (await http.get("/broken")).status_code == 500

    # Each request its own trace, unless the caller sent one.
    assert first.text != second.text
    assert continued.text == "4bf92f3577b34da6a3ce929d0e0e4736"

    def value(name: str, **labels: str) -> float:
        return metrics.registry.get_sample_value(name, labels) or 0.0

    requests = "experience_http_requests_total"
    assert value(requests, method="GET", route="/things/{thing_id}", status="200") == 3
    assert value(requests, method="GET", route="/things/{thing_id}/events", status="200") == 1
    assert value(requests, method="GET", route="unmatched", status="404") == 1
    assert value(requests, method="GET", route="/broken", status="500") == 1
    durations = "experience_http_request_duration_seconds_count"
    assert value(durations, method="GET", route="/things/{thing_id}") == 3
    assert value(durations, method="GET", route="/things/{thing_id}/events") == 0
