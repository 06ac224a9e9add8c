"""Many subscribers to one execution cost the Runtime one watcher's traffic."""

from __future__ import annotations

import asyncio
from typing import Any

from gql import Client

from tests.e2e.client import EXAMPLES, WATCH, http_client, request, upload, ws_client
from tests.e2e.conftest import PHASE_DELAY
from tests.support.processes import ApiProcess, RuntimeProcess

CONNECTIONS = 10
SUBSCRIPTIONS_PER_CONNECTION = 5


async def follow_on_one_connection(client: Client, execution_id: str) -> list[list[str]]:
    async with client as session:

        async def follow() -> list[str]:
            return [
                event["executionStatus"]["rawStatus"]
                async for event in session.subscribe(request(WATCH, id=execution_id))
            ]

        return list(await asyncio.gather(*(follow() for _ in range(SUBSCRIPTIONS_PER_CONNECTION))))


async def test_fifty_subscribers_one_runtime_watcher(
    api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    # Slow enough that all 50 subscribe while the upload is still running.
    e2e_runtime.set_faults(phase_delay=0.5)
    try:
        async with http_client(api) as session:
            accepted = await upload(session, EXAMPLES / "customers.csv")
        execution_id = accepted["execution"]["executionId"]

        per_connection: list[Any] = await asyncio.gather(
            *(follow_on_one_connection(ws_client(api), execution_id) for _ in range(CONNECTIONS))
        )
    finally:
        e2e_runtime.set_faults(phase_delay=PHASE_DELAY)

    followers = [events for connection in per_connection for events in connection]
    assert len(followers) == 50
    assert all(events[-1] == "completed" for events in followers)
    # They joined while it ran (a finished execution would cost the Runtime nothing anyway).
    assert all(len(events) > 1 for events in followers), followers

    stats = e2e_runtime.stats()
    streams = stats["stream_connections"].get(execution_id, 0)
    reads = stats["status_reads"].get(execution_id, 0)
    # One watcher: one stream (plus, at most, a first read and a final confirming read).
    assert streams == 1, stats
    assert reads <= 3, stats
