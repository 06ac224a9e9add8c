"""Runtime sessions: created once per principal, lazily, failures not cached."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from experience_plane.auth import Principal
from experience_plane.runtime import RuntimeClient
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
