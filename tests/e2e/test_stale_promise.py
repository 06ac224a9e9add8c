"""The stale promise, however the Runtime fails, on every transport.

A private Runtime and two APIs in front of it, one following executions over the Runtime's
stream, one polling, both promising `stale: true` one second after the Runtime was last heard
from. For each way a Runtime fails (it refuses connections: stopped; it errs: every request
and stream a 503 or a 1011; it hangs: SIGSTOP; it is slow: every answer and stream message
late by twice the promise) ten subscribers follow one execution, five transports on each API:
graphql-transport-ws, legacy graphql-ws, GraphQL over SSE, REST events over SSE and over
WebSocket. Each must be told `stale: true` (with a fixed sentence for a reason) within a
generous bound of the fault, queries must say so too, and once the Runtime is back every
subscriber must reach the execution's true terminal state, fresh.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from experience_plane.executions import StaleCause
from experience_plane.services.presentation import STALE_REASONS
from tests.e2e.raw import upload
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

STALE_AFTER = 1.0
# From the fault to `stale: true`: the promise, the Runtime's keep-alive interval, and room for
# a loaded machine. Generous: what is checked is that it comes, not how fast.
STALE_WITHIN = STALE_AFTER + 6.0
FINISH_WITHIN = 40.0
PHASE_DELAY = 1.5  # long enough that no execution ends before its fault
SLOW = 2 * STALE_AFTER  # the "slow" Runtime answers this late, well within the API's timeout
API_ENV = {
    "EXPERIENCE_TUNING__SUBSCRIPTION_STALE_AFTER_SECONDS": str(STALE_AFTER),
    "EXPERIENCE_TUNING__RUNTIME_STREAM_IDLE_SECONDS": str(STALE_AFTER),
    "EXPERIENCE_RUNTIME_TIMEOUT": "5",
    "EXPERIENCE_TUNING__RUNTIME_STATUS_RETRIES": "1",
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_FAILURE_THRESHOLD": "3",
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_RESET_SECONDS": "0.3",
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_MAX_RESET_SECONDS": "0.6",
    "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0",
}
MODES = ("stream", "polling")
TRANSPORTS = ("graphql-transport-ws", "graphql-ws", "graphql-sse", "rest-sse", "rest-ws")
FIELDS = "id state error isTerminal stale staleReason staleSince"
WATCH = f"subscription ($id: ID!) {{ executionStatus(executionId: $id) {{ {FIELDS} }} }}"
QUERY = f"query ($id: ID!) {{ executionStatus(executionId: $id) {{ {FIELDS} }} }}"
RUNTIME_STATES = {"completed": "COMPLETED", "failed": "FAILED", "cancelled": "CANCELLED"}


@dataclass(frozen=True)
class Event:
    """One status a subscriber received, whatever the transport's spelling."""

    at: float
    state: str
    terminal: bool
    stale: bool
    reason: str | None


@dataclass
class Subscriber:
    """One subscription: what it received, and how it ended."""

    mode: str
    transport: str
    events: list[Event] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return f"{self.mode}/{self.transport}"

    def got(self, state: str, terminal: bool, stale: bool, reason: str | None) -> None:
        self.events.append(Event(time.monotonic(), state, terminal, stale, reason))

    def stale_after(self, moment: float) -> Event | None:
        return next((e for e in self.events if e.stale and e.at >= moment), None)


@pytest.fixture(scope="module")
def processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RuntimeProcess, dict[str, ApiProcess]]]:
    """A private Runtime (keep-alives well inside the promise) and one API per mode."""
    root = tmp_path_factory.mktemp("stale-promise")
    runtime = RuntimeProcess(
        root / "runtime", env={"REFERENCE_RUNTIME_STREAM_PING_INTERVAL": "0.2"}
    )
    apis = {
        mode: ApiProcess(
            runtime.url,
            root / f"api-{mode}",
            auth=True,
            env={**API_ENV, "EXPERIENCE_TUNING__USE_RUNTIME_STREAM": str(mode == "stream")},
        )
        for mode in MODES
    }
    with started_together(runtime, *apis.values()):
        yield runtime, apis


# -- the five transports ------------------------------------------------------------------------


