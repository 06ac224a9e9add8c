"""The REST routes in process, without a Runtime: authentication, validation, error shapes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from experience_plane.services.execution_failures import FailureCode
from experience_plane.settings import Environment, Settings
from tests.experience_plane.rest.conftest import SECRET, bearer
from tests.experience_plane.support import RunningApp, running_app
from tests.support.processes import free_port

MASH = "/v1/content/data-mash/create"
UPLOAD = "/v1/content/upload"
ROUTES = [
    ("POST", UPLOAD),
    ("POST", MASH),
    ("GET", "/v1/execution/exec_1/status"),
    ("GET", "/v1/execution/exec_1/events"),
    ("GET", "/v1/data-mash/mash_1/records"),
]


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of a common-shape error body (and nothing else in the body)."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}, error
    assert error["request_id"] == response.headers["x-request-id"]
    return error


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_refuses_a_missing_token_with_401(
    app: RunningApp, method: str, path: str
) -> None:
    response = await app.http.request(method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="experience-plane"'
    error = error_of(response)
    assert error["code"] == "UNAUTHENTICATED"
    assert error["details"] == {"reason": "missing_token"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (bearer(secret="another-secret-0123456789abcdef012345"), "bad_signature"),
        (bearer(issued_hours_ago=3), "expired"),
        ({"Authorization": "Bearer not-a-jwt"}, "malformed_token"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "malformed_token"),
    ],
)
async def test_bad_tokens_are_401_with_their_reason(
    app: RunningApp, headers: dict[str, str], reason: str
) -> None:
    response = await app.http.get("/v1/execution/exec_1/status", headers=headers)
    assert response.status_code == 401
    assert f'error_description="{reason}"' in response.headers["www-authenticate"]
    error = error_of(response)
    assert (error["code"], error["details"]) == ("UNAUTHENTICATED", {"reason": reason})


async def test_a_body_is_not_read_before_the_caller_is_authenticated(app: RunningApp) -> None:
    response = await app.http.post(
        MASH, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHENTICATED"


async def test_invalid_json_is_a_400_in_the_common_shape(app: RunningApp) -> None:
    response = await app.http.post(
        MASH, content=b"{not json", headers={**bearer(), "content-type": "application/json"}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "INVALID_INPUT"
    assert "The JSON is malformed" in error["message"]
    assert error["details"] == {"reason": "malformed"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"content_refs": ' + b"[" * 65 + b"]" * 65 + b"}", "too_deep"),
        (b'{"content_refs": ["file_\\ud800"]}', "lone_surrogate"),
        (b'{"content_refs": ["file_\xed\xa0\x80"]}', "malformed"),  # a surrogate, UTF-8'd
        (b'{"content_refs": [NaN]}', "malformed"),
    ],
)
async def test_json_beyond_the_limits_is_a_400_naming_the_reason(
    app: RunningApp, body: bytes, reason: str
) -> None:
    headers = {**bearer(), "content-type": "application/json"}
    response = await app.http.post(MASH, content=body, headers=headers)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "INVALID_INPUT"
    assert error["details"] == {"reason": reason}
    assert error["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content_refs"),
        ({"content_refs": "file_1"}, "content_refs"),
        ({"content_refs": ["file_1"], "confidence_level": "certain"}, "confidence_level"),
        ({"content_refs": ["file_1"], "surprise": 1}, "surprise"),
        ({"content_refs": []}, "content_refs"),  # the service's own validation
        ({"content_refs": ["a", "a"]}, "content_refs"),
        ({"content_refs": ["a"], "target_domain": "  "}, "target_domain"),
    ],
)
async def test_invalid_mash_bodies_are_422_naming_the_field(
    app: RunningApp, body: dict[str, Any], field: str
) -> None:
    response = await app.http.post(MASH, json=body, headers=bearer())
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "INVALID_INPUT"
    assert error["details"]["field"] == field


async def test_an_upload_without_a_file_part_is_422(app: RunningApp) -> None:
    # A multipart body with only a `filename` part (httpx sends `(None, value)` as a field).
    files = {"filename": (None, "a.csv")}
    response = await app.http.post(UPLOAD, files=files, headers=bearer())
    assert response.status_code == 422
    assert error_of(response)["details"]["field"] == "file"


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (UPLOAD, {"json": {"file": "a,b"}}, "multipart/form-data"),
        (UPLOAD, {"data": {"filename": "a.csv"}}, "multipart/form-data"),
        (MASH, {"content": b"content_refs=a", "headers": {"content-type": "text/plain"}}, "JSON"),
    ],
)
async def test_a_body_of_another_media_type_is_415_in_the_common_shape(
    app: RunningApp, path: str, body: dict[str, Any], expected: str
) -> None:
    headers = {**bearer(), **body.pop("headers", {})}
    response = await app.http.post(path, headers=headers, **body)
    assert response.status_code == 415, response.text
    error = error_of(response)
    assert error["code"] == "INVALID_INPUT"
    assert error["details"] == {"field": "Content-Type"}
    assert expected.lower() in error["message"].lower()


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "limit=ten"])
async def test_bad_record_paging_is_422(app: RunningApp, query: str) -> None:
    response = await app.http.get(f"/v1/data-mash/m1/records?{query}", headers=bearer())
    assert response.status_code == 422
    assert error_of(response)["code"] == "INVALID_INPUT"


async def test_a_bad_idempotency_key_is_refused_before_anything_is_sent(app: RunningApp) -> None:
    response = await app.http.post(
        MASH, json={"content_refs": ["f1"]}, headers={**bearer(), "Idempotency-Key": "a b"}
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "INVALID_INPUT"
    assert error["details"] == {"field": "idempotency_key"}


async def test_a_bad_session_id_is_400(app: RunningApp) -> None:
    response = await app.http.post(
        MASH, json={"content_refs": ["f1"]}, headers={**bearer(), "X-Session-Id": "no spaces"}
    )
    assert response.status_code == 400
    assert error_of(response)["details"] == {"field": "X-Session-Id"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/execution/exec_1/status", None),
        ("GET", "/v1/execution/exec_1/events", None),
        ("GET", "/v1/data-mash/m1/records", None),
        ("POST", MASH, {"content_refs": ["f1"]}),
    ],
)
async def test_an_unreachable_runtime_is_503_typed(
    app: RunningApp, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await app.http.request(method, path, json=body, headers=bearer())
    assert response.status_code == 503
    assert error_of(response)["code"] == "RUNTIME_UNAVAILABLE"


async def test_graphql_keeps_its_own_error_shape(app: RunningApp) -> None:
    response = await app.http.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 401
    assert "errors" in response.json()


async def test_unexpected_failures_are_masked_with_the_request_id(
    app: RunningApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("secret internals")

    monkeypatch.setattr(app.services.executions, "get", broken)
    response = await app.http.get("/v1/execution/exec_1/status", headers=bearer())
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret internals" not in response.text
    assert error["request_id"] in error["message"]
    assert any(error["request_id"] in record.getMessage() for record in caplog.records)


async def test_openapi_lists_every_route_with_the_error_shape(app: RunningApp) -> None:
    response = await app.http.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    operations = {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    }
    expected = {
        ("POST", "/v1/content/upload"),
        ("POST", "/v1/content/data-mash/create"),
        ("GET", "/v1/execution/{execution_id}/status"),
        ("GET", "/v1/execution/{execution_id}/events"),
        ("GET", "/v1/data-mash/{mash_id}/records"),
    }
    assert set(operations) == expected
    error_ref = "#/components/schemas/ErrorBody"
    for key, operation in operations.items():
        assert operation["summary"], key
        assert operation["tags"], key
        assert operation["security"] == [{"HTTPBearer": []}], key
        errors = {
            status: response["content"]["application/json"]["schema"]["$ref"]
            for status, response in operation["responses"].items()
            if status.startswith(("4", "5"))
        }
        assert {"401", "500"} <= set(errors), key
        assert set(errors.values()) == {error_ref}, key
        assert "HTTPValidationError" not in str(operation), key
    codes = spec["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"]
    assert {"INVALID_INPUT", "NOT_FOUND", "UNAUTHENTICATED", "RATE_LIMITED"} <= set(codes)
    mutation_statuses = set(operations[("POST", "/v1/content/upload")]["responses"])
    assert {"202", "413", "429", "503"} <= mutation_statuses
    assert "WebSocket" in operations[("GET", "/v1/execution/{execution_id}/events")]["description"]


async def test_docs_pages_are_off_in_production(app: RunningApp) -> None:
    assert (await app.http.get("/docs")).status_code == 404
    assert (await app.http.get("/redoc")).status_code == 404
    assert (await app.http.get("/docs/oauth2-redirect")).status_code == 404
    assert (await app.http.get("/openapi.json")).status_code == 200
    assert app.app.docs_url is None
    assert app.app.redoc_url is None


async def test_openapi_describes_both_surfaces(app: RunningApp) -> None:
    description = (await app.http.get("/openapi.json")).json()["info"]["description"]
    assert "`/graphql`" in description
    assert "`/v1`" in description
    assert "later" not in description


async def test_docs_pages_follow_the_graphiql_switch() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    development = Settings(
        runtime_url=url, auth_hs256_secret=SECRET, environment=Environment.DEVELOPMENT
    )
    async with running_app(development) as app:
        docs = await app.http.get("/docs")
        assert docs.status_code == 200
        assert "/openapi.json" in docs.text
    forced = Settings(runtime_url=url, auth_hs256_secret=SECRET, graphiql=True)
    async with running_app(forced) as app:
        assert (await app.http.get("/docs")).status_code == 200


async def test_unknown_v1_paths_are_404_in_the_common_shape(app: RunningApp) -> None:
    response = await app.http.get("/v1/nothing/here", headers=bearer())
    assert response.status_code == 404
    assert error_of(response)["code"] == "NOT_FOUND"


async def test_a_wrong_method_is_405_with_allow(app: RunningApp) -> None:
    response = await app.http.get(UPLOAD, headers=bearer())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert error_of(response)["code"] == "INVALID_INPUT"


async def test_a_body_over_the_limit_is_413_in_the_common_shape() -> None:
    limited = Settings(
        runtime_url=f"http://127.0.0.1:{free_port()}",
        auth_hs256_secret=SECRET,
        max_request_bytes=200,
    )
    refs = [f"file_{n}" for n in range(50)]
    async with running_app(limited) as app:
        rest = await app.http.post(MASH, json={"content_refs": refs}, headers=bearer())
        graphql = await app.http.post("/graphql", json={"query": "{ __typename }", "x": refs})
    assert rest.status_code == 413
    error = error_of(rest)
    assert error["code"] == "REQUEST_TOO_LARGE"  # a body, not a file
    assert error["details"] == {"max_bytes": 200}
    assert "limit of 200 bytes" in error["message"]
    assert error["request_id"]
    assert graphql.status_code == 413
    (graphql_error,) = graphql.json()["errors"]
    assert graphql_error["extensions"] == {
        "code": "REQUEST_TOO_LARGE",
        "requestId": graphql.headers["x-request-id"],
    }


async def test_openapi_deprecates_error_for_failure_and_documents_times_and_links(
    app: RunningApp,
) -> None:
    spec = (await app.http.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    execution = schemas["Execution"]["properties"]
    assert execution["error"]["deprecated"] is True
    assert "failure" in execution["error"]["description"]
    assert schemas["FailureCode"]["enum"] == [code.name for code in FailureCode]
    for name in ("created_at", "updated_at", "stale_since"):
        (timestamp, _) = execution[name]["anyOf"]
        assert timestamp["format"] == "date-time", name
        assert "`Z`" in timestamp["description"], name
    records = spec["paths"]["/v1/data-mash/{mash_id}/records"]["get"]
    assert "Link" in records["responses"]["200"]["headers"]
    assert {"offset", "limit", "after", "before", "last"} <= {
        parameter["name"] for parameter in records["parameters"]
    }


async def test_records_bad_cursors_are_refused_before_the_runtime_is_asked(
    app: RunningApp,
) -> None:
    # This app's Runtime is unreachable: a 422 (not a 503) means nothing was asked.
    for params, field in (
        ({"after": "bogus"}, "after"),
        ({"before": "bogus", "last": "2"}, "before"),
        ({"limit": "2", "last": "2"}, "last"),
        ({"offset": "1", "before": "cmVjb3JkOjE="}, "offset"),
    ):
        response = await app.http.get(
            "/v1/data-mash/mash_1/records", params=params, headers=bearer()
        )
        assert response.status_code == 422, (params, response.text)
        assert error_of(response)["code"] == "INVALID_INPUT"
        assert error_of(response)["details"]["field"] == field
