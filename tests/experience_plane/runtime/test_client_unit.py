"""RuntimeClient against `httpx.MockTransport`: requests sent, answers parsed, failures mapped."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from experience_plane.runtime import (
    ArtifactNotFound,
    DataMashArtifact,
    ExecutionNotFound,
    ExecutionState,
    FileArtifact,
    RuntimeCaller,
    RuntimeClient,
    RuntimeFlavour,
    RuntimeProtocolError,
    RuntimeRejected,
    RuntimeTimeout,
    RuntimeUnavailable,
)

CALLER = RuntimeCaller(tenant_id="tenant-a", user_id="user-1", session_id="session-1")
STATUS = {"execution_id": "exec-1", "status": "executing", "intent_id": "intent-1"}
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A mock Runtime: answers with the given responses in turn and records every request."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(await request.aread())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def json(self, index: int = -1) -> Any:
        return json.loads(self.bodies[index])


def make_client(recorder: Recorder, **kwargs: Any) -> RuntimeClient:
    kwargs.setdefault("backoff_base", 0.001)
    return RuntimeClient("http://runtime.test", transport=httpx.MockTransport(recorder), **kwargs)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's backoff pauses instead of sleeping them."""
    recorded: list[float] = []

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr("experience_plane.runtime.reads.asyncio.sleep", fake_sleep)
    return recorded


# -- status reads ---------------------------------------------------------------------------


async def test_get_execution_sends_tenant_and_parses() -> None:
    recorder = Recorder(httpx.Response(200, json=STATUS))
    async with make_client(recorder) as client:
        status = await client.get_execution("tenant-a", "exec-1")
    assert status.state is ExecutionState.RUNNING
    request = recorder.requests[0]
    assert request.url.path == "/api/execution/exec-1/status"
    assert request.url.params["tenant_id"] == "tenant-a"


async def test_ids_are_escaped_in_paths() -> None:
    recorder = Recorder(httpx.Response(200, json=STATUS))
    async with make_client(recorder) as client:
        await client.get_execution("t", "a/b?c")
    assert recorder.requests[0].url.raw_path.startswith(b"/api/execution/a%2Fb%3Fc/status")


async def test_5xx_then_success_is_retried(sleeps: list[float]) -> None:
    recorder = Recorder(
        httpx.Response(503, text="busy"), httpx.Response(502), httpx.Response(200, json=STATUS)
    )
    async with make_client(recorder) as client:
        status = await client.get_execution("t", "exec-1")
    assert status.execution_id == "exec-1"
    assert len(recorder.requests) == 3
    assert len(sleeps) == 2
    assert all(0 <= pause <= 0.002 for pause in sleeps)


async def test_retry_after_is_honoured(sleeps: list[float]) -> None:
    recorder = Recorder(
        httpx.Response(429, headers={"Retry-After": "0.25"}), httpx.Response(200, json=STATUS)
    )
    async with make_client(recorder) as client:
        await client.get_execution("t", "exec-1")
    assert sleeps == [0.25]


async def test_retry_after_really_waits() -> None:
    recorder = Recorder(
        httpx.Response(503, headers={"Retry-After": "0.01"}), httpx.Response(200, json=STATUS)
    )
    async with make_client(recorder) as client:
        await client.get_execution("t", "exec-1")
    assert len(recorder.requests) == 2


async def test_retries_are_bounded(sleeps: list[float]) -> None:
    recorder = Recorder(httpx.Response(500, json={"detail": "boom"}))
    async with make_client(recorder, status_retries=2) as client:
        with pytest.raises(RuntimeUnavailable) as caught:
            await client.get_execution("t", "exec-1")
    assert len(recorder.requests) == 3
    assert caught.value.status_code == 500
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)


