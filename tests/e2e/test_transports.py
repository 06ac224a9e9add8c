"""The same subscription over every transport: graphql-transport-ws, legacy graphql-ws, SSE."""

from __future__ import annotations

import asyncio

from gql.transport.websockets import WebsocketsTransport

from tests.e2e.client import (
    EXAMPLES,
    create_mash,
    http_client,
    upload,
    watch_sse,
    watch_ws,
    ws_client,
)
from tests.e2e.conftest import PHASE_DELAY
from tests.e2e.test_graphql_flow import assert_each_change_once_in_order
from tests.support.processes import ApiProcess, RuntimeProcess


async def test_all_transports_deliver_the_same_events(
    api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    # Slow phases: all three subscribers must join before the first change to see the same.
    e2e_runtime.set_faults(phase_delay=0.5)
    try:
        async with http_client(api) as session:
            accepted = await upload(session, EXAMPLES / "customers.csv")
        execution_id = accepted["execution"]["id"]

        transport_ws, legacy_ws, sse = await asyncio.gather(
            watch_ws(ws_client(api, WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL), execution_id),
            watch_ws(ws_client(api, WebsocketsTransport.APOLLO_SUBPROTOCOL), execution_id),
            watch_sse(api, execution_id),
        )
    finally:
        e2e_runtime.set_faults(phase_delay=PHASE_DELAY)

    assert_each_change_once_in_order(transport_ws)
    assert transport_ws[-1]["state"] == "COMPLETED"
    assert legacy_ws == transport_ws
    assert sse == transport_ws


async def test_mash_events_over_sse(api: ApiProcess) -> None:
    async with http_client(api) as session:
        accepted = await upload(session, EXAMPLES / "policies.json")
        events = await watch_sse(api, accepted["execution"]["id"])
        file_id_events = events[-1]
        assert file_id_events["state"] == "COMPLETED"
        # A finished execution: one event, the terminal status, then `complete`.
        assert await watch_sse(api, accepted["execution"]["id"]) == [events[-1]]
        mash = await create_mash(session, ["no-such-file"])
    failed = await watch_sse(api, mash["execution"]["id"])
    assert failed[-1]["state"] == "FAILED"
    assert failed[-1]["failure"]["code"] == "UNKNOWN_CONTENT_REF"
    assert "no-such-file" in failed[-1]["failure"]["message"]
