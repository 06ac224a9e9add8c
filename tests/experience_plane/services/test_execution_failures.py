"""The one table that classifies why an execution did not complete, message by message."""

from __future__ import annotations

from dataclasses import replace

import pytest

from experience_plane.runtime import ExecutionState, ExecutionStatus
from experience_plane.services.execution_failures import (
    FAILURE_KINDS,
    ExecutionFailure,
    FailureCode,
    classify,
    execution_failure,
)

# What the reference Runtime says for each kind of failure (src/reference_runtime), verbatim
# but for ids and names.
RUNTIME_MESSAGES = [
    (
        "Unknown content refs: file_x. No uploaded file has these ids for this tenant; upload "
        "the files with content.upload and pass their file_id",
        FailureCode.UNKNOWN_CONTENT_REF,
    ),
    (
        "Content ref mash_1 is a data_mash, not an uploaded file; pass the file_ids of the "
        "files it was made from",
        FailureCode.NOT_A_FILE,
    ),
    (
        "Content ref file_1 (notes.txt) is not tabular data (format text); a data mash needs "
        "CSV, a JSON array of objects, or NDJSON",
        FailureCode.NOT_TABULAR,
    ),
    ("Content ref file_1 (a.csv) could not be read as a table", FailureCode.UNREADABLE_FILE),
    ("broken.csv is not readable as CSV: unexpected end of data", FailureCode.UNREADABLE_FILE),
    (
        "No join key found between a.csv and b.csv: they have no identifier-like columns in "
        "common. Add a shared key column (such as a customer id) to the files, or mash them "
        "separately.",
        FailureCode.NO_JOIN_KEY,
    ),
    (
        "Joining b.csv on 'id' ('id' ~ 'id') would give 1,002,001 records, more than the limit "
        "of 1,000,000: 1,001 key value(s) repeat ...",
        FailureCode.TOO_MANY_RECORDS,
    ),
    (
        "Unknown target_domain 'astrology'; known domains: general, insurance",
        FailureCode.UNKNOWN_TARGET_DOMAIN,
    ),
    (
        "Size mismatch for a.csv: expected 10 bytes, got 9 bytes; the upload was truncated or "
        "altered, send it again",
        FailureCode.UPLOAD_CORRUPTED,
    ),
    (
        "SHA-256 mismatch for a.csv: expected ab, got cd; the content was altered on the way, "
        "send it again",
        FailureCode.UPLOAD_CORRUPTED,
    ),
    (
        "file_content of a.csv is not valid base64: Incorrect padding",
        FailureCode.UPLOAD_CORRUPTED,
    ),
    (
        "data_mash.create needs parameters.content_refs: a list of at least one file_id "
        "returned by content.upload",
        FailureCode.INVALID_PARAMETERS,
    ),
    (
        "parameters.content_refs must hold file ids (non-empty strings)",
        FailureCode.INVALID_PARAMETERS,
    ),
    ("parameters.size must be an integer, got 'x'", FailureCode.INVALID_PARAMETERS),
    ("options.target_domain must be a string", FailureCode.INVALID_PARAMETERS),
    (
        "Unknown confidence_level 'max'; use one of: low, medium, high",
        FailureCode.INVALID_PARAMETERS,
    ),
    (
        "Unsupported content_encoding 'hex'; send the bytes as base64",
        FailureCode.INVALID_PARAMETERS,
    ),
    ("content.upload needs parameters.filename", FailureCode.INVALID_PARAMETERS),
    ("A data mash needs at least one content ref", FailureCode.INVALID_PARAMETERS),
    (
        "Interrupted: the Runtime restarted before this execution finished; submit it again",
        FailureCode.RUNTIME_RESTARTED,
    ),
    (
        "The Runtime failed while running data_mash.create: KeyError('x')",
        FailureCode.RUNTIME_ERROR,
    ),
    ("Something nobody foresaw", FailureCode.UNKNOWN),
]


@pytest.mark.parametrize(("message", "code"), RUNTIME_MESSAGES)
def test_each_message_of_the_reference_runtime_has_its_code(
    message: str, code: FailureCode
) -> None:
    assert classify(message) is code


def status(state: ExecutionState, error: str | None) -> ExecutionStatus:
    return ExecutionStatus(
        execution_id="exec_1",
        state=state,
        raw_status=state.value,
        intent_id=None,
        intent_type="data_mash.create",
        progress=None,
        error=error,
        created_at=None,
        updated_at=None,
        artifacts=(),
        events=(),
    )


def test_a_failed_execution_keeps_the_runtimes_message() -> None:
    message = "No join key found between a.csv and b.csv: ..."
    assert execution_failure(status(ExecutionState.FAILED, message)) == ExecutionFailure(
        FailureCode.NO_JOIN_KEY, message
    )


def test_a_failure_without_a_message_is_unknown_with_a_message_of_its_own() -> None:
    failure = execution_failure(status(ExecutionState.FAILED, None))
    assert failure is not None
    assert failure.code is FailureCode.UNKNOWN
    assert failure.message


@pytest.mark.parametrize("error", [None, "Cancelled by u1", "Unknown content refs: x"])
def test_a_cancelled_execution_is_cancelled_by_user_whatever_it_says(error: str | None) -> None:
    failure = execution_failure(status(ExecutionState.CANCELLED, error))
    assert failure is not None
    assert failure.code is FailureCode.CANCELLED_BY_USER
    assert failure.message == (error or "The execution was cancelled.")


def test_an_execution_the_runtime_lost_is_lost_by_runtime() -> None:
    failure = execution_failure(status(ExecutionState.UNKNOWN, None))
    assert failure is not None
    assert failure.code is FailureCode.LOST_BY_RUNTIME


@pytest.mark.parametrize(
    "state", [ExecutionState.PENDING, ExecutionState.RUNNING, ExecutionState.COMPLETED]
)
def test_no_failure_unless_it_did_not_complete(state: ExecutionState) -> None:
    # Even with an error set (a Runtime may leave one behind), a completed execution succeeded.
    assert execution_failure(replace(status(state, "old news"))) is None


def test_every_code_is_in_the_table_once_and_described() -> None:
    codes = [kind.code for kind in FAILURE_KINDS]
    assert sorted(codes) == sorted(FailureCode)
    assert all(kind.description.endswith(".") for kind in FAILURE_KINDS)
    assert FAILURE_KINDS[-1].code is FailureCode.UNKNOWN
