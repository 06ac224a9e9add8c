"""One request per transport, with raw clients, for tests about what happens before GraphQL
runs (authentication, CSRF, limits): HTTP POST, HTTP GET, multipart, SSE, and the two
WebSocket protocols' `connection_init`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.processes import ApiProcess

HTTP_TRANSPORTS = ("post", "get", "multipart", "sse")
WS_TRANSPORTS = ("graphql-transport-ws", "graphql-ws")
ALL_TRANSPORTS = HTTP_TRANSPORTS + WS_TRANSPORTS
PREFLIGHT = {"GraphQL-Preflight": "1"}
TYPENAME = "{ __typename }"
UPLOAD = "mutation ($file: Upload!) { uploadContent(file: $file) { __typename } }"


async def http_request(
    api: ApiProcess,
    transport: str,
    headers: dict[str, str],
    *,
    query: str | None = None,
    file: bytes = b"a,b\n1,2\n",
) -> httpx.Response:
    """One GraphQL request over an HTTP transport (the whole answer, SSE included); the query
    defaults to `{ __typename }`, and to an upload for multipart."""
    async with httpx.AsyncClient(timeout=30.0) as http:
        if transport != "multipart":
            query = query or TYPENAME
        if transport == "post":
            return await http.post(api.graphql_url, json={"query": query}, headers=headers)
        if transport == "get":
            return await http.get(api.graphql_url, params={"query": query}, headers=headers)
        if transport == "sse":
            return await http.post(
                api.graphql_url,
                json={"query": query},
                headers={"accept": "text/event-stream", **headers},
            )
        assert transport == "multipart", transport
        operations = json.dumps({"query": query or UPLOAD, "variables": {"file": None}})
        return await http.post(
            api.graphql_url,
            data={"operations": operations, "map": json.dumps({"0": ["variables.file"]})},
            files={"0": ("data.csv", file, "text/csv")},
            headers=headers,
        )


@dataclass
class WsOutcome:
    """What a WebSocket client saw: the messages, and how the server closed (if it did)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""


async def ws_session(
    api: ApiProcess,
    protocol: str,
    payload: dict[str, Any] | None,
    *,
    send: Sequence[dict[str, Any]] = (),
    listen: float = 2.0,
    headers: dict[str, str] | None = None,
    origin: str | None = None,
) -> WsOutcome:
    """Open a socket, send `connection_init` (unless `payload` is None) and then `send`, and
    collect messages for up to `listen` seconds or until the server closes."""
    outcome = WsOutcome()
    async with connect(
        api.ws_url,
        subprotocols=[protocol],
        additional_headers=headers,
        origin=origin,
        open_timeout=10,
    ) as socket:
        if payload is not None:
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        for message in send:
            await socket.send(json.dumps(message))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + listen
        try:
            while (left := deadline - loop.time()) > 0:
                raw = await asyncio.wait_for(socket.recv(), timeout=left)
                outcome.messages.append(json.loads(raw))
        except TimeoutError:
            pass
        except ConnectionClosed as closed:
            if closed.rcvd is not None:
                outcome.close_code = closed.rcvd.code
                outcome.close_reason = closed.rcvd.reason
    return outcome


def auth_payload(token: str | None) -> dict[str, Any]:
    """The `connection_init` payload carrying `token` the way browsers send it."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def bearer(token: str | None) -> dict[str, str]:
    """The `Authorization` header for `token` (none for None)."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}
