"""Platform-compatibility mode: the reference Runtime behaving like the platform's current one."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from tests.reference_runtime.support import CUSTOMERS_CSV, POLICIES_JSON, RuntimeApi
from tests.support.processes import RuntimeProcess, SharedRuntimeProcess


@pytest.fixture
def platform(shared_platform_runtime: SharedRuntimeProcess) -> SharedRuntimeProcess:
    """The session's platform-mode Runtime, reset; each test speaks for a tenant of its own."""
    shared_platform_runtime.reset()
    return shared_platform_runtime


@pytest.fixture
def papi(platform: RuntimeProcess) -> Iterator[RuntimeApi]:
    client = RuntimeApi(platform.url)
    yield client
    client.close()


def _ingest(papi: RuntimeApi, data: bytes, **overrides: Any) -> Any:
    params = {
        "ui_name": "customers.csv",
        "filename": "customers.csv",
        "mime_type": "text/csv",
        "file_type": "structured",
        "user_id": "u-1",
        "file_content": data.hex(),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        **overrides,
    }
    return papi.submit("ingest_file", {k: v for k, v in params.items() if v is not None})


def test_ingest_file_is_synchronous_and_answers_sparsely(papi: RuntimeApi) -> None:
    response = _ingest(papi, CUSTOMERS_CSV)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert (body["intent_id"], body["created_at"]) == ("", "")

    status = papi.status(body["execution_id"]).json()
    assert set(status) == {
        "execution_id",
        "status",
        "intent_id",
        "artifacts",
        "events",
        "error",
        "created_at",
    }
    assert (status["status"], status["intent_id"], status["events"], status["created_at"]) == (
        "completed",
        "",
        None,
        "",
    )
    artifact = status["artifacts"]["artifact"]
    assert artifact["result_type"] == "file"
    assert set(artifact["semantic_payload"]) == {"artifact_id", "boundary_contract_id"}

    file_id = artifact["semantic_payload"]["artifact_id"]
    details = papi.artifact(file_id).json()
    digest = hashlib.sha256(CUSTOMERS_CSV).hexdigest()
    # The platform's file record (runtime-contract.md, Compatibility 7), exactly.
    assert set(details) == {
        "artifact_id",
        "artifact_type",
        "tenant_id",
        "file_id",
        "file_path",
        "file_reference",
        "file_name",
        "file_type",
        "mime_type",
        "file_size",
        "metadata",
        "created_at",
        "updated_at",
    }
    assert (details["artifact_id"], details["file_id"], details["artifact_type"]) == (
        file_id,
        file_id,
        "file",
    )
    assert (details["tenant_id"], details["file_name"], details["file_size"]) == (
        papi.tenant_id,
        "customers.csv",
        len(CUSTOMERS_CSV),
    )
    assert (details["mime_type"], details["file_type"]) == ("text/csv", "structured")
    assert details["metadata"]["file_hash"] == digest
    assert details["metadata"]["row_count"] == 4
    assert details["metadata"]["columns"][0]["name"] == "CustID"
    assert details["created_at"] == details["updated_at"] != ""


def test_failure_is_a_500_without_an_id(papi: RuntimeApi) -> None:
    response = _ingest(papi, CUSTOMERS_CSV, ui_name=None)
    assert response.status_code == 500
    assert response.json() == {"detail": "ingest_file needs parameters.ui_name"}
    mismatch = _ingest(papi, CUSTOMERS_CSV, size=1)
    assert mismatch.status_code == 500
    assert mismatch.json()["detail"].startswith("Size mismatch for customers.csv")
    bad_hex = _ingest(papi, b"", file_content="zz")
    assert bad_hex.status_code == 500
    assert "not valid hex" in bad_hex.json()["detail"]


def test_content_upload_is_unknown_there(papi: RuntimeApi) -> None:
    response = papi.submit("content.upload", papi.upload_params("a.txt", b"x", "text/plain"))
    assert response.status_code == 500
    assert "Unknown intent_type 'content.upload'" in response.json()["detail"]


def test_data_mash_works_with_reduced_artifacts(papi: RuntimeApi) -> None:
    refs = []
    for name, data in (("customers.csv", CUSTOMERS_CSV), ("policies.json", POLICIES_JSON)):
        body = _ingest(papi, data, ui_name=name, filename=name).json()
        status = papi.status(body["execution_id"]).json()
        refs.append(status["artifacts"]["artifact"]["semantic_payload"]["artifact_id"])
    response = papi.submit(
        "data_mash.create", {"content_refs": refs, "options": {"target_domain": "insurance"}}
    )
    assert response.status_code == 200
    status = papi.status(response.json()["execution_id"]).json()
    assert status["artifacts"] == {
        "data_mash": {
            "result_type": "data_mash",
            "semantic_payload": {
                "mash_id": status["artifacts"]["data_mash"]["semantic_payload"]["mash_id"]
            },
        }
    }
    mash_id = status["artifacts"]["data_mash"]["semantic_payload"]["mash_id"]
    details = papi.artifact(mash_id).json()
    assert details["semantic_payload"]["row_count"] == 4
    assert details["records_total"] == 4
    failed = papi.submit("data_mash.create", {"content_refs": ["file_nope"]})
    assert failed.status_code == 500
    assert failed.json()["detail"].startswith("Unknown content refs: file_nope.")


def test_there_is_no_stream(platform: RuntimeProcess, papi: RuntimeApi) -> None:
    execution_id = _ingest(papi, b"a,b\n1,2\n").json()["execution_id"]
    host = platform.url.removeprefix("http://")
    url = f"ws://{host}/api/execution/{execution_id}/stream?tenant_id={papi.tenant_id}"

    async def connect() -> None:
        async with websockets.connect(url):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(connect())
    assert refused.value.response.status_code in (403, 404)


def test_platform_fixture_from_the_lead_runs_in_platform_mode(
    platform_runtime: RuntimeProcess,
) -> None:
    api = RuntimeApi(platform_runtime.url)
    assert api.http.get("/health").json()["mode"] == "platform"
    api.close()


def test_a_large_hex_upload_is_spooled_decoded_and_stored_whole(
    platform: RuntimeProcess, papi: RuntimeApi
) -> None:
    # 1.2 MB of hex: over the intake's spool threshold, decoded from disk in pieces.
    data = b"id,n\n" + b"".join(b"%d,%d\n" % (i, i * 7) for i in range(60_000))
    response = _ingest(papi, data)
    assert response.status_code == 200, response.text
    status = papi.status(response.json()["execution_id"]).json()
    artifact_id = status["artifacts"]["artifact"]["semantic_payload"]["artifact_id"]
    artifact = papi.artifact(artifact_id).json()
    assert (artifact["file_size"], artifact["metadata"]["file_hash"]) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert artifact["metadata"]["row_count"] == 60_000
    assert list((platform.data_dir / "blobs" / ".incoming").iterdir()) == []
