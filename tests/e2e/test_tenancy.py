"""Tenant isolation on every transport: another tenant's execution, mash records or file look
exactly like ids that do not exist (the answers are equal once the id itself is blanked out)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.client import (
    EXAMPLES,
    EXECUTION,
    MASH_DETAILS,
    WATCH,
    create_mash,
    http_client,
    request,
    upload,
    watch_sse,
    watch_ws,
    ws_client,
)
from tests.e2e.transports import PREFLIGHT, auth_payload, ws_session
from tests.support.processes import ApiProcess

OWNER = "tenant-owner"
INTRUDER = "tenant-intruder"
UNKNOWN_EXECUTION = "exec_00000000000000000000000000000000"
UNKNOWN_FILE = "file_00000000000000000000000000000000"


@dataclass(frozen=True)
class OwnersWork:
    """What the owner tenant created: a finished upload and a finished mash."""

    upload_execution: str
    file_id: str
    mash_execution: str


@pytest.fixture(scope="module")
def owners_work(api: ApiProcess) -> OwnersWork:
    """Created once for the module (its own event loop: async fixtures are per test)."""
    return asyncio.run(_create_owners_work(api))


async def _create_owners_work(api: ApiProcess) -> OwnersWork:
    async with http_client(api, tenant=OWNER) as session:
        uploaded = await upload(session, EXAMPLES / "customers.csv")
        upload_execution = uploaded["execution"]["executionId"]
        await watch_ws(ws_client(api, tenant=OWNER), upload_execution)
        done = await session.execute(request(EXECUTION, id=upload_execution))
        file_id = done["executionStatus"]["artifacts"][0]["fileId"]
        mash = await create_mash(session, [file_id])
        mash_execution = mash["execution"]["executionId"]
        await watch_ws(ws_client(api, tenant=OWNER), mash_execution)
    return OwnersWork(upload_execution, file_id, mash_execution)


def blank(value: Any, *ids: str) -> str:
    """`value` as JSON with the given ids replaced by one placeholder."""
    text = json.dumps(value, sort_keys=True)
    for identifier in ids:
        text = text.replace(identifier, "<id>")
    return text


async def post(api: ApiProcess, tenant: str, query: str, variables: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(timeout=30.0) as http:
        response = await http.post(
            api.graphql_url,
            json={"query": query, "variables": variables},
            headers=api.headers(tenant),
        )
    return response.status_code, response.json()


async def get(api: ApiProcess, tenant: str, query: str, variables: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(timeout=30.0) as http:
        response = await http.get(
            api.graphql_url,
            params={"query": query, "variables": json.dumps(variables)},
            headers={**api.headers(tenant), **PREFLIGHT},
        )
    return response.status_code, response.json()


@pytest.mark.parametrize("send", [post, get], ids=["POST", "GET"])
@pytest.mark.parametrize("query", [EXECUTION, MASH_DETAILS], ids=["status", "mash-records"])
async def test_queries_see_nothing_of_another_tenant(
    api: ApiProcess, owners_work: OwnersWork, send: Any, query: str
) -> None:
    variables = {"first": 5} if query is MASH_DETAILS else {}
    owner = await send(api, OWNER, query, {"id": owners_work.mash_execution, **variables})
    assert owner[1]["data"]["executionStatus"] is not None  # it exists, for its owner
    foreign = await send(api, INTRUDER, query, {"id": owners_work.mash_execution, **variables})
    unknown = await send(api, INTRUDER, query, {"id": UNKNOWN_EXECUTION, **variables})
    assert foreign == unknown == (200, {"data": {"executionStatus": None}})


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_subscriptions_see_nothing_of_another_tenant(
    api: ApiProcess, owners_work: OwnersWork, protocol: str
) -> None:
    async def watch(execution_id: str) -> list[dict[str, Any]]:
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        message = {
            "id": "1",
            "type": start,
            "payload": {"query": WATCH, "variables": {"id": execution_id}},
        }
        token = api.token(INTRUDER)
        outcome = await ws_session(api, protocol, auth_payload(token), send=[message], listen=1)
        return [message for message in outcome.messages if message["type"] != "ka"]

    foreign = await watch(owners_work.upload_execution)
    unknown = await watch(UNKNOWN_EXECUTION)
    assert "not found" in json.dumps(foreign)
    assert blank(foreign, owners_work.upload_execution) == blank(unknown, UNKNOWN_EXECUTION)


async def test_sse_subscription_sees_nothing_of_another_tenant(
    api: ApiProcess, owners_work: OwnersWork
) -> None:
    owner = await watch_sse(api, owners_work.upload_execution, tenant=OWNER)
    assert owner[-1]["state"] == "COMPLETED"

    async def raw(execution_id: str) -> str:
        async with httpx.AsyncClient(timeout=30.0) as http:
            response = await http.post(
                api.url + "/graphql/stream",
                json={"query": WATCH, "variables": {"id": execution_id}},
                headers=api.headers(INTRUDER),
            )
        return response.text

    foreign = await raw(owners_work.upload_execution)
    unknown = await raw(UNKNOWN_EXECUTION)
    assert "not found" in foreign
    assert foreign.replace(owners_work.upload_execution, "<id>") == unknown.replace(
        UNKNOWN_EXECUTION, "<id>"
    )


async def test_another_tenants_file_cannot_be_mashed_or_detected(
    api: ApiProcess, owners_work: OwnersWork
) -> None:
    async def mash_error(file_id: str) -> tuple[str, str]:
        async with http_client(api, tenant=INTRUDER) as session:
            mash = await create_mash(session, [file_id])
        events = await watch_ws(ws_client(api, tenant=INTRUDER), mash["execution"]["id"])
        return events[-1]["state"], events[-1]["failure"]["message"]

    foreign_state, foreign_error = await mash_error(owners_work.file_id)
    unknown_state, unknown_error = await mash_error(UNKNOWN_FILE)
    assert foreign_state == unknown_state == "FAILED"
    assert foreign_error.replace(owners_work.file_id, "<id>") == unknown_error.replace(
        UNKNOWN_FILE, "<id>"
    )
