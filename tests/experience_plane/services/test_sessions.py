"""Runtime sessions: created once per principal and client session, lazily, failures not
cached; a session the Runtime lost is re-established once."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from experience_plane.auth import Principal
from experience_plane.runtime import RuntimeCaller, RuntimeClient, RuntimeRejected
from experience_plane.services import RuntimeSessions, RuntimeUnavailableError


def session_runtime(created: list[dict[str, object]], *, fail_first: int = 0) -> RuntimeClient:
    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/session/create"
        body = json.loads(request.content)
        created.append(body)
        if len(created) <= fail_first:
            return httpx.Response(503, json={"detail": "starting"})
        await asyncio.sleep(0.05)  # long enough for concurrent callers to pile up
        return httpx.Response(
            200,
            json={
                "session_id": body["session_id"],
                "tenant_id": body["tenant_id"],
                "user_id": body["user_id"],
                "created_at": "2026-01-01T00:00:00Z",
            },
        )

    return RuntimeClient(
        "http://runtime.test", transport=httpx.MockTransport(handler), status_retries=0
    )


async def test_concurrent_first_requests_share_one_session() -> None:
    created: list[dict[str, object]] = []
    async with session_runtime(created) as client:
        sessions = RuntimeSessions(client)
        alice = Principal("tenant-1", "alice")
        callers = await asyncio.gather(*(sessions.caller_for(alice) for _ in range(20)))
    assert len(created) == 1
    assert {caller.session_id for caller in callers} == {created[0]["session_id"]}
    assert {(caller.tenant_id, caller.user_id) for caller in callers} == {("tenant-1", "alice")}


async def test_each_principal_gets_its_own_session() -> None:
    created: list[dict[str, object]] = []
    async with session_runtime(created) as client:
        sessions = RuntimeSessions(client)
        first = await sessions.session_id(Principal("tenant-1", "alice"))
        second = await sessions.session_id(Principal("tenant-2", "alice"))
        again = await sessions.session_id(Principal("tenant-1", "alice"))
    assert first != second
    assert first == again
    assert [body["tenant_id"] for body in created] == ["tenant-1", "tenant-2"]


async def test_a_failed_creation_is_retried_by_the_next_request() -> None:
    created: list[dict[str, object]] = []
    async with session_runtime(created, fail_first=1) as client:
        sessions = RuntimeSessions(client)
        alice = Principal("tenant-1", "alice")
        with pytest.raises(RuntimeUnavailableError):
            await sessions.session_id(alice)
        assert await sessions.session_id(alice)
    assert len(created) == 2


async def test_each_client_session_gets_its_own_runtime_session() -> None:
    created: list[dict[str, object]] = []
    async with session_runtime(created) as client:
        sessions = RuntimeSessions(client)
        alice = Principal("tenant-1", "alice")
        shared = await sessions.session_id(alice)
        tab_a = await sessions.session_id(alice, "tab-a")
        tab_b = await sessions.session_id(alice, "tab-b")
        assert await sessions.session_id(alice, "tab-a") == tab_a
    assert len({shared, tab_a, tab_b}) == 3
    assert [body["metadata"] for body in created][1:] == [
        {"client_session_id": "tab-a"},
        {"client_session_id": "tab-b"},
    ]


def unknown_session() -> RuntimeRejected:
    return RuntimeRejected(
        "POST /api/intent/submit: 404 Session not found",
        detail="Session not found",
        status_code=404,
    )


async def test_an_unknown_session_is_re_established_and_the_submit_sent_once_more() -> None:
    created: list[dict[str, object]] = []
    async with session_runtime(created) as client:
        sessions = RuntimeSessions(client)
        alice = Principal("tenant-1", "alice")
        stale = await sessions.session_id(alice)
        seen: list[str] = []

        async def send(caller: RuntimeCaller) -> str:
            seen.append(caller.session_id)
            if len(seen) == 1:
                raise unknown_session()
            return "accepted"

        rewinds: list[bool] = []

        async def rewind() -> bool:
            rewinds.append(True)
            return True

        assert await sessions.submit(alice, None, send, rewind=rewind) == "accepted"
        fresh = await sessions.session_id(alice)
    assert seen == [stale, fresh]
    assert fresh != stale
    assert rewinds == [True]
    assert len(created) == 2


async def test_a_session_refused_twice_is_not_retried_again() -> None:
    created: list[dict[str, object]] = []
    async with session_runtime(created) as client:
        sessions = RuntimeSessions(client)
        attempts = 0

        async def send(caller: RuntimeCaller) -> str:
            nonlocal attempts
            attempts += 1
            raise unknown_session()

        with pytest.raises(RuntimeRejected):
            await sessions.submit(Principal("tenant-1", "alice"), None, send)
    assert attempts == 2


@pytest.mark.parametrize(
    "error",
    [
        RuntimeRejected("400 Unknown intent", detail="Unknown intent", status_code=400),
        RuntimeRejected("404 Not found", detail="Not Found", status_code=404),
    ],
)
async def test_other_refusals_are_not_retried(error: RuntimeRejected) -> None:
    created: list[dict[str, object]] = []
    async with session_runtime(created) as client:
        sessions = RuntimeSessions(client)
        attempts = 0

        async def send(caller: RuntimeCaller) -> str:
            nonlocal attempts
            attempts += 1
            raise error

        with pytest.raises(RuntimeRejected):
            await sessions.submit(Principal("tenant-1", "alice"), None, send)
    assert attempts == 1


async def test_a_body_that_cannot_be_read_again_is_not_resubmitted() -> None:
    created: list[dict[str, object]] = []
    async with session_runtime(created) as client:
        sessions = RuntimeSessions(client)
        attempts = 0

        async def send(caller: RuntimeCaller) -> str:
            nonlocal attempts
            attempts += 1
            raise unknown_session()

        async def cannot_rewind() -> bool:
            return False

        with pytest.raises(RuntimeRejected):
            await sessions.submit(Principal("t", "u"), None, send, rewind=cannot_rewind)
    assert attempts == 1
    assert len(created) == 1
