"""The Runtime client's optional endpoints, list and cancel: parsing, typed outcomes, and telling
an absent endpoint from an unknown execution; against a mock, then against both real Runtimes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from experience_plane.runtime import (
    AlreadyFinished,
    CancelUnsupported,
    ExecutionNotFound,
    ExecutionState,
    ListUnsupported,
    RuntimeCaller,
    RuntimeClient,
    RuntimeRejected,
)
from experience_plane.runtime.optional import (
    ABSENT_FOR_SECONDS,
    OptionalEndpoint,
    OptionalEndpoints,
)
from tests.experience_plane.runtime.test_client_unit import Recorder, make_client
from tests.experience_plane.runtime.test_contract import client_for
from tests.support.processes import RuntimeProcess

LISTED = {
    "execution_id": "exec-2",
    "status": "completed",
    "intent_id": "intent-2",
    "intent_type": "content.upload",
    "artifacts": None,
    "events": [],
    "error": None,
    "created_at": "2025-01-31T12:00:00.123+00:00",
    "user_id": "ann",
}
ROUTE_MISS = httpx.Response(404, json={"detail": "Not Found"})
UNKNOWN = httpx.Response(404, json={"detail": "Execution not found"})


# -- against a mock ---------------------------------------------------------------------------


async def test_list_sends_its_parameters_and_parses_the_page() -> None:
    recorder = Recorder(httpx.Response(200, json={"executions": [LISTED], "next_cursor": "c2"}))
    async with make_client(recorder) as client:
        page = await client.list_executions("tenant-a", user_id="ann", limit=10, cursor="c1")
    params = recorder.requests[0].url.params
    assert recorder.requests[0].url.path == "/api/executions"
    expected = {"tenant_id": "tenant-a", "user_id": "ann", "limit": "10", "cursor": "c1"}
    assert dict(params) == expected
    (listed,) = page.executions
    assert listed.user_id == "ann"
    assert listed.status.execution_id == "exec-2"
    assert listed.status.state is ExecutionState.COMPLETED
    assert listed.status.intent_type == "content.upload"
    assert listed.status.created_at is not None
    assert page.next_cursor == "c2"


@pytest.mark.parametrize("answer", [ROUTE_MISS, httpx.Response(405, json={"detail": "x"})])
async def test_a_runtime_without_a_list_is_found_once_and_remembered(
    answer: httpx.Response,
) -> None:
    recorder = Recorder(answer)
    async with make_client(recorder) as client:
        for _ in range(3):
            with pytest.raises(ListUnsupported):
                await client.list_executions("t")
    assert len(recorder.requests) == 1


async def test_a_cursor_the_runtime_refuses_is_rejected() -> None:
    recorder = Recorder(httpx.Response(422, json={"detail": "Invalid cursor"}))
    async with make_client(recorder) as client:
        with pytest.raises(RuntimeRejected) as refused:
            await client.list_executions("t", cursor="bad")
    assert refused.value.detail == "Invalid cursor"


async def test_cancel_answers_the_status() -> None:
    cancelled = {**LISTED, "status": "cancelled", "error": "Cancelled"}
    recorder = Recorder(httpx.Response(200, json=cancelled))
    async with make_client(recorder) as client:
        status = await client.cancel_execution("tenant-a", "a/b")
    request = recorder.requests[0]
    assert (request.method, request.url.raw_path.split(b"?")[0]) == (
        "POST",
        b"/api/execution/a%2Fb/cancel",
    )
    assert request.url.params["tenant_id"] == "tenant-a"
    assert status.state is ExecutionState.CANCELLED


async def test_an_unknown_execution_is_not_an_absent_endpoint() -> None:
    recorder = Recorder(UNKNOWN, httpx.Response(200, json={**LISTED, "status": "cancelled"}))
    async with make_client(recorder) as client:
        with pytest.raises(ExecutionNotFound):
            await client.cancel_execution("t", "missing")
        status = await client.cancel_execution("t", "exec-2")
    assert status.state is ExecutionState.CANCELLED


@pytest.mark.parametrize(
    "answer",
    [ROUTE_MISS, httpx.Response(405, json={"detail": "Method Not Allowed"}), httpx.Response(404)],
)
async def test_an_absent_cancel_endpoint_is_unsupported_and_remembered(
    answer: httpx.Response,
) -> None:
    recorder = Recorder(answer)
    async with make_client(recorder) as client:
        for execution_id in ("exec-1", "exec-2"):
            with pytest.raises(CancelUnsupported):
                await client.cancel_execution("t", execution_id)
    assert len(recorder.requests) == 1


async def test_a_finished_execution_is_already_finished_and_cancel_is_never_retried() -> None:
    recorder = Recorder(httpx.Response(409, json={"detail": "Execution already finished: failed"}))
    async with make_client(recorder) as client:
        with pytest.raises(AlreadyFinished) as finished:
            await client.cancel_execution("t", "exec-1")
    assert finished.value.detail == "Execution already finished: failed"
    assert len(recorder.requests) == 1


def test_an_absent_endpoint_is_asked_again_after_a_while() -> None:
    now = [0.0]
    endpoints = OptionalEndpoints(clock=lambda: now[0])
    endpoints.absent(OptionalEndpoint.CANCEL)
    assert endpoints.known_absent(OptionalEndpoint.CANCEL)
    assert not endpoints.known_absent(OptionalEndpoint.LIST)
    now[0] = ABSENT_FOR_SECONDS
    assert not endpoints.known_absent(OptionalEndpoint.CANCEL)


# -- against the reference Runtime --------------------------------------------------------------


def _caller(tenant: str, user: str) -> RuntimeCaller:
    return RuntimeCaller(tenant_id=tenant, user_id=user, session_id="session-1")


async def _upload(client: RuntimeClient, caller: RuntimeCaller, name: str) -> str:
    submitted = await client.upload_content(
        caller, filename=name, mime_type="text/csv", content=b"a\n1\n"
    )
    assert submitted.execution_id is not None
    return submitted.execution_id


async def _finished(client: RuntimeClient, tenant: str, execution_id: str) -> None:
    for _ in range(1000):
        if (await client.get_execution(tenant, execution_id)).state.is_terminal:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{execution_id} did not finish")


async def test_list_and_cancel_against_the_reference_runtime(runtime: RuntimeProcess) -> None:
    tenant = f"tenant-{time.monotonic_ns()}"
    async with client_for(runtime) as client:
        ids = [await _upload(client, _caller(tenant, "ann"), f"f{i}.csv") for i in range(3)]
        await _upload(client, _caller(tenant, "bob"), "bob.csv")
        first = await client.list_executions(tenant, user_id="ann", limit=2)
        assert [e.status.execution_id for e in first.executions] == ids[::-1][:2]
        assert {e.user_id for e in first.executions} == {"ann"}
        rest = await client.list_executions(tenant, user_id="ann", cursor=first.next_cursor)
        assert [e.status.execution_id for e in rest.executions] == [ids[0]]
        assert rest.next_cursor is None
        everyone = await client.list_executions(tenant)
        assert len(everyone.executions) == 4
        with pytest.raises(RuntimeRejected):
            await client.list_executions(tenant, cursor="garbage")

        with pytest.raises(ExecutionNotFound):
            await client.cancel_execution(tenant, "exec_missing")
        with pytest.raises(ExecutionNotFound):
            await client.cancel_execution("intruder", ids[0])
        await _finished(client, tenant, ids[0])
        with pytest.raises(AlreadyFinished):
            await client.cancel_execution(tenant, ids[0])

        runtime.set_faults(phase_delay=5.0)
        slow = await _upload(client, _caller(tenant, "ann"), "slow.csv")
        status = await client.cancel_execution(tenant, slow)
        assert status.state is ExecutionState.CANCELLED
        assert (await client.get_execution(tenant, slow)).state is ExecutionState.CANCELLED


async def test_the_platform_runtime_has_neither(platform_runtime: RuntimeProcess) -> None:
    async with client_for(platform_runtime) as client:
        submitted = await _upload(client, _caller("tenant-p", "ann"), "a.csv")
        with pytest.raises(ListUnsupported):
            await client.list_executions("tenant-p")
        # An existing execution and an unknown one alike: the endpoint is not there.
        for execution_id in (submitted, "exec_missing"):
            with pytest.raises(CancelUnsupported):
                await client.cancel_execution("tenant-p", execution_id)
    stats: dict[str, Any] = platform_runtime.stats()
    assert stats["requests"]["GET /api/executions"] == 1
    assert sum(n for route, n in stats["requests"].items() if route.endswith("/cancel")) == 1