async def test_backoff_grows_exponentially_within_the_cap() -> None:
    client = RuntimeClient("http://runtime.test", backoff_base=0.1, backoff_max=0.5)
    try:
        for attempt, ceiling in enumerate([0.1, 0.2, 0.4, 0.5, 0.5]):
            pauses = [client._backoff(attempt, None) for _ in range(50)]
            assert all(0 <= p <= ceiling for p in pauses)
            assert max(pauses) > ceiling / 4  # full jitter, not always tiny
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("refused"), RuntimeUnavailable),
        (httpx.ReadError("reset"), RuntimeUnavailable),
        (httpx.RemoteProtocolError("dropped"), RuntimeUnavailable),
        (httpx.ConnectTimeout("slow"), RuntimeTimeout),
        (httpx.ReadTimeout("slow"), RuntimeTimeout),
    ],
)
async def test_transport_failures_are_retried_then_translated(
    failure: Exception, expected: type[Exception], sleeps: list[float]
) -> None:
    recorder = Recorder(failure)
    async with make_client(recorder, status_retries=3) as client:
        with pytest.raises(expected) as caught:
            await client.get_execution("t", "exec-1")
    assert len(recorder.requests) == 4
    assert caught.value.__cause__ is failure


async def test_connect_error_then_success(sleeps: list[float]) -> None:
    recorder = Recorder(httpx.ConnectError("refused"), httpx.Response(200, json=STATUS))
    async with make_client(recorder) as client:
        assert (await client.get_execution("t", "exec-1")).execution_id == "exec-1"


async def test_404_on_status_is_execution_not_found() -> None:
    recorder = Recorder(httpx.Response(404, json={"detail": "Execution not found"}))
    async with make_client(recorder) as client:
        with pytest.raises(ExecutionNotFound, match="Execution not found"):
            await client.get_execution("t", "nope")
    assert len(recorder.requests) == 1


async def test_404_on_artifact_is_artifact_not_found() -> None:
    recorder = Recorder(httpx.Response(404, json={"detail": "Artifact not found"}))
    async with make_client(recorder) as client:
        with pytest.raises(ArtifactNotFound):
            await client.get_artifact("t", "nope")
        with pytest.raises(ArtifactNotFound):
            await client.get_mash_records("t", "nope")


async def test_422_is_rejected_with_detail() -> None:
    detail = [{"loc": ["body", "tenant_id"], "msg": "Field required", "type": "missing"}]
    recorder = Recorder(httpx.Response(422, json={"detail": detail}))
    async with make_client(recorder) as client:
        with pytest.raises(RuntimeRejected) as caught:
            await client.get_execution("t", "exec-1")
    assert caught.value.detail == detail
    assert caught.value.status_code == 422
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html><body>Gateway</body></html>"),
        httpx.Response(200, content=b'{"execution_id": "e",'),
        httpx.Response(200, json=["a", "list"]),
        httpx.Response(200, json={"status": "completed"}),
        httpx.Response(200, json={"execution_id": "e"}),
        httpx.Response(302, headers={"Location": "/elsewhere"}),
    ],
)
async def test_malformed_answers_are_protocol_errors(answer: httpx.Response) -> None:
    recorder = Recorder(answer)
    async with make_client(recorder) as client:
        with pytest.raises(RuntimeProtocolError) as caught:
            await client.get_execution("t", "exec-1")
    assert caught.value.__cause__ is not None
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "body", [b"<html><body>Gateway</body></html>", b'{"execution_id": "e",', b"\xff\xfe{}"]
)
async def test_a_2xx_body_that_is_not_json_says_so(body: bytes) -> None:
    # Status bodies are validated straight from their bytes: a JSON syntax error must still
    # read as "not JSON", not as a wrongly shaped answer.
    async with make_client(Recorder(httpx.Response(200, content=body))) as client:
        with pytest.raises(RuntimeProtocolError, match="answer is not JSON"):
            await client.get_execution("t", "exec-1")


