"""Socket-level limits of `experience-plane serve`, through a real process: a client that sends
half a request line is disconnected within seconds, and a WebSocket message larger than
`EXPERIENCE_MAX_REQUEST_BYTES` closes the socket with 1009 and a reason."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.processes import ApiProcess

HEADER_TIMEOUT = 1.0
MAX_BYTES = 4096


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    # No Runtime needed: nothing here reaches it.
    env = {
        "EXPERIENCE_REQUEST_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "EXPERIENCE_MAX_REQUEST_BYTES": str(MAX_BYTES),
    }
    process = ApiProcess(
        "http://127.0.0.1:9", tmp_path_factory.mktemp("limits"), auth=True, env=env
    )
    with process:
        yield process


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock`, or None if it was still open after `seconds`."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(1024):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


@pytest.mark.parametrize("sent", [b"GET /healthz HT", b""])
def test_a_half_sent_request_line_is_disconnected_within_seconds(
    api: ApiProcess, sent: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(sent)
        took = closed_within(sock, 15)
    assert took is not None, "the server still held a half-open socket after 15 s"


def test_a_whole_request_on_the_same_server_is_answered(api: ApiProcess) -> None:
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 200")


async def test_an_oversize_websocket_message_closes_with_1009(api: ApiProcess) -> None:
    async with connect(api.ws_url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:
        payload = {"Authorization": f"Bearer {api.token()}", "padding": "x" * (MAX_BYTES * 2)}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009, closed.value.rcvd
    assert closed.value.rcvd.reason, "no reason given"
