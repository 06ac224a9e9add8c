"""Listing one's executions and cancelling one, on GraphQL and REST, against real Runtime
processes: the reference Runtime's own list and cancel (asynchronous mode), and the Experience
Plane's own index in front of a platform-mode Runtime (no list, synchronous: nothing to cancel)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.e2e.client import watch_ws, ws_client
from tests.support.processes import (
    ApiProcess,
    RuntimeProcess,
    SharedRuntimeProcess,
    started_together,
)

CSV = b"id,name\n1,Ann\n2,Bob\n"
LIST = """
query ($first: Int, $after: String, $last: Int, $before: String, $filter: ExecutionFilter) {
  executions(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id executionId state intentType createdAt } }
  }
}
"""
CANCEL = """
mutation ($id: ID!, $key: String) {
  cancelExecution(executionId: $id, idempotencyKey: $key) {
    __typename
    ... on ExecutionCancelled { execution { executionId state isTerminal failure { code } } }
    ... on Error { code message }
  }
}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


async def graphql(
    http: httpx.AsyncClient, api: ApiProcess, query: str, tenant: str, user: str = "u1",
    roles: tuple[str, ...] = (), **variables: Any,
) -> dict[str, Any]:  # fmt: skip
    response = await http.post(
        api.graphql_url,
        json={"query": query, "variables": variables},
        headers=api.headers(tenant, user, roles=roles),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def start(http: httpx.AsyncClient, api: ApiProcess, tenant: str, user: str = "u1") -> str:
    """Upload a small file over REST as tenant/user; the execution's id."""
    response = await http.post(
        api.url + "/v1/content/upload",
        files={"file": ("small.csv", CSV, "text/csv")},
        headers=api.headers(tenant, user),
    )
    assert response.status_code == 202, response.text
    execution_id: str = response.json()["id"]
    return execution_id


async def settle(http: httpx.AsyncClient, api: ApiProcess, tenant: str, execution_id: str) -> str:
    """Poll until the execution is terminal; its state."""
    for _ in range(600):
        response = await http.get(
            api.url + f"/v1/execution/{execution_id}/status", headers=api.headers(tenant)
        )
        body = response.json()
        if body["is_terminal"]:
            state: str = body["state"]
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"{execution_id} never finished")


async def rest_list(
    http: httpx.AsyncClient, api: ApiProcess, tenant: str, user: str = "u1",
    roles: tuple[str, ...] = (), **params: Any,
) -> httpx.Response:  # fmt: skip
    return await http.get(
        api.url + "/v1/executions",
        params=httpx.QueryParams(params),
        headers=api.headers(tenant, user, roles=roles),
    )


def ids_of(answer: dict[str, Any]) -> list[str]:
    return [edge["node"]["executionId"] for edge in answer["data"]["executions"]["edges"]]


def link_params(response: httpx.Response, rel: str) -> list[tuple[str, str]] | None:
    for part in response.headers.get("link", "").split(","):
        if part.strip().endswith(f'rel="{rel}"'):
            url = part.strip().split(";")[0].strip("<> ")
            assert urlsplit(url).path == "/v1/executions"
            return parse_qsl(urlsplit(url).query)
    return None


@pytest.fixture
async def five(
    http: httpx.AsyncClient, api: ApiProcess, e2e_runtime: SharedRuntimeProcess
) -> tuple[str, list[str]]:
    """A fresh tenant whose user u1 started five uploads (all finished), oldest first."""
    e2e_runtime.set_faults(phase_delay=0.0)
    tenant = unique("list")
    ids = [await start(http, api, tenant) for _ in range(5)]
    for execution_id in ids:
        assert await settle(http, api, tenant, execution_id) == "COMPLETED"
    return tenant, ids