async def test_html_5xx_page_is_unavailable(sleeps: list[float]) -> None:
    recorder = Recorder(httpx.Response(502, text="<html>Bad Gateway</html>"))
    async with make_client(recorder, status_retries=1) as client:
        with pytest.raises(RuntimeUnavailable, match="Bad Gateway"):
            await client.get_execution("t", "exec-1")


# -- artifacts ------------------------------------------------------------------------------


async def test_get_artifact_completes_a_reduced_file() -> None:
    detail = {
        "id": "file-1",
        "artifact_type": "file",
        "name": "customers.csv",
        "type": "text/csv",
        "size": 10,
        "hash": "ab" * 32,
        "semantic_payload": {"file_id": "file-1", "format": "csv", "columns": None},
    }
    recorder = Recorder(httpx.Response(200, json=detail))
    async with make_client(recorder) as client:
        artifact = await client.get_artifact("tenant-a", "file-1")
    assert artifact == FileArtifact(
        "file-1", "customers.csv", "text/csv", 10, "ab" * 32, "csv", None, None, True
    )
    assert recorder.requests[0].url.path == "/api/artifacts/file-1"
    assert recorder.requests[0].url.params["tenant_id"] == "tenant-a"


async def test_get_artifact_of_unknown_type_is_a_protocol_error() -> None:
    recorder = Recorder(httpx.Response(200, json={"id": "x", "artifact_type": "chart"}))
    async with make_client(recorder) as client:
        with pytest.raises(RuntimeProtocolError):
            await client.get_artifact("t", "x")


def mash_detail(records: list[dict[str, object]], **extra: object) -> dict[str, object]:
    return {
        "id": "mash-1",
        "artifact_type": "data_mash",
        "semantic_payload": {"mash_id": "mash-1", "canonical_fields": []},
        "records": records,
        **extra,
    }


async def test_mash_records_paging_is_sent_and_read() -> None:
    recorder = Recorder(httpx.Response(200, json=mash_detail([{"a": 3}], records_total=7)))
    async with make_client(recorder) as client:
        page = await client.get_mash_records("t", "mash-1", offset=2, limit=1)
    assert (page.records, page.total, page.offset) == (({"a": 3},), 7, 2)
    params = recorder.requests[0].url.params
    assert (params["records_offset"], params["records_limit"]) == ("2", "1")


async def test_mash_records_paged_locally_when_the_runtime_ignores_paging() -> None:
    records: list[dict[str, object]] = [{"n": n} for n in range(5)]
    recorder = Recorder(httpx.Response(200, json=mash_detail(records)))
    async with make_client(recorder) as client:
        page = await client.get_mash_records("t", "mash-1", offset=1, limit=2)
        everything = await client.get_mash_records("t", "mash-1")
    assert (page.records, page.total) == (({"n": 1}, {"n": 2}), 5)
    assert len(everything.records) == 5


async def test_mash_records_of_a_file_is_not_found() -> None:
    file_detail = {"id": "f", "artifact_type": "file", "semantic_payload": {"file_id": "f"}}
    recorder = Recorder(httpx.Response(200, json=file_detail))
    async with make_client(recorder) as client:
        with pytest.raises(ArtifactNotFound, match="not a data mash"):
            await client.get_mash_records("t", "f")


# -- submits --------------------------------------------------------------------------------

ACCEPTED = {"execution_id": "exec-1", "intent_id": "i", "status": "accepted", "created_at": "x"}


