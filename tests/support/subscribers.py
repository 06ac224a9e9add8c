"""Following one execution over each of the service's five stream transports, with what each
transport says normalised into a few events, for tests and the soak that treat every transport
alike: graphql-transport-ws and legacy graphql-ws (`/graphql`), GraphQL over SSE
(`/graphql/stream`), and REST events over SSE and WebSocket (`/v1/execution/{id}/events`).

`follow(url, token, transport, execution_id)` yields a `Status` per event of the execution
until the transport's own end of the stream (`complete`, close 1000), so a duplicate after the
terminal status is seen too. A stream that ends before a terminal status yields one last `Error`
(the typed error the server sent: a refusal such as `TOO_MANY_SUBSCRIPTIONS`, `NOT_FOUND`...)
or `Ended` (`restart` when the server said it is restarting: WebSocket close 1012, GraphQL SSE
ending without `complete`, REST `event: restarting`). A handshake the server refuses raises
`HandshakeRefused` with the HTTP status; a connection that cannot be made raises `OSError`
(`ConnectionError`, `TimeoutError`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

__all__ = [
    "TRANSPORTS",
    "WATCH",
    "Ended",
    "Error",
    "Event",
    "HandshakeRefused",
    "Status",
    "first_event",
    "follow",
]

TRANSPORTS = ("graphql-transport-ws", "graphql-ws", "graphql-sse", "rest-sse", "rest-ws")
WATCH = """subscription ($id: ID!) {
  executionStatus(executionId: $id) { id state stale isTerminal }
}"""
SERVICE_RESTART = 1012
OPEN_TIMEOUT = 10.0


@dataclass(frozen=True)
class Status:
    """One event of the execution."""

    state: str
    stale: bool
    terminal: bool


@dataclass(frozen=True)
class Error:
    """The stream ended with a typed error (and, on a WebSocket, this close code)."""

    code: str
    close_code: int | None = None


@dataclass(frozen=True)
class Ended:
    """The stream ended before a terminal status without an error: `restart` when the server
    said it is restarting (reconnect and follow on), else how it ended."""

    restart: bool
    how: str


Event = Status | Error | Ended


class HandshakeRefused(Exception):
    """The server answered the request that opens the stream with an HTTP error status."""

    def __init__(self, status: int, body: str = "") -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


def _ws_url(url: str, path: str) -> str:
    return "ws" + url.removeprefix("http") + path


def _graphql_status(payload: dict[str, Any]) -> Status | Error:
    errors = payload.get("errors")
    if errors:
        return Error(str((errors[0].get("extensions") or {}).get("code")))
    event = payload["data"]["executionStatus"]
    return Status(event["state"], bool(event["stale"]), bool(event["isTerminal"]))


def _closed(closed: ConnectionClosed) -> Ended:
    code = closed.rcvd.code if closed.rcvd is not None else None
    return Ended(code == SERVICE_RESTART, f"closed {code}")


async def follow(url: str, token: str, transport: str, execution_id: str) -> AsyncIterator[Event]:
    """The events of `execution_id` over `transport` on the service at `url` (its HTTP base),
    authenticated with `token`. Closing the generator closes the connection."""
    if transport == "graphql-transport-ws":
        stream = _transport_ws(url, token, execution_id)
    elif transport == "graphql-ws":
        stream = _legacy_ws(url, token, execution_id)
    elif transport == "graphql-sse":
        stream = _graphql_sse(url, token, execution_id)
    elif transport == "rest-sse":
        stream = _rest_sse(url, token, execution_id)
    elif transport == "rest-ws":
        stream = _rest_ws(url, token, execution_id)
    else:
        raise ValueError(f"unknown transport {transport!r}")
    try:
        async for event in stream:
            yield event
    except InvalidStatus as exc:
        raise HandshakeRefused(exc.response.status_code, exc.response.body.decode()) from exc
    except InvalidHandshake as exc:
        raise ConnectionError(f"the WebSocket handshake failed: {exc!r}") from exc
    finally:
        await stream.aclose()


async def _connect(url: str, **options: Any) -> ClientConnection:
    return await connect(url, open_timeout=OPEN_TIMEOUT, close_timeout=2, **options)


async def _transport_ws(url: str, token: str, execution_id: str) -> AsyncIterator[Event]:
    socket = await _connect(_ws_url(url, "/graphql"), subprotocols=["graphql-transport-ws"])
    async with socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        subscribe = {"query": WATCH, "variables": {"id": execution_id}}
        try:
            while (message := json.loads(await socket.recv()))["type"] != "connection_ack":
                if message["type"] == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
            terminal = False
            while True:
                message = json.loads(await socket.recv())
                kind = message["type"]
                if kind == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    event = _graphql_status(message["payload"])
                    yield event
                    if isinstance(event, Error):
                        return
                    terminal = terminal or event.terminal
                elif kind == "error":
                    yield _graphql_status({"errors": message["payload"]})
                    return
                elif kind == "complete":
                    if not terminal:
                        yield Ended(False, "complete before a terminal status")
                    return
        except ConnectionClosed as closed:
            if not terminal:
                yield _closed(closed)


async def _legacy_ws(url: str, token: str, execution_id: str) -> AsyncIterator[Event]:
    socket = await _connect(_ws_url(url, "/graphql"), subprotocols=["graphql-ws"])
    async with socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        start = {"query": WATCH, "variables": {"id": execution_id}}
        try:
            while (message := json.loads(await socket.recv()))["type"] != "connection_ack":
                if message["type"] == "connection_error":
                    yield _graphql_status({"errors": [message["payload"]]})
                    return
            await socket.send(json.dumps({"id": "1", "type": "start", "payload": start}))
            terminal = False
            while True:
                message = json.loads(await socket.recv())
                kind = message["type"]
                if kind == "data":
                    event = _graphql_status(message["payload"])
                    yield event
                    if isinstance(event, Error):
                        return
                    terminal = terminal or event.terminal
                elif kind == "error":
                    yield _graphql_status({"errors": [message["payload"]]})
                    return
                elif kind == "complete":
                    if not terminal:
                        yield Ended(False, "complete before a terminal status")
                    return
        except ConnectionClosed as closed:
            if not terminal:
                yield _closed(closed)


async def _sse_events(
    url: str, token: str, method: str, path: str, body: object | None = None
) -> AsyncIterator[tuple[str, str]]:
    """The (event, data) pairs of an event stream, as they arrive."""
    headers = {"accept": "text/event-stream", "Authorization": f"Bearer {token}"}
    timeout = httpx.Timeout(OPEN_TIMEOUT, read=None)
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=timeout))
        request = http.stream(method, url + path, json=body, headers=headers)
        try:
            response = await stack.enter_async_context(request)
        except httpx.TransportError as exc:
            raise ConnectionError(f"the stream could not be opened: {exc!r}") from exc
        if response.status_code != 200:
            raise HandshakeRefused(response.status_code, (await response.aread()).decode())
        event: str | None = None
        data = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data = line.removeprefix("data:").strip()
            elif not line and event is not None:
                yield event, data
                event, data = None, ""


async def _graphql_sse(url: str, token: str, execution_id: str) -> AsyncIterator[Event]:
    body = {"query": WATCH, "variables": {"id": execution_id}}
    terminal = False
    try:
        async for name, data in _sse_events(url, token, "POST", "/graphql/stream", body):
            if name == "next":
                event = _graphql_status(json.loads(data))
                yield event
                if isinstance(event, Error):
                    return
                terminal = terminal or event.terminal
            elif name == "complete":
                if not terminal:
                    yield Ended(False, "complete before a terminal status")
                return
    except (httpx.RemoteProtocolError, httpx.ReadError):
        if not terminal:
            yield Ended(False, "connection lost mid-stream")
        return
    if not terminal:
        # An event stream ending without `complete` is the server restarting (`retry:` led).
        yield Ended(True, "ended without complete")


async def _rest_sse(url: str, token: str, execution_id: str) -> AsyncIterator[Event]:
    path = f"/v1/execution/{execution_id}/events"
    terminal = False
    try:
        async for name, data in _sse_events(url, token, "GET", path):
            if name == "status":
                body = json.loads(data)
                event = Status(body["state"], bool(body["stale"]), bool(body["is_terminal"]))
                yield event
                terminal = terminal or event.terminal
            elif name == "complete":
                return
            elif name == "error":
                yield Error(json.loads(data)["error"]["code"])
                return
            elif name == "restarting":
                yield Ended(True, "event: restarting")
                return
    except (httpx.RemoteProtocolError, httpx.ReadError):
        if not terminal:
            yield Ended(False, "connection lost mid-stream")
        return
    if not terminal:
        yield Ended(False, "ended without complete")


async def _rest_ws(url: str, token: str, execution_id: str) -> AsyncIterator[Event]:
    path = f"/v1/execution/{execution_id}/events"
    headers = {"Authorization": f"Bearer {token}"}
    socket = await _connect(_ws_url(url, path), additional_headers=headers)
    async with socket:
        error: str | None = None
        terminal = False
        try:
            while True:
                message = json.loads(await socket.recv())
                if message["type"] == "status":
                    body = message["execution"]
                    event = Status(body["state"], bool(body["stale"]), bool(body["is_terminal"]))
                    yield event
                    terminal = terminal or event.terminal
                elif message["type"] == "error":
                    error = message["error"]["code"]
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            if error is not None and code != SERVICE_RESTART:
                yield Error(error, code)
            elif not terminal:
                yield _closed(closed)


async def first_event(events: AsyncIterator[Event], within: float = 15.0) -> Event:
    """The next event of `events`, waited for at most `within` seconds."""
    return await asyncio.wait_for(anext(events), within)
