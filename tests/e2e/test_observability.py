"""Operations against real processes: Prometheus metrics after real traffic, JSON log lines
carrying request ids, and the trace context and request id reaching the Runtime."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from tests.e2e.raw import (
    STATUS,
    messages_until_complete,
    post,
    result,
    subscribe,
    upload,
    ws_connection,
)
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

STATUS_ROUTE = "/v1/execution/{execution_id}/status"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RuntimeProcess, ApiProcess]]:
    """A Runtime of this module's own (its recent headers are this module's requests only) and
    the API in production mode (JSON logs and metrics are its defaults), logging at debug level
    so that the Runtime client's lines show; started side by side."""
    runtime = RuntimeProcess(tmp_path_factory.mktemp("observability") / "runtime")
    log_dir = tmp_path_factory.mktemp("observability-api")
    env = {"EXPERIENCE_LOG_LEVEL": "debug"}
    api = ApiProcess(runtime.url, log_dir, auth=True, env=env)
    with started_together(runtime, api):
        runtime.set_faults(phase_delay=0.3)
        yield runtime, api


@pytest.fixture(scope="module")
def runtime(processes: tuple[RuntimeProcess, ApiProcess]) -> RuntimeProcess:
    return processes[0]


@pytest.fixture(scope="module")
def api(processes: tuple[RuntimeProcess, ApiProcess]) -> ApiProcess:
    return processes[1]


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(api: ApiProcess) -> tuple[Samples, str]:
    """`/metrics` as {(sample name, labels): value}, and as text."""
    async with httpx.AsyncClient() as http:
        response = await http.get(api.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, response.text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def uploaded_execution(http: httpx.AsyncClient, api: ApiProcess) -> str:
    accepted = result(await upload(http, api), "uploadContent")
    assert accepted["__typename"] == "ExecutionAccepted", accepted
    execution_id: str = accepted["execution"]["executionId"]
    return execution_id


async def test_metrics_count_graphql_and_rest_traffic_by_bounded_labels(api: ApiProcess) -> None:
    async with httpx.AsyncClient(timeout=30.0) as http:
        execution_id = await uploaded_execution(http, api)
        assert (await post(http, api, STATUS, id=execution_id)).status_code == 200
        unparsable = await post(http, api, "query { executionStatus(")
        assert unparsable.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
        found = await http.get(
            api.url + f"/v1/execution/{execution_id}/status", headers=api.headers()
        )
        assert found.status_code == 200
        missing_id = f"missing-{uuid.uuid4().hex}"
        missing = await http.get(
            api.url + f"/v1/execution/{missing_id}/status", headers=api.headers()
        )
        assert missing.status_code == 404
        not_found_code = missing.json()["error"]["code"]
        unrouted = await http.get(api.url + f"/no/such/{missing_id}")
        assert unrouted.status_code == 404

    samples, text = await scrape(api)
    http_requests = "experience_http_requests_total"
    assert value(samples, http_requests, method="GET", route=STATUS_ROUTE, status="200") >= 1
    assert value(samples, http_requests, method="GET", route=STATUS_ROUTE, status="404") >= 1
    assert value(samples, http_requests, method="POST", route="/graphql", status="200") >= 2
    assert value(samples, http_requests, method="GET", route="unmatched", status="404") >= 1
    duration_count = "experience_http_request_duration_seconds_count"
    assert value(samples, duration_count, method="GET", route=STATUS_ROUTE) >= 2

    operations = "experience_graphql_operations_total"
    assert value(samples, operations, type="mutation", operation="uploadContent", outcome="ok") >= 1
    assert value(samples, operations, type="query", operation="executionStatus", outcome="ok") >= 1
    assert value(samples, operations, type="unknown", operation="invalid", outcome="error") >= 1

    errors = "experience_errors_total"
    assert value(samples, errors, surface="rest", code=not_found_code) >= 1
    assert value(samples, errors, surface="graphql", code="GRAPHQL_PARSE_FAILED") >= 1

    calls = "experience_runtime_calls_total"
    assert value(samples, calls, call="submit", outcome="2xx") >= 1
    assert value(samples, calls, call="status", outcome="2xx") >= 1
    assert value(samples, calls, call="status", outcome="4xx") >= 1
    assert value(samples, "experience_runtime_call_duration_seconds_count", call="submit") >= 1

    assert value(samples, "experience_runtime_breaker_state", state="closed") == 1
    assert value(samples, "experience_runtime_breaker_state", state="open") == 0
    # No id, path or client-chosen name ever becomes a label value.
    assert execution_id not in text
    assert missing_id not in text


async def test_metrics_show_open_subscriptions_and_watchers(api: ApiProcess) -> None:
    async with httpx.AsyncClient(timeout=30.0) as http:
        execution_id = await uploaded_execution(http, api)
    async with ws_connection(api) as socket:
        await subscribe(socket, execution_id)
        first = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert first["type"] == "next", first
        samples, _ = await scrape(api)
        assert value(samples, "experience_subscriptions_active") >= 1
        assert value(samples, "experience_execution_watchers_active") >= 1
        assert value(samples, "experience_websocket_connections") >= 1
        await messages_until_complete(socket)
    operations = "experience_graphql_operations_total"
    samples, _ = await scrape(api)
    assert (
        value(samples, operations, type="subscription", operation="executionStatus", outcome="ok")
        >= 1
    )


async def test_the_runtime_receives_the_callers_trace_and_request_id(
    api: ApiProcess, runtime: RuntimeProcess
) -> None:
    request_id = f"trace-test-{uuid.uuid4().hex[:8]}"
    headers = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01", "X-Request-Id": request_id}
    async with httpx.AsyncClient(timeout=30.0) as http:
        execution_id = await uploaded_execution(http, api)
        answer = await post(http, api, STATUS, headers=headers, id=execution_id)
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == request_id

    seen = [entry for entry in runtime.recent_headers() if entry["x_request_id"] == request_id]
    assert [entry["route"] for entry in seen] == ["GET /api/execution/{execution_id}/status"]
    traceparent = seen[0]["traceparent"]
    assert traceparent is not None
    version, trace_id, parent_span, flags = traceparent.split("-")
    # The same trace, continued: the Runtime's parent is the API's span, not the caller's.
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert re.fullmatch(r"[0-9a-f]{16}", parent_span)
    assert parent_span not in (CALLER_SPAN, "0" * 16)


async def test_a_request_without_trace_context_starts_a_trace(
    api: ApiProcess, runtime: RuntimeProcess
) -> None:
    async with httpx.AsyncClient(timeout=30.0) as http:
        answer = await upload(http, api, headers={"traceparent": "not-a-traceparent"})
    accepted = result(answer, "uploadContent")
    assert accepted["__typename"] == "ExecutionAccepted"
    request_id = answer.headers["x-request-id"]
    (submit,) = [entry for entry in runtime.recent_headers() if entry["x_request_id"] == request_id]
    assert submit["route"] == "POST /api/intent/submit"
    assert submit["traceparent"] is not None
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", submit["traceparent"])
    assert TRACE_ID not in submit["traceparent"]


async def test_the_runtime_stream_is_opened_with_the_subscribers_trace(
    api: ApiProcess, runtime: RuntimeProcess
) -> None:
    async with httpx.AsyncClient(timeout=30.0) as http:
        execution_id = await uploaded_execution(http, api)
    handshake = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}
    async with connect(
        api.ws_url,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers=handshake,
        open_timeout=10,
    ) as socket:
        payload = {"Authorization": f"Bearer {api.token()}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        await subscribe(socket, execution_id)
        await messages_until_complete(socket)
    streams = [
        entry
        for entry in runtime.recent_headers()
        if entry["route"] == "WS /api/execution/{execution_id}/stream"
        and TRACE_ID in (entry["traceparent"] or "")
    ]
    assert streams, runtime.recent_headers()
    assert streams[0]["x_request_id"]


def test_log_lines_are_json_and_carry_the_request_id(api: ApiProcess) -> None:
    request_id = f"log-test-{uuid.uuid4().hex[:8]}"
    response = httpx.get(
        api.url + "/v1/execution/nope/status",
        headers={
            **api.headers(),
            "X-Request-Id": request_id,
            "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
        },
    )
    assert response.status_code == 404
    lines = [line for line in api.log_text().splitlines() if line.strip()]
    entries: list[dict[str, Any]] = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    about = [entry for entry in entries if "/execution/nope/status" in entry["message"]]
    # uvicorn's access line, and the Runtime client's line (debug level here) logged during it.
    runtime_calls = "experience_plane.observability.runtime"
    assert {entry["logger"] for entry in about} == {"uvicorn.access", runtime_calls}
    assert all(entry["request_id"] == request_id for entry in about)
    assert all(entry["trace_id"] == TRACE_ID for entry in about)
    startup = [entry for entry in entries if "Application startup complete" in entry["message"]]
    assert startup
    assert "request_id" not in startup[0]
