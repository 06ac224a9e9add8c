"""Production hardening against real processes: CSRF prevention, query and body limits,
introspection and hints off, WebSocket origin / cap / init timeout / pings, CORS, per-tenant
rate limits and request ids."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.transports import PREFLIGHT, auth_payload, http_request, ws_session
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

APP_ORIGIN = "https://app.example.test"
MAX_UPLOAD = 2000
MAX_REQUEST = 8192
MAX_SUBSCRIPTIONS = 2
RATE_BURST = 3


@pytest.fixture(scope="module")
def processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RuntimeProcess, ApiProcess]]:
    """A reference Runtime for this module, and the API in front of it in production, with small
    limits so that tests can reach them; started side by side."""
    data_dir = tmp_path_factory.mktemp("hardening") / "runtime"
    runtime = RuntimeProcess(data_dir, require_session=True)
    env = {
        "EXPERIENCE_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        "EXPERIENCE_MAX_REQUEST_BYTES": str(MAX_REQUEST),
        "EXPERIENCE_MAX_QUERY_DEPTH": "3",
        "EXPERIENCE_MAX_QUERY_ALIASES": "3",
        "EXPERIENCE_MAX_QUERY_TOKENS": "120",
        "EXPERIENCE_MAX_SUBSCRIPTIONS_PER_CONNECTION": str(MAX_SUBSCRIPTIONS),
        "EXPERIENCE_TUNING__WS_CONNECTION_INIT_TIMEOUT": "0.5",
        "EXPERIENCE_TUNING__WS_KEEP_ALIVE_INTERVAL": "0.3",
        "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0.01",
        "EXPERIENCE_RATE_LIMIT_BURST": str(RATE_BURST),
        "EXPERIENCE_CORS_ORIGINS": APP_ORIGIN,
        "EXPERIENCE_WS_ALLOWED_ORIGINS": APP_ORIGIN,
    }
    log_dir = tmp_path_factory.mktemp("hardening-api-logs")
    api = ApiProcess(runtime.url, log_dir, env=env, auth=True)
    with started_together(runtime, api):
        yield runtime, api


@pytest.fixture(scope="module")
def hardened_runtime(processes: tuple[RuntimeProcess, ApiProcess]) -> RuntimeProcess:
    return processes[0]


@pytest.fixture(scope="module")
def api(processes: tuple[RuntimeProcess, ApiProcess]) -> ApiProcess:
    return processes[1]


def tenant() -> str:
    """A tenant of the test's own: rate limits are per tenant."""
    return f"t-{uuid.uuid4().hex[:8]}"


async def graphql(api: ApiProcess, query: str, **variables: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30.0) as http:
        return await http.post(
            api.graphql_url,
            json={"query": query, "variables": variables},
            # Request errors are 400 under this media type (200 under application/json, which
            # httpx's default `*/*` negotiates).
            headers={"accept": "application/graphql-response+json", **api.headers(tenant())},
        )


# CSRF prevention


@pytest.mark.parametrize("transport", ["multipart", "get"])
async def test_simple_requests_without_a_preflight_header_are_400(
    api: ApiProcess, transport: str
) -> None:
    response = await http_request(api, transport, api.headers(tenant()))
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "Cross-Site Request Forgery" in message
    assert "GraphQL-Preflight" in message


async def test_a_text_plain_post_is_400_and_json_needs_no_header(api: ApiProcess) -> None:
    body = json.dumps({"query": "{ __typename }"})
    async with httpx.AsyncClient() as http:
        forged = await http.post(
            api.graphql_url,
            content=body,
            headers={"content-type": "text/plain", **api.headers(tenant())},
        )
        plain_json = await http.post(
            api.graphql_url,
            content=body,
            headers={"content-type": "application/json", **api.headers(tenant())},
        )
    assert forged.status_code == 400
    assert plain_json.status_code == 200


@pytest.mark.parametrize(
    "header", ["GraphQL-Preflight", "Apollo-Require-Preflight", "X-Apollo-Operation-Name"]
)
async def test_any_preflight_header_lets_a_get_through(api: ApiProcess, header: str) -> None:
    response = await http_request(api, "get", {**api.headers(tenant()), header: "1"})
    assert response.status_code == 200


# Query and body limits


