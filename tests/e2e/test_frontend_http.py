"""What browser and JavaScript clients meet at their defaults, against real processes: refusals
in the negotiated media type, Apollo's multipart subscriptions to completion (with tenancy and
token expiry), SSE framed with LF, CORS and WebSocket origins in development and production,
and a trusted documents manifest that stops start-up."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.client import EXAMPLES, WATCH, http_client, upload
from tests.support.processes import ApiProcess, RuntimeProcess

GQL_JSON = "application/graphql-response+json"
JSON = "application/json"
APOLLO_MULTIPART = 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json'
DEV_PAGE = "http://localhost:5173"


@pytest.fixture(scope="module")
def dev_api(
    e2e_runtime: RuntimeProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """The API in the development environment, as `experience-plane dev` runs it."""
    env = {
        "EXPERIENCE_ENVIRONMENT": "development",
        "EXPERIENCE_MAX_REQUEST_BYTES": "65536",
        # Tokens expire when they say: no clock-skew leeway.
        "EXPERIENCE_AUTH_LEEWAY_SECONDS": "0",
    }
    log_dir = tmp_path_factory.mktemp("dev-api-logs")
    with ApiProcess(e2e_runtime.url, log_dir, env=env, auth=True) as process:
        yield process


@pytest.mark.parametrize("accept", [GQL_JSON, JSON, None])
async def test_http_refusals_come_in_the_negotiated_media_type(
    dev_api: ApiProcess, accept: str | None
) -> None:
    api = dev_api
    expected = accept or JSON
    accept_header = {"accept": accept} if accept else {}
    query = {"query": "{ __typename }"}
    async with httpx.AsyncClient(base_url=api.url, timeout=10.0) as http:
        unauthenticated = await http.post("/graphql", json=query, headers=accept_header)
        bad_session = await http.post(
            "/graphql",
            json=query,
            headers={**accept_header, **api.headers(), "x-session-id": "not a session id!"},
        )
        too_large = await http.post(
            "/graphql",
            content=b'{"query": "' + b" " * 70_000 + b'"}',
            headers={**accept_header, **api.headers(), "content-type": JSON},
        )
        csrf = await http.get("/graphql", params=query, headers={**accept_header, **api.headers()})
    for response, status, code in (
        (unauthenticated, 401, "UNAUTHENTICATED"),
        (bad_session, 400, "BAD_REQUEST"),
        (too_large, 413, "REQUEST_TOO_LARGE"),
        (csrf, 400, "BAD_REQUEST"),
    ):
        assert response.status_code == status
        assert response.headers["content-type"] == f"{expected}; charset=utf-8"
        (error,) = response.json()["errors"]
        assert error["message"]
        assert error["extensions"]["code"] == code
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")


async def test_no_acceptable_media_type_is_406(api: ApiProcess) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=10.0) as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"accept": "text/html, application/json;q=0", **api.headers()},
        )
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


async def multipart_payloads(
    api: ApiProcess, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> AsyncIterator[dict[str, Any]]:
    """The `payload`s of an Apollo multipart subscription (heartbeats skipped), until its end."""
    async with (
        httpx.AsyncClient(timeout=30.0) as http,
        http.stream(
            "POST",
            api.graphql_url,
            json={"query": query, "variables": variables},
            headers={"accept": APOLLO_MULTIPART, **headers},
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        content_type = response.headers["content-type"]
        assert content_type.startswith("multipart/mixed")
        assert "subscriptionSpec=1.0" in content_type
        buffer = ""
        async for chunk in response.aiter_text():
            buffer += chunk
            *parts, buffer = buffer.split("\r\n--graphql")
            for part in parts:
                _, _, body = part.partition("\r\n\r\n")
                if body.strip():
                    message = json.loads(body)
                    if "payload" in message:
                        yield message["payload"]
            if buffer.startswith("--"):
                return


async def test_an_apollo_multipart_subscription_follows_an_execution_to_completion(
    api: ApiProcess,
) -> None:
    async with http_client(api, tenant="t-multipart") as session:
        accepted = await upload(session, EXAMPLES / "customers.csv")
    execution_id = accepted["execution"]["id"]
    states = []
    async with asyncio.timeout(30):
        async for payload in multipart_payloads(
            api, WATCH, {"id": execution_id}, api.headers("t-multipart")
        ):
            assert "errors" not in payload, payload
            states.append(payload["data"]["executionStatus"]["state"])
    assert states[-1] == "COMPLETED"

    # Tenancy holds on this path as on the others: another tenant cannot follow it.
    async with asyncio.timeout(30):
        other = [
            payload
            async for payload in multipart_payloads(
                api, WATCH, {"id": execution_id}, api.headers("t-other")
            )
        ]
    assert other[0]["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_multipart_subscription_needs_a_token_and_ends_when_it_expires(
    dev_api: ApiProcess, e2e_runtime: RuntimeProcess
) -> None:
    api = dev_api
    async with httpx.AsyncClient(timeout=10.0) as http:
        refused = await http.post(
            api.graphql_url,
            json={"query": WATCH, "variables": {"id": "exec_x"}},
            headers={"accept": APOLLO_MULTIPART},
        )
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    e2e_runtime.set_faults(phase_delay=1.0)
    try:
        async with http_client(api, tenant="t-expiring") as session:
            accepted = await upload(session, EXAMPLES / "customers.csv")
        short = api.token("t-expiring", "u1", ttl=timedelta(seconds=2))
        payloads = []
        async with asyncio.timeout(30):
            async for payload in multipart_payloads(
                api,
                WATCH,
                {"id": accepted["execution"]["id"]},
                {"Authorization": f"Bearer {short}"},
            ):
                payloads.append(payload)
    finally:
        e2e_runtime.set_faults(phase_delay=0.2)
    (error,) = payloads[-1]["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "expired"}


async def test_sse_lines_end_with_lf(api: ApiProcess) -> None:
    async with httpx.AsyncClient(timeout=10.0) as http:
        response = await http.post(
            api.url + "/graphql/stream", json={"query": "{ __typename }"}, headers=api.headers()
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "\r" not in response.text
    assert response.text.startswith(
        'retry: 1000\n\nevent: next\ndata: {"data":{"__typename":"Query"}}\n\n'
    )
    assert response.text.endswith("event: complete\ndata: \n\n")


async def preflight(api: ApiProcess, origin: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10.0) as http:
        return await http.options(
            api.graphql_url,
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": (
                    "authorization, content-type, idempotency-key, x-session-id, "
                    "apollo-require-preflight, x-apollo-operation-name, traceparent, "
                    "tracestate, x-request-id"
                ),
            },
        )


async def test_a_dev_server_page_on_localhost_may_call_the_dev_api(dev_api: ApiProcess) -> None:
    response = await preflight(dev_api, DEV_PAGE)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DEV_PAGE
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in ("idempotency-key", "traceparent", "apollo-require-preflight", "x-session-id"):
        assert header in allowed
    assert int(response.headers["access-control-max-age"]) > 0
    for origin in ("http://127.0.0.1:3000", "http://[::1]:8080"):
        assert (await preflight(dev_api, origin)).status_code == 200
    assert (await preflight(dev_api, "https://evil.example")).status_code == 400

    async with httpx.AsyncClient(timeout=10.0) as http:
        answer = await http.post(
            dev_api.graphql_url,
            json={"query": "{ __typename }"},
            headers={"origin": DEV_PAGE, **dev_api.headers()},
        )
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert {"location", "retry-after", "x-request-id"} <= set(exposed.replace(" ", "").split(","))


async def test_production_without_configured_origins_refuses_cross_origin_pages(
    api: ApiProcess,
) -> None:
    response = await preflight(api, DEV_PAGE)
    assert "access-control-allow-origin" not in response.headers


async def websocket_status(api: ApiProcess, origin: str) -> int:
    """101 when the handshake from a page on `origin` is accepted, else the refusal's status."""
    try:
        async with websockets.connect(
            api.ws_url, subprotocols=["graphql-transport-ws"], origin=origin, open_timeout=10
        ):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


