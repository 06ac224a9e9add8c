"""The same flow against a Runtime that behaves like the platform's current one: synchronous
submits, reduced artifacts, sparse statuses, failures without an id, no stream endpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from tests.e2e.client import (
    EXAMPLES,
    EXECUTION,
    MASH_DETAILS,
    create_mash,
    http_client,
    request,
    upload,
    watch_sse,
    watch_ws,
    ws_client,
)
from tests.support.processes import ApiProcess, RuntimeProcess, started_together


@pytest.fixture(scope="module")
def processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RuntimeProcess, ApiProcess]]:
    """The reference Runtime in platform mode and the API in platform flavour in front of it,
    started side by side."""
    data_dir = tmp_path_factory.mktemp("e2e-platform") / "runtime"
    runtime = RuntimeProcess(data_dir, mode="platform")
    log_dir = tmp_path_factory.mktemp("platform-api-logs")
    api = ApiProcess(runtime.url, log_dir, flavour="platform", auth=True)
    with started_together(runtime, api):
        yield runtime, api


@pytest.fixture(scope="module")
def platform_runtime_process(processes: tuple[RuntimeProcess, ApiProcess]) -> RuntimeProcess:
    return processes[0]


@pytest.fixture(scope="module")
def platform_api(processes: tuple[RuntimeProcess, ApiProcess]) -> ApiProcess:
    return processes[1]


async def test_flow_against_the_platform_runtime(platform_api: ApiProcess) -> None:
    api = platform_api
    file_ids = []
    async with http_client(api) as session:
        for name in ("customers.csv", "policies.json"):
            accepted = await upload(session, EXAMPLES / name)
            assert accepted["__typename"] == "ExecutionAccepted", accepted
            execution = accepted["execution"]
            # Synchronous submit: the execution is finished when the mutation returns, and
            # the reduced artifact's details come from the artifacts endpoint.
            assert execution["state"] == "COMPLETED"
            assert execution["isTerminal"] is True
            assert execution["intentType"] == "content.upload"
            (artifact,) = execution["artifacts"]
            assert artifact["__typename"] == "ContentFile"
            # Read from the platform's file record (Compatibility 7): nothing left null.
            data = (EXAMPLES / name).read_bytes()
            assert artifact["name"] == name
            assert artifact["size"] == len(data)
            assert artifact["sha256"] == hashlib.sha256(data).hexdigest()
            assert artifact["mimeType"] in ("text/csv", "application/json")
            assert artifact["createdAt"] is not None
            assert artifact["rowCount"] == 6
            file_ids.append(artifact["fileId"])

            # Watching a finished execution: one event, the terminal status.
            events = await watch_ws(ws_client(api), execution["id"])
            assert [event["state"] for event in events] == ["COMPLETED"]

        mash = await create_mash(session, file_ids, targetDomain="insurance")
        assert mash["__typename"] == "ExecutionAccepted", mash
        execution_id = mash["execution"]["id"]
        assert mash["execution"]["state"] == "COMPLETED"
        assert [event["state"] for event in await watch_sse(api, execution_id)] == ["COMPLETED"]

        details = await session.execute(request(MASH_DETAILS, id=execution_id, first=2))
        (data_mash,) = details["executionStatus"]["artifacts"]
        assert {"customer_id", "cust_id"} in [
            {source["column"] for source in field["sources"]}
            for field in data_mash["canonicalFields"]
        ]
        (chosen,) = [c for c in data_mash["joinCandidates"] if c["chosen"]]
        assert (chosen["column"]["column"], chosen["references"]["column"]) == (
            "cust_id",
            "customer_id",
        )
        assert data_mash["records"]["totalCount"] == data_mash["rowCount"]
        assert len(data_mash["records"]["edges"]) == 2

        status = await session.execute(request(EXECUTION, id=execution_id))
        assert status["executionStatus"]["state"] == "COMPLETED"


async def test_failed_submit_without_an_id_is_a_rejection(platform_api: ApiProcess) -> None:
    async with http_client(platform_api) as session:
        result = await create_mash(session, ["file_missing"])
    assert result["__typename"] == "RuntimeRejectedError"
    assert result["code"] == "RUNTIME_REJECTED"
    assert "file_missing" in result["message"]


DETAILS_TWICE = """
query Twice($id: ID!) {
  a: executionStatus(executionId: $id) {
    artifacts {
      ... on DataMash {
        name entity rowCount canonicalFields { name } joinKeys { field }
        records(first: 2) { totalCount edges { node } }
      }
    }
  }
  b: executionStatus(executionId: $id) {
    artifacts {
      ... on DataMash {
        name qualityReport { completeness }
        again: records(first: 2) { totalCount }
      }
    }
  }
}
"""


async def test_reduced_artifact_details_are_read_once_per_request(
    platform_api: ApiProcess, platform_runtime_process: RuntimeProcess
) -> None:
    async with http_client(platform_api) as session:
        file_ids = []
        for name in ("customers.csv", "policies.json"):
            accepted = await upload(session, EXAMPLES / name)
            file_ids.append(accepted["execution"]["artifacts"][0]["fileId"])
        mash = await create_mash(session, file_ids)
        execution_id = mash["execution"]["id"]

        platform_runtime_process.reset_stats()
        result = await session.execute(request(DETAILS_TWICE, id=execution_id))

    (first,) = result["a"]["artifacts"]
    (second,) = result["b"]["artifacts"]
    assert first["name"] == second["name"]
    assert first["records"]["totalCount"] == second["again"]["totalCount"]
    stats = platform_runtime_process.stats()
    # One read of the mash's details and one of its first records page, however often they
    # are selected; the terminal status itself is not read again at all.
    assert stats["requests"].get("GET /api/artifacts/{artifact_id}") == 2, stats
    assert stats["status_reads"].get(execution_id, 0) == 0, stats
