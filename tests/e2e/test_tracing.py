"""OpenTelemetry against real processes: the API exports its spans over OTLP/HTTP to a
collector (a loopback HTTP server here that decodes what it receives), one trace from the caller
through the API to the Runtime."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.raw import STATUS, post, result, upload
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


class Collector(ThreadingHTTPServer):
    """Keeps every span posted to `/v1/traces`, as (trace id, span id, parent id, name)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[tuple[str, str, str, str]] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        assert isinstance(self.server, Collector)
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            with self.server.lock:
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            self.server.spans.append(
                                (
                                    span.trace_id.hex(),
                                    span.span_id.hex(),
                                    span.parent_span_id.hex(),
                                    span.name,
                                )
                            )
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def processes(
    collector: Collector, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RuntimeProcess, ApiProcess]]:
    runtime = RuntimeProcess(tmp_path_factory.mktemp("tracing") / "runtime")
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": "experience-plane-under-test",
        # Export within a tenth of a second instead of five.
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    logs: Path = tmp_path_factory.mktemp("tracing-api")
    api = ApiProcess(runtime.url, logs, auth=True, env=env)
    with started_together(runtime, api):
        yield runtime, api


@pytest.fixture(scope="module")
def runtime(processes: tuple[RuntimeProcess, ApiProcess]) -> RuntimeProcess:
    return processes[0]


@pytest.fixture(scope="module")
def api(processes: tuple[RuntimeProcess, ApiProcess]) -> ApiProcess:
    return processes[1]


def spans_of(collector: Collector, trace_id: str, names: set[str]) -> list[tuple[str, ...]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with collector.lock:
            found = [span for span in collector.spans if span[0] == trace_id]
        if names <= {span[3] for span in found}:
            return found
        time.sleep(0.1)
    raise AssertionError(f"spans of {trace_id} not exported: {collector.spans}")


async def test_one_trace_from_the_caller_through_the_api_to_the_runtime(
    api: ApiProcess, runtime: RuntimeProcess, collector: Collector
) -> None:
    headers = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}
    async with httpx.AsyncClient(timeout=30) as http:
        accepted = result(await upload(http, api), "uploadContent")
        execution_id = accepted["execution"]["id"]
        answer = await post(http, api, STATUS, headers=headers, id=execution_id)
    assert answer.status_code == 200

    spans = spans_of(collector, TRACE_ID, {"POST /graphql", "Runtime status"})
    (server,) = [span for span in spans if span[3] == "POST /graphql"]
    (call,) = [span for span in spans if span[3] == "Runtime status"]
    assert server[2] == CALLER_SPAN  # the request span continues the caller's
    assert call[2] == server[1]  # the Runtime call is a child of the request
    (seen,) = [
        entry for entry in runtime.recent_headers() if TRACE_ID in (entry["traceparent"] or "")
    ]
    # The Runtime is told the call's span is its parent.
    assert seen["traceparent"] == f"00-{TRACE_ID}-{call[1]}-01"
