"""Mutations' result unions: typed errors for bad input and an unreachable Runtime."""

from __future__ import annotations

import json
from typing import Any

import pytest

from experience_plane.services import Services
from tests.experience_plane.support import RunningApp

CREATE_MASH = """
mutation Mash($input: CreateDataMashInput!) {
  createDataMash(input: $input) {
    __typename
    ... on Error { code message }
    ... on InvalidInputError { field }
    ... on ExecutionAccepted { execution { id } }
  }
}
"""

UPLOAD = """
mutation Upload($file: Upload!, $filename: String) {
  uploadContent(file: $file, filename: $filename) {
    __typename
    ... on Error { code message }
    ... on InvalidInputError { field }
    ... on UploadTooLargeError { maxBytes }
  }
}
"""


async def graphql(app: RunningApp, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await app.http.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        ([], "At least one content ref"),
        (["file_a", "file_a"], "repeated: file_a"),
        (["file_a", "  "], "must not be empty"),
    ],
)
async def test_create_data_mash_rejects_bad_refs(
    app: RunningApp, refs: list[str], message: str
) -> None:
    body = await graphql(app, CREATE_MASH, {"input": {"contentRefs": refs}})
    result = body["data"]["createDataMash"]
    assert result["__typename"] == "InvalidInputError"
    assert result["code"] == "INVALID_INPUT"
    assert result["field"] == "contentRefs"
    assert message in result["message"]


async def test_create_data_mash_rejects_an_empty_domain(app: RunningApp) -> None:
    body = await graphql(
        app, CREATE_MASH, {"input": {"contentRefs": ["file_a"], "targetDomain": " "}}
    )
    assert body["data"]["createDataMash"]["field"] == "targetDomain"


async def test_unknown_confidence_level_is_a_request_error(app: RunningApp) -> None:
    response = await app.http.post(
        "/graphql",
        json={
            "query": CREATE_MASH,
            "variables": {"input": {"contentRefs": ["a"], "confidenceLevel": "SURE"}},
        },
        # 400 is the request error's status under this media type (200 under application/json,
        # which `*/*`, httpx's default, now negotiates).
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert "SURE" in response.json()["errors"][0]["message"]


async def test_unreachable_runtime_is_a_typed_error(app: RunningApp) -> None:
    body = await graphql(app, CREATE_MASH, {"input": {"contentRefs": ["file_a"]}})
    result = body["data"]["createDataMash"]
    assert result["__typename"] == "RuntimeUnavailableError"
    assert result["code"] == "RUNTIME_UNAVAILABLE"
    assert "errors" not in body


def multipart(query: str, variables: dict[str, Any], content: bytes, name: str) -> dict[str, Any]:
    operations = json.dumps({"query": query, "variables": {**variables, "file": None}})
    return {
        "data": {"operations": operations, "map": json.dumps({"0": ["variables.file"]})},
        "files": {"0": (name, content, "text/csv")},
        # Multipart is a "simple" request: CSRF prevention wants a preflight-forcing header.
        "headers": {"graphql-preflight": "1"},
    }


async def test_upload_too_large_is_refused_before_the_runtime(
    app: RunningApp, services: Services
) -> None:
    services.content.max_upload_bytes = 4
    response = await app.http.post("/graphql", **multipart(UPLOAD, {}, b"a,b\n1,2\n", "x.csv"))
    result = response.json()["data"]["uploadContent"]
    assert result == {
        "__typename": "UploadTooLargeError",
        "code": "UPLOAD_TOO_LARGE",
        "message": "The file is larger than the limit of 4 bytes.",
        "maxBytes": 4,
    }


async def test_upload_without_multipart_is_invalid_input(app: RunningApp) -> None:
    body = await graphql(app, UPLOAD, {"file": "not a file"})
    result = body["data"]["uploadContent"]
    assert result["__typename"] == "InvalidInputError"
    assert result["field"] == "file"


async def test_unexpected_errors_are_masked(
    app: RunningApp,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A real internal error cannot be provoked end to end without planting a bug (the
    # Runtime's malformed answers are typed RUNTIME_PROTOCOL_ERROR), so a service raises here.
    async def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("internal secret")

    monkeypatch.setattr(services.executions, "get", broken)
    response = await app.http.post(
        "/graphql",
        json={"query": '{ executionStatus(executionId: "x") { id } }'},
        headers={"x-request-id": "req-masked-1"},
    )
    body = response.json()
    assert response.headers["x-request-id"] == "req-masked-1"
    (error,) = body["errors"]
    assert error["message"] == "Unexpected error (request id req-masked-1)."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-masked-1"}
    assert "secret" not in json.dumps(body)
    # The log has the detail, the traceback and the same request id.
    (record,) = [r for r in caplog.records if r.name == "experience_plane.graphql.schema"]
    assert record.levelname == "ERROR"
    assert "req-masked-1" in record.getMessage()
    assert "internal secret" in record.getMessage()
    assert record.exc_info is not None
