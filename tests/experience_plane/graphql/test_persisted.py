"""Persisted operations: Apollo's Automatic Persisted Queries and a trusted documents manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from experience_plane.graphql.persisted import sha256_hex
from experience_plane.settings import Settings
from tests.experience_plane.support import RunningApp, running_app

QUERY = "query Hello { __typename }"
DIGEST = sha256_hex(QUERY)
PREFLIGHT = {"graphql-preflight": "1"}
GQL_JSON = "application/graphql-response+json"


def persisted(digest: str = DIGEST) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def send(app: RunningApp, method: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"accept": GQL_JSON}
    if method == "GET":
        params = {
            key: json.dumps(value) if isinstance(value, dict) else value
            for key, value in body.items()
        }
        return await app.http.get("/graphql", params=params, headers={**headers, **PREFLIGHT})
    return await app.http.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_apq_not_found_then_register_then_hit(app: RunningApp, method: str) -> None:
    missing = await send(app, method, {"extensions": persisted()})
    assert missing.status_code == 200  # Apollo's link falls back on this answer
    assert missing.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {
                    "code": "PERSISTED_QUERY_NOT_FOUND",
                    "requestId": missing.headers["x-request-id"],
                },
            }
        ]
    }
    registered = await send(app, method, {"query": QUERY, "extensions": persisted()})
    assert registered.json() == {"data": {"__typename": "Query"}}
    hit = await send(app, method, {"extensions": persisted()})
    assert hit.status_code == 200
    assert hit.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_apq_hash_that_does_not_match_its_query_is_refused(
    app: RunningApp, method: str
) -> None:
    response = await send(app, method, {"query": QUERY, "extensions": persisted("0" * 64)})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    # Nothing was registered under the wrong hash.
    again = await send(app, "POST", {"extensions": persisted("0" * 64)})
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": DIGEST}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}},
        {"persistedQuery": {"version": 1, "sha256Hash": 42}},
        {"persistedQuery": "yes"},
    ],
)
async def test_malformed_persisted_query_extension_is_a_typed_400(
    app: RunningApp, extensions: dict[str, Any]
) -> None:
    response = await send(app, "POST", {"extensions": extensions})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_INVALID"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({DIGEST: QUERY, "custom-id": "{ __typename }"}))
    return path


async def test_trusted_documents_run_by_id_hash_or_text(settings: Settings, manifest: Path) -> None:
    settings.trusted_documents = manifest
    async with running_app(settings) as app:
        by_hash = await send(app, "POST", {"extensions": persisted()})
        by_document_id = await send(app, "POST", {"documentId": f"sha256:{DIGEST}"})
        by_manifest_key = await send(app, "GET", {"documentId": "custom-id"})
        by_text = await send(app, "POST", {"query": QUERY})
    for response in (by_hash, by_document_id, by_manifest_key, by_text):
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"__typename": "Query"}}


async def test_trusted_documents_refuse_everything_else(settings: Settings, manifest: Path) -> None:
    settings.trusted_documents = manifest
    other = "{ other: __typename }"
    async with running_app(settings) as app:
        unknown_hash = await send(app, "POST", {"extensions": persisted(sha256_hex(other))})
        unknown_text = await send(app, "POST", {"query": other})
        registration = await send(
            app, "POST", {"query": other, "extensions": persisted(sha256_hex(other))}
        )
        mismatch = await send(app, "POST", {"query": other, "extensions": persisted()})
        # The same rule on every transport: here Server-Sent Events.
        over_sse = await app.http.post("/graphql/stream", json={"query": other})
    for response in (unknown_hash, unknown_text, registration):
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "UNKNOWN_DOCUMENT"
    assert mismatch.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert '"code":"UNKNOWN_DOCUMENT"' in over_sse.text


async def test_apq_hit_by_get_runs_as_the_caller(app: RunningApp) -> None:
    # A GET carrying only the hash is an operation, not the GraphiQL page: it is authenticated
    # like any other (it once ran with no caller and answered UNAUTHENTICATED).
    query = 'query Who { executionStatus(executionId: "exec_missing") { id } }'
    extensions = persisted(sha256_hex(query))
    await send(app, "POST", {"query": query, "extensions": extensions})
    hit = await send(app, "GET", {"extensions": extensions})
    codes = [error["extensions"]["code"] for error in hit.json().get("errors", [])]
    assert "UNAUTHENTICATED" not in codes, hit.json()
    assert "data" in hit.json()