async def test_graphql_lists_newest_first_and_pages_both_ways(
    http: httpx.AsyncClient, api: ApiProcess, five: tuple[str, list[str]]
) -> None:
    tenant, ids = five
    newest_first = ids[::-1]
    whole = await graphql(http, api, LIST, tenant)
    assert "errors" not in whole, whole
    assert ids_of(whole) == newest_first
    connection = whole["data"]["executions"]
    assert connection["totalCount"] == 5
    node = connection["edges"][0]["node"]
    assert (node["state"], node["intentType"]) == ("COMPLETED", "content.upload")
    assert connection["pageInfo"]["hasNextPage"] is False
    assert connection["pageInfo"]["hasPreviousPage"] is False

    first = await graphql(http, api, LIST, tenant, first=2)
    assert ids_of(first) == newest_first[:2]
    info = first["data"]["executions"]["pageInfo"]
    assert (info["hasNextPage"], info["hasPreviousPage"]) == (True, False)
    second = await graphql(http, api, LIST, tenant, first=2, after=info["endCursor"])
    assert ids_of(second) == newest_first[2:4]
    info = second["data"]["executions"]["pageInfo"]
    assert (info["hasNextPage"], info["hasPreviousPage"]) == (True, True)
    third = await graphql(http, api, LIST, tenant, first=2, after=info["endCursor"])
    assert ids_of(third) == newest_first[4:]
    assert third["data"]["executions"]["pageInfo"]["hasNextPage"] is False
    # Backwards from the last page.
    start_cursor = third["data"]["executions"]["pageInfo"]["startCursor"]
    back = await graphql(http, api, LIST, tenant, last=2, before=start_cursor)
    assert ids_of(back) == newest_first[2:4]
    assert back["data"]["executions"]["pageInfo"]["hasPreviousPage"] is True
    tail = await graphql(http, api, LIST, tenant, last=3)
    assert ids_of(tail) == newest_first[2:]

    bad = await graphql(http, api, LIST, tenant, after="not-a-cursor")
    assert bad["data"] is None
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    both = await graphql(http, api, LIST, tenant, first=1, last=1)
    assert both["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_graphql_filters(
    http: httpx.AsyncClient, api: ApiProcess, five: tuple[str, list[str]]
) -> None:
    tenant, ids = five
    done = await graphql(http, api, LIST, tenant, filter={"states": ["COMPLETED"]})
    assert ids_of(done) == ids[::-1]
    running = await graphql(http, api, LIST, tenant, filter={"states": ["RUNNING", "FAILED"]})
    assert ids_of(running) == []
    assert running["data"]["executions"]["totalCount"] == 0
    other = await graphql(http, api, LIST, tenant, filter={"intentTypes": ["data_mash.create"]})
    assert ids_of(other) == []
    uploads = await graphql(http, api, LIST, tenant, filter={"intentTypes": ["content.upload"]})
    assert ids_of(uploads) == ids[::-1]
    whole = await graphql(http, api, LIST, tenant)
    created = [edge["node"]["createdAt"] for edge in whole["data"]["executions"]["edges"]]
    # Exclusive bounds: strictly between the newest and the oldest.
    between = await graphql(
        http, api, LIST, tenant, filter={"createdAfter": created[-1], "createdBefore": created[0]}
    )
    assert set(ids_of(between)) <= set(ids[1:4])
    assert ids[0] not in ids_of(between)
    assert ids[4] not in ids_of(between)
    assert between["data"]["executions"]["totalCount"] == len(ids_of(between))


async def test_rest_lists_with_filters_cursors_and_link_headers(
    http: httpx.AsyncClient, api: ApiProcess, five: tuple[str, list[str]]
) -> None:
    tenant, ids = five
    newest_first = ids[::-1]
    response = await rest_list(http, api, tenant, limit=2, state="COMPLETED")
    assert response.status_code == 200, response.text
    page = response.json()
    assert [e["id"] for e in page["executions"]] == newest_first[:2]
    assert page["total"] == 5
    assert (page["has_next_page"], page["has_previous_page"]) == (True, False)
    assert page["cursors"][-1] == page["end_cursor"]
    assert link_params(response, "prev") is None
    params = link_params(response, "next")
    assert params is not None
    assert ("state", "COMPLETED") in params
    assert ("after", page["end_cursor"]) in params
    # Follow `next` to the end, then `prev` back.
    seen = [e["id"] for e in page["executions"]]
    while params is not None:
        response = await http.get(
            api.url + "/v1/executions",
            params=httpx.QueryParams(params),
            headers=api.headers(tenant),
        )
        assert response.status_code == 200, response.text
        seen += [e["id"] for e in response.json()["executions"]]
        last_response, params = response, link_params(response, "next")
    assert seen == newest_first
    params = link_params(last_response, "prev")
    assert params is not None
    assert ("last", "2") in params
    response = await http.get(
        api.url + "/v1/executions", params=httpx.QueryParams(params), headers=api.headers(tenant)
    )
    assert [e["id"] for e in response.json()["executions"]] == newest_first[2:4]

    none = await rest_list(http, api, tenant, state="FAILED", intent_type="content.upload")
    assert (none.json()["executions"], none.json()["total"]) == ([], 0)
    refusals: tuple[dict[str, Any], ...] = (
        {"after": "not-a-cursor"},
        {"limit": 0},
        {"limit": 101},
        {"limit": 1, "last": 1},
        {"state": "SLEEPING"},
        {"created_after": "yesterday"},
    )
    for refusal in refusals:
        refused = await rest_list(http, api, tenant, **refusal)
        assert refused.status_code == 422, (refusal, refused.text)
        assert refused.json()["error"]["code"] == "INVALID_INPUT"


