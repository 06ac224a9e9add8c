"""Hostile input against the real API process in front of a real Runtime, on every surface that
reads JSON: POST `/graphql` and `/graphql/stream`, GET parameters, multipart `operations` and
`map`, REST bodies, both GraphQL WebSocket protocols and the REST events socket. Every answer is
a clear 4xx with a code and the request id (or typed), never a 5xx or a traceback; every socket
the server ends gets a close frame with a code (never 1011) and, for a refusal, a reason. (The
full runs of the older properties are in process, in
tests/experience_plane/graphql/test_hostile_input.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.experience_plane.graphql.hostile import (
    PREFLIGHT,
    STATUS,
    WATCH,
    assert_handled,
    assert_rest_handled,
    documents,
    hostile_graphql_bodies,
    hostile_json,
    json_values,
    multipart_bodies,
    multipart_request,
    variables_for,
)
from tests.support.processes import ApiProcess

SAMPLE = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The tests' own tenant: their mutations spend no other test's rate limit.
TENANT = "hostile"
DEEP = "[" * 10_000 + "]" * 10_000
DEEP_VARIABLES = f'{{"query": "{{ __typename }}", "variables": {{"id": {DEEP}}}}}'
UPLOAD_OPERATIONS = json.dumps(
    {
        "query": "mutation ($file: Upload!) { uploadContent(file: $file) { __typename } }",
        "variables": {"file": None},
    }
)
FILE_MAP = json.dumps({"0": ["variables.file"]})
# Close codes a refused or finished socket may end with; 1011 (an unexpected failure) and
# 1006 (no close frame at all) are never among them.
EXPECTED_CLOSES = {1000, 1002, 1009, 4400, 4401, 4403, 4408, 4429}


async def send(
    api: ApiProcess, method: str = "POST", path: str = "/graphql", **kwargs: Any
) -> httpx.Response:
    """A request as the tests' tenant, with the CSRF preflight header."""
    headers = {**PREFLIGHT, **api.headers(TENANT), **kwargs.pop("headers", {})}
    async with httpx.AsyncClient(timeout=10) as http:  # a hung connection fails the example
        return await http.request(method, api.url + path, headers=headers, **kwargs)


# -- GraphQL over HTTP -------------------------------------------------------------------------


@SAMPLE
@given(document=documents(), variables=st.one_of(st.none(), json_values))
async def test_documents(api: ApiProcess, document: str, variables: Any) -> None:
    assert_handled(await send(api, json={"query": document, "variables": variables}))


@SAMPLE
@given(case=variables_for())
async def test_variables(api: ApiProcess, case: tuple[str, Any]) -> None:
    document, variables = case
    assert_handled(await send(api, json={"query": document, "variables": variables}))


@SAMPLE
@given(body=hostile_graphql_bodies(), path=st.sampled_from(["/graphql", "/graphql/stream"]))
@example(body=DEEP_VARIABLES, path="/graphql")
@example(body=DEEP_VARIABLES, path="/graphql/stream")
async def test_hostile_json_bodies(api: ApiProcess, body: str, path: str) -> None:
    headers = {"content-type": "application/json"}
    assert_handled(await send(api, path=path, content=body, headers=headers))


@SAMPLE
@given(
    hostile=hostile_json(),
    parameter=st.sampled_from(["variables", "extensions"]),
    path=st.sampled_from(["/graphql", "/graphql/stream"]),
)
@example(hostile=DEEP, parameter="variables", path="/graphql")
@example(hostile=DEEP, parameter="extensions", path="/graphql")
async def test_hostile_get_parameters(
    api: ApiProcess, hostile: str, parameter: str, path: str
) -> None:
    assume(len(hostile) <= len(DEEP))  # a longer URL is refused by the client already
    params = {"query": STATUS, parameter: hostile}
    response = await send(api, "GET", path, params=params, headers={"accept": "application/json"})
    assert_handled(response)


