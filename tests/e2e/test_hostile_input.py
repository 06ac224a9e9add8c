"""A smaller sample of the hostile-input properties against the real API process (the full
runs are in-process, in tests/experience_plane/graphql/test_hostile_input.py): a real server,
real sockets, a real multipart parser. Every answer is a clear 4xx or typed, within 10 s."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.experience_plane.graphql.hostile import (
    PREFLIGHT,
    assert_handled,
    documents,
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


async def send(api: ApiProcess, **kwargs: Any) -> httpx.Response:
    headers = {**PREFLIGHT, **api.headers(), **kwargs.pop("headers", {})}
    async with httpx.AsyncClient(timeout=10) as http:  # a hung connection fails the example
        return await http.post(api.graphql_url, headers=headers, **kwargs)


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
@given(body=multipart_bodies())
async def test_multipart(api: ApiProcess, body: dict[str, Any]) -> None:
    assert_handled(await send(api, **multipart_request(body)))


@SAMPLE
@given(raw=st.binary(max_size=300))
async def test_raw_bodies(api: ApiProcess, raw: bytes) -> None:
    response = await send(api, content=raw, headers={"content-type": "application/json"})
    assert_handled(response)


async def test_the_api_is_still_healthy_after_the_sample(api: ApiProcess) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(api.url + "/readyz")).status_code == 200
    assert "Traceback" not in api.log_text()
