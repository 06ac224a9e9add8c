"""REST failures against real processes: limits, rate, keep-alives, token expiry mid-stream,
and the Runtime going away. The API here has small limits of its own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.experience_plane.rest.client import (
    EXAMPLES,
    create_mash,
    sse_events,
    status,
    upload,
    ws_messages,
    ws_url,
)
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

MAX_UPLOAD_BYTES = 2000
KEEP_ALIVE = 0.2
PHASE_DELAY = 0.4


@pytest.fixture(scope="module")
def processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RuntimeProcess, ApiProcess]]:
    data_dir = tmp_path_factory.mktemp("rest-failures") / "runtime"
    # Keep-alives inside the stale promise (0.5 s below), so that a quiet stream is not stale.
    runtime = RuntimeProcess(
        data_dir, require_session=True, env={"REFERENCE_RUNTIME_STREAM_PING_INTERVAL": "0.1"}
    )
    env = {
        "EXPERIENCE_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0.01",
        "EXPERIENCE_RATE_LIMIT_BURST": "2",
        "EXPERIENCE_TUNING__WS_KEEP_ALIVE_INTERVAL": str(KEEP_ALIVE),
        "EXPERIENCE_AUTH_LEEWAY_SECONDS": "0",
        "EXPERIENCE_RUNTIME_TIMEOUT": "2",
        "EXPERIENCE_TUNING__WS_CONNECTION_INIT_TIMEOUT": "0.5",
        "EXPERIENCE_TUNING__SUBSCRIPTION_STALE_AFTER_SECONDS": "0.5",
    }
    logs = tmp_path_factory.mktemp("rest-failures-api")
    api = ApiProcess(runtime.url, logs, auth=True, env=env)
    with started_together(runtime, api):
        runtime.set_faults(phase_delay=PHASE_DELAY)
        yield runtime, api


@pytest.fixture(scope="module")
def runtime(processes: tuple[RuntimeProcess, ApiProcess]) -> RuntimeProcess:
    return processes[0]


@pytest.fixture(scope="module")
def api(processes: tuple[RuntimeProcess, ApiProcess]) -> ApiProcess:
    return processes[1]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


async def test_an_upload_over_the_limit_is_413_typed(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    response = await http.post(
        api.url + "/v1/content/upload",
        files={"file": ("big.csv", b"a,b\n" + b"1,2\n" * MAX_UPLOAD_BYTES)},
        headers=api.headers("big"),
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "UPLOAD_TOO_LARGE"
    assert error["details"] == {"max_bytes": MAX_UPLOAD_BYTES}


async def test_the_tenants_rate_is_429_with_retry_after(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    for _ in range(2):
        accepted = await create_mash(http, api, ["file_unknown"], tenant="busy")
        assert accepted.status_code == 202, accepted.text
    refused = await create_mash(http, api, ["file_unknown"], tenant="busy")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    retry_after = int(refused.headers["retry-after"])
    assert retry_after >= 1
    assert retry_after >= error["details"]["retry_after_seconds"] > retry_after - 1
    # Uploads spend from the same budget; another tenant's is untouched.
    refused_upload = await upload(http, api, EXAMPLES / "customers.csv", tenant="busy")
    assert refused_upload.status_code == 429
    other = await create_mash(http, api, ["file_unknown"], tenant="calm")
    assert other.status_code == 202


async def test_a_websocket_that_never_authenticates_is_closed_with_4403(api: ApiProcess) -> None:
    messages, code, reason = await ws_messages(api, "exec_any")
    assert (messages, code, reason) == ([], 4403, "Forbidden: missing_token")


async def test_sse_sends_keep_alive_comments_while_nothing_changes(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    response = await upload(http, api, EXAMPLES / "customers.csv", tenant="sse")
    events = await sse_events(http, api, response.json()["id"], tenant="sse")
    assert ("comment", "keep-alive") in events
    assert events[-1][0] == "complete"


async def test_sse_ends_with_an_error_event_when_the_token_expires(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    response = await upload(http, api, EXAMPLES / "customers.csv", tenant="short")
    execution_id = response.json()["id"]
    token = api.token("short", ttl=timedelta(seconds=1))
    url = api.url + f"/v1/execution/{execution_id}/events"
    async with http.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as stream:
        assert stream.status_code == 200
        lines = [line async for line in stream.aiter_lines()]
    assert "event: error" in lines
    assert "event: complete" not in lines
    data = lines[lines.index("event: error") + 1]
    assert '"code":"UNAUTHENTICATED"' in data
    assert '"reason":"expired"' in data


async def subscribers(http: httpx.AsyncClient, api: ApiProcess) -> int:
    """How many clients follow executions right now (the API's readiness report)."""
    count: int = (await http.get(api.url + "/readyz")).json()["executions"]["subscribers"]
    return count


async def test_a_websocket_client_leaving_is_noticed_at_once(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    response = await upload(http, api, EXAMPLES / "customers.csv", tenant="leaver")
    async with connect(ws_url(api, response.json()["id"]), proxy=None) as socket:
        await socket.send(json.dumps({"type": "auth", "token": api.token("leaver")}))
        first = json.loads(await socket.recv())
        assert first["type"] == "status"
        assert first["execution"]["is_terminal"] is False
        assert await subscribers(http, api) == 1
    for _ in range(100):
        if not await subscribers(http, api):
            break
        await asyncio.sleep(0.05)
    assert await subscribers(http, api) == 0


async def test_a_stopped_runtime_is_503_typed_and_streams_say_stale(
    http: httpx.AsyncClient, api: ApiProcess, runtime: RuntimeProcess
) -> None:
    response = await upload(http, api, EXAMPLES / "policies.json", tenant="down")
    execution_id = response.json()["id"]
    url = api.url + f"/v1/execution/{execution_id}/events"
    try:
        async with http.stream("GET", url, headers=api.headers("down")) as stream:
            lines = aiter(stream.aiter_lines())
            assert [await anext(lines) for _ in range(3)] == ["retry: 1000", "", "event: status"]
            runtime.stop()
            async with asyncio.timeout(10):
                async for line in lines:
                    if line.startswith("data:") and '"stale":true' in line:
                        break
            assert '"is_terminal":false' in line
            assert await subscribers(http, api) == 1
        # The client went away: the API stops following for it.
        for _ in range(100):
            if not await subscribers(http, api):
                break
            await asyncio.sleep(0.05)
        assert await subscribers(http, api) == 0

        # An id the tracker has never seen: the read has to reach the Runtime.
        read = await status(http, api, execution_id + "x", tenant="down")
        assert read.status_code == 503, read.text
        assert read.json()["error"]["code"] == "RUNTIME_UNAVAILABLE"
        submit = await create_mash(http, api, ["file_1"], tenant="down")
        assert submit.status_code == 503, submit.text
        assert submit.json()["error"]["code"] == "RUNTIME_UNAVAILABLE"
        events = await http.get(
            api.url + f"/v1/execution/{execution_id}x/events", headers=api.headers("down")
        )
        assert events.status_code == 503
        assert events.json()["error"]["code"] == "RUNTIME_UNAVAILABLE"
    finally:
        runtime.start()
        runtime.set_faults(phase_delay=PHASE_DELAY)


async def test_open_streams_end_with_restarting_when_the_api_stops(
    http: httpx.AsyncClient,
    runtime: RuntimeProcess,
    tmp_path: Path,
) -> None:
    runtime.set_faults(phase_delay=1.5)  # still running when the API stops
    with ApiProcess(runtime.url, tmp_path / "api", auth=True) as api:
        response = await upload(http, api, EXAMPLES / "customers.csv", tenant="bye")
        execution_id = response.json()["id"]
        url = api.url + f"/v1/execution/{execution_id}/events"
        async with http.stream("GET", url, headers=api.headers("bye")) as stream:
            lines = aiter(stream.aiter_lines())
            assert [await anext(lines) for _ in range(3)] == ["retry: 1000", "", "event: status"]
            stopping = asyncio.create_task(asyncio.to_thread(api.stop))
            rest = [line async for line in lines]
            await stopping
    # A restart, not the end of the execution: no error, no terminal status; reconnect.
    assert rest.count("event: restarting") == 1, rest
    data = rest[rest.index("event: restarting") + 1]
    assert execution_id in data
    assert "event: error" not in rest
    assert '"is_terminal":true' not in "".join(rest)
