"""The circuit breaker, alone and in `RuntimeClient` (over `httpx.MockTransport`, fake clock)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from experience_plane.runtime import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    RuntimeCaller,
    RuntimeClient,
    RuntimeClientError,
    RuntimeUnavailable,
)

CALLER = RuntimeCaller(tenant_id="tenant-a", user_id="user-1", session_id="session-1")
STATUS = {"execution_id": "exec-1", "status": "running"}
SUBMITTED = {"execution_id": "exec-1", "status": "pending"}
HEALTHY = {"status": "healthy"}
Answer = (
    httpx.Response
    | Exception
    | Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Awaitable[httpx.Response]]
)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Runtime:
    """A mock Runtime whose behaviour can change between calls; it records each request."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.paths: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        answer = self.answer
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            result = answer(request)
            return await result if inspect.isawaitable(result) else result
        return answer


def ok(request: httpx.Request) -> httpx.Response:
    """A healthy Runtime: health, status reads and submits all succeed."""
    if request.url.path == "/health":
        return httpx.Response(200, json=HEALTHY)
    if request.url.path.endswith("/submit"):
        return httpx.Response(200, json=SUBMITTED)
    return httpx.Response(200, json=STATUS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(runtime: Runtime, clock: FakeClock, **kwargs: Any) -> RuntimeClient:
    breaker = CircuitBreaker(
        failure_threshold=kwargs.pop("threshold", 3),
        reset_seconds=5.0,
        max_reset_seconds=20.0,
        failure_window=30.0,
        clock=clock,
    )
    kwargs.setdefault("status_retries", 0)
    kwargs.setdefault("backoff_base", 0.0)  # retries follow at once; nothing here waits
    return RuntimeClient(
        "http://runtime.test", transport=httpx.MockTransport(runtime), breaker=breaker, **kwargs
    )


async def fail_reads(client: RuntimeClient, times: int) -> None:
    for _ in range(times):
        with pytest.raises(RuntimeUnavailable):
            await client.get_execution("tenant-a", "exec-1")


# -- opening --------------------------------------------------------------------------------


async def test_opens_after_threshold_and_then_fails_fast_without_sending(
    clock: FakeClock,
) -> None:
    runtime = Runtime(httpx.ConnectError("refused"))
    async with make_client(runtime, clock) as client:
        await fail_reads(client, 2)
        assert client.breaker_state == "closed"
        await fail_reads(client, 1)
        assert client.breaker_state is BreakerState.OPEN
        sent = len(runtime.paths)
        for call in (
            client.get_execution("tenant-a", "exec-1"),
            client.get_artifact("tenant-a", "file-1"),
            client.submit_intent(CALLER, "data_mash.create", {}),
            client.create_session("tenant-a", "user-1"),
        ):
            with pytest.raises(CircuitOpen, match="circuit open") as caught:
                await call
            assert caught.value.retry_after == pytest.approx(5.0)
        assert not await client.health()
        assert len(runtime.paths) == sent == 3
        snapshot = client.breaker_snapshot()
    assert snapshot.state is BreakerState.OPEN
    assert snapshot.trips == 1
    assert snapshot.as_dict()["retry_after_seconds"] == pytest.approx(5.0)
    assert "refused" in str(snapshot.last_failure)


async def test_circuit_open_is_runtime_unavailable(clock: FakeClock) -> None:
    async with make_client(Runtime(httpx.ConnectError("refused")), clock, threshold=1) as client:
        await fail_reads(client, 1)
        with pytest.raises(RuntimeUnavailable):
            await client.get_execution("tenant-a", "exec-1")


async def test_a_retried_read_is_one_failure(clock: FakeClock) -> None:
    runtime = Runtime(httpx.Response(503))
    async with make_client(runtime, clock, threshold=2, status_retries=3) as client:
        await fail_reads(client, 1)
        assert len(runtime.paths) == 4
        assert client.breaker_snapshot().consecutive_failures == 1
        assert client.breaker_state == "closed"
        await fail_reads(client, 1)
        assert client.breaker_state == "open"


async def test_retries_stop_when_the_circuit_opens_under_them(clock: FakeClock) -> None:
    runtime = Runtime(httpx.ConnectError("refused"))
    async with make_client(runtime, clock, threshold=1, status_retries=5) as client:

        def tripped_elsewhere(request: httpx.Request) -> httpx.Response:
            client._breaker.record_failure("another call found the Runtime down")
            raise httpx.ConnectError("refused")

        runtime.answer = tripped_elsewhere
        await fail_reads(client, 1)
        assert len(runtime.paths) == 1  # not 6: the open circuit ended the retry loop
        assert client.breaker_snapshot().trips == 1


async def test_answers_that_prove_the_runtime_is_up_do_not_trip_it(clock: FakeClock) -> None:
    answers: list[httpx.Response] = [
        httpx.Response(404, json={"detail": "no such execution"}),
        httpx.Response(422, json={"detail": "bad"}),
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(200, text="<html>not json</html>"),
    ]
    runtime = Runtime(lambda request: answers[len(runtime.paths) % len(answers) - 1])
    async with make_client(runtime, clock, threshold=1) as client:
        for _ in range(8):
            with pytest.raises(RuntimeClientError) as caught:
                await client.get_execution("tenant-a", "exec-1")
            assert not isinstance(caught.value, CircuitOpen)
        assert client.breaker_state == "closed"
        assert client.breaker_snapshot().consecutive_failures == 0


async def test_a_success_resets_the_count(clock: FakeClock) -> None:
    runtime = Runtime(httpx.ConnectError("refused"))
    async with make_client(runtime, clock) as client:
        await fail_reads(client, 2)
        runtime.answer = ok
        await client.get_execution("tenant-a", "exec-1")
        runtime.answer = httpx.ConnectError("refused")
        await fail_reads(client, 2)
        assert client.breaker_state == "closed"


async def test_failures_spread_beyond_the_window_do_not_add_up(clock: FakeClock) -> None:
    async with make_client(Runtime(httpx.ConnectError("refused")), clock) as client:
        for _ in range(5):
            await fail_reads(client, 1)
            clock.advance(16)  # two failures fit in the 30 s window, never three
        assert client.breaker_state == "closed"


async def test_submits_without_an_answer_count(clock: FakeClock) -> None:
    runtime = Runtime(httpx.ReadTimeout("slow"))
    async with make_client(runtime, clock, threshold=2) as client:
        for _ in range(2):
            with pytest.raises(RuntimeUnavailable):
                await client.submit_intent(CALLER, "data_mash.create", {})
        assert client.breaker_state == "open"


# -- probing --------------------------------------------------------------------------------


async def test_half_open_read_is_the_probe_and_its_success_closes(clock: FakeClock) -> None:
    runtime = Runtime(httpx.ConnectError("refused"))
    async with make_client(runtime, clock, status_retries=3) as client:
        await fail_reads(client, 3)
        clock.advance(4.9)
        assert client.breaker_state == "open"
        clock.advance(0.1)
        assert client.breaker_state == "half_open"
        runtime.answer = ok
        runtime.paths.clear()
        status = await client.get_execution("tenant-a", "exec-1")
        assert status.execution_id == "exec-1"
        assert runtime.paths == ["/api/execution/exec-1/status"]
        assert client.breaker_state == "closed"
        assert client.breaker_snapshot().cooldown == 5.0


async def test_failed_probes_reopen_with_a_growing_capped_cooldown(clock: FakeClock) -> None:
    runtime = Runtime(httpx.ConnectError("refused"))
    async with make_client(runtime, clock, status_retries=3) as client:
        await fail_reads(client, 3)
        cooldowns = []
        for _ in range(4):
            clock.advance(client.breaker_snapshot().retry_after)
            runtime.paths.clear()
            await fail_reads(client, 1)  # the probe: sent once, never retried
            assert runtime.paths == ["/api/execution/exec-1/status"]
            assert client.breaker_state == "open"
            cooldowns.append(client.breaker_snapshot().cooldown)
            with pytest.raises(CircuitOpen):
                await client.get_execution("tenant-a", "exec-1")
        assert cooldowns == [10.0, 20.0, 20.0, 20.0]
        assert client.breaker_snapshot().trips == 5
        runtime.answer = ok
        clock.advance(20.0)
        assert await client.health()
        assert client.breaker_state == "closed"
        assert client.breaker_snapshot().cooldown == 5.0


async def test_only_one_probe_at_a_time(clock: FakeClock) -> None:
    runtime = Runtime(httpx.ConnectError("refused"))
    release = asyncio.Event()
    async with make_client(runtime, clock) as client:
        await fail_reads(client, 3)
        clock.advance(5.0)

        probing = asyncio.Event()

        async def slow_ok(request: httpx.Request) -> httpx.Response:
            probing.set()
            await release.wait()
            return ok(request)

        runtime.answer = slow_ok
        probe = asyncio.create_task(client.get_execution("tenant-a", "exec-1"))
        await probing.wait()
        with pytest.raises(CircuitOpen, match="half-open"):
            await client.get_execution("tenant-a", "exec-2")
        release.set()
        await probe
        assert len(runtime.paths) == 4
        assert client.breaker_state == "closed"


async def test_a_cancelled_probe_lets_the_next_call_probe(clock: FakeClock) -> None:
    runtime = Runtime(httpx.ConnectError("refused"))
    async with make_client(runtime, clock) as client:
        await fail_reads(client, 3)
        clock.advance(5.0)
        never = asyncio.Event()

        async def hang(request: httpx.Request) -> httpx.Response:
            await never.wait()
            raise AssertionError("unreachable")

        runtime.answer = hang
        probe = asyncio.create_task(client.get_execution("tenant-a", "exec-1"))
        await asyncio.sleep(0.01)
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        runtime.answer = ok
        await client.get_execution("tenant-a", "exec-1")
        assert client.breaker_state == "closed"


async def test_half_open_submit_is_preceded_by_a_health_probe(clock: FakeClock) -> None:
    runtime = Runtime(httpx.ConnectError("refused"))
    async with make_client(runtime, clock) as client:
        await fail_reads(client, 3)
        clock.advance(5.0)
        runtime.paths.clear()
        with pytest.raises(CircuitOpen, match="still down"):
            await client.submit_intent(CALLER, "data_mash.create", {})
        assert runtime.paths == ["/health"]  # the submit itself was never sent
        clock.advance(10.0)
        runtime.answer = ok
        runtime.paths.clear()
        submitted = await client.submit_intent(CALLER, "data_mash.create", {})
        assert submitted.execution_id == "exec-1"
        assert runtime.paths == ["/health", "/api/intent/submit"]
        assert client.breaker_state == "closed"


async def test_unhealthy_answer_is_a_failed_probe(clock: FakeClock) -> None:
    runtime = Runtime(httpx.ConnectError("refused"))
    async with make_client(runtime, clock) as client:
        await fail_reads(client, 3)
        clock.advance(5.0)
        runtime.answer = httpx.Response(200, json={"status": "degraded"})
        assert not await client.health()
        assert client.breaker_state == "open"
        assert "degraded" in str(client.breaker_snapshot().last_failure)


async def test_stream_fails_fast_while_open(clock: FakeClock) -> None:
    async with make_client(Runtime(httpx.ConnectError("refused")), clock) as client:
        await fail_reads(client, 3)
        with pytest.raises(CircuitOpen):
            async for _ in client.stream_execution("tenant-a", "exec-1"):
                pass


# -- the state machine on its own -----------------------------------------------------------


def test_breaker_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError, match="reset_seconds"):
        CircuitBreaker(reset_seconds=10, max_reset_seconds=5)


def test_client_builds_its_breaker_from_arguments() -> None:
    client = RuntimeClient(
        "http://runtime.test",
        transport=httpx.MockTransport(ok),
        breaker_failure_threshold=7,
        breaker_reset_seconds=2.5,
    )
    snapshot = client.breaker_snapshot()
    assert (snapshot.failure_threshold, snapshot.cooldown) == (7, 2.5)
    assert snapshot.as_dict()["state"] == "closed"