async def graphql_transport_ws(api: ApiProcess, tenant: str, eid: str, sub: Subscriber) -> None:
    async with _socket(api.ws_url, "graphql-transport-ws") as socket:
        await _init(socket, api, tenant)
        payload = {"query": WATCH, "variables": {"id": eid}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == "ping":
                await socket.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                _graphql_event(sub, message["payload"])
            else:
                assert message["type"] == "complete", message
                return


async def graphql_ws(api: ApiProcess, tenant: str, eid: str, sub: Subscriber) -> None:
    async with _socket(api.ws_url, "graphql-ws") as socket:
        await _init(socket, api, tenant)
        payload = {"query": WATCH, "variables": {"id": eid}}
        await socket.send(json.dumps({"id": "1", "type": "start", "payload": payload}))
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == "data":
                _graphql_event(sub, message["payload"])
            elif message["type"] != "ka":
                assert message["type"] == "complete", message
                return


async def graphql_sse(api: ApiProcess, tenant: str, eid: str, sub: Subscriber) -> None:
    body = {"query": WATCH, "variables": {"id": eid}}
    headers = {"accept": "text/event-stream", **api.headers(tenant)}
    async for event, data in _sse("POST", api.url + "/graphql/stream", headers, json=body):
        if event == "next":
            _graphql_event(sub, json.loads(data))
        elif event == "complete":
            return


async def rest_sse(api: ApiProcess, tenant: str, eid: str, sub: Subscriber) -> None:
    url = f"{api.url}/v1/execution/{eid}/events"
    async for event, data in _sse("GET", url, api.headers(tenant)):
        if event == "status":
            _rest_event(sub, json.loads(data))
        elif event == "complete":
            return
        else:
            raise AssertionError(f"unexpected event {event}: {data}")


async def rest_ws(api: ApiProcess, tenant: str, eid: str, sub: Subscriber) -> None:
    url = f"ws://127.0.0.1:{api.port}/v1/execution/{eid}/events"
    async with connect(url, additional_headers=api.headers(tenant), proxy=None) as socket:
        async for raw in socket:  # ends when the server closes with 1000 (else raises)
            message = json.loads(raw)
            assert message["type"] == "status", message
            _rest_event(sub, message["execution"])


FOLLOW: dict[str, Callable[[ApiProcess, str, str, Subscriber], Awaitable[None]]] = {
    "graphql-transport-ws": graphql_transport_ws,
    "graphql-ws": graphql_ws,
    "graphql-sse": graphql_sse,
    "rest-sse": rest_sse,
    "rest-ws": rest_ws,
}


def _socket(url: str, protocol: str) -> Any:
    return connect(url, subprotocols=[protocol], open_timeout=10, proxy=None)  # type: ignore[list-item]


async def _init(socket: ClientConnection, api: ApiProcess, tenant: str) -> None:
    payload = {"Authorization": f"Bearer {api.token(tenant)}"}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    ack = json.loads(await socket.recv())
    assert ack["type"] == "connection_ack", ack


async def _sse(
    method: str, url: str, headers: dict[str, str], **options: Any
) -> AsyncIterator[tuple[str, str]]:
    async with (
        httpx.AsyncClient(timeout=FINISH_WITHIN) as http,
        http.stream(method, url, headers=headers, **options) as response,
    ):
        assert response.status_code == 200, await response.aread()
        event, data = "", ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data = line.removeprefix("data:").strip()
            elif not line and event:
                yield event, data
                event, data = "", ""


def _graphql_event(sub: Subscriber, payload: dict[str, Any]) -> None:
    assert "errors" not in payload, payload
    execution = payload["data"]["executionStatus"]
    sub.got(
        execution["state"], execution["isTerminal"], execution["stale"], execution["staleReason"]
    )


def _rest_event(sub: Subscriber, execution: dict[str, Any]) -> None:
    sub.got(
        execution["state"], execution["is_terminal"], execution["stale"], execution["stale_reason"]
    )


# -- the faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """How to make the Runtime fail, how to make it well again, and what clients are told."""

    start: Callable[[RuntimeProcess], None]
    end: Callable[[RuntimeProcess], None]
    cause: StaleCause

    @property
    def reason(self) -> str:
        return STALE_REASONS[self.cause]


def _signal(sig: signal.Signals) -> Callable[[RuntimeProcess], None]:
    def send(runtime: RuntimeProcess) -> None:
        assert runtime.pid is not None
        os.kill(runtime.pid, sig)

    return send


def _faults(**faults: float) -> Callable[[RuntimeProcess], None]:
    return lambda runtime: runtime.set_faults(**faults)


FAULTS = {
    # Connections refused; restarted, the Runtime fails what it was running (its truth).
    "refused": Fault(
        lambda runtime: runtime.stop(), lambda runtime: runtime.start(), StaleCause.UNAVAILABLE
    ),
    # Every request answers 503, every stream handshake too, and open streams fail (1011).
    "error": Fault(_faults(error_rate=1.0), _faults(error_rate=0.0), StaleCause.UNAVAILABLE),
    # Frozen: connections accepted, nothing answered, the stream silent.
    "hang": Fault(_signal(signal.SIGSTOP), _signal(signal.SIGCONT), StaleCause.NOT_ANSWERING),
    # Every answer and every stream message (keep-alives too) comes late.
    "slow": Fault(_faults(latency=SLOW), _faults(latency=0.0), StaleCause.NOT_ANSWERING),
}


@pytest.mark.parametrize("kind", list(FAULTS))
async def test_every_subscriber_is_told_stale_within_the_promise_then_sees_the_truth(
    processes: tuple[RuntimeProcess, dict[str, ApiProcess]], kind: str
) -> None:
    runtime, apis = processes
    fault = FAULTS[kind]
    tenant = f"stale-{kind}-{uuid.uuid4().hex[:8]}"
    runtime.set_faults(phase_delay=PHASE_DELAY, latency=0.0, error_rate=0.0)
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await upload(http, apis["stream"], tenant=tenant)
    assert answer.status_code == 200, answer.text
    execution_id = answer.json()["data"]["uploadContent"]["execution"]["id"]

    subscribers = [Subscriber(mode, transport) for mode in MODES for transport in TRANSPORTS]
    for sub in subscribers:
        follow = FOLLOW[sub.transport](apis[sub.mode], tenant, execution_id, sub)
        sub.task = asyncio.create_task(follow, name=sub.name)
    try:
        await _until(lambda: all(sub.events for sub in subscribers), 15, subscribers, "subscribed")
        assert not any(sub.events[-1].terminal for sub in subscribers), "ended before the fault"

        faulted_at = time.monotonic()
        await asyncio.to_thread(fault.start, runtime)
        try:
            await _until(
                lambda: all(sub.stale_after(faulted_at) for sub in subscribers),
                STALE_WITHIN,
                subscribers,
                f"stale within {STALE_WITHIN}s of the fault",
            )
            # Queries answered from the last status known say so too.
            async with httpx.AsyncClient(timeout=30) as http:
                for api in apis.values():
                    for execution in await _queries(http, api, tenant, execution_id):
                        assert execution["stale"] is True, (kind, execution)
                        assert execution["reason"] == fault.reason, (kind, execution)
        finally:
            await asyncio.to_thread(fault.end, runtime)

        await _until(
            lambda: all(sub.task is not None and sub.task.done() for sub in subscribers),
            FINISH_WITHIN,
            subscribers,
            "finished",
        )
    finally:
        for sub in subscribers:
            if sub.task is not None:
                sub.task.cancel()
        await asyncio.gather(*(sub.task for sub in subscribers if sub.task), return_exceptions=True)
        runtime.set_faults(phase_delay=0.0)

    truth = _truth(runtime, tenant, execution_id)
    for sub in subscribers:
        assert sub.task is not None
        assert sub.task.exception() is None, (sub.name, sub.task)
        stale = sub.stale_after(faulted_at)
        assert stale is not None, (sub.name, sub.events)
        assert stale.at - faulted_at <= STALE_WITHIN, (sub.name, sub.events)
        assert stale.reason == fault.reason, (sub.name, stale)  # plain words, per cause
        assert all(e.state not in ("FAILED", "UNKNOWN") for e in sub.events if e.stale), sub.events
        last = sub.events[-1]
        assert (last.state, last.terminal, last.stale) == (truth, True, False), (sub.name, last)
    if kind != "refused":
        assert truth == "COMPLETED"  # the fault lost nothing


async def _queries(
    http: httpx.AsyncClient, api: ApiProcess, tenant: str, execution_id: str
) -> list[dict[str, Any]]:
    """`executionStatus` and REST `GET /status`, as stale flag and reason."""
    graphql = await http.post(
        api.graphql_url,
        json={"query": QUERY, "variables": {"id": execution_id}},
        headers=api.headers(tenant),
    )
    assert graphql.status_code == 200, graphql.text
    execution = graphql.json()["data"]["executionStatus"]
    rest = await http.get(
        f"{api.url}/v1/execution/{execution_id}/status", headers=api.headers(tenant)
    )
    assert rest.status_code == 200, rest.text
    return [
        {"stale": execution["stale"], "reason": execution["staleReason"]},
        {"stale": rest.json()["stale"], "reason": rest.json()["stale_reason"]},
    ]


def _truth(runtime: RuntimeProcess, tenant: str, execution_id: str) -> str:
    """The execution's terminal state as the Runtime itself records it."""
    answer = httpx.get(
        f"{runtime.url}/api/execution/{execution_id}/status", params={"tenant_id": tenant}
    )
    assert answer.status_code == 200, answer.text
    return RUNTIME_STATES[answer.json()["status"]]


async def _until(
    condition: Callable[[], bool], within: float, subscribers: list[Subscriber], what: str
) -> None:
    deadline = time.monotonic() + within
    while not condition():
        failed = [sub for sub in subscribers if sub.task is not None and sub.task.done()]
        for sub in failed:
            if sub.task is not None and sub.task.exception() is not None:
                raise AssertionError(f"{sub.name} failed: {sub.task.exception()!r}")
        if time.monotonic() > deadline:
            seen = {sub.name: [(e.state, e.stale) for e in sub.events] for sub in subscribers}
            raise AssertionError(f"not all {what}: {seen}")
        await asyncio.sleep(0.05)
