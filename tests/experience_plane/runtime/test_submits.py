"""Submits whose answer is lost: `SubmitOutcomeUnknown` versus "nothing sent", and the one retry
a submit with an idempotency key gets (over `httpx.MockTransport`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest

from experience_plane.runtime import (
    RuntimeCaller,
    RuntimeClient,
    RuntimeRejected,
    RuntimeTimeout,
    RuntimeUnavailable,
    SubmitOutcomeUnknown,
)
from experience_plane.runtime.transport import nothing_sent

CALLER = RuntimeCaller(tenant_id="tenant-a", user_id="user-1", session_id="session-1")
SUBMITTED = {"execution_id": "exec-1", "status": "pending", "intent_id": "intent-1"}


class DroppedBody(httpx.AsyncByteStream):
    """An answer whose connection goes away after the first bytes of the body."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"execution_id": "'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def dropped_mid_body(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Length": "4096"}, stream=DroppedBody())


class Runtime:
    """Answers with the given answers in turn (the last one repeats); records request bodies."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(await request.aread()))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            result: httpx.Response = answer(request)
            return result
        assert isinstance(answer, httpx.Response)
        return answer


def make_client(runtime: Runtime, **kwargs: Any) -> RuntimeClient:
    kwargs.setdefault("backoff_base", 0.0)
    return RuntimeClient("http://runtime.test", transport=httpx.MockTransport(runtime), **kwargs)


LOST_ANSWERS = [
    pytest.param(httpx.ReadTimeout("slow"), True, id="read-timeout"),
    pytest.param(httpx.ReadError("reset"), False, id="read-error"),
    pytest.param(httpx.RemoteProtocolError("dropped"), False, id="protocol-drop"),
    pytest.param(httpx.WriteError("broken pipe"), False, id="write-error"),
    pytest.param(dropped_mid_body, False, id="mid-body-drop"),
    pytest.param(httpx.Response(504, text="Gateway Timeout"), True, id="gateway-504"),
]


@pytest.mark.parametrize(("answer", "timed_out"), LOST_ANSWERS)
async def test_a_lost_answer_without_a_key_is_unknown_and_not_retried(
    answer: Any, timed_out: bool
) -> None:
    runtime = Runtime(answer)
    async with make_client(runtime) as client:
        with pytest.raises(SubmitOutcomeUnknown) as caught:
            await client.submit_intent(CALLER, "data_mash.create", {"content_refs": ["f"]})
    error = caught.value
    assert len(runtime.bodies) == 1
    assert isinstance(error, RuntimeUnavailable)
    assert error.idempotency_key is None
    assert error.intent_id == runtime.bodies[0]["intent_id"]
    assert error.timed_out is timed_out
    assert "outcome of intent 'data_mash.create'" in error.message
    assert "is unknown" in error.message
    assert "without an idempotency key" in error.message


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("refused"), RuntimeUnavailable),
        (httpx.ConnectTimeout("no connection"), RuntimeTimeout),
        (httpx.PoolTimeout("pool exhausted"), RuntimeTimeout),
    ],
)
async def test_nothing_sent_stays_plain_unavailable(
    failure: Exception, expected: type[Exception]
) -> None:
    runtime = Runtime(failure)
    async with make_client(runtime) as client:
        with pytest.raises(expected) as caught:
            await client.submit_intent(CALLER, "x", {}, idempotency_key="key-1")
    assert not isinstance(caught.value, SubmitOutcomeUnknown)
    assert len(runtime.bodies) == 1  # a key does not make a refused connection worth a retry


@pytest.mark.parametrize(("answer", "timed_out"), LOST_ANSWERS)
async def test_with_a_key_a_lost_answer_is_retried_once_with_the_same_body(
    answer: Any, timed_out: bool
) -> None:
    runtime = Runtime(answer, httpx.Response(200, json=SUBMITTED))
    async with make_client(runtime) as client:
        submitted = await client.submit_intent(
            CALLER, "data_mash.create", {"content_refs": ["f"]}, idempotency_key="key-1"
        )
    assert submitted.execution_id == "exec-1"
    first, second = runtime.bodies
    assert first == second  # same intent id, same key: the Runtime sees one intent twice
    assert first["metadata"]["idempotency_key"] == "key-1"


async def test_with_a_key_a_second_lost_answer_is_unknown_with_the_key() -> None:
    runtime = Runtime(httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"))
    async with make_client(runtime) as client:
        with pytest.raises(SubmitOutcomeUnknown) as caught:
            await client.submit_intent(CALLER, "data_mash.create", {}, idempotency_key="key-1")
    assert len(runtime.bodies) == 2
    error = caught.value
    assert error.idempotency_key == "key-1"
    assert error.timed_out is False  # the last loss was a drop
    assert "also after 1 retry" in error.message
    assert "Retry with the same idempotency key ('key-1')" in error.message


async def test_a_retry_that_cannot_connect_leaves_the_outcome_unknown() -> None:
    runtime = Runtime(httpx.ReadTimeout("slow"), httpx.ConnectError("refused"))
    async with make_client(runtime) as client:
        with pytest.raises(SubmitOutcomeUnknown, match="is unknown"):
            await client.submit_intent(CALLER, "x", {}, idempotency_key="key-1")
    assert len(runtime.bodies) == 2


async def test_a_retry_refused_by_the_runtime_is_that_refusal() -> None:
    runtime = Runtime(httpx.ReadTimeout("slow"), httpx.Response(400, json={"detail": "bad"}))
    async with make_client(runtime) as client:
        with pytest.raises(RuntimeRejected):
            await client.submit_intent(CALLER, "x", {}, idempotency_key="key-1")


async def test_retries_can_be_turned_off() -> None:
    runtime = Runtime(httpx.ReadTimeout("slow"), httpx.Response(200, json=SUBMITTED))
    async with make_client(runtime, submit_outcome_retries=0) as client:
        with pytest.raises(SubmitOutcomeUnknown):
            await client.submit_intent(CALLER, "x", {}, idempotency_key="key-1")
    assert len(runtime.bodies) == 1


async def test_an_upload_of_bytes_is_resent_whole() -> None:
    runtime = Runtime(httpx.ReadTimeout("slow"), httpx.Response(200, json=SUBMITTED))
    async with make_client(runtime) as client:
        await client.upload_content(
            CALLER,
            filename="a.csv",
            mime_type="text/csv",
            content=b"a,b\n1,2\n",
            idempotency_key="key-1",
        )
    first, second = runtime.bodies
    assert first == second
    assert first["parameters"]["size"] == 8


async def test_a_streamed_upload_is_never_resent() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a,b\n"
        yield b"1,2\n"

    runtime = Runtime(httpx.ReadTimeout("slow"), httpx.Response(200, json=SUBMITTED))
    async with make_client(runtime) as client:
        with pytest.raises(SubmitOutcomeUnknown, match="same idempotency key"):
            await client.upload_content(
                CALLER,
                filename="a.csv",
                mime_type="text/csv",
                content=chunks(),
                idempotency_key="key-1",
            )
    assert len(runtime.bodies) == 1


async def test_a_retried_unknown_submit_is_one_breaker_failure() -> None:
    runtime = Runtime(httpx.ReadTimeout("slow"))
    async with make_client(runtime, breaker_failure_threshold=2) as client:
        with pytest.raises(SubmitOutcomeUnknown):
            await client.submit_intent(CALLER, "x", {}, idempotency_key="key-1")
        assert client.breaker_snapshot().consecutive_failures == 1
        assert client.breaker_state == "closed"


@pytest.mark.parametrize(
    ("exc", "sent"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow connect"), False),
        (httpx.PoolTimeout("no free connection"), False),
        (ConnectionRefusedError(), False),
        (httpx.ReadTimeout("slow"), True),
        (httpx.WriteTimeout("slow"), True),
        (httpx.RemoteProtocolError("dropped"), True),
        (TimeoutError(), True),
        # aiohttp's errors, as the default carrier raises them.
        (
            aiohttp.ClientConnectorError(
                aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
                OSError(111, "refused"),
            ),
            False,
        ),
        (aiohttp.ConnectionTimeoutError(), False),
        (aiohttp.ServerDisconnectedError(), True),
        (aiohttp.ClientPayloadError("cut short"), True),
        (aiohttp.SocketTimeoutError(), True),
    ],
)
def test_nothing_sent_only_for_connect_phase_failures(exc: Exception, sent: bool) -> None:
    assert nothing_sent(exc) is not sent
