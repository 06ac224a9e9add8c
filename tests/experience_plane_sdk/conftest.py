"""One reference Runtime and one API process for every SDK test, plus stand-in servers.

The processes are package-scoped: starting them takes about a second, and the tests only add
executions, which do not disturb each other. A small phase delay keeps executions running long
enough to be watched and to time out a short wait.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from experience_plane_sdk import SyncExperienceClient
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

EXAMPLES = Path(__file__).parents[2] / "examples"
CUSTOMERS = EXAMPLES / "customers.csv"
POLICIES = EXAMPLES / "policies.json"
PHASE_DELAY = 0.05
CUSTOMER_IDS = {line.split(",")[0] for line in CUSTOMERS.read_text().splitlines()[1:] if line}
CUSTOMER_COUNT = len(CUSTOMER_IDS)
# The customers some policy names: a mash has one record per policy unless it is a full join.
POLICY_CUSTOMER_IDS = {policy["cust_id"] for policy in json.loads(POLICIES.read_text())}


@pytest.fixture(scope="package")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """The Experience Plane API as in production (tokens verified, CSRF prevention on) in
    front of a reference Runtime."""
    root = tmp_path_factory.mktemp("sdk")
    runtime = RuntimeProcess(root / "runtime")
    process = ApiProcess(runtime.url, root / "api-logs", auth=True)
    with started_together(runtime, process):
        runtime.set_faults(phase_delay=PHASE_DELAY)
        yield process


@pytest.fixture(scope="package")
def token(api: ApiProcess) -> str:
    """A token the test API accepts, for the tenant every SDK test works in."""
    return api.token("sdk-tenant", "sdk-user")


@dataclass(frozen=True)
class Mashed:
    """The two example files uploaded and mashed, as the API reported them."""

    file_ids: tuple[str, str]
    mash_execution_id: str
    upload_execution_id: str


@pytest.fixture(scope="package")
def mashed(api: ApiProcess, token: str) -> Mashed:
    """customers.csv and policies.json uploaded and mashed once, for the read-only tests."""
    with SyncExperienceClient(api.graphql_url, token) as client:
        uploads = [client.upload_content(CUSTOMERS), client.upload_content(POLICIES)]
        done = [client.wait(execution.id, timeout=30) for execution in uploads]
        customers, policies = (execution.files[0].file_id for execution in done)
        mash = client.create_data_mash([customers, policies], name="customers and policies")
        client.wait(mash.id, timeout=30)
    return Mashed((customers, policies), mash.id, done[0].id)


@dataclass
class StandInServer:
    """A tiny real HTTP server on 127.0.0.1 that always answers `status` and records requests."""

    status: int
    body: bytes
    requests: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""


@pytest.fixture
def stand_in() -> Iterator[StandInServer]:
    """A server answering 401 with a GraphQL-style JSON body (tests may change `status`)."""
    server_state = StandInServer(
        status=401, body=json.dumps({"errors": [{"message": "No credentials"}]}).encode()
    )

    class Handler(BaseHTTPRequestHandler):
        # WebSocket clients insist on HTTP/1.1 before they look at the status.
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            self._read_body()
            server_state.requests.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(server_state.status)
            self.send_header("Content-Type", "application/json")
            for name, value in server_state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(server_state.body)))
            self.end_headers()
            self.wfile.write(server_state.body)

        do_GET = do_POST = _answer

        def _read_body(self) -> None:
            if self.headers.get("transfer-encoding", "").lower() != "chunked":
                self.rfile.read(int(self.headers.get("content-length") or 0))
                return
            # A stream of unknown length (e.g. an unseekable upload) arrives chunked.
            while size := int(self.rfile.readline().split(b";")[0], 16):
                self.rfile.read(size + 2)
            self.rfile.readline()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}/graphql"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
