"""Runtime faults through the real API: typed errors within the timeouts, a circuit breaker
that `/readyz` reports, subscriptions that ride out outages and never invent a failure.

The API here is tuned for short waits (1 s Runtime timeout, one status retry, stale after 1 s,
a breaker that opens after 3 failures for 0.5 s) and polls instead of following the Runtime's
stream, so that every status read meets the injected faults.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.raw import (
    STATUS,
    events,
    messages_until_complete,
    post,
    result,
    subscribe,
    upload,
    ws_connection,
)
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

FAULT_ENV = {
    "EXPERIENCE_RUNTIME_TIMEOUT": "1",
    "EXPERIENCE_TUNING__RUNTIME_STATUS_RETRIES": "1",
    "EXPERIENCE_TUNING__SUBSCRIPTION_STALE_AFTER_SECONDS": "1",
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_FAILURE_THRESHOLD": "3",
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_RESET_SECONDS": "0.5",
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_MAX_RESET_SECONDS": "1",
    "EXPERIENCE_TUNING__POLL_INTERVAL_MAX": "0.3",
    "EXPERIENCE_TUNING__USE_RUNTIME_STREAM": "false",
    "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0",
}
NO_FAULTS = {
    "latency": 0.0,
    "status_error_rate": 0.0,
    "drop_rate": 0.0,
    "error_rate": 0.0,
    "drop_after_handling_rate": 0.0,
    "phase_delay": 0.0,
}


@pytest.fixture(scope="module")
def processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RuntimeProcess, ApiProcess]]:
    runtime = RuntimeProcess(tmp_path_factory.mktemp("faults") / "rt", require_session=True)
    api = ApiProcess(runtime.url, tmp_path_factory.mktemp("faults-api"), auth=True, env=FAULT_ENV)
    with started_together(runtime, api):
        yield runtime, api


@pytest.fixture(scope="module")
def runtime(processes: tuple[RuntimeProcess, ApiProcess]) -> RuntimeProcess:
    return processes[0]


@pytest.fixture(scope="module")
def api(processes: tuple[RuntimeProcess, ApiProcess]) -> ApiProcess:
    return processes[1]


@pytest.fixture(autouse=True)
def healthy(runtime: RuntimeProcess, api: ApiProcess) -> Iterator[None]:
    """Every test starts and ends with a running, unfaulted Runtime and a closed breaker."""
    yield
    if runtime.pid is None:
        runtime.start()
    runtime.set_faults(**NO_FAULTS)
    wait_ready(api)


def wait_ready(api: ApiProcess, timeout: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(api.url + "/readyz", timeout=5)
        if response.status_code == 200 or time.monotonic() > deadline:
            body: dict[str, object] = response.json()
            assert response.status_code == 200, body
            return body
        time.sleep(0.1)


async def timed(coro: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await coro  # type: ignore[misc]
    return response, time.monotonic() - started


def query_error_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["data"] == {"executionStatus": None} or body.get("data") is None, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_a_stopped_runtime_is_unavailable_fast_and_the_breaker_opens_then_recovers(
    runtime: RuntimeProcess, api: ApiProcess
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        warm = result(await upload(http, api), "uploadContent")  # the Runtime session exists
        assert warm["__typename"] == "ExecutionAccepted"
        runtime.stop()
        answer, took = await timed(upload(http, api, key=str(uuid.uuid4())))
        refused = result(answer, "uploadContent")
        assert refused["__typename"] == "RuntimeUnavailableError"
        assert refused["code"] == "RUNTIME_UNAVAILABLE"
        assert took < 3
        for _ in range(3):
            answer, took = await timed(post(http, api, STATUS, id="exec_unknown"))
            assert query_error_code(answer) == "RUNTIME_UNAVAILABLE"
            assert took < 3
        ready = await http.get(api.url + "/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["runtime"]["reachable"] is False
        assert body["runtime"]["breaker"]["state"] in ("open", "half_open")
        # While open, calls fail at once without touching the network.
        answer, took = await timed(post(http, api, STATUS, id="exec_unknown"))
        assert query_error_code(answer) == "RUNTIME_UNAVAILABLE"
        assert took < 0.5
        runtime.start()
    recovered = wait_ready(api)["runtime"]
    assert isinstance(recovered, dict)
    assert recovered["reachable"] is True
    assert recovered["breaker"]["state"] == "closed"
    assert recovered["breaker"]["trips"] >= 1
    async with httpx.AsyncClient(timeout=30) as http:
        back = result(await upload(http, api), "uploadContent")
    assert back["__typename"] == "ExecutionAccepted"


async def test_a_slow_runtime_times_out_with_typed_errors(
    runtime: RuntimeProcess, api: ApiProcess
) -> None:
    tenant = "slow-" + uuid.uuid4().hex[:6]
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(timeout=30) as http:
        result(await upload(http, api, tenant=tenant), "uploadContent")  # session created
        runtime.set_faults(latency=1.5)
        answer, took = await timed(post(http, api, STATUS, id="exec_unknown"))
        assert query_error_code(answer) == "RUNTIME_TIMEOUT"
        assert took < 5  # two 1 s reads and a backoff
        answer, took = await timed(upload(http, api, tenant=tenant, key=key))
        lost = result(answer, "uploadContent")
        assert took < 5
    # A submit that timed out may have started: the client is told, with the key to retry.
    assert lost["code"] == "RUNTIME_OUTCOME_UNKNOWN", lost
    assert lost["idempotencyKey"] == key
    runtime.set_faults(latency=0)
    wait_ready(api)
    async with httpx.AsyncClient(timeout=30) as http:
        retried = result(await upload(http, api, tenant=tenant, key=key), "uploadContent")
    assert retried["__typename"] == "ExecutionAccepted"


async def test_runtime_5xx_answers_are_typed_unavailable(
    runtime: RuntimeProcess, api: ApiProcess
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        result(await upload(http, api), "uploadContent")
        runtime.set_faults(error_rate=1.0)
        failed = result(await upload(http, api), "uploadContent")
        answer = await post(http, api, STATUS, id="exec_unknown")
    assert failed["__typename"] == "RuntimeUnavailableError"
    assert failed["code"] == "RUNTIME_UNAVAILABLE"
    assert query_error_code(answer) == "RUNTIME_UNAVAILABLE"


async def test_dropped_connections_are_typed_unavailable(
    runtime: RuntimeProcess, api: ApiProcess
) -> None:
    runtime.set_faults(drop_rate=1.0)
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await post(http, api, STATUS, id="exec_unknown")
    assert query_error_code(answer) == "RUNTIME_UNAVAILABLE"


async def test_a_subscription_goes_stale_across_a_restart_then_reports_the_true_status(
    runtime: RuntimeProcess, api: ApiProcess
) -> None:
    runtime.set_faults(phase_delay=1.0)
    async with httpx.AsyncClient(timeout=30) as http:
        accepted = result(await upload(http, api), "uploadContent")
    execution_id = accepted["execution"]["id"]
    async with ws_connection(api) as socket:
        await subscribe(socket, execution_id)
        first = await asyncio.wait_for(socket.recv(), 10)
        assert '"stale":false' in first.replace(" ", "")
        runtime.stop()
        collector = asyncio.create_task(messages_until_complete(socket, within=30))
        await asyncio.sleep(2.5)
        runtime.start()
        received = events(await collector)
    stale = [event for event in received if event["stale"]]
    assert stale, received
    assert all(event["state"] != "FAILED" for event in stale)
    assert stale[0]["staleReason"]
    assert stale[0]["staleSince"]
    last = received[-1]
    assert last["stale"] is False
    assert last["isTerminal"] is True
    # The Runtime itself failed the interrupted execution on restart: that is the truth, and
    # it only arrives once the Runtime answers again.
    assert last["state"] == "FAILED"
    assert last["failure"]["code"] == "RUNTIME_RESTARTED"
    assert "restarted" in last["failure"]["message"]
    assert received.index(last) > received.index(stale[0])


async def test_a_subscription_rides_out_a_flapping_runtime_without_a_false_failure(
    runtime: RuntimeProcess, api: ApiProcess
) -> None:
    runtime.set_faults(phase_delay=0.6)
    async with httpx.AsyncClient(timeout=30) as http:
        accepted = result(await upload(http, api), "uploadContent")
    execution_id = accepted["execution"]["id"]
    async with ws_connection(api) as socket:
        await subscribe(socket, execution_id)
        collector = asyncio.create_task(messages_until_complete(socket, within=60))
        for _ in range(5):
            runtime.set_faults(status_error_rate=1.0, drop_rate=0.5)
            await asyncio.sleep(0.5)
            runtime.set_faults(status_error_rate=0.0, drop_rate=0.0)
            await asyncio.sleep(0.3)
        received = events(await collector)
    states = [event["state"] for event in received]
    assert "FAILED" not in states, received
    assert received[-1]["state"] == "COMPLETED"
    assert received[-1]["stale"] is False
