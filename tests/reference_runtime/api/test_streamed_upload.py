"""Uploads larger than the Runtime keeps in memory: the submit body is read as it streams, its
`file_content` spooled to disk, decoded and stored from there; nothing is left behind."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reference_runtime.support import RuntimeApi
from tests.support.processes import RuntimeProcess

# Over the intake's spool threshold (1 MiB of base64) and not a multiple of the chunk size.
ROWS = b"".join(b"%d,region-%d,%d.25,x/y\n" % (i, i % 7, i) for i in range(60_000))
DATA = b"id,region,amount,path\n" + ROWS


def _incoming(runtime: RuntimeProcess) -> list[Path]:
    return list((runtime.data_dir / "blobs" / ".incoming").iterdir())


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _body(api: RuntimeApi, data: bytes, **metadata: Any) -> bytes:
    params = api.upload_params("big.csv", data, "text/csv")
    body = {
        "intent_type": "content.upload",
        "tenant_id": api.tenant_id,
        "session_id": "s",
        "solution_id": "default",
        "parameters": params,
        "metadata": metadata,
    }
    return json.dumps(body).encode()


def test_a_body_sent_in_small_chunks_is_stored_and_profiled_whole(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    # A JSON encoder may escape `/` (as some do): the spooled text is unescaped on the way.
    body = _body(api, DATA).replace(b"/", b"\\/")
    assert b"\\/" in body
    response = api.http.post(
        "/api/intent/submit",
        content=_chunks(body, 4099),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    status = api.wait(response.json()["execution_id"], timeout=60)
    assert status["status"] == "completed", status
    payload = status["artifacts"]["file"]["semantic_payload"]
    assert payload["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert (payload["size"], payload["format"], payload["row_count"]) == (len(DATA), "csv", 60_000)
    assert _incoming(shared_runtime) == []


def test_a_repeated_large_submit_leaves_no_spooled_content_behind(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    body = _body(api, DATA, idempotency_key="big-1")
    first = api.http.post("/api/intent/submit", content=body).json()
    again = api.http.post("/api/intent/submit", content=_chunks(body, 65536)).json()
    assert again["execution_id"] == first["execution_id"]
    assert api.wait(first["execution_id"], timeout=60)["status"] == "completed"
    assert _incoming(shared_runtime) == []


@pytest.mark.parametrize("where", ["inside the content", "after the content"])
def test_a_truncated_large_body_is_422_and_leaves_nothing(
    shared_runtime: RuntimeProcess, api: RuntimeApi, where: str
) -> None:
    body = _body(api, DATA)
    content_ends = body.index(base64.b64encode(DATA)) + len(base64.b64encode(DATA))
    truncated = body[: content_ends * 3 // 4] if where == "inside the content" else body[:-1]
    response = api.http.post("/api/intent/submit", content=_chunks(truncated, 8192))
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    assert _incoming(shared_runtime) == []


def test_bad_base64_in_a_spooled_content_fails_the_execution_clearly(
    shared_runtime: RuntimeProcess, api: RuntimeApi
) -> None:
    content = base64.b64encode(DATA).decode()
    broken = content[:700_000] + "!!!!" + content[700_004:]
    params = api.upload_params("big.csv", DATA, "text/csv", file_content=broken)
    status = api.wait(api.submit("content.upload", params).json()["execution_id"], timeout=60)
    assert status["status"] == "failed"
    assert "file_content of big.csv is not valid base64" in status["error"]
    assert _incoming(shared_runtime) == []
