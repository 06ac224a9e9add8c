"""Lifecycle through real processes: SIGTERM drains (in-flight requests finish, subscriptions of
unfinished executions end as a restart, never with `complete`: WebSockets close 1012, SSE ends
without `complete` after a `retry:` hint, REST events send `event: restarting`; the process
exits 0 in its grace period), and a thousand subscribe/leave cycles leave no watcher, subscriber
or memory behind."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.client import sse_events
from tests.e2e.raw import WATCH, result, subscribe, upload, ws_connection
from tests.support.processes import ApiProcess, RuntimeProcess

GRACE_SECONDS = 8


async def until_closed(socket: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """Messages received until the server closes the socket, and its close code."""
    received: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(GRACE_SECONDS + 5):
            while True:
                received.append(json.loads(await socket.recv()))
    except ConnectionClosed as closed:
        return received, closed.rcvd.code if closed.rcvd is not None else None
    return received, None


async def sse_until_end(api: ApiProcess, execution_id: str) -> list[str]:
    return [event async for event, _ in sse_events(api, WATCH, {"id": execution_id})]


async def raw_lines_until_end(
    api: ApiProcess, path: str, started: asyncio.Event, **request: Any
) -> list[str]:
    """Every line of an event stream until the server ends it; `started` is set once the
    first event (not the `retry:` hint) has arrived."""
    lines: list[str] = []
    async with (
        httpx.AsyncClient(timeout=30.0) as http,
        http.stream(
            request.pop("method", "GET"),
            api.url + path,
            headers={"accept": "text/event-stream", **api.headers()},
            **request,
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            lines.append(line)
            if line.startswith("event:"):
                started.set()
    return lines


async def legacy_until_closed(api: ApiProcess, execution_id: str, started: asyncio.Event) -> Any:
    """A legacy graphql-ws subscriber: its messages and the close code."""
    async with connect(api.ws_url, subprotocols=["graphql-ws"], open_timeout=10) as socket:
        payload = {"Authorization": f"Bearer {api.token()}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        start = {"query": WATCH, "variables": {"id": execution_id}}
        await socket.send(json.dumps({"id": "1", "type": "start", "payload": start}))
        received: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(GRACE_SECONDS + 5):
                while True:
                    message = json.loads(await socket.recv())
                    received.append(message)
                    if message["type"] == "data":
                        started.set()
        except ConnectionClosed as closed:
            return received, closed.rcvd
    return received, None


async def rest_ws_until_closed(api: ApiProcess, execution_id: str, started: asyncio.Event) -> Any:
    """A REST events WebSocket: its messages and the close frame."""
    url = api.ws_url.replace("/graphql", f"/v1/execution/{execution_id}/events")
    async with connect(url, additional_headers=api.headers(), open_timeout=10) as socket:
        received: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(GRACE_SECONDS + 5):
                while True:
                    received.append(json.loads(await socket.recv()))
                    started.set()
        except ConnectionClosed as closed:
            return received, closed.rcvd
    return received, None


async def test_sigterm_finishes_in_flight_requests_and_ends_subscriptions_as_a_restart(
    tmp_path: Path,
) -> None:
    env = {
        "EXPERIENCE_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0",
    }
    with RuntimeProcess(tmp_path / "rt", require_session=True) as runtime:
        runtime.set_faults(phase_delay=5.0)  # the execution runs well past the shutdown
        api = ApiProcess(runtime.url, tmp_path / "api", auth=True, env=env)
        api.start()
        try:
            async with AsyncExitStack() as stack, httpx.AsyncClient(timeout=30) as http:
                accepted = result(await upload(http, api), "uploadContent")
                execution_id = accepted["execution"]["executionId"]
                sockets = [await stack.enter_async_context(ws_connection(api)) for _ in range(3)]
                for socket in sockets:
                    await subscribe(socket, execution_id)
                    first = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    assert first["type"] == "next"
                closers = [asyncio.create_task(until_closed(socket)) for socket in sockets]
                started = [asyncio.Event() for _ in range(4)]
                body = {"query": WATCH, "variables": {"id": execution_id}}
                graphql_sse = asyncio.create_task(
                    raw_lines_until_end(
                        api, "/graphql/stream", started[0], method="POST", json=body
                    )
                )
                rest_sse = asyncio.create_task(
                    raw_lines_until_end(api, f"/v1/execution/{execution_id}/events", started[1])
                )
                legacy = asyncio.create_task(legacy_until_closed(api, execution_id, started[2]))
                rest_ws = asyncio.create_task(rest_ws_until_closed(api, execution_id, started[3]))
                await asyncio.wait_for(asyncio.gather(*(event.wait() for event in started)), 10)
                runtime.set_faults(latency=1.5)  # the next upload is in flight at SIGTERM
                in_flight = asyncio.create_task(upload(http, api, key=str(uuid.uuid4())))
                await asyncio.sleep(0.5)
                started_at = time.monotonic()
                code = await asyncio.to_thread(api.stop, signal.SIGTERM, GRACE_SECONDS + 5)
                took = time.monotonic() - started_at
                finished = result(await in_flight, "uploadContent")
                closed = await asyncio.gather(*closers)
                graphql_lines, rest_lines = await asyncio.wait_for(
                    asyncio.gather(graphql_sse, rest_sse), 5
                )
                legacy_seen, legacy_close = await asyncio.wait_for(legacy, 5)
                rest_ws_seen, rest_ws_close = await asyncio.wait_for(rest_ws, 5)
        finally:
            api.stop(signal.SIGKILL)
    assert code == 0, api.log_text()
    assert took < GRACE_SECONDS, took
    assert finished["__typename"] == "ExecutionAccepted"
    for messages, close_code in closed:
        # The execution is still running: no `complete`, a restart the client reconnects after.
        assert all(message["type"] != "complete" for message in messages), messages
        assert close_code == 1012, close_code
    assert legacy_close is not None
    assert legacy_close.code == 1012, legacy_close
    assert "reconnect" in legacy_close.reason
    assert all(message["type"] != "complete" for message in legacy_seen), legacy_seen
    # SSE: a `retry:` hint first, events, and an end without `complete`.
    assert graphql_lines[0].startswith("retry:"), graphql_lines
    assert "event: next" in graphql_lines
    assert "event: complete" not in graphql_lines, graphql_lines
    assert rest_lines[0].startswith("retry:"), rest_lines
    assert "event: status" in rest_lines
    assert "event: complete" not in rest_lines, rest_lines
    assert [line for line in rest_lines if line.startswith("event:")][-1] == "event: restarting"
    assert rest_ws_close is not None
    assert rest_ws_close.code == 1012, rest_ws_close
    assert rest_ws_seen[0]["type"] == "status"
    log = api.log_text()
    assert "timeout graceful shutdown exceeded" not in log
    assert "Task was destroyed" not in log
    assert "Traceback" not in log


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_thousand_subscribe_and_leave_cycles_leave_nothing_behind(
    api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    """Every way a subscription ends: the client disconnects, sends `complete`, or asks for
    an unknown execution (an error). Watchers and subscribers go back to zero, memory stays
    flat."""
    e2e_runtime.set_faults(phase_delay=10.0)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            accepted = result(await upload(http, api), "uploadContent")
        running = accepted["execution"]["id"]

        async def cycle(n: int) -> None:
            async with ws_connection(api) as socket:
                if n % 3 == 2:
                    await subscribe(socket, "exec_" + uuid.uuid4().hex)
                    message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    # Strawberry sends an error raised inside a subscription as a `next` with
                    # errors, then `complete`.
                    assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
                    return
                await subscribe(socket, running)
                message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                assert message["type"] == "next", message
                if n % 3 == 1:
                    await socket.send(json.dumps({"id": "1", "type": "complete"}))
                # n % 3 == 0: just go away (the context manager closes the socket)

        async def cycles(start: int, count: int, workers: int = 20) -> None:
            queue = list(range(start, start + count))

            async def worker() -> None:
                while queue:
                    await cycle(queue.pop())

            await asyncio.gather(*(worker() for _ in range(workers)))

        assert api.pid is not None
        await cycles(0, 100)  # warm up: caches, pools and allocator arenas reach their size
        rss_before = rss_kib(api.pid)
        await cycles(100, 1000)
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient(timeout=30) as http:
            ready = (await http.get(api.url + "/readyz")).json()
        rss_after = rss_kib(api.pid)
    finally:
        e2e_runtime.set_faults(phase_delay=0.2)
    assert ready["executions"] == {"watchers": 0, "subscribers": 0}
    assert rss_after - rss_before < 20 * 1024, (rss_before, rss_after)
