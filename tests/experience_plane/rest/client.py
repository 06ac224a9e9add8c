"""Driving the REST surface as a client would: httpx for HTTP and SSE, `websockets` for the
WebSocket; shared by the end-to-end tests (`tests/e2e/test_rest*.py`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.processes import ApiProcess

EXAMPLES = Path(__file__).parents[3] / "examples"
STATE_ORDER = ["PENDING", "RUNNING", "COMPLETED"]


async def upload(
    http: httpx.AsyncClient, api: ApiProcess, path: Path, *, tenant: str = "t1", **headers: str
) -> httpx.Response:
    """POST the file as the multipart `file` part."""
    with path.open("rb") as handle:
        return await http.post(
            api.url + "/v1/content/upload",
            files={"file": (path.name, handle)},
            headers={**api.headers(tenant), **headers},
        )


async def create_mash(
    http: httpx.AsyncClient,
    api: ApiProcess,
    refs: list[str],
    *,
    tenant: str = "t1",
    headers: dict[str, str] | None = None,
    **options: Any,
) -> httpx.Response:
    """POST a data mash request over `refs`."""
    return await http.post(
        api.url + "/v1/content/data-mash/create",
        json={"content_refs": refs, **options},
        headers={**api.headers(tenant), **(headers or {})},
    )


async def status(
    http: httpx.AsyncClient, api: ApiProcess, execution_id: str, *, tenant: str = "t1"
) -> httpx.Response:
    """GET the execution's status."""
    return await http.get(
        api.url + f"/v1/execution/{execution_id}/status", headers=api.headers(tenant)
    )


async def sse_events(
    http: httpx.AsyncClient, api: ApiProcess, execution_id: str, *, tenant: str = "t1"
) -> list[tuple[str, Any]]:
    """Every (event, data) of the SSE stream, until the server ends it; comments included as
    ("comment", text)."""
    events: list[tuple[str, Any]] = []
    url = api.url + f"/v1/execution/{execution_id}/events"
    async with http.stream("GET", url, headers=api.headers(tenant)) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        event: str | None = None
        async for line in response.aiter_lines():
            if line.startswith(":"):
                events.append(("comment", line[1:].strip()))
            elif line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event is not None:
                events.append((event, json.loads(line.removeprefix("data:"))))
                event = None
    return events


async def follow_sse(
    http: httpx.AsyncClient, api: ApiProcess, execution_id: str, *, tenant: str = "t1"
) -> dict[str, Any]:
    """Follow the execution over SSE to its end; the final execution."""
    events = [
        data
        for event, data in await sse_events(http, api, execution_id, tenant=tenant)
        if event == "status"
    ]
    final: dict[str, Any] = events[-1]
    return final


def ws_url(api: ApiProcess, execution_id: str) -> str:
    """The WebSocket URL of the execution's events."""
    return f"ws://127.0.0.1:{api.port}/v1/execution/{execution_id}/events"


async def ws_messages(
    api: ApiProcess,
    execution_id: str,
    *,
    headers: dict[str, str] | None = None,
    first: object = None,
    origin: str | None = None,
) -> tuple[list[dict[str, Any]], int | None, str]:
    """Every message of the WebSocket until the server closes it, and the close code and
    reason. `first` (a JSON value) is sent right after connecting, e.g. the auth message."""
    messages: list[dict[str, Any]] = []
    async with connect(
        ws_url(api, execution_id),
        additional_headers=headers,
        origin=origin,  # type: ignore[arg-type]
        open_timeout=10,
        proxy=None,
    ) as socket:
        if first is not None:
            await socket.send(json.dumps(first))
        try:
            while True:
                messages.append(json.loads(await socket.recv()))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            reason = closed.rcvd.reason if closed.rcvd else ""
            return messages, code, reason
