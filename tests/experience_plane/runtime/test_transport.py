"""Over real sockets, aiohttp (the carrier) and an injected httpx transport (the test seam) tell
failures apart the same way, and close cleanly."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from experience_plane.runtime import RuntimeClient, RuntimeTimeout, RuntimeUnavailable
from experience_plane.runtime.transport import AiohttpCarrier, HttpxCarrier, make_carrier
from tests.support.processes import free_port

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
STATUS_BODY = b'{"execution_id": "exec-1", "status": "completed"}'


@asynccontextmanager
async def raw_server(behaviour: Behaviour) -> AsyncIterator[str]:
    """A TCP server that does whatever `behaviour` does with each connection."""
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await reader.readuntil(b"\r\n\r\n")
            await behaviour(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for task in handlers:
            task.cancel()
        server.close()
        await server.wait_closed()


# The production carrier (aiohttp), and httpx's own transport injected as tests inject theirs.
CARRIERS = ["aiohttp", "injected-httpx"]


def client_for(url: str, carrier: str) -> RuntimeClient:
    injected = (
        httpx.AsyncHTTPTransport(retries=0, trust_env=False)
        if carrier == "injected-httpx"
        else None
    )
    return RuntimeClient(
        url, timeout=0.3, connect_timeout=0.3, status_retries=0, transport=injected
    )


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(STATUS_BODY)}"
    )
    writer.write(head.encode() + b"\r\n\r\n" + STATUS_BODY)
    await writer.drain()


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


async def drop_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + STATUS_BODY[:10])
    await writer.drain()


async def speak_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    await writer.drain()


async def test_aiohttp_carries_requests_unless_a_transport_is_injected() -> None:
    # bench/runtime_client.py: aiohttp used directly spends the least client CPU per status read.
    timeout = httpx.Timeout(1.0)
    carrier = make_carrier("http://runtime.test", timeout=timeout)
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    injected = make_carrier("http://runtime.test", timeout=timeout, transport=mock)
    assert isinstance(carrier, AiohttpCarrier)
    assert isinstance(injected, HttpxCarrier)
    await carrier.aclose()
    await injected.aclose()


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_a_real_answer_and_a_clean_close(carrier: str) -> None:
    async with raw_server(answer) as url, client_for(url, carrier) as client:
        assert (await client.get_execution("t", "exec-1")).execution_id == "exec-1"
    gc.collect()  # an unclosed session would warn here, and warnings are errors


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_connection_refused_is_unavailable_not_a_timeout(carrier: str) -> None:
    async with client_for(f"http://127.0.0.1:{free_port()}", carrier) as client:
        with pytest.raises(RuntimeUnavailable) as caught:
            await client.get_execution("t", "exec-1")
    assert not isinstance(caught.value, RuntimeTimeout)


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_silence_is_a_timeout(carrier: str) -> None:
    async with raw_server(never_answer) as url, client_for(url, carrier) as client:
        with pytest.raises(RuntimeTimeout):
            await client.get_execution("t", "exec-1")


@pytest.mark.parametrize("behaviour", [drop_mid_body, speak_garbage])
@pytest.mark.parametrize("carrier", CARRIERS)
async def test_broken_answers_are_unavailable(carrier: str, behaviour: Behaviour) -> None:
    async with raw_server(behaviour) as url, client_for(url, carrier) as client:
        with pytest.raises(RuntimeUnavailable) as caught:
            await client.get_execution("t", "exec-1")
    assert not isinstance(caught.value, RuntimeTimeout)
