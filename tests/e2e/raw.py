"""Raw GraphQL calls for the reliability tests: plain httpx and websockets, so a test sees
exactly what a frontend would (status codes, typed errors, close codes), nothing smoothed over."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.support.processes import ApiProcess

PREFLIGHT = {"GraphQL-Preflight": "1"}
RESULT = """__typename
    ... on ExecutionAccepted { execution { id executionId state isTerminal } }
    ... on Error { code message }
    ... on RuntimeOutcomeUnknownError { idempotencyKey }"""
UPLOAD = f"""mutation ($file: Upload!, $key: String) {{
  uploadContent(file: $file, idempotencyKey: $key) {{ {RESULT} }}
}}"""
MASH = f"""mutation ($refs: [ID!]!, $name: String, $key: String) {{
  createDataMash(input: {{contentRefs: $refs, name: $name}}, idempotencyKey: $key) {{ {RESULT} }}
}}"""
STATUS = "query ($id: ID!) { executionStatus(executionId: $id) { id state error isTerminal } }"
WATCH = """subscription ($id: ID!) {
  executionStatus(executionId: $id) {
    id state failure { code message } isTerminal stale staleReason staleSince
  }
}"""
CSV = b"id,name,amount\n1,Ada,10\n2,Bob,20\n3,Cy,30\n"


async def upload(
    http: httpx.AsyncClient,
    api: ApiProcess,
    *,
    content: bytes = CSV,
    filename: str = "people.csv",
    key: str | None = None,
    headers: dict[str, str] | None = None,
    tenant: str = "t1",
) -> httpx.Response:
    """`uploadContent` as a multipart request; the whole HTTP response."""
    operations = json.dumps({"query": UPLOAD, "variables": {"file": None, "key": key}})
    return await http.post(
        api.graphql_url,
        data={"operations": operations, "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, content, "text/csv")},
        headers={**PREFLIGHT, **api.headers(tenant), **(headers or {})},
    )


async def post(
    http: httpx.AsyncClient,
    api: ApiProcess,
    query: str,
    *,
    tenant: str = "t1",
    headers: dict[str, str] | None = None,
    **variables: Any,
) -> httpx.Response:
    """A JSON GraphQL POST; the whole HTTP response."""
    return await http.post(
        api.graphql_url,
        json={"query": query, "variables": variables},
        headers={"accept": "application/json", **api.headers(tenant), **(headers or {})},
    )


def result(response: httpx.Response, field: str) -> dict[str, Any]:
    """The mutation result object `field` of a successful HTTP answer."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"][field]
    return data


@asynccontextmanager
async def ws_connection(api: ApiProcess, tenant: str = "t1") -> AsyncIterator[ClientConnection]:
    """A graphql-transport-ws connection, acknowledged."""
    async with connect(
        api.ws_url, subprotocols=["graphql-transport-ws"], open_timeout=10, close_timeout=2
    ) as socket:
        payload = {"Authorization": f"Bearer {api.token(tenant)}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield socket


async def subscribe(socket: ClientConnection, execution_id: str, op_id: str = "1") -> None:
    """Start the `executionStatus` subscription on an acknowledged socket."""
    message = {"id": op_id, "type": "subscribe", "payload": {"query": WATCH}}
    message["payload"]["variables"] = {"id": execution_id}
    await socket.send(json.dumps(message))


async def messages_until_complete(
    socket: ClientConnection, *, within: float = 30.0
) -> list[dict[str, Any]]:
    """Every message up to and including `complete` (or an `error`), within `within` seconds."""
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == "ping":
                await socket.send(json.dumps({"type": "pong"}))
                continue
            received.append(message)
            if message["type"] in ("complete", "error"):
                return received


def events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `executionStatus` payloads of `next` messages."""
    return [m["payload"]["data"]["executionStatus"] for m in messages if m["type"] == "next"]