@SAMPLE
@given(hostile=hostile_json(), part=st.sampled_from(["operations", "map"]))
@example(hostile=DEEP, part="operations")
@example(hostile=DEEP, part="map")
async def test_hostile_multipart_parts(api: ApiProcess, hostile: str, part: str) -> None:
    data = {"operations": UPLOAD_OPERATIONS, "map": FILE_MAP, part: hostile}
    files = {"0": ("people.csv", b"id,name\n1,Ada\n", "text/csv")}
    assert_handled(await send(api, data=data, files=files))


@SAMPLE
@given(body=multipart_bodies())
async def test_multipart(api: ApiProcess, body: dict[str, Any]) -> None:
    assert_handled(await send(api, **multipart_request(body)))


@SAMPLE
@given(raw=st.binary(max_size=300))
async def test_raw_bodies(api: ApiProcess, raw: bytes) -> None:
    response = await send(api, content=raw, headers={"content-type": "application/json"})
    assert_handled(response)


async def test_surrogate_ids_and_refs_never_reach_the_runtime(api: ApiProcess) -> None:
    status = f'{{"query": {json.dumps(STATUS)}, "variables": {{"id": "exec_\\ud800"}}}}'
    mash = (
        '{"query": "mutation ($refs: [ID!]!) { createDataMash(input: {contentRefs: $refs}) '
        '{ __typename } }", "variables": {"refs": ["file_\\udfff"]}}'
    )
    for body in (status, mash):
        response = await send(api, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT"
        assert error["extensions"]["reason"] == "lone_surrogate"
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]


async def test_an_unknown_method_is_refused_in_graphql_shape(api: ApiProcess) -> None:
    response = await send(api, "PUT", "/graphql")
    assert response.status_code == 405
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]


# -- REST --------------------------------------------------------------------------------------