async def test_too_deep_a_query_is_a_validation_error(api: ApiProcess) -> None:
    deep = """{ executionStatus(executionId: "x") { artifacts { ... on DataMash {
        canonicalFields { sources { column } } } } } }"""
    response = await graphql(api, deep)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert "exceeds maximum operation depth of 3" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_too_many_aliases_is_a_validation_error(api: ApiProcess) -> None:
    response = await graphql(api, "{ a: __typename b: __typename c: __typename d: __typename }")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert "4 aliases found. Allowed: 3" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_too_many_tokens_is_a_parse_error(api: ApiProcess) -> None:
    response = await graphql(api, "{ " + "__typename " * 150 + "}")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert "Document contains more than 120 tokens" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_an_oversized_body_is_413_before_parsing(api: ApiProcess) -> None:
    response = await graphql(api, "{ __typename }", padding="x" * MAX_REQUEST)
    assert response.status_code == 413
    (error,) = response.json()["errors"]
    assert error["message"] == (
        f"The request body is larger than the limit of {MAX_REQUEST} bytes."
    )
    assert error["extensions"] == {
        "code": "REQUEST_TOO_LARGE",
        "requestId": response.headers["x-request-id"],
    }


async def test_an_oversized_upload_is_a_typed_error(api: ApiProcess) -> None:
    headers = {**api.headers(tenant()), **PREFLIGHT}
    response = await http_request(api, "multipart", headers, file=b"a,b\n" * MAX_UPLOAD)
    assert response.status_code == 200
    assert response.json()["data"]["uploadContent"] == {"__typename": "UploadTooLargeError"}

    query = """mutation ($file: Upload!) { uploadContent(file: $file) {
        ... on UploadTooLargeError { code message maxBytes } } }"""
    response = await http_request(api, "multipart", headers, query=query, file=b"x" * 3000)
    assert response.json()["data"]["uploadContent"] == {
        "code": "UPLOAD_TOO_LARGE",
        "message": f"The file is larger than the limit of {MAX_UPLOAD} bytes.",
        "maxBytes": MAX_UPLOAD,
    }


async def test_a_far_too_large_upload_is_413_before_it_is_read(api: ApiProcess) -> None:
    # Only the headers are sent: the answer comes without the server reading any body.
    declared = MAX_UPLOAD + 2 * 1024 * 1024
    head = {
        "host": f"127.0.0.1:{api.port}",
        "content-type": "multipart/form-data; boundary=x",
        "content-length": str(declared),
        **api.headers(tenant()),
        **PREFLIGHT,
    }
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    try:
        lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
        writer.write(f"POST /graphql HTTP/1.1\r\n{lines}\r\n".encode())
        await writer.drain()
        # The server closes the connection after its answer; headers and body may come in
        # separate reads, so read to the end.
        answer = (await asyncio.wait_for(reader.read(), timeout=10)).decode()
    finally:
        writer.close()
    status_line, _, rest = answer.partition("\r\n")
    assert status_line == "HTTP/1.1 413 Request Entity Too Large"
    assert f"limit of {MAX_UPLOAD} bytes for an upload" in rest


# Production: no schema discovery


async def test_introspection_graphiql_and_hints_are_off_in_production(api: ApiProcess) -> None:
    introspection = await graphql(api, "{ __schema { queryType { name } } }")
    assert introspection.status_code == 400
    assert "introspection" in introspection.json()["errors"][0]["message"].lower()

    typo = await graphql(api, '{ executionStatu(executionId: "x") { id } }')
    (error,) = typo.json()["errors"]
    assert error["message"] == "Cannot query field 'executionStatu' on type 'Query'."
    typo_enum = await graphql(
        api,
        'mutation { createDataMash(input: {contentRefs: ["a"], confidenceLevel: MEDIM}) '
        "{ __typename } }",
    )
    assert "Did you mean" not in typo_enum.text

    async with httpx.AsyncClient() as http:
        ide = await http.get(api.graphql_url, headers={"accept": "text/html"})
    assert ide.status_code == 404


# WebSocket hardening


async def test_websocket_origins_are_checked(api: ApiProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            api.ws_url, subprotocols=["graphql-transport-ws"], origin="https://evil.example.test"
        ):
            pass
    assert refused.value.response.status_code == 403

    token = api.token(tenant())
    for origin in (APP_ORIGIN, api.url):  # allow-listed, and same-origin
        outcome = await ws_session(
            api, "graphql-transport-ws", auth_payload(token), origin=origin, listen=0.2
        )
        assert outcome.messages[0]["type"] == "connection_ack"


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_socket_without_connection_init_is_closed(api: ApiProcess, protocol: str) -> None:
    outcome = await ws_session(api, protocol, None, listen=3.0)
    assert outcome.close_code == 4408


