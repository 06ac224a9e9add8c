"""The ceiling on open streams per tenant (`EXPERIENCE_MAX_STREAMS_PER_TENANT`), through real
processes: two API replicas sharing one real Redis, in front of a Runtime whose executions run
for minutes (so every stream stays open until the test closes it).

Past the ceiling each transport refuses the next stream with `TOO_MANY_SUBSCRIPTIONS` in its own
shape (graphql-transport-ws and graphql-ws an `error` message, GraphQL SSE a `next` carrying the
error, REST SSE an `event: error`, the REST WebSocket an error message and close 1013); another
tenant is not affected; closing a stream frees its place; the transports share one count; and
the count is the cluster's, whichever replica a stream is open on. (A socket that sends half a
request line is closed within seconds: `test_socket_limits.py`.)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.raw import result, subscribe, upload, ws_connection
from tests.support.processes import ApiProcess, RuntimeProcess, started_together
from tests.support.redis import RedisServer
from tests.support.subscribers import TRANSPORTS, Error, Event, Status, first_event, follow

LIMIT = 3
LEASE_SECONDS = 2.0
TOO_MANY = "TOO_MANY_SUBSCRIPTIONS"
TRY_AGAIN_LATER = 1013


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    with RuntimeProcess(tmp_path_factory.mktemp("ceilings") / "runtime") as process:
        process.set_faults(phase_delay=600.0)  # nothing finishes while the tests look
        yield process


@pytest.fixture(scope="module")
def replicas(
    runtime: RuntimeProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ApiProcess]]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as redis_server:
        env = {
            "EXPERIENCE_AUTH_HS256_SECRET": secrets.token_urlsafe(32),
            "EXPERIENCE_REDIS_URL": redis_server.url,
            "EXPERIENCE_TUNING__REDIS_LEASE_SECONDS": str(LEASE_SECONDS),
            "EXPERIENCE_TUNING__REDIS_TIMEOUT_SECONDS": "0.5",
            "EXPERIENCE_MAX_STREAMS_PER_TENANT": str(LIMIT),
            "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0",
        }
        apis = [
            ApiProcess(runtime.url, tmp_path_factory.mktemp(f"api-{i}"), auth=True, env=env)
            for i in range(2)
        ]
        with started_together(*apis):
            yield apis


class Streams:
    """The streams a test opens, each kept open until closed (or the test ends)."""

    def __init__(self) -> None:
        self._open: list[AsyncIterator[Event]] = []

    async def open(
        self, api: ApiProcess, tenant: str, transport: str, execution_id: str
    ) -> tuple[Event, AsyncIterator[Event]]:
        """Open a stream and return its first event (a `Status` once it is open)."""
        events = follow(api.url, api.token(tenant), transport, execution_id)
        self._open.append(events)
        return await first_event(events), events

    async def close(self, events: AsyncIterator[Event]) -> None:
        self._open.remove(events)
        await events.aclose()  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        for events in self._open:
            await events.aclose()  # type: ignore[attr-defined]


@pytest.fixture
async def streams() -> AsyncIterator[Streams]:
    opened = Streams()
    try:
        yield opened
    finally:
        await opened.aclose()


def fresh_tenant() -> str:
    return "tenant-" + uuid.uuid4().hex[:12]


async def submit(api: ApiProcess, tenant: str) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        accepted = result(await upload(http, api, tenant=tenant), "uploadContent")
    assert accepted["__typename"] == "ExecutionAccepted", accepted
    assert not accepted["execution"]["isTerminal"]
    execution_id: str = accepted["execution"]["id"]
    return execution_id


async def eventually_opens(
    streams: Streams, api: ApiProcess, tenant: str, transport: str, execution_id: str
) -> Event:
    """Open a stream until it is not refused as too many (a place is given back in the
    background), within a generous deadline; its first event."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        event, events = await streams.open(api, tenant, transport, execution_id)
        if not (isinstance(event, Error) and event.code == TOO_MANY):
            return event
        await streams.close(events)
        if loop.time() > deadline:
            return event
        await asyncio.sleep(0.1)


