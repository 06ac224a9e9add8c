"""Uploads are streamed to the Runtime in chunks, never read whole."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from experience_plane.auth import Principal
from experience_plane.executions import ExecutionTracker
from experience_plane.runtime import ExecutionState, RuntimeClient
from experience_plane.services import Services, UploadTooLargeError
from experience_plane.settings import Settings

CHUNK = 64 * 1024
ALICE = Principal("tenant-1", "alice")


class ChunkedSource:
    """A file that records how it is read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[int] = []

    async def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


class FakeRuntime:
    """Sessions and submits, answering like the reference Runtime; keeps what it received."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, object]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(await request.aread())
        if request.url.path == "/api/session/create":
            return httpx.Response(
                200,
                json={
                    "session_id": body["session_id"],
                    "tenant_id": body["tenant_id"],
                    "user_id": body["user_id"],
                    "created_at": "2026-01-01T00:00:00Z",
                },
            )
        self.submitted.append(body)
        return httpx.Response(
            200,
            json={
                "execution_id": "exec_1",
                "intent_id": body.get("intent_id"),
                "status": "accepted",
                "created_at": "2026-01-01T00:00:00Z",
            },
        )


@asynccontextmanager
async def services_over(runtime: FakeRuntime, **settings: object) -> AsyncIterator[Services]:
    client = RuntimeClient("http://runtime.test", transport=httpx.MockTransport(runtime))
    async with client, ExecutionTracker(client) as tracker:
        yield Services.build(Settings(**settings), client, tracker)  # type: ignore[arg-type]


async def test_upload_streams_the_file_in_chunks() -> None:
    data = bytes(range(256)) * 1000  # 256 000 bytes: four 64 KiB chunks
    source = ChunkedSource(data)
    runtime = FakeRuntime()
    async with services_over(runtime) as services:
        status = await services.content.upload(
            ALICE, source, filename="data.bin", mime_type=None, size=None
        )

    assert source.reads == [CHUNK] * 5  # four chunks, then the empty read that ends it
    assert status.execution_id == "exec_1"
    assert status.state is ExecutionState.PENDING
    assert status.intent_type == "content.upload"
    (submitted,) = runtime.submitted
    parameters = submitted["parameters"]
    assert isinstance(parameters, dict)
    assert base64.b64decode(parameters["file_content"]) == data
    assert parameters["size"] == len(data)
    assert parameters["sha256"] == hashlib.sha256(data).hexdigest()
    assert parameters["mime_type"] == "application/octet-stream"  # guessed from the name


async def test_a_declared_size_over_the_limit_is_refused_before_reading() -> None:
    source = ChunkedSource(b"x" * 100)
    runtime = FakeRuntime()
    async with services_over(runtime, max_upload_bytes=10) as services:
        with pytest.raises(UploadTooLargeError):
            await services.content.upload(ALICE, source, filename="x.csv", mime_type=None, size=100)
    assert source.reads == []
    assert runtime.submitted == []


async def test_an_undeclared_size_over_the_limit_stops_the_stream() -> None:
    source = ChunkedSource(b"x" * (3 * CHUNK))
    runtime = FakeRuntime()
    async with services_over(runtime, max_upload_bytes=CHUNK + 1) as services:
        with pytest.raises(UploadTooLargeError):
            await services.content.upload(ALICE, source, filename="x.csv", mime_type=None)
    assert len(source.reads) == 2
    assert runtime.submitted == []


@pytest.mark.parametrize(
    ("mime_type", "sent_mime_type", "expected"),
    [
        (None, "Text/Plain; charset=utf-8", "text/plain"),  # the part's type, bare
        (None, "application/octet-stream", "text/csv"),  # says nothing: the name decides
        (None, "", "text/csv"),
        (None, None, "text/csv"),
        ("application/json", "text/plain", "application/json"),  # asked for: it wins
        ("application/octet-stream", "text/plain", "application/octet-stream"),
    ],
)
async def test_the_media_type_falls_back_from_asked_to_sent_to_guessed(
    mime_type: str | None, sent_mime_type: str | None, expected: str
) -> None:
    runtime = FakeRuntime()
    async with services_over(runtime) as services:
        await services.content.upload(
            ALICE,
            ChunkedSource(b"a,b\n1,2\n"),
            filename="data.csv",
            mime_type=mime_type,
            sent_mime_type=sent_mime_type,
        )
    (submitted,) = runtime.submitted
    parameters = submitted["parameters"]
    assert isinstance(parameters, dict)
    assert parameters["mime_type"] == expected


@pytest.mark.parametrize(
    ("filename", "mime_type", "stored_name", "stored_type"),
    [
        ("../../x.csv", None, "x.csv", "text/csv"),
        ("   ", None, "upload.csv", "text/csv"),  # no name: one from the part's type
        ("C:\\x\\y.csv", "text/csv\r\nX-Injected: 1", "y.csv", "application/octet-stream"),
    ],
)
async def test_the_runtime_gets_the_cleaned_name_and_type(
    filename: str, mime_type: str | None, stored_name: str, stored_type: str
) -> None:
    runtime = FakeRuntime()
    async with services_over(runtime) as services:
        await services.content.upload(
            ALICE,
            ChunkedSource(b"a,b\n1,2\n"),
            filename=filename,
            mime_type=mime_type,
            sent_mime_type="text/csv",
        )
    (submitted,) = runtime.submitted
    parameters = submitted["parameters"]
    assert isinstance(parameters, dict)
    assert (parameters["filename"], parameters["mime_type"]) == (stored_name, stored_type)
