"""Parsing the API's answers into the SDK's typed results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from experience_plane_sdk import (
    ApiProtocolError,
    CanonicalField,
    ColumnProfile,
    ContentFile,
    DataMash,
    Execution,
    ExecutionFailure,
    ExecutionState,
    FailureCode,
    JoinKey,
    Progress,
    QualityReport,
    RecordsPage,
    SourceColumn,
)
from experience_plane_sdk.models import node_from_graphql


def execution_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "RXhlY3V0aW9uOmV4ZWNfMQ==",
        "executionId": "exec_1",
        "intentType": "data_mash.create",
        "state": "COMPLETED",
        "rawStatus": "completed",
        "progress": {"phase": "completed", "percent": 100},
        "failure": None,
        "createdAt": "2026-01-02T03:04:05.000Z",
        "updatedAt": "2026-01-02T03:04:06.500Z",
        "isTerminal": True,
        "artifacts": [
            {
                "__typename": "ContentFile",
                "id": "Q29udGVudEZpbGU6ZmlsZV8x",
                "fileId": "file_1",
                "name": "customers.csv",
                "mimeType": "text/csv",
                "size": 447,
                "sha256": "ab" * 32,
                "format": "csv",
                "columns": [
                    {"name": "customer_id", "type": "string", "nullCount": 0, "distinctCount": 6}
                ],
                "rowCount": 6,
            },
            {
                "__typename": "DataMash",
                "id": "RGF0YU1hc2g6bWFzaF8x",
                "mashId": "mash_1",
                "name": "demo",
                "entity": "customer",
                "canonicalFields": [
                    {
                        "name": "customer_id",
                        "type": "string",
                        "confidence": 0.85,
                        "sources": [
                            {"fileId": "file_1", "column": "customer_id", "confidence": 1.0},
                            {"fileId": "file_2", "column": "cust_id", "confidence": 0.85},
                        ],
                    }
                ],
                "joinKeys": [
                    {
                        "field": "customer_id",
                        "overlap": 1.0,
                        "sources": [{"fileId": "file_1", "column": "customer_id"}],
                    }
                ],
                "rowCount": 6,
                "qualityReport": {
                    "completeness": 0.83,
                    "nullDensity": 0.09,
                    "duplicateKeys": 1,
                    "typeConflicts": 0,
                    "issues": ["1 record(s) have no data from policies.json"],
                },
            },
            {"__typename": "SomethingNewer", "id": "x_1"},
        ],
    }
    data.update(overrides)
    return data


def test_a_completed_mash_execution_parses_into_typed_results() -> None:
    execution = Execution.from_graphql(execution_json())

    assert (execution.id, execution.global_id) == ("exec_1", "RXhlY3V0aW9uOmV4ZWNfMQ==")
    assert (execution.failure, execution.error) == (None, None)
    assert execution.state is ExecutionState.COMPLETED
    assert execution.progress == Progress(phase="completed", percent=100.0)
    assert execution.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert execution.updated_at == datetime(2026, 1, 2, 3, 4, 6, 500000, tzinfo=UTC)
    # The artifact type this SDK does not know is skipped, not an error.
    assert len(execution.artifacts) == 2
    assert execution.files == (
        ContentFile(
            id="file_1",
            global_id="Q29udGVudEZpbGU6ZmlsZV8x",
            file_id="file_1",
            name="customers.csv",
            mime_type="text/csv",
            size=447,
            sha256="ab" * 32,
            format="csv",
            columns=(ColumnProfile("customer_id", "string", 0, 6),),
            row_count=6,
        ),
    )
    assert execution.data_mash == DataMash(
        id="mash_1",
        global_id="RGF0YU1hc2g6bWFzaF8x",
        mash_id="mash_1",
        name="demo",
        entity="customer",
        canonical_fields=(
            CanonicalField(
                "customer_id",
                "string",
                0.85,
                (
                    SourceColumn("file_1", "customer_id", 1.0),
                    SourceColumn("file_2", "cust_id", 0.85),
                ),
            ),
        ),
        join_keys=(JoinKey("customer_id", (SourceColumn("file_1", "customer_id", None),), 1.0),),
        row_count=6,
        quality_report=QualityReport(
            0.83, 0.09, 1, 0, ("1 record(s) have no data from policies.json",)
        ),
    )


def test_a_pending_execution_has_no_progress_dates_or_artifacts() -> None:
    execution = Execution.from_graphql(
        execution_json(
            state="PENDING",
            rawStatus="pending",
            progress=None,
            createdAt=None,
            updatedAt=None,
            isTerminal=False,
            artifacts=[],
        )
    )
    assert execution.state is ExecutionState.PENDING
    assert not execution.state.is_terminal
    assert (execution.progress, execution.created_at, execution.artifacts) == (None, None, ())
    assert execution.data_mash is None


def test_a_failed_execution_has_its_failure_code_and_message() -> None:
    execution = Execution.from_graphql(
        execution_json(
            state="FAILED",
            rawStatus="failed",
            failure={"code": "NO_JOIN_KEY", "message": "No join key found between a and b"},
            artifacts=[],
        )
    )
    assert execution.failure == ExecutionFailure(
        FailureCode.NO_JOIN_KEY, "No join key found between a and b"
    )
    assert execution.error == "No join key found between a and b"


def test_a_failure_code_newer_than_the_sdk_reads_as_unknown() -> None:
    execution = Execution.from_graphql(
        execution_json(state="FAILED", failure={"code": "SOMETHING_NEW", "message": "m"})
    )
    assert execution.failure == ExecutionFailure(FailureCode.UNKNOWN, "m")


@pytest.mark.parametrize(
    "text",
    ["2026-01-02T03:04:05.000Z", "2026-01-02T04:04:05.000+01:00", "2026-01-02T03:04:05"],
)
def test_timestamps_are_aware_utc_datetimes(text: str) -> None:
    execution = Execution.from_graphql(execution_json(createdAt=text))
    assert execution.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert execution.created_at is not None
    assert execution.created_at.utcoffset() is not None


def test_a_node_parses_by_its_typename() -> None:
    assert isinstance(node_from_graphql({"__typename": "Execution", **execution_json()}), Execution)
    file = node_from_graphql(execution_json()["artifacts"][0])
    assert isinstance(file, ContentFile)
    assert (file.id, file.global_id) == ("file_1", "Q29udGVudEZpbGU6ZmlsZV8x")
    assert node_from_graphql(None) is None
    assert node_from_graphql({"__typename": "SomethingNewer", "id": "x"}) is None


def test_a_tabular_file_without_columns_keeps_none() -> None:
    data = execution_json()
    data["artifacts"][0].update(columns=None, rowCount=None)
    file = Execution.from_graphql(data).files[0]
    assert (file.columns, file.row_count) == (None, None)


@pytest.mark.parametrize(
    "broken",
    [
        {"state": "EXPLODED"},
        {"executionId": None, "rawStatus": None} | {"state": None},
        {"failure": {"message": "no code"}},
        {"createdAt": "yesterday"},
        {"progress": {"phase": "x"}},
        {"artifacts": [{"__typename": "ContentFile", "id": "f"}]},
    ],
)
def test_a_malformed_execution_is_an_api_protocol_error(broken: dict[str, Any]) -> None:
    with pytest.raises(ApiProtocolError, match="Unreadable execution"):
        Execution.from_graphql(execution_json(**broken))


def test_a_missing_field_is_an_api_protocol_error() -> None:
    data = execution_json()
    del data["isTerminal"]
    with pytest.raises(ApiProtocolError):
        Execution.from_graphql(data)


@pytest.mark.parametrize(
    ("state", "terminal", "succeeded"),
    [
        (ExecutionState.PENDING, False, False),
        (ExecutionState.RUNNING, False, False),
        (ExecutionState.COMPLETED, True, True),
        (ExecutionState.FAILED, True, False),
        (ExecutionState.CANCELLED, True, False),
        (ExecutionState.UNKNOWN, True, False),
    ],
)
def test_execution_states(state: ExecutionState, terminal: bool, succeeded: bool) -> None:
    assert (state.is_terminal, state.succeeded) == (terminal, succeeded)


def test_a_records_page_parses_nodes_and_page_info() -> None:
    page = RecordsPage.from_graphql(
        {
            "totalCount": 6,
            "pageInfo": {
                "hasNextPage": True,
                "hasPreviousPage": True,
                "startCursor": "c1",
                "endCursor": "c2",
            },
            "edges": [{"cursor": "c1", "node": {"a": 1}}, {"cursor": "c2", "node": {"a": None}}],
        }
    )
    assert page == RecordsPage(({"a": 1}, {"a": None}), 6, True, "c2", True, "c1")


def test_a_malformed_records_page_is_an_api_protocol_error() -> None:
    with pytest.raises(ApiProtocolError):
        RecordsPage.from_graphql({"edges": []})
