"""The data model a UI builds on: refetching any object by its global id, paging a mash's
records both ways on GraphQL and REST, and one time format on every surface."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.client import (
    EXAMPLES,
    EXECUTION,
    create_mash,
    http_client,
    request,
    upload,
    watch_sse,
    watch_ws,
    ws_client,
)
from tests.experience_plane.rest import client as rest
from tests.support.processes import ApiProcess, SharedRuntimeProcess

OWNER = "model-owner"
STRANGER = "model-stranger"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

NODE = """
query ($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Execution { executionId state createdAt failure { code } }
    ... on ContentFile { fileId name }
    ... on DataMash { mashId rowCount records(first: 2) { edges { node } } }
  }
}
"""
NODES = """
query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on Execution { executionId }
    ... on ContentFile { fileId }
    ... on DataMash { mashId }
  }
}
"""
RECORDS = """
query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  executionStatus(executionId: $id) {
    artifacts {
      ... on DataMash {
        records(first: $first, after: $after, last: $last, before: $before) {
          totalCount
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          edges { cursor node }
        }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class Work:
    """The owner's finished upload and mash, as GraphQL shows them."""

    upload: dict[str, Any]
    mash: dict[str, Any]

    @property
    def file(self) -> dict[str, Any]:
        artifact: dict[str, Any] = self.upload["artifacts"][0]
        return artifact

    @property
    def mash_artifact(self) -> dict[str, Any]:
        artifact: dict[str, Any] = self.mash["artifacts"][0]
        return artifact


@pytest.fixture(scope="module")
def work(api: ApiProcess) -> Work:
    """Created once for the module (its own event loop: async fixtures are per test)."""
    return asyncio.run(_create_work(api))


async def _create_work(api: ApiProcess) -> Work:
    async with http_client(api, tenant=OWNER) as session:
        files = []
        for name in ("customers.csv", "policies.json"):
            accepted = await upload(session, EXAMPLES / name)
            await watch_ws(ws_client(api, tenant=OWNER), accepted["execution"]["executionId"])
            done = await session.execute(request(EXECUTION, id=accepted["execution"]["id"]))
            files.append(done["executionStatus"])
        refs = [execution["artifacts"][0]["fileId"] for execution in files]
        mash = await create_mash(session, refs, targetDomain="insurance")
        await watch_ws(ws_client(api, tenant=OWNER), mash["execution"]["executionId"])
        done = await session.execute(request(EXECUTION, id=mash["execution"]["id"]))
    return Work(upload=files[0], mash=done["executionStatus"])


async def graphql(api: ApiProcess, query: str, tenant: str = OWNER, **variables: Any) -> Any:
    """The whole answer (data and errors) of a GraphQL POST."""
    async with httpx.AsyncClient(timeout=30.0) as http:
        response = await http.post(
            api.graphql_url,
            json={"query": query, "variables": variables},
            headers=api.headers(tenant),
        )
    assert response.status_code == 200, response.text
    return response.json()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Global object identification.


def test_ids_are_opaque_global_ids_beside_the_own_ids(work: Work) -> None:
    execution, file, mash = work.upload, work.file, work.mash_artifact
    assert execution["id"] == b64(f"Execution:{execution['executionId']}")
    assert file["id"] == b64(f"ContentFile:{file['fileId']}")
    assert mash["id"] == b64(f"DataMash:{mash['mashId']}")


async def test_node_refetches_each_type_by_its_global_id(api: ApiProcess, work: Work) -> None:
    execution = (await graphql(api, NODE, id=work.upload["id"]))["data"]["node"]
    assert execution == {
        "__typename": "Execution",
        "id": work.upload["id"],
        "executionId": work.upload["executionId"],
        "state": "COMPLETED",
        "createdAt": work.upload["createdAt"],
        "failure": None,
    }
    file = (await graphql(api, NODE, id=work.file["id"]))["data"]["node"]
    assert file == {
        "__typename": "ContentFile",
        "id": work.file["id"],
        "fileId": work.file["fileId"],
        "name": "customers.csv",
    }
    mash = (await graphql(api, NODE, id=work.mash_artifact["id"]))["data"]["node"]
    assert mash["__typename"] == "DataMash"
    assert mash["mashId"] == work.mash_artifact["mashId"]
    assert mash["rowCount"] == work.mash_artifact["rowCount"]
    assert len(mash["records"]["edges"]) == 2


async def test_nodes_answers_in_order_with_null_for_what_is_not_there(
    api: ApiProcess, work: Work
) -> None:
    ids = [
        work.mash_artifact["id"],
        b64("Execution:exec_00000000000000000000000000000000"),
        work.upload["id"],
        # A well-formed id of one type naming an object of another: no such object.
        b64(f"ContentFile:{work.mash_artifact['mashId']}"),
        work.file["id"],
    ]
    answer = await graphql(api, NODES, ids=ids)
    assert "errors" not in answer
    assert answer["data"]["nodes"] == [
        {"__typename": "DataMash", "id": ids[0], "mashId": work.mash_artifact["mashId"]},
        None,
        {"__typename": "Execution", "id": ids[2], "executionId": work.upload["executionId"]},
        None,
        {"__typename": "ContentFile", "id": ids[4], "fileId": work.file["fileId"]},
    ]


async def test_another_tenants_objects_are_null_exactly_like_missing_ones(
    api: ApiProcess, work: Work
) -> None:
    owned = [work.upload["id"], work.file["id"], work.mash_artifact["id"]]
    missing = [
        b64("Execution:exec_00000000000000000000000000000000"),
        b64("ContentFile:file_00000000000000000000000000000000"),
        b64("DataMash:mash_00000000000000000000000000000000"),
    ]
    for own, absent in zip(owned, missing, strict=True):
        foreign = await graphql(api, NODE, tenant=STRANGER, id=own)
        unknown = await graphql(api, NODE, tenant=STRANGER, id=absent)
        assert foreign == unknown == {"data": {"node": None}}
    answer = await graphql(api, NODES, tenant=STRANGER, ids=owned + missing)
    assert answer == {"data": {"nodes": [None] * 6}}


async def test_a_malformed_id_is_invalid_input_beside_the_others(
    api: ApiProcess, work: Work
) -> None:
    answer = await graphql(api, NODES, ids=[work.file["id"], work.file["fileId"]])
    assert answer["data"]["nodes"][0]["fileId"] == work.file["fileId"]
    assert answer["data"]["nodes"][1] is None
    (error,) = answer["errors"]
    assert error["path"] == ["nodes", 1]
    assert error["extensions"]["code"] == "INVALID_INPUT"


async def test_nodes_reads_each_artifact_once(
    api: ApiProcess, work: Work, e2e_runtime: SharedRuntimeProcess
) -> None:
    route = "GET /api/artifacts/{artifact_id}"
    before = e2e_runtime.stats()["requests"].get(route, 0)
    ids = [work.file["id"], work.mash_artifact["id"], work.file["id"], work.mash_artifact["id"]]
    answer = await graphql(api, NODES, ids=ids)
    assert [node["id"] for node in answer["data"]["nodes"]] == ids
    assert e2e_runtime.stats()["requests"].get(route, 0) - before == 2


async def test_execution_status_takes_the_global_id_too(api: ApiProcess, work: Work) -> None:
    by_own = await graphql(api, EXECUTION, id=work.upload["executionId"])
    by_global = await graphql(api, EXECUTION, id=work.upload["id"])
    assert by_own == by_global
    assert by_own["data"]["executionStatus"]["executionId"] == work.upload["executionId"]


# Paging a mash's records.


async def graphql_page(api: ApiProcess, work: Work, **arguments: Any) -> Any:
    answer = await graphql(api, RECORDS, id=work.mash["executionId"], **arguments)
    assert "errors" not in answer, answer
    return answer["data"]["executionStatus"]["artifacts"][0]["records"]


async def all_records(api: ApiProcess, work: Work) -> list[dict[str, Any]]:
    page = await graphql_page(api, work, first=500)
    return [edge["node"] for edge in page["edges"]]


async def test_graphql_pages_forwards_and_backwards_over_the_same_cursors(
    api: ApiProcess, work: Work
) -> None:
    everything = await all_records(api, work)
    total = len(everything)
    assert total >= 5

    forwards: list[dict[str, Any]] = []
    cursors: list[str] = []
    after = None
    while True:
        page = await graphql_page(api, work, first=2, after=after)
        assert page["totalCount"] == total
        forwards.extend(edge["node"] for edge in page["edges"])
        cursors.extend(edge["cursor"] for edge in page["edges"])
        info = page["pageInfo"]
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        assert info["hasPreviousPage"] is (after is not None)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert forwards == everything
    assert len(set(cursors)) == total

    backwards: list[dict[str, Any]] = []
    before = None
    while True:
        page = await graphql_page(api, work, last=2, before=before)
        backwards[:0] = [edge["node"] for edge in page["edges"]]
        info = page["pageInfo"]
        assert info["hasNextPage"] is (before is not None)
        # The same record has the same cursor whichever way it was reached.
        assert [edge["cursor"] for edge in page["edges"]] == cursors[
            total - len(backwards) : total - len(backwards) + len(page["edges"])
        ]
        if not info["hasPreviousPage"]:
            break
        before = info["startCursor"]
    assert backwards == everything


async def test_graphql_last_alone_is_the_end_and_first_alone_the_start(
    api: ApiProcess, work: Work
) -> None:
    everything = await all_records(api, work)
    end = await graphql_page(api, work, last=3)
    assert [edge["node"] for edge in end["edges"]] == everything[-3:]
    assert (end["pageInfo"]["hasPreviousPage"], end["pageInfo"]["hasNextPage"]) == (True, False)
    start = await graphql_page(api, work)
    assert [edge["node"] for edge in start["edges"]] == everything[:50]
    assert start["pageInfo"]["hasPreviousPage"] is False


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"after": "bogus"}, "`after` is not a valid cursor"),
        ({"last": 2, "before": b64("records:1")}, "`before` is not a valid cursor"),
        ({"first": 2, "last": 2}, "not both"),
        ({"last": 0}, "`last` must be between 1 and 500"),
    ],
)
async def test_graphql_bad_paging_is_invalid_input(
    api: ApiProcess, work: Work, arguments: dict[str, Any], message: str
) -> None:
    answer = await graphql(api, RECORDS, id=work.mash["executionId"], **arguments)
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert message in error["message"]