def is_refusal(event: Event, transport: str) -> bool:
    """Whether `event` is the transport's `TOO_MANY_SUBSCRIPTIONS` refusal."""
    if not isinstance(event, Error) or event.code != TOO_MANY:
        return False
    # The REST WebSocket closes with "try again later"; the others end the stream alone.
    return event.close_code == (TRY_AGAIN_LATER if transport == "rest-ws" else None)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_past_the_ceiling_a_stream_is_refused_and_a_closed_one_frees_its_place(
    replicas: list[ApiProcess], streams: Streams, transport: str
) -> None:
    api = replicas[0]
    tenant = fresh_tenant()
    execution_id = await submit(api, tenant)
    held = []
    for _ in range(LIMIT):
        event, events = await streams.open(api, tenant, transport, execution_id)
        assert isinstance(event, Status), event
        assert not event.terminal, event
        held.append(events)

    refused, _ = await streams.open(api, tenant, transport, execution_id)
    assert is_refusal(refused, transport), refused

    # Another tenant is not affected.
    other = fresh_tenant()
    event, _ = await streams.open(api, other, transport, await submit(api, other))
    assert isinstance(event, Status), event

    # Closing a stream gives its place back.
    await streams.close(held[0])
    assert isinstance(await eventually_opens(streams, api, tenant, transport, execution_id), Status)
    refused, _ = await streams.open(api, tenant, transport, execution_id)
    assert is_refusal(refused, transport), refused


async def test_every_transport_counts_in_one_ceiling(
    replicas: list[ApiProcess], streams: Streams
) -> None:
    api = replicas[0]
    tenant = fresh_tenant()
    execution_id = await submit(api, tenant)
    for transport in TRANSPORTS[:LIMIT]:
        event, _ = await streams.open(api, tenant, transport, execution_id)
        assert isinstance(event, Status), (transport, event)
    for transport in TRANSPORTS:
        refused, _ = await streams.open(api, tenant, transport, execution_id)
        assert is_refusal(refused, transport), (transport, refused)


async def test_each_subscription_on_one_socket_takes_a_place(
    replicas: list[ApiProcess],
) -> None:
    api = replicas[0]
    tenant = fresh_tenant()
    execution_id = await submit(api, tenant)
    async with ws_connection(api, tenant) as socket:
        for n in range(LIMIT + 1):
            await subscribe(socket, execution_id, op_id=str(n))
            message = json.loads(await asyncio.wait_for(socket.recv(), 15))
            assert message["id"] == str(n)
            if n < LIMIT:
                assert message["type"] == "next", message
            else:
                assert message["type"] == "error", message
                assert message["payload"][0]["extensions"]["code"] == TOO_MANY
        # Ending one subscription (the socket stays open) frees its place for the next.
        await socket.send(json.dumps({"id": "0", "type": "complete"}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        accepted = False
        attempt = 0
        while not accepted and loop.time() < deadline:
            attempt += 1
            op_id = f"again-{attempt}"
            await subscribe(socket, execution_id, op_id=op_id)
            while (message := json.loads(await asyncio.wait_for(socket.recv(), 15)))["id"] != op_id:
                pass
            accepted = message["type"] == "next"
            if not accepted:
                await asyncio.sleep(0.1)
        assert accepted, message


async def test_the_ceiling_is_the_clusters_across_replicas(
    replicas: list[ApiProcess], streams: Streams
) -> None:
    a, b = replicas
    tenant = fresh_tenant()
    execution_id = await submit(a, tenant)
    opened = []
    for api, transport in [(a, "graphql-transport-ws"), (b, "rest-sse"), (a, "graphql-sse")]:
        event, events = await streams.open(api, tenant, transport, execution_id)
        assert isinstance(event, Status), (api.port, transport, event)
        opened.append(events)
    for api in (a, b):
        for transport in ("graphql-ws", "rest-ws"):
            refused, _ = await streams.open(api, tenant, transport, execution_id)
            assert is_refusal(refused, transport), (api.port, transport, refused)
    # A stream closed on one replica frees a place on the other.
    await streams.close(opened[0])
    event = await eventually_opens(streams, b, tenant, "graphql-ws", execution_id)
    assert isinstance(event, Status), event
    refused, _ = await streams.open(a, tenant, "rest-ws", execution_id)
    assert is_refusal(refused, "rest-ws"), refused


async def test_a_stream_that_completes_gives_its_place_back(
    replicas: list[ApiProcess], runtime: RuntimeProcess, streams: Streams
) -> None:
    """A place is held while the stream is open, not for the life of the execution: a
    subscription to an unknown execution ends at once and holds nothing afterwards."""
    api = replicas[1]
    tenant = fresh_tenant()
    for _ in range(LIMIT * 2):
        event = await eventually_opens(streams, api, tenant, "graphql-transport-ws", "exec_x")
        assert isinstance(event, Error), event
        assert event.code == "NOT_FOUND", event
    execution_id = await submit(api, tenant)
    event = await eventually_opens(streams, api, tenant, "rest-ws", execution_id)
    assert isinstance(event, Status), event