async def test_tenants_and_users_see_only_their_own_and_tenant_admin_sees_the_tenant(
    http: httpx.AsyncClient, api: ApiProcess, e2e_runtime: SharedRuntimeProcess
) -> None:
    e2e_runtime.set_faults(phase_delay=0.0)
    tenant, other_tenant = unique("iso"), unique("iso")
    ann = await start(http, api, tenant, "ann")
    bob = await start(http, api, tenant, "bob")
    stranger = await start(http, api, other_tenant, "ann")

    assert ids_of(await graphql(http, api, LIST, tenant, "ann")) == [ann]
    assert ids_of(await graphql(http, api, LIST, tenant, "bob")) == [bob]
    assert ids_of(await graphql(http, api, LIST, other_tenant, "ann")) == [stranger]
    assert ids_of(await graphql(http, api, LIST, unique("iso"), "ann")) == []
    admin = await graphql(http, api, LIST, tenant, "carol", roles=("tenant-admin",))
    assert ids_of(admin) == [bob, ann]
    assert admin["data"]["executions"]["totalCount"] == 2
    response = await rest_list(http, api, tenant, "carol", roles=("tenant-admin",))
    assert [e["id"] for e in response.json()["executions"]] == [bob, ann]
    response = await rest_list(http, api, tenant, "dave")
    assert response.json() | {"executions": []} == response.json()
    assert response.json()["total"] == 0
    # Another tenant cannot cancel it either: it is not found.
    cancelled = await graphql(http, api, CANCEL, other_tenant, id=ann)
    assert cancelled["data"]["cancelExecution"]["code"] == "NOT_FOUND"


async def test_cancelling_mid_work_ends_the_execution_and_its_subscription(
    http: httpx.AsyncClient, api: ApiProcess, e2e_runtime: SharedRuntimeProcess
) -> None:
    e2e_runtime.set_faults(phase_delay=0.0, step_delay=0.5)
    tenant = unique("cancel")
    execution_id = await start(http, api, tenant)
    watching = asyncio.create_task(watch_ws(ws_client(api, tenant=tenant), execution_id))
    for _ in range(400):  # the work under way, and the subscriber listening
        status = await http.get(
            api.url + f"/v1/execution/{execution_id}/status", headers=api.headers(tenant)
        )
        if status.json()["state"] == "RUNNING":
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)

    key = unique("key")
    answer = await graphql(http, api, CANCEL, tenant, id=execution_id, key=key)
    result = answer["data"]["cancelExecution"]
    assert result["__typename"] == "ExecutionCancelled", result
    assert result["execution"]["executionId"] == execution_id
    events = await asyncio.wait_for(watching, 30)
    assert events[-1]["state"] == "CANCELLED"
    assert events[-1]["failure"]["code"] == "CANCELLED_BY_USER"
    assert await settle(http, api, tenant, execution_id) == "CANCELLED"
    # The same key again: the first answer, not an error.
    again = await graphql(http, api, CANCEL, tenant, id=execution_id, key=key)
    assert again["data"]["cancelExecution"]["__typename"] == "ExecutionCancelled"
    # A new request: it has finished.
    finished = await graphql(http, api, CANCEL, tenant, id=execution_id)
    assert finished["data"]["cancelExecution"]["__typename"] == "AlreadyFinishedError"
    assert finished["data"]["cancelExecution"]["code"] == "ALREADY_FINISHED"
    rest = await http.post(
        api.url + f"/v1/execution/{execution_id}/cancel", headers=api.headers(tenant)
    )
    assert rest.status_code == 409, rest.text
    assert rest.json()["error"]["code"] == "ALREADY_FINISHED"
    listed = await graphql(http, api, LIST, tenant, filter={"states": ["CANCELLED"]})
    assert ids_of(listed) == [execution_id]


