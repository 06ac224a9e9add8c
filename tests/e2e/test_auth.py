"""Authentication on every transport, against real processes: bad credentials are refused
before anything runs, good ones work, and a token that expires ends a subscription."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from gql import Client
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.client import (
    EXAMPLES,
    WATCH,
    http_client,
    sse_events,
    upload,
    watch_ws,
)
from tests.e2e.transports import (
    ALL_TRANSPORTS,
    HTTP_TRANSPORTS,
    PREFLIGHT,
    WS_TRANSPORTS,
    auth_payload,
    bearer,
    http_request,
    ws_session,
)
from tests.support.processes import ApiProcess, RuntimeProcess, started_together

ISSUER = "https://issuer.example.test"
UNKNOWN_WATCH = 'subscription { executionStatus(executionId: "exec_unknown") { id } }'
AUDIENCE = "experience-plane"


@pytest.fixture(scope="module")
def processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RuntimeProcess, ApiProcess]]:
    """A reference Runtime for this module, and the API in front of it checking issuer and
    audience, without clock-skew leeway; started side by side."""
    runtime = RuntimeProcess(tmp_path_factory.mktemp("auth") / "runtime", require_session=True)
    env = {
        "EXPERIENCE_AUTH_ISSUER": ISSUER,
        "EXPERIENCE_AUTH_AUDIENCE": AUDIENCE,
        "EXPERIENCE_AUTH_LEEWAY_SECONDS": "0",
    }
    log_dir = tmp_path_factory.mktemp("auth-api-logs")
    api = ApiProcess(runtime.url, log_dir, env=env, auth=True)
    with started_together(runtime, api):
        yield runtime, api


@pytest.fixture(scope="module")
def auth_runtime(processes: tuple[RuntimeProcess, ApiProcess]) -> RuntimeProcess:
    return processes[0]


@pytest.fixture(scope="module")
def api(processes: tuple[RuntimeProcess, ApiProcess]) -> ApiProcess:
    return processes[1]


def _expired(api: ApiProcess) -> str:
    return api.token(now=datetime.now(UTC) - timedelta(hours=2), ttl=timedelta(hours=1))


BAD_TOKENS: dict[str, tuple[Callable[[ApiProcess], str | None], str]] = {
    "no token": (lambda api: None, "missing_token"),
    "malformed": (lambda api: "not-a-jwt", "malformed_token"),
    "wrong signature": (lambda api: api.token(secret=secrets.token_urlsafe(32)), "bad_signature"),
    "expired": (_expired, "expired"),
    "wrong issuer": (lambda api: api.token(issuer="https://elsewhere.test"), "wrong_issuer"),
    "wrong audience": (lambda api: api.token(audience="another-api"), "wrong_audience"),
    "missing tenant": (lambda api: api.token(tenant_claim="organisation"), "missing_tenant"),
}


@pytest.mark.parametrize("transport", HTTP_TRANSPORTS)
@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_credentials_are_401_on_http_transports(
    api: ApiProcess, transport: str, case: str
) -> None:
    make_token, reason = BAD_TOKENS[case]
    response = await http_request(api, transport, {**bearer(make_token(api)), **PREFLIGHT})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    (error,) = response.json()["errors"]
    assert error["extensions"] == {
        "code": "UNAUTHENTICATED",
        "reason": reason,
        "requestId": response.headers["x-request-id"],
    }
    assert error["message"]


@pytest.mark.parametrize("protocol", WS_TRANSPORTS)
@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_credentials_close_websockets_with_4403(
    api: ApiProcess, protocol: str, case: str
) -> None:
    make_token, reason = BAD_TOKENS[case]
    subscribe = {
        "id": "1",
        "type": "subscribe" if protocol == "graphql-transport-ws" else "start",
        "payload": {"query": 'subscription { executionStatus(executionId: "x") { id } }'},
    }
    outcome = await ws_session(api, protocol, auth_payload(make_token(api)), send=[subscribe])
    assert outcome.close_code == 4403
    assert outcome.close_reason == f"Forbidden: {reason}"
    if protocol == "graphql-ws":
        # Legacy clients learn why from a connection_error before the close.
        (error,) = outcome.messages
        assert error["type"] == "connection_error"
        assert error["payload"]["extensions"] == {"code": "UNAUTHENTICATED", "reason": reason}
    else:
        assert outcome.messages == []  # no ack, and the subscription never ran


@pytest.mark.parametrize("transport", ALL_TRANSPORTS)
async def test_a_valid_token_works_on_every_transport(api: ApiProcess, transport: str) -> None:
    token = api.token("t-valid", "u1")
    if transport in HTTP_TRANSPORTS:
        response = await http_request(api, transport, {**bearer(token), **PREFLIGHT})
        assert response.status_code == 200
        if transport == "multipart":
            assert '"ExecutionAccepted"' in response.text
        else:
            assert '"__typename":"Query"' in response.text.replace(" ", "")
        return
    start = "subscribe" if transport == "graphql-transport-ws" else "start"
    watch = {"id": "1", "type": start, "payload": {"query": UNKNOWN_WATCH}}
    outcome = await ws_session(api, transport, auth_payload(token), send=[watch], listen=1.0)
    messages = [message for message in outcome.messages if message["type"] != "ka"]
    assert messages[0]["type"] == "connection_ack"
    # The subscription ran, as the token's tenant: that tenant has no such execution.
    assert "Execution 'exec_unknown' not found." in json.dumps(messages[1:])
    assert outcome.close_code is None


async def test_graphql_ws_accepts_the_handshake_header_and_auth_token_key(api: ApiProcess) -> None:
    token = api.token("t-valid", "u1")
    by_header = await ws_session(api, "graphql-transport-ws", {}, headers=bearer(token), listen=0.5)
    assert by_header.messages[0]["type"] == "connection_ack"
    by_key = await ws_session(api, "graphql-transport-ws", {"authToken": token}, listen=0.5)
    assert by_key.messages[0]["type"] == "connection_ack"


async def test_an_expiring_token_ends_subscriptions_on_every_transport(
    api: ApiProcess, auth_runtime: RuntimeProcess
) -> None:
    auth_runtime.set_faults(phase_delay=1.0)
    try:
        async with http_client(api, tenant="t-expiry") as session:
            accepted = await upload(session, EXAMPLES / "customers.csv")
        execution_id = accepted["execution"]["id"]
        short = api.token("t-expiry", "u1", ttl=timedelta(seconds=2))

        async def over_ws(protocol: str) -> str:
            transport = WebsocketsTransport(
                url=api.ws_url,
                subprotocols=[protocol],
                init_payload={"Authorization": f"Bearer {short}"},
            )
            try:
                await watch_ws(Client(transport=transport), execution_id)
            except TransportQueryError as exc:
                return str(exc)
            raise AssertionError("the subscription outlived its token")

        async def over_sse() -> dict[str, object]:
            events = []
            async with asyncio.timeout(20):
                sse = sse_events(api, WATCH, {"id": execution_id}, token=short)
                async for event, data in sse:
                    events.append((event, data))
            *_, (last_next, data), (done, _) = events
            assert (last_next, done) == ("next", "complete")
            (error,) = json.loads(data)["errors"]
            return dict(error["extensions"])

        transport_ws, legacy_ws, sse = await asyncio.gather(
            over_ws(WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL),
            over_ws(WebsocketsTransport.APOLLO_SUBPROTOCOL),
            over_sse(),
        )
    finally:
        auth_runtime.set_faults(phase_delay=0)
    assert "token has expired" in transport_ws
    assert "token has expired" in legacy_ws
    assert sse == {"code": "UNAUTHENTICATED", "reason": "expired"}
