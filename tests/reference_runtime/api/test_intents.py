"""Submitting intents and uploading content, over HTTP against a Runtime process."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from tests.reference_runtime.support import RuntimeApi


def _payload(status: dict[str, Any]) -> dict[str, Any]:
    assert status["status"] == "completed", status
    payload: dict[str, Any] = status["artifacts"]["file"]["semantic_payload"]
    assert status["artifacts"]["file"]["result_type"] == "file"
    return payload


def _columns(payload: dict[str, Any]) -> dict[str, tuple[str, int, int]]:
    return {
        c["name"]: (c["type"], c["null_count"], c["distinct_count"]) for c in payload["columns"]
    }


def test_submit_answers_accepted_at_once_with_ids(api: RuntimeApi) -> None:
    response = api.submit(
        "content.upload", api.upload_params("a.txt", b"hi", "text/plain"), intent_id="my-intent"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted"
    assert body["intent_id"] == "my-intent"
    assert body["execution_id"].startswith("exec_")
    assert body["created_at"].endswith("+00:00")
    generated = api.submit("content.upload", api.upload_params("a.txt", b"hi", "text/plain"))
    assert generated.json()["intent_id"]


@pytest.mark.parametrize(
    "broken",
    [
        {"intent_type": None},
        {"tenant_id": None},
        {"session_id": None},
        {"solution_id": None},
        {"tenant_id": ""},
        {"session_id": ""},
    ],
)
def test_malformed_submit_is_422(api: RuntimeApi, broken: dict[str, Any]) -> None:
    body = {
        "intent_type": "content.upload",
        "tenant_id": api.tenant_id,
        "session_id": "s",
        "solution_id": "default",
        "parameters": {},
    }
    body.update(broken)
    body = {k: v for k, v in body.items() if v is not None}
    response = api.http.post("/api/intent/submit", json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_unknown_intent_type_is_400_naming_the_known_ones(api: RuntimeApi) -> None:
    response = api.submit("content.shred", {})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Unknown intent_type 'content.shred'; this Runtime handles: "
        "content.upload, data_mash.create"
    )


def test_unknown_body_fields_and_metadata_keys_are_ignored(api: RuntimeApi) -> None:
    response = api.submit(
        "content.upload",
        api.upload_params("a.txt", b"hi", "text/plain"),
        colour="blue",
        metadata={"user_id": "u", "trace": {"x": 1}},
    )
    assert response.status_code == 200


def test_csv_upload_is_stored_and_profiled(api: RuntimeApi) -> None:
    data = (
        b"id,name,score,joined,active,notes\n"
        b"1,Ann,3.5,2024-01-02,true,\n"
        b"2,Bob,,2024-02-03,false,\n"
        b"3,Ann,4,2024-03-04,true,\n"
    )
    payload = _payload(api.upload("people.csv", data, "text/csv"))
    assert payload["filename"] == "people.csv"
    assert payload["mime_type"] == "text/csv"
    assert payload["size"] == len(data)
    assert payload["format"] == "csv"
    assert payload["tabular"] is True
    assert payload["row_count"] == 3
    assert _columns(payload) == {
        "id": ("integer", 0, 3),
        "name": ("string", 0, 2),
        "score": ("number", 1, 2),
        "joined": ("date", 0, 3),
        "active": ("boolean", 0, 2),
        "notes": ("empty", 3, 0),
    }
    assert payload["file_id"].startswith("file_")


def test_json_array_upload_is_profiled(api: RuntimeApi) -> None:
    data = json.dumps(
        [
            {"id": 1, "at": "2024-01-02T03:04:05Z", "ok": True},
            {"id": 2, "at": None, "ok": False, "extra": "x"},
        ]
    ).encode()
    payload = _payload(api.upload("events.json", data, "application/json"))
    assert (payload["format"], payload["tabular"], payload["row_count"]) == ("json", True, 2)
    assert _columns(payload) == {
        "id": ("integer", 0, 2),
        "at": ("datetime", 1, 1),
        "ok": ("boolean", 0, 2),
        "extra": ("string", 1, 1),
    }


def test_ndjson_upload_is_profiled(api: RuntimeApi) -> None:
    data = b'{"k": "a", "v": 1}\n{"k": "b", "v": 2.5}\n\n{"k": "a"}\n'
    payload = _payload(api.upload("rows.ndjson", data, "application/x-ndjson"))
    assert (payload["format"], payload["row_count"]) == ("ndjson", 3)
    assert _columns(payload) == {"k": ("string", 0, 2), "v": ("number", 1, 2)}


def test_binary_upload_is_stored_as_opaque_content(api: RuntimeApi) -> None:
    data = os.urandom(2048) + b"\x00"
    payload = _payload(api.upload("photo.jpg", data, "image/jpeg"))
    assert payload["format"] == "binary"
    assert payload["tabular"] is False
    assert payload["columns"] is None
    assert payload["row_count"] is None
    artifact = api.artifact(payload["file_id"]).json()
    assert artifact["size"] == len(data)
    assert artifact["hash"] == payload["sha256"]


def test_size_mismatch_fails_saying_expected_and_got(api: RuntimeApi) -> None:
    status = api.upload("a.csv", b"a,b\n1,2\n", "text/csv", size=99)
    assert status["status"] == "failed"
    assert status["error"].startswith("Size mismatch for a.csv: expected 99 bytes, got 8 bytes")
    assert status["artifacts"] is None


def test_sha256_mismatch_fails_saying_expected_and_got(api: RuntimeApi) -> None:
    status = api.upload("a.csv", b"a,b\n1,2\n", "text/csv", sha256="0" * 64)
    assert status["status"] == "failed"
    assert f"expected {'0' * 64}, got " in status["error"]
    assert status["error"].startswith("SHA-256 mismatch for a.csv")


def test_bad_base64_fails_clearly(api: RuntimeApi) -> None:
    status = api.upload("a.csv", b"x", "text/csv", file_content="not base64!!")
    assert status["status"] == "failed"
    assert "file_content of a.csv is not valid base64" in status["error"]


def test_missing_filename_fails_clearly(api: RuntimeApi) -> None:
    params = api.upload_params("a.csv", b"x", "text/csv")
    del params["filename"]
    status = api.wait(api.submit("content.upload", params).json()["execution_id"])
    assert status["error"] == "content.upload needs parameters.filename"


def test_a_large_upload_goes_through(api: RuntimeApi) -> None:
    rows = b"".join(b"%d,name-%d,%d.5\n" % (i, i, i) for i in range(200_000))
    data = b"id,name,value\n" + rows
    payload = _payload(api.upload("big.csv", data, "text/csv"))
    assert payload["row_count"] == 200_000
    assert payload["size"] == len(data) > 4_000_000
    assert _columns(payload)["value"] == ("number", 0, 200_000)


def test_idempotency_key_returns_the_first_execution(api: RuntimeApi) -> None:
    params = api.upload_params("a.txt", b"hi", "text/plain")
    first = api.submit("content.upload", params, metadata={"idempotency_key": "k-1"}).json()
    again = api.submit("content.upload", params, metadata={"idempotency_key": "k-1"}).json()
    other = api.submit("content.upload", params, metadata={"idempotency_key": "k-2"}).json()
    assert again["execution_id"] == first["execution_id"]
    assert other["execution_id"] != first["execution_id"]


def test_file_content_is_base64_of_the_stored_bytes(api: RuntimeApi) -> None:
    # The bytes round-trip: the stored hash is the sha256 of the decoded content.
    data = "héllo wörld\n".encode()
    params = api.upload_params("hello.txt", data, "text/plain")
    assert base64.b64decode(params["file_content"]) == data
    payload = _payload(api.wait(api.submit("content.upload", params).json()["execution_id"]))
    assert (payload["sha256"], payload["format"]) == (params["sha256"], "text")
