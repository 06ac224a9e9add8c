"""Parity: the same flow over GraphQL and over REST gives the same executions and results, and
each surface reads the executions the other started."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.client import EXECUTION, MASH_DETAILS, create_mash, http_client, request, upload
from tests.e2e.client import watch_ws as graphql_watch
from tests.e2e.client import ws_client as graphql_ws_client
from tests.experience_plane.rest import client as rest
from tests.support.processes import ApiProcess

FILES = ("customers.csv", "policies.json")
MASH_OPTIONS = {"target_domain": "insurance", "confidence_level": "low", "name": "parity"}
GRAPHQL_MASH_OPTIONS = {"targetDomain": "insurance", "confidenceLevel": "LOW", "name": "parity"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


def renamed(value: Any, names: dict[str, str]) -> Any:
    """`value` with every file id replaced by the file's name: ids differ between runs."""
    if isinstance(value, dict):
        return {key: renamed(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [renamed(item, names) for item in value]
    if isinstance(value, str):
        for file_id, name in names.items():
            value = value.replace(file_id, name)
    return value


def graphql_profile(artifact: dict[str, Any]) -> dict[str, Any]:
    assert artifact["createdAt"] is not None
    return {
        "name": artifact["name"],
        "mime_type": artifact["mimeType"],
        "size": artifact["size"],
        "sha256": artifact["sha256"],
        "format": artifact["format"],
        "row_count": artifact["rowCount"],
        "columns": [
            {
                "name": column["name"],
                "type": column["type"],
                "null_count": column["nullCount"],
                "distinct_count": column["distinctCount"],
            }
            for column in artifact["columns"]
        ],
    }


def rest_profile(artifact: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "mime_type", "size", "sha256", "format", "row_count", "columns")
    assert artifact["created_at"] is not None
    return {key: artifact[key] for key in keys}


def graphql_mash(mash: dict[str, Any]) -> dict[str, Any]:
    def sources(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"file_id": s["fileId"], "column": s["column"], **_confidence(s)} for s in items]

    return {
        "name": mash["name"],
        "entity": mash["entity"],
        "row_count": mash["rowCount"],
        "canonical_fields": [
            {
                "name": field["name"],
                "type": field["type"],
                "confidence": field["confidence"],
                "sources": sources(field["sources"]),
            }
            for field in mash["canonicalFields"]
        ],
        "join_keys": [
            {"field": key["field"], "overlap": key["overlap"], "sources": sources(key["sources"])}
            for key in mash["joinKeys"]
        ],
        "join_candidates": [
            {
                "kind": c["kind"],
                "column": sources([c["column"]])[0],
                "references": sources([c["references"]])[0],
                "containment": c["containment"],
                "uniqueness": c["uniqueness"],
                "chosen": c["chosen"],
                "reason": c["reason"],
            }
            for c in mash["joinCandidates"]
        ],
        "quality_report": {
            "completeness": mash["qualityReport"]["completeness"],
            "null_density": mash["qualityReport"]["nullDensity"],
            "duplicate_keys": mash["qualityReport"]["duplicateKeys"],
            "type_conflicts": mash["qualityReport"]["typeConflicts"],
            "issues": mash["qualityReport"]["issues"],
            "dangling_references": [
                {
                    "field": d["field"],
                    "column": sources([d["column"]])[0],
                    "references": sources([d["references"]])[0],
                    "count": d["count"],
                    "missing": d["missing"],
                    "examples": d["examples"],
                }
                for d in mash["qualityReport"]["danglingReferences"]
            ],
        },
        "records": [edge["node"] for edge in mash["records"]["edges"]],
    }


def _confidence(source: dict[str, Any]) -> dict[str, Any]:
    return {"confidence": source["confidence"]} if "confidence" in source else {}


def rest_mash(mash: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    def sources(items: list[dict[str, Any]], with_confidence: bool) -> list[dict[str, Any]]:
        return [
            {
                "file_id": s["file_id"],
                "column": s["column"],
                **({"confidence": s["confidence"]} if with_confidence else {}),
            }
            for s in items
        ]

    return {
        "name": mash["name"],
        "entity": mash["entity"],
        "row_count": mash["row_count"],
        "canonical_fields": [
            {
                "name": field["name"],
                "type": field["type"],
                "confidence": field["confidence"],
                "sources": sources(field["sources"], True),
            }
            for field in mash["canonical_fields"]
        ],
        "join_keys": [
            {
                "field": key["field"],
                "overlap": key["overlap"],
                "sources": sources(key["sources"], False),
            }
            for key in mash["join_keys"]
        ],
        "join_candidates": [
            {
                **c,
                "column": sources([c["column"]], False)[0],
                "references": sources([c["references"]], False)[0],
            }
            for c in mash["join_candidates"]
        ],
        "quality_report": {
            **mash["quality_report"],
            "dangling_references": [
                {
                    **d,
                    "column": sources([d["column"]], False)[0],
                    "references": sources([d["references"]], False)[0],
                }
                for d in mash["quality_report"]["dangling_references"]
            ],
        },
        "records": records,
    }


async def test_graphql_and_rest_give_the_same_results_and_share_executions(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    # Over REST.
    rest_files: dict[str, dict[str, Any]] = {}
    for name in FILES:
        response = await rest.upload(http, api, rest.EXAMPLES / name)
        assert response.status_code == 202, response.text
        final = await rest.follow_sse(http, api, response.json()["id"])
        assert final["state"] == "COMPLETED"
        rest_files[name] = final
    rest_ids = {name: final["artifacts"][0]["file_id"] for name, final in rest_files.items()}
    response = await rest.create_mash(http, api, list(rest_ids.values()), **MASH_OPTIONS)
    assert response.status_code == 202, response.text
    rest_mash_execution = await rest.follow_sse(http, api, response.json()["id"])
    (rest_mash_artifact,) = rest_mash_execution["artifacts"]
    page = await http.get(
        api.url + rest_mash_artifact["records_url"], params={"limit": 500}, headers=api.headers()
    )
    rest_records = page.json()["records"]

    # Over GraphQL.
    graphql_files: dict[str, dict[str, Any]] = {}
    async with http_client(api) as session:
        for name in FILES:
            result = await upload(session, rest.EXAMPLES / name)
            execution_id = result["execution"]["executionId"]
            events = await graphql_watch(graphql_ws_client(api), execution_id)
            assert events[-1]["state"] == "COMPLETED"
            done = await session.execute(request(EXECUTION, id=execution_id))
            graphql_files[name] = done["executionStatus"]
        graphql_ids = {name: e["artifacts"][0]["fileId"] for name, e in graphql_files.items()}
        result = await create_mash(session, list(graphql_ids.values()), **GRAPHQL_MASH_OPTIONS)
        graphql_mash_id = result["execution"]["executionId"]
        events = await graphql_watch(graphql_ws_client(api), graphql_mash_id)
        assert events[-1]["state"] == "COMPLETED"
        details = await session.execute(request(MASH_DETAILS, id=graphql_mash_id, first=500))
        (graphql_mash_artifact,) = details["executionStatus"]["artifacts"]

        # Each surface reads the executions the other started.
        for final in [*rest_files.values(), rest_mash_execution]:
            seen = await session.execute(request(EXECUTION, id=final["id"]))
            execution = seen["executionStatus"]
            assert execution["executionId"] == final["id"]
            assert execution["state"] == final["state"]
            assert execution["intentType"] == final["intent_type"]
            assert execution["rawStatus"] == final["raw_status"]
            # One time format: the same instants, written alike.
            assert execution["createdAt"] == final["created_at"]
            assert execution["updatedAt"] == final["updated_at"]
            assert execution["failure"] is final["failure"] is None
    for name in FILES:
        response = await rest.status(http, api, graphql_files[name]["executionId"])
        assert response.status_code == 200
        seen = response.json()
        assert (seen["id"], seen["state"]) == (graphql_files[name]["executionId"], "COMPLETED")
        assert seen["created_at"] == graphql_files[name]["createdAt"]
        assert seen["updated_at"] == graphql_files[name]["updatedAt"]
        assert rest_profile(seen["artifacts"][0]) == graphql_profile(
            graphql_files[name]["artifacts"][0]
        )
    response = await rest.status(http, api, graphql_mash_id)
    assert response.json()["artifacts"][0]["mash_id"] == graphql_mash_artifact["mashId"]

    # The same profiles, mash and records, ids aside.
    for name in FILES:
        assert rest_profile(rest_files[name]["artifacts"][0]) == graphql_profile(
            graphql_files[name]["artifacts"][0]
        )
    rest_names = {file_id: name for name, file_id in rest_ids.items()}
    graphql_names = {file_id: name for name, file_id in graphql_ids.items()}
    from_rest = renamed(rest_mash(rest_mash_artifact, rest_records), rest_names)
    from_graphql = renamed(graphql_mash(graphql_mash_artifact), graphql_names)
    assert from_rest["canonical_fields"]
    assert from_rest["join_keys"]
    assert from_rest["records"]
    assert from_rest == from_graphql


async def test_a_failed_execution_has_the_same_failure_and_times_on_both_surfaces(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    response = await rest.create_mash(http, api, ["file_not_uploaded"])
    assert response.status_code == 202, response.text
    from_rest = await rest.follow_sse(http, api, response.json()["id"])
    async with http_client(api) as session:
        seen = await session.execute(request(EXECUTION, id=from_rest["id"]))
    from_graphql = seen["executionStatus"]
    assert from_rest["state"] == from_graphql["state"] == "FAILED"
    assert from_rest["failure"] == from_graphql["failure"]
    assert from_rest["failure"]["code"] == "UNKNOWN_CONTENT_REF"
    # The deprecated string stays, and says the same.
    assert from_rest["error"] == from_rest["failure"]["message"]
    assert from_rest["created_at"] == from_graphql["createdAt"]
    assert from_rest["updated_at"] == from_graphql["updatedAt"]
    assert from_rest["updated_at"].endswith("Z")


LIST = """
query ($first: Int, $after: String, $filter: ExecutionFilter) {
  executions(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { executionId state intentType createdAt updatedAt } }
  }
}
"""
CANCEL = """
mutation ($id: ID!) {
  cancelExecution(executionId: $id) {
    __typename
    ... on ExecutionCancelled { execution { executionId state } }
    ... on Error { code message }
  }
}
"""


async def test_listing_and_cancelling_agree_on_both_surfaces(
    http: httpx.AsyncClient, api: ApiProcess
) -> None:
    tenant = f"parity-{uuid.uuid4().hex[:8]}"
    started = []
    for _ in range(3):
        response = await rest.upload(http, api, rest.EXAMPLES / FILES[0], tenant=tenant)
        assert response.status_code == 202, response.text
        started.append(response.json()["id"])
    for execution_id in started:
        await rest.follow_sse(http, api, execution_id, tenant=tenant)

    async def graphql(query: str, **variables: Any) -> dict[str, Any]:
        response = await http.post(
            api.graphql_url,
            json={"query": query, "variables": variables},
            headers=api.headers(tenant),
        )
        body: dict[str, Any] = response.json()["data"]
        return body

    for page_size in (2, 3):
        connection = (await graphql(LIST, first=page_size))["executions"]
        response = await http.get(
            api.url + "/v1/executions", params={"limit": page_size}, headers=api.headers(tenant)
        )
        page = response.json()
        assert [e["node"]["executionId"] for e in connection["edges"]] == [
            e["id"] for e in page["executions"]
        ]
        assert [e["cursor"] for e in connection["edges"]] == page["cursors"]
        assert connection["totalCount"] == page["total"] == 3
        info = connection["pageInfo"]
        assert (info["hasNextPage"], info["hasPreviousPage"]) == (
            page["has_next_page"],
            page["has_previous_page"],
        )
        assert (info["startCursor"], info["endCursor"]) == (
            page["start_cursor"],
            page["end_cursor"],
        )
        for edge, execution in zip(connection["edges"], page["executions"], strict=True):
            node = edge["node"]
            assert (node["state"], node["intentType"]) == (
                execution["state"],
                execution["intent_type"],
            )
            assert (node["createdAt"], node["updatedAt"]) == (
                execution["created_at"],
                execution["updated_at"],
            )
    filtered = (await graphql(LIST, filter={"states": ["FAILED"]}))["executions"]
    response = await http.get(
        api.url + "/v1/executions", params={"state": "FAILED"}, headers=api.headers(tenant)
    )
    assert filtered["totalCount"] == response.json()["total"] == 0

    # Cancelling: the same codes for a finished execution and an unknown one.
    for execution_id, code, status in (
        (started[0], "ALREADY_FINISHED", 409),
        ("exec_unknown_here", "NOT_FOUND", 404),
    ):
        result = (await graphql(CANCEL, id=execution_id))["cancelExecution"]
        response = await http.post(
            api.url + f"/v1/execution/{execution_id}/cancel", headers=api.headers(tenant)
        )
        assert result["code"] == response.json()["error"]["code"] == code
        assert response.status_code == status
        assert result["message"] == response.json()["error"]["message"]