async def rest_page(
    http: httpx.AsyncClient, api: ApiProcess, url: str, **params: Any
) -> httpx.Response:
    # No `params` at all for a Link's URL: httpx would replace its query with an empty one.
    response = await http.get(api.url + url, params=params or None, headers=api.headers(OWNER))
    assert response.status_code == 200, response.text
    return response


def links(response: httpx.Response) -> dict[str, str]:
    """The `Link` header's URLs by rel."""
    found = {}
    for part in response.headers.get("link", "").split(","):
        if part.strip():
            match = re.fullmatch(r'\s*<([^>]*)>;\s*rel="(\w+)"\s*', part)
            assert match is not None, part
            found[match[2]] = match[1]
    return found


async def test_rest_follows_its_link_header_both_ways(api: ApiProcess, work: Work) -> None:
    everything = await all_records(api, work)
    url = f"/v1/data-mash/{work.mash_artifact['mashId']}/records"
    async with httpx.AsyncClient(timeout=30.0) as http:
        response = await rest_page(http, api, url, limit=2)
        body = response.json()
        assert (body["has_previous_page"], body["prev_offset"]) == (False, None)
        assert "prev" not in links(response)
        forwards = list(body["records"])
        while "next" in links(response):
            response = await rest_page(http, api, links(response)["next"])
            forwards.extend(response.json()["records"])
        assert forwards == everything
        assert response.json()["has_next_page"] is False

        backwards = list(response.json()["records"])
        while "prev" in links(response):
            response = await rest_page(http, api, links(response)["prev"])
            backwards[:0] = response.json()["records"]
        assert backwards == everything
        assert response.json()["offset"] == 0