@SAMPLE
@given(hostile=hostile_json(), whole=st.booleans())
@example(hostile=DEEP, whole=False)
@example(hostile='"file_\\ud800"', whole=False)
async def test_hostile_rest_bodies(api: ApiProcess, hostile: str, whole: bool) -> None:
    body = hostile if whole else f'{{"content_refs": [{hostile}]}}'
    response = await send(
        api, path="/v1/content/data-mash/create", content=body,
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert_rest_handled(response)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/v1/content/data-mash/create", {"content": b"x"}, 415),
        ("POST", "/v1/content/upload", {"json": {"file": "x"}}, 415),
        ("PUT", "/v1/content/upload", {}, 405),
        ("GET", "/v1/nowhere", {}, 404),
        (
            "POST",
            "/v1/content/upload",
            {"files": [(f"f{i}", (f"{i}.csv", b"x", "text/csv")) for i in range(1000)]},
            400,
        ),
        (
            "POST",
            "/v1/content/upload",
            {
                "content": b"garbage",
                "headers": {"content-type": "multipart/form-data; boundary=x"},
            },
            400,
        ),
    ],
)
async def test_rest_refusals_have_the_rest_shape(
    api: ApiProcess, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    headers = kwargs.pop("headers", {"content-type": "text/plain"} if "content" in kwargs else {})
    response = await send(api, method, path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert_rest_handled(response)


# -- WebSockets --------------------------------------------------------------------------------


async def ends_cleanly(socket: ClientConnection, alive: str | None) -> None:
    """Read until the server closes (with a close frame and an expected code, a reason when it
    refused something) or answers the probe whose message type is `alive`."""
    closed = await _closed_or_alive(socket, alive)
    if closed is None:
        return
    frame = closed.rcvd
    assert frame is not None, f"dropped without a close frame: {closed}"
    assert frame.code in EXPECTED_CLOSES, frame
    if frame.code >= 4000:
        assert frame.reason, frame


async def _closed_or_alive(socket: ClientConnection, alive: str | None) -> ConnectionClosed | None:
    try:
        async with asyncio.timeout(10):
            while True:
                message = json.loads(await socket.recv())
                probe = message.get("id", "probe") == "probe"
                if alive is not None and probe and message.get("type") == alive:
                    return None
    except ConnectionClosed as closed:
        return closed


async def graphql_socket(api: ApiProcess, protocol: str, init: str | None) -> ClientConnection:
    """A socket speaking `protocol` that has sent `init` (default: a `connection_init` with a
    token of the tests' tenant)."""
    socket = await connect(
        api.ws_url,
        subprotocols=[protocol],  # type: ignore[list-item]
        open_timeout=10,
        close_timeout=2,
    )
    token = json.dumps({"Authorization": f"Bearer {api.token(TENANT)}"})
    await socket.send(
        init if init is not None else f'{{"type":"connection_init","payload":{token}}}'
    )
    return socket


@SAMPLE
@given(
    hostile=hostile_json(),
    protocol=st.sampled_from(["graphql-transport-ws", "graphql-ws"]),
    where=st.sampled_from(["init", "message", "variables"]),
)
@example(hostile=DEEP, protocol="graphql-transport-ws", where="variables")
@example(hostile=DEEP, protocol="graphql-ws", where="variables")
@example(hostile=DEEP, protocol="graphql-transport-ws", where="init")
@example(hostile='"\\ud800"', protocol="graphql-ws", where="variables")
async def test_hostile_graphql_websocket_messages(
    api: ApiProcess, hostile: str, protocol: str, where: str
) -> None:
    init = f'{{"type":"connection_init","payload":{hostile}}}' if where == "init" else None
    transport = protocol == "graphql-transport-ws"
    start = "subscribe" if transport else "start"
    async with await graphql_socket(api, protocol, init) as socket:
        if where == "message":
            await socket.send(hostile)
        elif where == "variables":
            payload = f'{{"query": {json.dumps(WATCH)}, "variables": {{"id": {hostile}}}}}'
            await socket.send(f'{{"id": "1", "type": "{start}", "payload": {payload}}}')
        # Still there? graphql-transport-ws answers a ping, legacy graphql-ws runs a query.
        probe = {"type": "ping"} if transport else {
            "id": "probe", "type": "start", "payload": {"query": "{ __typename }"},
        }  # fmt: skip
        with contextlib.suppress(ConnectionClosed):  # closed already: `ends_cleanly` reads how
            await socket.send(json.dumps(probe))
        # Legacy graphql-ws refuses a query with an `error`: an answer all the same.
        await ends_cleanly(socket, "pong" if transport else "error")


@SAMPLE
@given(hostile=hostile_json(), wrapped=st.booleans())
@example(hostile=DEEP, wrapped=False)
@example(hostile=DEEP, wrapped=True)
@example(hostile='"\\ud800"', wrapped=True)
async def test_hostile_rest_events_socket_messages(
    api: ApiProcess, hostile: str, wrapped: bool
) -> None:
    url = f"ws://127.0.0.1:{api.port}/v1/execution/exec_hostile/events"
    message = f'{{"type": "auth", "token": {hostile}}}' if wrapped else hostile
    async with connect(url, open_timeout=10, close_timeout=2) as socket:
        await socket.send(message)
        await ends_cleanly(socket, None)


async def test_deep_websocket_messages_close_with_4400_and_a_reason(api: ApiProcess) -> None:
    subscribe = '{"id": "1", "type": "subscribe", "payload": {"query": "%s", "variables": %s}}'
    async with await graphql_socket(api, "graphql-transport-ws", None) as socket:
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(subscribe % (WATCH.replace("\n", " "), DEEP))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    assert "nested more than 64 levels" in closed.value.rcvd.reason
    url = f"ws://127.0.0.1:{api.port}/v1/execution/exec_hostile/events"
    async with connect(url, open_timeout=10) as socket:
        await socket.send(DEEP)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400


async def test_the_api_is_still_healthy_after_the_sample(api: ApiProcess) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(api.url + "/readyz")).status_code == 200
    assert "Traceback" not in api.log_text()
