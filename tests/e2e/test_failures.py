"""What users see when things go wrong: failed executions, unknown ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.client import (
    EXAMPLES,
    EXECUTION,
    WATCH,
    create_mash,
    http_client,
    request,
    sse_events,
    upload,
    watch_ws,
    ws_client,
)
from tests.support.processes import ApiProcess


async def test_mash_of_a_non_tabular_file_fails_with_its_error(
    api: ApiProcess, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Remember to call Ada about her home policy.\n")
    async with http_client(api) as session:
        uploaded = await upload(session, notes)
        done = await watch_ws(ws_client(api), uploaded["execution"]["id"])
        assert done[-1]["state"] == "COMPLETED"
        details = await session.execute(request(EXECUTION, id=uploaded["execution"]["id"]))
        (artifact,) = details["executionStatus"]["artifacts"]
        assert artifact["columns"] is None

        mash = await create_mash(session, [artifact["fileId"]])
        assert mash["__typename"] == "ExecutionAccepted"
        events = await watch_ws(ws_client(api), mash["execution"]["id"])
        assert events[-1]["state"] == "FAILED"
        assert events[-1]["isTerminal"] is True
        assert events[-1]["failure"]["code"] == "NOT_TABULAR"
        assert "not tabular" in events[-1]["failure"]["message"]

        status = await session.execute(request(EXECUTION, id=mash["execution"]["id"]))
        assert status["executionStatus"]["state"] == "FAILED"
        assert status["executionStatus"]["artifacts"] == []


async def test_mash_with_an_unknown_ref_fails_with_its_error(api: ApiProcess) -> None:
    async with http_client(api) as session:
        mash = await create_mash(session, ["file_does_not_exist"])
    events = await watch_ws(ws_client(api), mash["execution"]["id"])
    assert events[-1]["state"] == "FAILED"
    assert events[-1]["failure"]["code"] == "UNKNOWN_CONTENT_REF"
    assert "file_does_not_exist" in events[-1]["failure"]["message"]


async def test_unknown_execution_is_null_in_a_query(api: ApiProcess) -> None:
    async with http_client(api) as session:
        result = await session.execute(request(EXECUTION, id="exec_unknown"))
    assert result == {"executionStatus": None}


@pytest.mark.parametrize(
    "subprotocol",
    [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL],
)
async def test_unknown_execution_is_a_clear_subscription_error(
    api: ApiProcess, subprotocol: str
) -> None:
    with pytest.raises(TransportQueryError, match="Execution 'exec_unknown' not found"):
        await watch_ws(ws_client(api, subprotocol), "exec_unknown")


async def test_unknown_execution_over_sse_is_an_error_then_complete(api: ApiProcess) -> None:
    events = [event async for event in sse_events(api, WATCH, {"id": "exec_unknown"})]
    assert [name for name, _ in events] == ["next", "complete"]
    error = json.loads(events[0][1])["errors"][0]
    assert error["message"] == "Execution 'exec_unknown' not found."
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_another_tenants_execution_looks_unknown(api: ApiProcess) -> None:
    async with http_client(api, tenant="t1") as session:
        accepted = await upload(session, EXAMPLES / "customers.csv")
    execution_id = accepted["execution"]["id"]
    async with http_client(api, tenant="another-tenant") as session:
        result = await session.execute(request(EXECUTION, id=execution_id))
    assert result == {"executionStatus": None}
    with pytest.raises(TransportQueryError, match="not found"):
        await watch_ws(ws_client(api, tenant="another-tenant"), execution_id)
