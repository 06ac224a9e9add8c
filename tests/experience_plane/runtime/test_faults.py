"""The Runtime client against a faulted reference Runtime process: the circuit breaker around a
stopped and restarted Runtime, and submits whose answer is lost on the way back.

The breaker runs on a fake clock, so no test waits for a cool-down; the Runtime, its
connections and its faults are real.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from experience_plane.runtime import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    RuntimeCaller,
    RuntimeClient,
    RuntimeUnavailable,
    SubmitOutcomeUnknown,
)
from experience_plane.runtime.transport import DEFAULT_LIMITS
from tests.support.processes import RuntimeProcess

TENANT = "tenant-a"
SUBMIT_ROUTE = "POST /api/intent/submit"
MASH_PARAMETERS = {"content_refs": ["file-does-not-matter"], "options": {}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingTransport(httpx.AsyncBaseTransport):
    """A real pooled transport (httpx's), counting the requests that reach the network."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS, retries=0, trust_env=False)
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def caller_of(client: RuntimeClient) -> RuntimeCaller:
    session = await client.create_session(TENANT, "user-1")
    return RuntimeCaller(tenant_id=TENANT, user_id="user-1", session_id=session)


@pytest.mark.own_runtime
async def test_breaker_opens_on_a_stopped_runtime_and_a_probe_closes_it(
    runtime: RuntimeProcess,
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_seconds=5.0, clock=clock)
    transport = CountingTransport()
    async with RuntimeClient(
        runtime.url, transport=transport, breaker=breaker, status_retries=1, backoff_base=0.01
    ) as client:
        caller = await caller_of(client)
        submitted = await client.submit_intent(caller, "data_mash.create", MASH_PARAMETERS)
        assert submitted.execution_id is not None
        runtime.stop()

        for _ in range(3):
            with pytest.raises(RuntimeUnavailable) as caught:
                await client.get_execution(TENANT, submitted.execution_id)
            assert not isinstance(caught.value, CircuitOpen)
        assert client.breaker_state is BreakerState.OPEN
        sent = transport.sent
        for _ in range(20):
            with pytest.raises(CircuitOpen):
                await client.get_execution(TENANT, submitted.execution_id)
        with pytest.raises(CircuitOpen):
            await client.submit_intent(caller, "data_mash.create", MASH_PARAMETERS)
        assert not await client.health()
        assert transport.sent == sent  # nothing reached the network while open

        clock.now += 5.0  # cool-down over, the Runtime still down: the probe re-opens
        assert not await client.health()
        assert client.breaker_state is BreakerState.OPEN
        assert client.breaker_snapshot().cooldown == 10.0

        runtime.start()  # same port, same data
        clock.now += 10.0
        assert client.breaker_state is BreakerState.HALF_OPEN
        status = await client.get_execution(TENANT, submitted.execution_id)
        assert status.execution_id == submitted.execution_id
        assert client.breaker_state is BreakerState.CLOSED
        assert transport.sent == sent + 2  # the failed probe and the one that closed it


@pytest.mark.own_runtime
async def test_a_submit_in_a_half_open_circuit_waits_for_a_health_probe(
    runtime: RuntimeProcess,
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_seconds=5.0, clock=clock)
    async with RuntimeClient(runtime.url, breaker=breaker, status_retries=0) as client:
        caller = await caller_of(client)
        runtime.stop()
        with pytest.raises(RuntimeUnavailable):
            await client.get_execution(TENANT, "exec-any")
        runtime.start()
        runtime.reset_stats()
        clock.now += 5.0
        submitted = await client.submit_intent(caller, "data_mash.create", MASH_PARAMETERS)
        assert submitted.execution_id is not None
        requests = runtime.stats()["requests"]
        assert requests["GET /health"] == 1
        assert requests[SUBMIT_ROUTE] == 1
        assert client.breaker_state is BreakerState.CLOSED


async def test_dropped_submit_answers_are_unknown_and_retried_once_only_with_a_key(
    runtime: RuntimeProcess,
) -> None:
    async with RuntimeClient(runtime.url, backoff_base=0.01) as client:
        caller = await caller_of(client)
        runtime.set_faults(drop_rate=1.0)
        runtime.reset_stats()

        with pytest.raises(SubmitOutcomeUnknown, match="without an idempotency key") as caught:
            await client.submit_intent(caller, "data_mash.create", MASH_PARAMETERS)
        assert caught.value.idempotency_key is None
        assert runtime.stats()["requests"][SUBMIT_ROUTE] == 1  # never retried without a key

        with pytest.raises(SubmitOutcomeUnknown, match="same idempotency key") as caught:
            await client.submit_intent(
                caller, "data_mash.create", MASH_PARAMETERS, idempotency_key="key-drop"
            )
        assert caught.value.idempotency_key == "key-drop"
        assert runtime.stats()["requests"][SUBMIT_ROUTE] == 3  # the keyed submit: sent twice

        # The caller follows the advice: the same key, once the Runtime answers again.
        runtime.set_faults(drop_rate=0.0)
        first = await client.submit_intent(
            caller, "data_mash.create", MASH_PARAMETERS, idempotency_key="key-drop"
        )
        again = await client.submit_intent(
            caller, "data_mash.create", MASH_PARAMETERS, idempotency_key="key-drop"
        )
        assert first.execution_id is not None
        assert again.execution_id == first.execution_id


class CuttingProxy:
    """A loopback TCP proxy in front of the Runtime that, when armed, lets one request through
    whole but cuts the Runtime's answer short: the Runtime acts, the client never hears."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.armed = False
        self.swallowed: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        upstream = asyncio.create_task(self._pump(reader, up_writer))
        self._tasks.add(upstream)
        upstream.add_done_callback(self._tasks.discard)
        try:
            while True:
                head = await up_reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                body = await up_reader.readexactly(int(length[1])) if length else b""
                if self.armed:
                    self.armed = False
                    self.swallowed.append(body)
                    writer.write(head + body[: len(body) // 2])
                    await writer.drain()
                    return  # close the client's connection mid-answer
                writer.write(head + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            upstream.cancel()
            up_writer.close()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()


@pytest.fixture
async def proxy(runtime: RuntimeProcess) -> AsyncIterator[CuttingProxy]:
    async with CuttingProxy(runtime.port) as cutting:
        yield cutting


async def test_a_submit_whose_answer_is_lost_after_the_runtime_acted_runs_once(
    runtime: RuntimeProcess, proxy: CuttingProxy
) -> None:
    async with RuntimeClient(proxy.url, backoff_base=0.01) as client:
        caller = await caller_of(client)
        runtime.reset_stats()
        proxy.armed = True
        submitted = await client.submit_intent(
            caller, "data_mash.create", MASH_PARAMETERS, idempotency_key="key-cut"
        )
        # The first answer, which the client never saw, named the same execution.
        (lost,) = proxy.swallowed
        assert submitted.execution_id is not None
        assert submitted.execution_id.encode() in lost
        stats = runtime.stats()
        assert stats["submits"]["data_mash.create"] == 2  # two submits arrived ...
        status = await client.get_execution(TENANT, submitted.execution_id)
        assert status.intent_type == "data_mash.create"  # ... one execution answers both


async def test_without_a_key_a_lost_answer_is_reported_not_repeated(
    runtime: RuntimeProcess, proxy: CuttingProxy
) -> None:
    async with RuntimeClient(proxy.url, backoff_base=0.01) as client:
        caller = await caller_of(client)
        runtime.reset_stats()
        proxy.armed = True
        with pytest.raises(SubmitOutcomeUnknown, match="may or may not have started it"):
            await client.submit_intent(caller, "data_mash.create", MASH_PARAMETERS)
        assert runtime.stats()["submits"]["data_mash.create"] == 1
        assert len(proxy.swallowed) == 1  # it did start one: hence "unknown", not "failed"