async def test_rest_cancels_mid_work_and_the_global_id_is_accepted_on_graphql(
    http: httpx.AsyncClient, api: ApiProcess, e2e_runtime: SharedRuntimeProcess
) -> None:
    e2e_runtime.set_faults(phase_delay=0.0, step_delay=0.5)
    tenant = unique("cancel")
    first, second = await start(http, api, tenant), await start(http, api, tenant)
    response = await http.post(
        api.url + f"/v1/execution/{first}/cancel",
        headers={**api.headers(tenant), "Idempotency-Key": unique("key")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == first
    assert response.json()["state"] in ("PENDING", "RUNNING", "CANCELLED")
    assert await settle(http, api, tenant, first) == "CANCELLED"
    listed = await graphql(http, api, LIST, tenant, first=1)
    global_id = listed["data"]["executions"]["edges"][0]["node"]["id"]
    assert listed["data"]["executions"]["edges"][0]["node"]["executionId"] == second
    answer = await graphql(http, api, CANCEL, tenant, id=global_id)
    assert answer["data"]["cancelExecution"]["execution"]["executionId"] == second


async def test_cancelling_an_unknown_execution_is_not_found(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    tenant = unique("cancel")
    answer = await graphql(http, api, CANCEL, tenant, id="exec_does_not_exist")
    result = answer["data"]["cancelExecution"]
    assert (result["__typename"], result["code"]) == ("NotFoundError", "NOT_FOUND")
    response = await http.post(
        api.url + "/v1/execution/exec_does_not_exist/cancel", headers=api.headers(tenant)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


# Against a platform-mode Runtime: no list, no cancel, synchronous submits.


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RuntimeProcess, ApiProcess]]:
    root = tmp_path_factory.mktemp("list-platform")
    runtime = RuntimeProcess(root / "runtime", mode="platform")
    api = ApiProcess(runtime.url, root / "api", flavour="platform", auth=True)
    with started_together(runtime, api):
        yield runtime, api


async def test_the_list_survives_an_api_restart_against_a_runtime_without_one(
    http: httpx.AsyncClient, platform: tuple[RuntimeProcess, ApiProcess]
) -> None:
    _, api = platform
    tenant, other = unique("plat"), unique("plat")
    ids = [await start(http, api, tenant) for _ in range(3)]
    await start(http, api, other)
    before = await graphql(http, api, LIST, tenant)
    assert "errors" not in before, before
    assert ids_of(before) == ids[::-1]

    await asyncio.to_thread(api.restart)

    after = await graphql(http, api, LIST, tenant)
    assert ids_of(after) == ids[::-1]
    assert after["data"]["executions"]["totalCount"] == 3
    states = {edge["node"]["state"] for edge in after["data"]["executions"]["edges"]}
    assert states == {"COMPLETED"}
    page = await graphql(http, api, LIST, tenant, first=2)
    cursor = page["data"]["executions"]["pageInfo"]["endCursor"]
    rest = await rest_list(http, api, tenant, after=cursor)
    assert [e["id"] for e in rest.json()["executions"]] == [ids[0]]
    assert link_params(rest, "prev") is not None
    assert ids_of(await graphql(http, api, LIST, unique("plat"))) == []
    # Another user's execution: not in u1's list, in the tenant admin's.
    bobs = await start(http, api, tenant, "bob")
    assert ids_of(await graphql(http, api, LIST, tenant)) == ids[::-1]
    admin = await graphql(http, api, LIST, tenant, "carol", roles=("tenant-admin",))
    assert ids_of(admin) == [bobs, *ids[::-1]]


async def test_cancel_on_a_synchronous_runtime_finds_the_execution_finished(
    http: httpx.AsyncClient, platform: tuple[RuntimeProcess, ApiProcess]
) -> None:
    _, api = platform
    tenant = unique("plat")
    execution_id = await start(http, api, tenant)
    answer = await graphql(http, api, CANCEL, tenant, id=execution_id)
    assert answer["data"]["cancelExecution"]["__typename"] == "AlreadyFinishedError"
    response = await http.post(
        api.url + f"/v1/execution/{execution_id}/cancel", headers=api.headers(tenant)
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ALREADY_FINISHED"
