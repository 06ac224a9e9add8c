"""Shared subscriptions over graphql-transport-ws: identical events, never mixed up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.client import EXAMPLES, http_client, upload
from tests.e2e.conftest import PHASE_DELAY
from tests.e2e.raw import WATCH, ws_connection
from tests.support.processes import ApiProcess, RuntimeProcess

STATES = "subscription ($id: ID!) { executionStatus(executionId: $id) { id state isTerminal } }"


async def subscribe_all(socket: ClientConnection, operations: dict[str, tuple[str, str]]) -> None:
    for op_id, (query, execution_id) in operations.items():
        payload = {"query": query, "variables": {"id": execution_id}}
        await socket.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))


async def until_all_complete(
    socket: ClientConnection, op_ids: set[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every message of each operation, up to its `complete` (or `error`)."""
    received: dict[str, list[dict[str, Any]]] = {op_id: [] for op_id in op_ids}
    pending = set(op_ids)
    async with asyncio.timeout(30):
        while pending:
            message = json.loads(await socket.recv())
            if message["type"] == "ping":
                await socket.send(json.dumps({"type": "pong"}))
                continue
            received[message["id"]].append(message)
            if message["type"] in ("complete", "error"):
                pending.discard(message["id"])
    return received


async def follow(
    api: ApiProcess, tenant: str, operations: dict[str, tuple[str, str]]
) -> dict[str, list[dict[str, Any]]]:
    async with ws_connection(api, tenant) as socket:
        await subscribe_all(socket, operations)
        return await until_all_complete(socket, set(operations))


def payloads(messages: list[dict[str, Any]]) -> list[Any]:
    return [m["payload"] for m in messages if m["type"] == "next"]


async def test_subscribers_of_one_operation_get_identical_events_and_others_their_own(
    api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    e2e_runtime.set_faults(phase_delay=0.5)
    try:
        async with http_client(api, tenant="t-share") as session:
            accepted = await upload(session, EXAMPLES / "customers.csv")
        execution_id = accepted["execution"]["id"]
        full = {f"w{i}": (WATCH, execution_id) for i in range(4)}
        states = {"s1": (STATES, execution_id)}
        connections = await asyncio.gather(
            follow(api, "t-share", {**full, **states}),
            follow(api, "t-share", full),
            follow(api, "t-share", full),
            # Same document and variables from another tenant: never this tenant's events.
            follow(api, "t-other", full),
        )
    finally:
        e2e_runtime.set_faults(phase_delay=PHASE_DELAY)

    *same_tenant, other_tenant = connections
    watched = [payloads(c[op_id]) for c in same_tenant for op_id in full]
    assert len(watched) == 12
    assert all(events == watched[0] for events in watched), watched
    statuses = [event["data"]["executionStatus"] for event in watched[0]]
    assert statuses[-1]["state"] == "COMPLETED"
    assert len(statuses) > 1  # they followed it while it ran
    assert all(m["type"] != "error" for m in same_tenant[0]["s1"])
    narrow = [event["data"]["executionStatus"] for event in payloads(same_tenant[0]["s1"])]
    assert narrow[-1] == {"id": execution_id, "state": "COMPLETED", "isTerminal": True}
    assert all(set(event) == {"id", "state", "isTerminal"} for event in narrow)

    for op_id in full:
        (only,) = payloads(other_tenant[op_id])
        assert only["data"] is None
        assert only["errors"][0]["extensions"]["code"] == "NOT_FOUND", only
        assert other_tenant[op_id][-1]["type"] == "complete"


@pytest.fixture
def strict_api(
    e2e_runtime: RuntimeProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """An API without clock-skew leeway, so that a 2-second token expires in 2 seconds."""
    env = {"EXPERIENCE_AUTH_LEEWAY_SECONDS": "0"}
    logs = tmp_path_factory.mktemp("strict-api-logs")
    with ApiProcess(e2e_runtime.url, logs, auth=True, env=env) as process:
        yield process


async def test_one_subscribers_token_expiring_ends_only_its_own_subscription(
    strict_api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    api = strict_api
    e2e_runtime.set_faults(phase_delay=1.5)
    try:
        async with http_client(api, tenant="t-expiring") as session:
            accepted = await upload(session, EXAMPLES / "customers.csv")
        execution_id = accepted["execution"]["id"]
        short = api.token("t-expiring", "u1", ttl=timedelta(seconds=2))

        async def with_token(token: str) -> list[dict[str, Any]]:
            async with connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as socket:
                init = {"type": "connection_init", "payload": {"authToken": token}}
                await socket.send(json.dumps(init))
                assert json.loads(await socket.recv())["type"] == "connection_ack"
                await subscribe_all(socket, {"1": (WATCH, execution_id)})
                return (await until_all_complete(socket, {"1"}))["1"]

        # The short-lived subscriber starts the shared operation; the long-lived one joins it.
        expiring = asyncio.create_task(with_token(short))
        await asyncio.sleep(0.5)
        completed = await with_token(api.token("t-expiring", "u2"))
        expired = await expiring
    finally:
        e2e_runtime.set_faults(phase_delay=PHASE_DELAY)

    *_, last_next, done = expired
    assert done["type"] == "complete"
    (error,) = last_next["payload"]["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "expired"}
    statuses = [event["data"]["executionStatus"] for event in payloads(completed)]
    assert statuses[-1]["state"] == "COMPLETED"
    assert all("errors" not in payload for payload in payloads(completed))