async def test_submit_envelope() -> None:
    accepted = {**ACCEPTED, "created_at": "2024-05-01T10:00:00"}
    recorder = Recorder(httpx.Response(200, json=accepted))
    async with make_client(recorder, solution_id="sol") as client:
        result = await client.submit_intent(
            CALLER, "custom.thing", {"x": 1}, idempotency_key="key-1", metadata={"trace": "t"}
        )
    assert result.execution_id == "exec-1"
    assert result.state is ExecutionState.PENDING
    body = recorder.json()
    assert body["intent_type"] == "custom.thing"
    assert (body["tenant_id"], body["session_id"], body["solution_id"]) == (
        "tenant-a",
        "session-1",
        "sol",
    )
    assert body["parameters"] == {"x": 1}
    assert body["metadata"] == {"trace": "t", "user_id": "user-1", "idempotency_key": "key-1"}
    assert body["intent_id"]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(503, text="busy"),
        httpx.Response(429, headers={"Retry-After": "0"}),
    ],
)
async def test_submit_is_never_retried(failure: httpx.Response | Exception) -> None:
    recorder = Recorder(failure, failure, httpx.Response(200, json=ACCEPTED))
    async with make_client(recorder, status_retries=5) as client:
        with pytest.raises(RuntimeUnavailable):
            await client.submit_intent(CALLER, "x", {})
        with pytest.raises(RuntimeUnavailable):
            await client.upload_content(CALLER, filename="a", mime_type="b", content=b"c")
        assert len(recorder.requests) == 2  # a retry would have succeeded
        assert (await client.submit_intent(CALLER, "x", {})).execution_id == "exec-1"


async def test_platform_500_with_detail_is_a_failed_submit() -> None:
    recorder = Recorder(httpx.Response(500, json={"detail": "Unknown content ref: f-9"}))
    async with make_client(recorder, flavour=RuntimeFlavour.PLATFORM) as client:
        result = await client.create_data_mash(CALLER, content_refs=["f-9"])
    assert result.execution_id is None
    assert result.state is ExecutionState.FAILED
    assert result.error == "Unknown content ref: f-9"
    assert result.intent_id == recorder.json()["intent_id"]
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, text="<html>Internal Server Error</html>"),
        httpx.Response(500, json={"message": "no detail here"}),
        httpx.Response(500, text="Internal Server Error"),
    ],
)
async def test_other_500s_on_submit_are_unavailable(answer: httpx.Response) -> None:
    async with make_client(Recorder(answer)) as client:
        with pytest.raises(RuntimeUnavailable):
            await client.submit_intent(CALLER, "x", {})


async def test_platform_synchronous_submit_is_already_terminal() -> None:
    done = {"execution_id": "exec-1", "intent_id": "", "status": "completed", "created_at": ""}
    async with make_client(Recorder(httpx.Response(200, json=done))) as client:
        result = await client.submit_intent(CALLER, "x", {})
    assert (result.state, result.intent_id, result.created_at) == (
        ExecutionState.COMPLETED,
        None,
        None,
    )


async def test_submit_rejected_and_missing_id() -> None:
    recorder = Recorder(
        httpx.Response(422, json={"detail": [{"msg": "Field required"}]}),
        httpx.Response(200, json={"status": "accepted"}),
    )
    async with make_client(recorder) as client:
        with pytest.raises(RuntimeRejected) as caught:
            await client.submit_intent(CALLER, "x", {})
        assert caught.value.detail == [{"msg": "Field required"}]
        with pytest.raises(RuntimeProtocolError):
            await client.submit_intent(CALLER, "x", {})