async def test_rest_cursors_are_graphqls(api: ApiProcess, work: Work) -> None:
    everything = await all_records(api, work)
    url = f"/v1/data-mash/{work.mash_artifact['mashId']}/records"
    graphql_first = await graphql_page(api, work, first=3)
    async with httpx.AsyncClient(timeout=30.0) as http:
        body = (await rest_page(http, api, url, limit=3)).json()
        assert body["start_cursor"] == graphql_first["pageInfo"]["startCursor"]
        assert body["end_cursor"] == graphql_first["pageInfo"]["endCursor"]
        after = (await rest_page(http, api, url, after=body["end_cursor"], limit=2)).json()
        by_offset = (await rest_page(http, api, url, offset=3, limit=2)).json()
        assert after["records"] == by_offset["records"]
        assert (after["offset"], after["prev_offset"]) == (3, 1)
        last = (await rest_page(http, api, url, last=2)).json()
        assert last["records"] == everything[-2:]
        assert last["offset"] == last["total"] - 2
        assert (last["has_next_page"], last["next_offset"]) == (False, None)


async def test_rest_links_keep_the_page_size(api: ApiProcess, work: Work) -> None:
    url = f"/v1/data-mash/{work.mash_artifact['mashId']}/records"
    async with httpx.AsyncClient(timeout=30.0) as http:
        response = await rest_page(http, api, url, offset=2, limit=2)
    found = links(response)
    assert urlsplit(found["next"]).path == url
    assert parse_qs(urlsplit(found["next"]).query)["limit"] == ["2"]
    assert parse_qs(urlsplit(found["prev"]).query)["last"] == ["2"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "bogus"}, "after"),
        ({"before": b64("records:1")}, "before"),
        ({"limit": 2, "last": 2}, "last"),
        ({"offset": 2, "after": "cmVjb3JkOjE="}, "offset"),
        ({"last": 0}, "last"),
    ],
)
async def test_rest_bad_paging_is_invalid_input(
    api: ApiProcess, work: Work, params: dict[str, Any], field: str
) -> None:
    url = f"/v1/data-mash/{work.mash_artifact['mashId']}/records"
    async with httpx.AsyncClient(timeout=30.0) as http:
        response = await http.get(api.url + url, params=params, headers=api.headers(OWNER))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert error["details"]["field"] == field


# One time format.


async def test_every_surface_writes_the_same_rfc3339_utc_times(api: ApiProcess, work: Work) -> None:
    execution_id = work.upload["executionId"]
    graphql_times = (work.upload["createdAt"], work.upload["updatedAt"])
    assert all(RFC3339_UTC.match(text) for text in graphql_times), graphql_times
    over_ws = (await watch_ws(ws_client(api, tenant=OWNER), execution_id))[-1]
    over_sse = (await watch_sse(api, execution_id, tenant=OWNER))[-1]
    async with httpx.AsyncClient(timeout=30.0) as http:
        status = (await rest.status(http, api, execution_id, tenant=OWNER)).json()
        rest_event = await rest.follow_sse(http, api, execution_id, tenant=OWNER)
    times = {
        "graphql query": graphql_times,
        "graphql over websocket": (over_ws["createdAt"], over_ws["updatedAt"]),
        "graphql over sse": (over_sse["createdAt"], over_sse["updatedAt"]),
        "rest status": (status["created_at"], status["updated_at"]),
        "rest events": (rest_event["created_at"], rest_event["updated_at"]),
    }
    assert set(times.values()) == {graphql_times}, json.dumps(times, indent=1)
