"""`RuntimeClient.stream_execution` against a small in-process WebSocket server.

The contract tests run the stream against the real reference Runtime; these cover what that
Runtime rarely does on cue: keep-alives, repeated statuses, garbage, a dropped connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from http import HTTPStatus

import pytest
from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.exceptions import ConnectionClosedError

from experience_plane.runtime import (
    ExecutionState,
    RuntimeClient,
    RuntimeProtocolError,
    RuntimeTimeout,
    RuntimeUnavailable,
    StreamUnavailable,
    stream,
)

Handler = Callable[[ServerConnection], Awaitable[None]]


def status(state: str, percent: float = 0) -> str:
    return json.dumps(
        {
            "execution_id": "exec-1",
            "status": state,
            "progress": {"phase": state, "percent": percent},
        }
    )


def sending(messages: Sequence[str], *, then_close: bool = True) -> Handler:
    async def handler(connection: ServerConnection) -> None:
        for message in messages:
            await connection.send(message)
        if then_close:
            await connection.close()
        else:
            # Vanish without a closing handshake, like a crashed Runtime.
            connection.transport.abort()

    return handler


@asynccontextmanager
async def runtime_stream(
    handler: Handler, *, refuse: HTTPStatus | None = None
) -> AsyncIterator[tuple[RuntimeClient, list[str]]]:
    paths: list[str] = []

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        paths.append(request.path)
        if refuse is not None:
            return connection.respond(refuse, "refused\n")
        return None

    async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with RuntimeClient(f"http://127.0.0.1:{port}") as client:
            yield client, paths


async def test_yields_changes_skips_pings_and_repeats_and_ends_at_terminal() -> None:
    messages = [
        status("created"),
        json.dumps({"type": "ping"}),
        status("executing", 10),
        status("executing", 10),
        status("executing", 60),
        status("completed", 100),
        status("completed", 100),  # never read: the stream ends at the terminal status
    ]
    async with runtime_stream(sending(messages)) as (client, paths):
        seen = [s async for s in client.stream_execution("tenant a", "exec-1")]
    assert [(s.state, s.progress.percent if s.progress else None) for s in seen] == [
        (ExecutionState.PENDING, 0),
        (ExecutionState.RUNNING, 10),
        (ExecutionState.RUNNING, 60),
        (ExecutionState.COMPLETED, 100),
    ]
    assert paths == ["/api/execution/exec-1/stream?tenant_id=tenant+a"]


async def test_every_message_is_heard_keep_alives_and_repeats_included() -> None:
    messages = [status("created"), json.dumps({"type": "ping"}), status("created")]
    heard: list[None] = []
    async with runtime_stream(sending(messages)) as (client, _):
        stream = client.stream_execution("t", "exec-1", heard=lambda: heard.append(None))
        seen = [s.state async for s in stream]
    assert seen == [ExecutionState.PENDING]
    assert len(heard) == 3


async def test_a_silent_stream_times_out_and_keep_alives_keep_it_open() -> None:
    """Silence longer than the idle timeout is a failure (`RuntimeTimeout`), not a wait that
    lasts as long as the Runtime stays frozen; keep-alives in time keep the stream open."""

    async def pings_then_silence(connection: ServerConnection) -> None:
        await connection.send(status("executing"))
        for _ in range(4):
            await asyncio.sleep(0.1)
            await connection.send(json.dumps({"type": "ping"}))
        await connection.wait_closed()  # frozen: silent, the connection still open

    async with runtime_stream(pings_then_silence) as (client, _):
        client.stream_idle_timeout = 0.3
        heard: list[None] = []
        updates = client.stream_execution("t", "exec-1", heard=lambda: heard.append(None))
        assert (await anext(updates)).state is ExecutionState.RUNNING
        with pytest.raises(RuntimeTimeout, match="silent"):
            await anext(updates)
    assert len(heard) == 5  # the status and four keep-alives, all within the idle timeout


async def test_normal_close_before_terminal_just_ends() -> None:
    async with runtime_stream(sending([status("executing")])) as (client, _):
        seen = [s.state async for s in client.stream_execution("t", "exec-1")]
    assert seen == [ExecutionState.RUNNING]


@pytest.mark.parametrize("refusal", [HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND])
async def test_refused_handshake_is_stream_unavailable(refusal: HTTPStatus) -> None:
    async with runtime_stream(sending([]), refuse=refusal) as (client, _):
        with pytest.raises(StreamUnavailable) as caught:
            _ = [s async for s in client.stream_execution("t", "exec-1")]
    assert caught.value.status_code == refusal


async def test_server_error_on_handshake_is_unavailable() -> None:
    async with runtime_stream(sending([]), refuse=HTTPStatus.BAD_GATEWAY) as (client, _):
        with pytest.raises(RuntimeUnavailable):
            _ = [s async for s in client.stream_execution("t", "exec-1")]


async def test_lost_connection_is_unavailable() -> None:
    handler = sending([status("executing")], then_close=False)
    async with runtime_stream(handler) as (client, _):
        updates = client.stream_execution("t", "exec-1")
        assert (await anext(updates)).state is ExecutionState.RUNNING
        with pytest.raises(RuntimeUnavailable):
            await anext(updates)


@pytest.mark.parametrize("garbage", ["<html>", json.dumps({"status": "completed"})])
async def test_garbage_is_a_protocol_error(garbage: str) -> None:
    async with runtime_stream(sending([garbage])) as (client, _):
        with pytest.raises(RuntimeProtocolError):
            _ = [s async for s in client.stream_execution("t", "exec-1")]


async def test_connection_refused_is_unavailable() -> None:
    async with runtime_stream(sending([])) as (client, _):
        port = client.base_url.rsplit(":", 1)[1]
    async with RuntimeClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(RuntimeUnavailable):
            _ = [s async for s in client.stream_execution("t", "exec-1")]


async def test_runtime_vanishing_during_the_handshake_is_unavailable() -> None:
    """A Runtime shutting down as the stream opens (seen in the soak): the socket closes before
    or during the handshake; whichever error websockets raises, it is `RuntimeUnavailable`."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with RuntimeClient(f"http://127.0.0.1:{port}") as client:
            for _ in range(5):
                with pytest.raises(RuntimeUnavailable):
                    _ = [s async for s in client.stream_execution("t", "exec-1")]
    finally:
        server.close()
        await server.wait_closed()


async def test_connection_closed_in_the_handshake_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The exact race the soak met: websockets raises `ConnectionClosedError` from inside the
    handshake when the Runtime closes the socket before the upgrade request is written."""

    async def closed_at_handshake(*args: object, **kwargs: object) -> None:
        raise ConnectionClosedError(None, None)

    monkeypatch.setattr(stream, "connect", closed_at_handshake)
    async with RuntimeClient("http://127.0.0.1:1") as client:
        with pytest.raises(RuntimeUnavailable, match="could not be opened"):
            _ = [s async for s in client.stream_execution("t", "exec-1")]