async def test_websockets_from_localhost_pages_in_dev_only(
    api: ApiProcess, dev_api: ApiProcess
) -> None:
    assert await websocket_status(dev_api, DEV_PAGE) == 101
    assert await websocket_status(dev_api, "http://127.0.0.1:4173") == 101
    assert await websocket_status(dev_api, "https://evil.example") == 403
    assert await websocket_status(api, DEV_PAGE) == 403


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ('{\n  "abc": "{ __typename }",\n  "def": oops\n}', "line 3 column 10: not JSON"),
        ('{\n  "abc": "{ __typename }",\n  "def": "{ nope }"\n}', 'entry "def" (line 3)'),
        ('{\n  "abc": "{ __typename"\n}', 'entry "abc" (line 2): does not parse'),
    ],
)
def test_a_bad_trusted_documents_manifest_stops_start_up(
    tmp_path: Path, manifest: str, expected: str
) -> None:
    path = tmp_path / "persisted-documents.json"
    path.write_text(manifest)
    env = {
        **os.environ,
        "EXPERIENCE_TRUSTED_DOCUMENTS": str(path),
        "EXPERIENCE_AUTH_HS256_SECRET": "s" * 32,
    }
    done = subprocess.run(
        [sys.executable, "-m", "experience_plane", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"experience-plane: trusted documents manifest {path}: ")
    assert expected in line