async def test_the_server_pings_graphql_transport_ws_clients(api: ApiProcess) -> None:
    token = api.token(tenant())
    outcome = await ws_session(api, "graphql-transport-ws", auth_payload(token), listen=1.0)
    types = [message["type"] for message in outcome.messages]
    assert types[0] == "connection_ack"
    assert types.count("ping") >= 2


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_subscriptions_per_connection_are_capped(
    api: ApiProcess, hardened_runtime: RuntimeProcess, protocol: str
) -> None:
    owner = tenant()
    hardened_runtime.set_faults(phase_delay=0.5)
    try:
        # (A shallow selection: this API's depth limit is small.)
        query = """mutation ($file: Upload!) { uploadContent(file: $file) {
            ... on ExecutionAccepted { execution { id } } } }"""
        headers = {**api.headers(owner), **PREFLIGHT}
        answer = await http_request(api, "multipart", headers, query=query)
        accepted = answer.json()["data"]["uploadContent"]
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        watch = "subscription ($id: ID!) { executionStatus(executionId: $id) { state } }"
        subscribes = [
            {
                "id": str(number),
                "type": start,
                "payload": {"query": watch, "variables": {"id": accepted["execution"]["id"]}},
            }
            for number in range(1, MAX_SUBSCRIPTIONS + 2)
        ]
        outcome = await ws_session(
            api, protocol, auth_payload(api.token(owner)), send=subscribes, listen=1.0
        )
    finally:
        hardened_runtime.set_faults(phase_delay=0)
    errors = [message for message in outcome.messages if message["type"] == "error"]
    (refused,) = errors
    assert refused["id"] == str(MAX_SUBSCRIPTIONS + 1)
    assert "Subscription limit reached" in json.dumps(refused["payload"])
    # The first ones run on, and the connection stays open.
    running = {message["id"] for message in outcome.messages if message["type"] in ("next", "data")}
    assert running == {str(number) for number in range(1, MAX_SUBSCRIPTIONS + 1)}
    assert outcome.close_code is None


# CORS


async def test_cors_allows_the_configured_origin_only(api: ApiProcess) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    async with httpx.AsyncClient() as http:
        allowed = await http.options(api.graphql_url, headers={"origin": APP_ORIGIN, **preflight})
        denied = await http.options(
            api.graphql_url, headers={"origin": "https://evil.example.test", **preflight}
        )
        answer = await http.post(
            api.graphql_url,
            json={"query": "{ __typename }"},
            headers={"origin": APP_ORIGIN, **api.headers(tenant())},
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in denied.headers
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()


# Rate limits

MASH_RESULT = """mutation ($refs: [ID!]!) { createDataMash(input: {contentRefs: $refs}) {
    __typename ... on Error { code message } ... on RateLimitedError { retryAfterSeconds } } }"""


async def test_mutations_are_rate_limited_per_tenant(api: ApiProcess) -> None:
    limited, other = tenant(), tenant()

    async def mash(who: str) -> dict[str, object]:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                api.graphql_url,
                json={"query": MASH_RESULT, "variables": {"refs": []}},
                headers=api.headers(who),
            )
        result: dict[str, object] = response.json()["data"]["createDataMash"]
        return result

    # Invalid input still spends the budget: the limiter runs before anything else.
    for _ in range(RATE_BURST):
        assert (await mash(limited))["__typename"] == "InvalidInputError"
    refused = await mash(limited)
    assert refused["__typename"] == "RateLimitedError"
    assert refused["code"] == "RATE_LIMITED"
    assert isinstance(refused["retryAfterSeconds"], float)
    assert 0 < refused["retryAfterSeconds"] <= 100
    assert "try again in" in str(refused["message"])
    # Uploads share the budget; other tenants have their own.
    headers = {**api.headers(limited), **PREFLIGHT}
    query = """mutation ($file: Upload!) { uploadContent(file: $file) { __typename } }"""
    upload_answer = await http_request(api, "multipart", headers, query=query)
    assert upload_answer.json()["data"]["uploadContent"] == {"__typename": "RateLimitedError"}
    assert (await mash(other))["__typename"] == "InvalidInputError"


# Request ids


async def test_request_ids_are_answered_and_sane_ones_kept(api: ApiProcess) -> None:
    async with httpx.AsyncClient() as http:
        fresh = await http.get(api.url + "/healthz")
        kept = await http.get(api.url + "/healthz", headers={"x-request-id": "abc-123.x"})
        replaced = await http.get(api.url + "/healthz", headers={"x-request-id": "x" * 200})
        refused = await http.post(api.graphql_url, json={"query": "{ __typename }"})
    assert len(fresh.headers["x-request-id"]) == 32
    assert kept.headers["x-request-id"] == "abc-123.x"
    assert len(replaced.headers["x-request-id"]) == 32
    assert refused.status_code == 401
    assert refused.headers["x-request-id"]
