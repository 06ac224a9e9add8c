"""Runtime sessions: one per (tenant, user, client session), created once, and re-established
when the Runtime has lost them (restarted with a fresh data directory)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.client import CREATE_MASH, EXAMPLES, http_client, request, upload
from tests.e2e.transports import auth_payload, ws_session
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

SESSION_CREATES = "POST /api/session/create"
SUBMITS = "POST /api/intent/submit"


@pytest.fixture
def session_processes(tmp_path: Path) -> Iterator[tuple[RuntimeProcess, ApiProcess]]:
    """A Runtime of this test's own (it is restarted with its state wiped) and an API of its own
    (its cache of Runtime sessions starts empty), started side by side."""
    runtime = RuntimeProcess(tmp_path / "runtime", require_session=True)
    api = ApiProcess(runtime.url, tmp_path / "api-logs", auth=True)
    with started_together(runtime, api):
        yield runtime, api


@pytest.fixture
def session_runtime(session_processes: tuple[RuntimeProcess, ApiProcess]) -> RuntimeProcess:
    return session_processes[0]


@pytest.fixture
def session_api(session_processes: tuple[RuntimeProcess, ApiProcess]) -> ApiProcess:
    return session_processes[1]


async def mash(api: ApiProcess, tenant: str, session_id: str | None = None) -> None:
    """Submit a mash (of a file that does not exist: only the submit matters here)."""
    headers = {**api.headers(tenant), **({"X-Session-Id": session_id} if session_id else {})}
    async with httpx.AsyncClient(timeout=30.0) as http:
        response = await http.post(
            api.graphql_url,
            json={"query": CREATE_MASH, "variables": {"input": {"contentRefs": ["file_x"]}}},
            headers=headers,
        )
    result = response.json()["data"]["createDataMash"]
    assert result["__typename"] == "ExecutionAccepted", result


async def test_one_runtime_session_per_client_session(
    session_api: ApiProcess, session_runtime: RuntimeProcess
) -> None:
    session_runtime.reset_stats()
    for client_session in (None, "tab-a", "tab-b", "tab-a", None):
        await mash(session_api, "t1", client_session)
    await mash(session_api, "t2", "tab-a")  # same client session id, another tenant
    stats = session_runtime.stats()["requests"]
    assert stats[SESSION_CREATES] == 4  # (t1, -), (t1, tab-a), (t1, tab-b), (t2, tab-a)
    assert stats[SUBMITS] == 6


async def test_a_malformed_session_id_is_400(api: ApiProcess) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            api.graphql_url,
            json={"query": "{ __typename }"},
            headers={**api.headers(), "X-Session-Id": "x" * 200},
        )
    assert response.status_code == 400
    assert "session id" in response.json()["errors"][0]["message"]


async def test_a_session_the_runtime_lost_is_re_established_once(
    session_api: ApiProcess, session_runtime: RuntimeProcess, tmp_path: Path
) -> None:
    async with http_client(session_api, tenant="t1") as session:
        first = await upload(session, EXAMPLES / "customers.csv")
        assert first["__typename"] == "ExecutionAccepted"

        # The Runtime comes back with none of its state: the cached session is unknown to it.
        session_runtime.stop()
        session_runtime.data_dir = tmp_path / "fresh-runtime"
        session_runtime.start()

        # An upload (whose spooled file is read again) and a mash both go through.
        again = await upload(session, EXAMPLES / "customers.csv")
        assert again["__typename"] == "ExecutionAccepted", again
        mash_result = await session.execute(request(CREATE_MASH, input={"contentRefs": ["file_x"]}))
        assert mash_result["createDataMash"]["__typename"] == "ExecutionAccepted"

    stats = session_runtime.stats()["requests"]
    # One refused submit, one new session, then both submits accepted with it.
    assert stats[SESSION_CREATES] == 1
    assert stats[SUBMITS] == 3
    assert "creating a new one" in session_api.log_text()


async def test_a_websocket_names_its_client_session_in_connection_init(
    session_api: ApiProcess, session_runtime: RuntimeProcess
) -> None:
    session_runtime.reset_stats()
    mutation = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": CREATE_MASH, "variables": {"input": {"contentRefs": ["file_x"]}}},
    }
    for _ in range(2):
        payload = {**auth_payload(session_api.token("t1")), "sessionId": "ws-tab"}
        outcome = await ws_session(
            session_api, "graphql-transport-ws", payload, send=[mutation], listen=1.0
        )
        assert "ExecutionAccepted" in json.dumps(outcome.messages)
    await mash(session_api, "t1", "ws-tab")  # the same client session over HTTP
    stats = session_runtime.stats()["requests"]
    assert stats[SESSION_CREATES] == 1
    assert stats[SUBMITS] == 3
