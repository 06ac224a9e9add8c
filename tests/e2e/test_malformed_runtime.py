"""A Runtime that answers nonsense (an HTML error page, JSON of the wrong shape): the API turns
it into typed RUNTIME_PROTOCOL_ERROR answers and keeps serving."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.e2e.raw import STATUS, post, result, upload
from tests.support.processes import ApiProcess

ANSWERS = {
    "html": ("text/html", b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"),
    "bad-json": ("application/json", b'{"execution_id": "e1", "status": '),
    "wrong-shape": ("application/json", b'{"unexpected": ["nothing", "you", "know"]}'),
}


class NonsenseRuntime(ThreadingHTTPServer):
    """Answers every request 200 with the current `mode`'s body."""

    mode = "html"


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        assert isinstance(self.server, NonsenseRuntime)
        content_type, body = ANSWERS[self.server.mode]
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def nonsense() -> Iterator[NonsenseRuntime]:
    server = NonsenseRuntime(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def api(
    nonsense: NonsenseRuntime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    url = f"http://127.0.0.1:{nonsense.server_address[1]}"
    logs: Path = tmp_path_factory.mktemp("nonsense-api")
    with ApiProcess(url, logs, auth=True) as process:
        yield process


@pytest.mark.parametrize("mode", list(ANSWERS))
async def test_malformed_runtime_answers_are_typed_protocol_errors(
    nonsense: NonsenseRuntime, api: ApiProcess, mode: str
) -> None:
    nonsense.mode = mode
    async with httpx.AsyncClient(timeout=30) as http:
        query = await post(http, api, STATUS, id="exec_1")
        mutation = result(await upload(http, api, tenant=f"t-{mode}"), "uploadContent")
        ready = await http.get(api.url + "/readyz")
    assert query.status_code == 200
    body = query.json()
    assert body["data"] == {"executionStatus": None}
    assert body["errors"][0]["extensions"]["code"] == "RUNTIME_PROTOCOL_ERROR"
    assert mutation["code"] == "RUNTIME_PROTOCOL_ERROR"
    assert ready.status_code == 503  # its health check is nonsense too
    assert "Traceback" not in api.log_text()