async def test_create_data_mash_parameters() -> None:
    recorder = Recorder(httpx.Response(200, json=ACCEPTED))
    async with make_client(recorder) as client:
        await client.create_data_mash(
            CALLER,
            content_refs=("f-1", "f-2"),
            target_domain="insurance",
            confidence_level="high",
            name="Book",
        )
    body = recorder.json()
    assert body["intent_type"] == "data_mash.create"
    assert body["parameters"] == {
        "content_refs": ["f-1", "f-2"],
        "options": {"target_domain": "insurance", "confidence_level": "high", "name": "Book"},
    }


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_reference_upload_streams_base64() -> None:
    recorder = Recorder(httpx.Response(200, json=ACCEPTED))
    content = b"customer_id,name\n1,Ada\n2,Grace\n"
    async with make_client(recorder) as client:
        await client.upload_content(
            CALLER,
            filename="customers.csv",
            mime_type="text/csv",
            content=chunks(content[:5], content[5:6], content[6:]),
            idempotency_key="up-1",
        )
    request, body = recorder.requests[0], recorder.json()
    assert "content-length" not in request.headers  # streamed, not buffered
    assert request.headers["content-type"] == "application/json"
    assert body["intent_type"] == "content.upload"
    assert body["metadata"] == {"user_id": "user-1", "idempotency_key": "up-1"}
    params = body["parameters"]
    assert base64.b64decode(params.pop("file_content")) == content
    assert params == {
        "filename": "customers.csv",
        "mime_type": "text/csv",
        "content_encoding": "base64",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


@pytest.mark.parametrize(
    ("filename", "mime_type", "file_type"),
    [
        ("policies.JSON", "application/json", "json"),
        ("customers", "text/csv", "csv"),
        ("blob", "application/octet-stream", "binary"),
    ],
)
async def test_platform_upload_is_ingest_file_in_hex(
    filename: str, mime_type: str, file_type: str
) -> None:
    recorder = Recorder(httpx.Response(200, json={**ACCEPTED, "status": "completed"}))
    content = b'[{"policy_number": "P1"}]'
    async with make_client(recorder, flavour=RuntimeFlavour.PLATFORM) as client:
        result = await client.upload_content(
            CALLER, filename=filename, mime_type=mime_type, content=content
        )
    assert result.state is ExecutionState.COMPLETED
    body = recorder.json()
    assert body["intent_type"] == "ingest_file"
    params = body["parameters"]
    assert bytes.fromhex(params.pop("file_content")) == content
    assert params == {
        "filename": filename,
        "ui_name": filename,
        "mime_type": mime_type,
        "file_type": file_type,
        "user_id": "user-1",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


# -- sessions and health --------------------------------------------------------------------


async def test_create_session_carries_the_execution_contract() -> None:
    session = {"session_id": "s-1", "tenant_id": "t", "user_id": "u", "created_at": ""}
    recorder = Recorder(httpx.Response(200, json=session))
    async with make_client(recorder) as client:
        assert await client.create_session("t", "u", "s-1", {"source": "test"}) == "s-1"
        await client.create_session("t", "u")
    first, second = recorder.json(0), recorder.json(1)
    assert first["execution_contract"]["action"] == "create_session"
    assert first["execution_contract"]["session_id"] == "s-1"
    assert first["metadata"] == {"source": "test"}
    assert second["session_id"] == second["execution_contract"]["session_id"]
    assert second["session_id"]


async def test_create_session_forbidden_is_rejected() -> None:
    recorder = Recorder(httpx.Response(403, json={"detail": "Invalid execution contract"}))
    async with make_client(recorder) as client:
        with pytest.raises(RuntimeRejected) as caught:
            await client.create_session("t", "u")
    assert caught.value.detail == "Invalid execution contract"


@pytest.mark.parametrize(
    ("answer", "healthy"),
    [
        (httpx.Response(200, json={"status": "healthy", "mode": "async"}), True),
        (httpx.Response(200, json={"status": "degraded"}), False),
        (httpx.Response(503, json={"status": "healthy"}), False),
        (httpx.Response(200, text="<html>ok</html>"), False),
        (httpx.ConnectError("refused"), False),
    ],
)
async def test_health(answer: httpx.Response | Exception, healthy: bool) -> None:
    async with make_client(Recorder(answer)) as client:
        assert await client.health() is healthy


async def test_artifacts_in_a_status_are_parsed() -> None:
    status = {
        **STATUS,
        "status": "completed",
        "artifacts": {
            "data_mash": {"result_type": "data_mash", "semantic_payload": {"mash_id": "m"}}
        },
    }
    async with make_client(Recorder(httpx.Response(200, json=status))) as client:
        result = await client.get_execution("t", "exec-1")
    (mash,) = result.artifacts
    assert isinstance(mash, DataMashArtifact)
    assert not mash.complete
