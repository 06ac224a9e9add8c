"""Parsing the Runtime's wire shapes: every spelling and shape the contract allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from experience_plane.runtime import (
    CanonicalField,
    ColumnProfile,
    DanglingReferences,
    DataMashArtifact,
    ExecutionState,
    FileArtifact,
    JoinCandidate,
    JoinKey,
    QualityReport,
    SourceColumn,
)
from experience_plane.runtime.wire import (
    WireArtifactDetail,
    WireStatus,
    WireSubmit,
    artifact_from_detail,
    artifacts_from_wire,
    status_from_wire,
    submit_from_wire,
)

FULL_FILE_PAYLOAD: dict[str, Any] = {
    "file_id": "file-1",
    "filename": "customers.csv",
    "mime_type": "text/csv",
    "size": 120,
    "sha256": "ab" * 32,
    "format": "csv",
    "tabular": True,
    "columns": [
        {"name": "customer_id", "type": "integer", "null_count": 0, "distinct_count": 3},
        {"name": "email", "type": "string", "null_count": 1, "distinct_count": 2},
    ],
    "row_count": 3,
}

FULL_MASH_PAYLOAD: dict[str, Any] = {
    "mash_id": "mash-1",
    "name": "Customers and policies",
    "entity": "customer",
    "target_domain": "insurance",
    "confidence_level": "medium",
    "canonical_fields": [
        {
            "name": "customer_id",
            "type": "integer",
            "confidence": 1.0,
            "sources": [
                {"file_id": "file-1", "column": "customer_id", "confidence": 1.0},
                {"file_id": "file-2", "column": "cust_id", "confidence": 0.8},
            ],
        },
        {"name": "premium", "type": "number", "sources": [{"file_id": "file-2", "column": "p"}]},
    ],
    "join_keys": [
        {
            "field": "customer_id",
            "sources": [
                {"file_id": "file-1", "column": "customer_id"},
                {"file_id": "file-2", "column": "cust_id"},
            ],
            "overlap": 0.75,
        }
    ],
    "row_count": 3,
    "quality_report": {
        "completeness": 0.9,
        "null_density": 0.1,
        "duplicate_keys": 0,
        "type_conflicts": 1,
        "issues": ["premium has a text value"],
    },
    "lineage": [{"field": "premium", "file_id": "file-2", "column": "p"}],
}


def status(**fields: Any) -> WireStatus:
    return WireStatus.model_validate({"execution_id": "exec-1", "status": "completed", **fields})


SPELLINGS = {
    ExecutionState.PENDING: ["created", "accepted", "pending", "queued"],
    ExecutionState.RUNNING: ["executing", "running", "artifacts_received", "in_progress"],
    ExecutionState.COMPLETED: ["completed", "succeeded", "success"],
    ExecutionState.FAILED: ["failed", "error"],
    ExecutionState.CANCELLED: ["cancelled", "canceled"],
    ExecutionState.UNKNOWN: ["unknown", "exploded", "", "paused"],
}


@pytest.mark.parametrize(
    ("raw", "state"), [(raw, state) for state, raws in SPELLINGS.items() for raw in raws]
)
def test_every_status_spelling_normalises_case_insensitively(
    raw: str, state: ExecutionState
) -> None:
    for spelling in (raw, raw.upper(), raw.title()):
        parsed = status_from_wire(status(status=spelling))
        assert parsed.state is state
        assert parsed.raw_status == spelling


def test_terminal_states() -> None:
    terminal = {s for s in ExecutionState if s.is_terminal}
    assert terminal == {
        ExecutionState.COMPLETED,
        ExecutionState.FAILED,
        ExecutionState.CANCELLED,
        ExecutionState.UNKNOWN,
    }


def test_full_reference_status() -> None:
    parsed = status_from_wire(
        status(
            intent_id="intent-1",
            intent_type="content.upload",
            created_at="2024-05-01T10:00:00+02:00",
            updated_at="2024-05-01T08:00:01Z",
            progress={"phase": "profiling", "percent": 50},
            events=[{"type": "created"}, {"type": "completed"}],
            artifacts={"file": {"result_type": "file", "semantic_payload": FULL_FILE_PAYLOAD}},
        )
    )
    assert parsed.intent_id == "intent-1"
    assert parsed.intent_type == "content.upload"
    assert parsed.created_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert parsed.updated_at == datetime(2024, 5, 1, 8, 0, 1, tzinfo=UTC)
    assert parsed.progress is not None
    assert (parsed.progress.phase, parsed.progress.percent) == ("profiling", 50.0)
    assert parsed.events == ({"type": "created"}, {"type": "completed"})
    assert parsed.artifacts == (
        FileArtifact(
            file_id="file-1",
            filename="customers.csv",
            mime_type="text/csv",
            size=120,
            sha256="ab" * 32,
            format="csv",
            columns=(
                ColumnProfile("customer_id", "integer", 0, 3),
                ColumnProfile("email", "string", 1, 2),
            ),
            row_count=3,
            complete=True,
        ),
    )


def test_sparse_platform_status() -> None:
    parsed = status_from_wire(
        status(intent_id="", events=None, created_at="", error="", artifacts=None)
    )
    assert parsed.intent_id is None
    assert parsed.events == ()
    assert parsed.created_at is None
    assert parsed.updated_at is None
    assert parsed.progress is None
    assert parsed.intent_type is None
    assert parsed.error is None
    assert parsed.artifacts == ()


def test_timestamps_without_offset_are_utc_and_offsets_are_kept() -> None:
    naive = status_from_wire(status(created_at="2024-05-01T10:00:00.123456"))
    assert naive.created_at == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert status_from_wire(status(created_at="yesterday")).created_at is None
    offset = status_from_wire(status(created_at="2024-05-01T10:00:00-05:00"))
    assert offset.created_at is not None
    assert offset.created_at.utcoffset() == timezone(timedelta(hours=-5)).utcoffset(None)


def test_error_text_kept_and_non_string_error_stringified() -> None:
    assert status_from_wire(status(status="failed", error="no common key")).error == (
        "no common key"
    )
    assert status_from_wire(status(error={"code": 1})).error == "{'code': 1}"


@pytest.mark.parametrize(
    "fields",
    [{"status": "completed"}, {"execution_id": "", "status": "x"}, {"execution_id": "e"}],
)
def test_missing_required_status_fields_are_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        WireStatus.model_validate(fields)


def test_platform_artifact_shape_is_a_reduced_file() -> None:
    artifacts = artifacts_from_wire(
        {
            "artifact": {
                "result_type": "file",
                "semantic_payload": {"artifact_id": "file-9", "boundary_contract_id": "bc-1"},
            }
        }
    )
    assert artifacts == (FileArtifact("file-9", None, None, None, None, None, None, None, False),)


def test_older_reduced_file_shape() -> None:
    artifacts = artifacts_from_wire(
        {"file": {"result_type": "file", "semantic_payload": {"file_id": "file-3"}}}
    )
    assert artifacts == (FileArtifact("file-3", None, None, None, None, None, None, None, False),)


def test_reduced_data_mash_shape() -> None:
    artifacts = artifacts_from_wire(
        {"data_mash": {"result_type": "data_mash", "semantic_payload": {"mash_id": "mash-7"}}}
    )
    assert artifacts == (DataMashArtifact("mash-7", None, None, (), (), None, None, False),)


def test_full_data_mash_shape() -> None:
    (mash,) = artifacts_from_wire(
        {"data_mash": {"result_type": "data_mash", "semantic_payload": FULL_MASH_PAYLOAD}}
    )
    assert isinstance(mash, DataMashArtifact)
    assert mash.complete
    assert (mash.mash_id, mash.name, mash.entity, mash.row_count) == (
        "mash-1",
        "Customers and policies",
        "customer",
        3,
    )
    assert mash.canonical_fields[0] == CanonicalField(
        "customer_id",
        "integer",
        1.0,
        (SourceColumn("file-1", "customer_id", 1.0), SourceColumn("file-2", "cust_id", 0.8)),
    )
    assert mash.canonical_fields[1] == CanonicalField(
        "premium", "number", None, (SourceColumn("file-2", "p", None),)
    )
    assert mash.join_keys == (
        JoinKey(
            "customer_id",
            (SourceColumn("file-1", "customer_id", None), SourceColumn("file-2", "cust_id", None)),
            0.75,
        ),
    )
    assert mash.quality_report == QualityReport(0.9, 0.1, 0, 1, ("premium has a text value",))
    assert mash.join_candidates == ()


def test_join_candidates_and_dangling_references_are_read() -> None:
    payload = {
        **FULL_MASH_PAYLOAD,
        "join_candidates": [
            {
                "kind": "reference",
                "column": {"file_id": "file-2", "column": "cust_id"},
                "references": {"file_id": "file-1", "column": "customer_id"},
                "containment": 0.99,
                "uniqueness": 1.0,
                "score": 1.4,
                "chosen": True,
                "reason": None,
            },
            {
                "kind": "shared",
                "column": {"file_id": "file-1", "column": "status"},
                "references": {"file_id": "file-2", "column": "status"},
                "containment": 0.0,
                "uniqueness": 0.01,
                "chosen": False,
                "reason": "unique on neither side",
            },
        ],
        "quality_report": {
            **FULL_MASH_PAYLOAD["quality_report"],
            "dangling_references": [
                {
                    "field": "customer_id",
                    "file_id": "file-2",
                    "column": "cust_id",
                    "references": {"file_id": "file-1", "column": "customer_id"},
                    "count": 2,
                    "distinct": 2,
                    "missing": 1,
                    "examples": ["C9", "C10"],
                }
            ],
        },
    }
    (mash,) = artifacts_from_wire({"m": {"result_type": "data_mash", "semantic_payload": payload}})
    assert isinstance(mash, DataMashArtifact)
    cust, status = mash.join_candidates
    assert cust == JoinCandidate(
        "reference",
        SourceColumn("file-2", "cust_id", None),
        SourceColumn("file-1", "customer_id", None),
        0.99,
        1.0,
        True,
        None,
    )
    assert (status.kind, status.chosen, status.reason) == (
        "shared",
        False,
        "unique on neither side",
    )
    assert mash.quality_report is not None
    assert mash.quality_report.dangling_references == (
        DanglingReferences(
            "customer_id",
            SourceColumn("file-2", "cust_id", None),
            SourceColumn("file-1", "customer_id", None),
            2,
            1,
            ("C9", "C10"),
        ),
    )


def test_join_keys_may_be_plain_strings() -> None:
    payload = {**FULL_MASH_PAYLOAD, "join_keys": ["customer_id", {"field": "email"}]}
    (mash,) = artifacts_from_wire({"m": {"result_type": "data_mash", "semantic_payload": payload}})
    assert isinstance(mash, DataMashArtifact)
    assert mash.join_keys == (JoinKey("customer_id", (), None), JoinKey("email", (), None))


def test_unknown_result_types_and_junk_entries_are_skipped() -> None:
    artifacts = artifacts_from_wire(
        {
            "chart": {"result_type": "visualisation", "semantic_payload": {"chart_id": "c"}},
            "junk": "not an object",
            "no_id": {"result_type": "file", "semantic_payload": {"filename": "x"}},
            "file": {"result_type": "file", "semantic_payload": {"file_id": "f"}},
        }
    )
    assert [a.file_id for a in artifacts if isinstance(a, FileArtifact)] == ["f"]
    assert len(artifacts) == 1


def test_artifacts_as_a_list_and_flat_entries() -> None:
    artifacts = artifacts_from_wire(
        [{"result_type": "file", "file_id": "f"}, {"result_type": "data_mash", "mash_id": "m"}]
    )
    assert [type(a) for a in artifacts] == [FileArtifact, DataMashArtifact]


def test_submit_answers() -> None:
    accepted = submit_from_wire(
        WireSubmit.model_validate(
            {"execution_id": "e", "intent_id": "i", "status": "accepted", "created_at": ""}
        )
    )
    assert (accepted.state, accepted.created_at, accepted.error) == (
        ExecutionState.PENDING,
        None,
        None,
    )
    done = submit_from_wire(WireSubmit.model_validate({"execution_id": "e", "status": "completed"}))
    assert done.state is ExecutionState.COMPLETED
    assert done.intent_id is None


def test_file_detail_fills_from_top_level_fields() -> None:
    detail = WireArtifactDetail.model_validate(
        {
            "id": "file-1",
            "artifact_type": "file",
            "name": "customers.csv",
            "type": "text/csv",
            "size": 120,
            "hash": "cd" * 32,
            "created_at": "2024-05-01T10:00:00",
            "semantic_payload": {"file_id": "file-1", "format": "csv", "row_count": 3},
        }
    )
    artifact = artifact_from_detail(detail)
    assert artifact == FileArtifact(
        "file-1",
        "customers.csv",
        "text/csv",
        120,
        "cd" * 32,
        "csv",
        None,
        3,
        True,
        datetime(2024, 5, 1, 10, tzinfo=UTC),
    )


PLATFORM_FILE_RECORD: dict[str, Any] = {
    "artifact_id": "art-7",
    "artifact_type": "file",
    "tenant_id": "t1",
    "file_id": "art-7",
    "file_path": "tenants/t1/files/art-7",
    "file_reference": "gs://bucket/tenants/t1/files/art-7",
    "file_name": "customers.csv",
    "file_type": "structured",
    "mime_type": "text/csv",
    "file_size": 120,
    "metadata": {"sha256": "ef" * 32, "uploaded_by": "u1"},
    "created_at": "2024-05-01T10:00:00",
    "updated_at": "2024-05-01T10:00:01",
}


@pytest.mark.parametrize("hash_key", ["sha256", "file_hash"])
def test_the_platforms_file_record_gives_name_size_sha256_type_and_time(hash_key: str) -> None:
    record = {**PLATFORM_FILE_RECORD, "metadata": {hash_key: "ef" * 32, "uploaded_by": "u1"}}
    artifact = artifact_from_detail(WireArtifactDetail.model_validate(record))
    assert artifact == FileArtifact(
        "art-7",
        "customers.csv",
        "text/csv",
        120,
        "ef" * 32,
        None,
        None,
        None,
        True,
        datetime(2024, 5, 1, 10, tzinfo=UTC),
    )


def test_the_platforms_file_record_may_carry_a_profile_and_nulls_anywhere() -> None:
    record = {
        **PLATFORM_FILE_RECORD,
        "metadata": {
            "file_hash": "ef" * 32,
            "format": "csv",
            "row_count": 3,
            "columns": [{"name": "id", "type": "integer"}],
        },
    }
    artifact = artifact_from_detail(WireArtifactDetail.model_validate(record))
    assert isinstance(artifact, FileArtifact)
    assert (artifact.format, artifact.row_count) == ("csv", 3)
    assert artifact.columns == (ColumnProfile("id", "integer", None, None),)

    sparse = dict.fromkeys(PLATFORM_FILE_RECORD) | {"artifact_id": "art-8"}
    bare = artifact_from_detail(WireArtifactDetail.model_validate(sparse))
    assert bare == FileArtifact("art-8", None, None, None, None, None, None, None, True)

    odd = {**PLATFORM_FILE_RECORD, "metadata": {"sha256": "ef" * 32, "row_count": "many"}}
    read = artifact_from_detail(WireArtifactDetail.model_validate(odd))
    assert isinstance(read, FileArtifact)
    assert (read.sha256, read.row_count) == ("ef" * 32, None)


def test_mash_detail_is_complete() -> None:
    detail = WireArtifactDetail.model_validate(
        {
            "id": "mash-1",
            "artifact_type": "data_mash",
            "name": "Customers and policies",
            "type": "application/x-data-mash",
            "semantic_payload": FULL_MASH_PAYLOAD,
            "records": [{"customer_id": 1}],
        }
    )
    artifact = artifact_from_detail(detail)
    assert isinstance(artifact, DataMashArtifact)
    assert artifact.complete
    assert artifact.mash_id == "mash-1"
    assert len(artifact.canonical_fields) == 2


def test_detail_of_unknown_type_is_none() -> None:
    detail = WireArtifactDetail.model_validate({"id": "x", "artifact_type": "chart"})
    assert artifact_from_detail(detail) is None
