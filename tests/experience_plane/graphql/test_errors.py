"""The schema's error types and result unions, built from the one table of failures."""

from __future__ import annotations

import pytest
from graphql import GraphQLEnumType

from experience_plane import services
from experience_plane.graphql.content import UPLOAD_CONTENT_RESULT
from experience_plane.graphql.data_mash import CREATE_DATA_MASH_RESULT
from experience_plane.graphql.errors import (
    InvalidInputError,
    RateLimitedError,
    RuntimeOutcomeUnknownError,
    RuntimeUnavailableError,
    UploadTooLargeError,
)
from experience_plane.graphql.executions import ExecutionAccepted
from experience_plane.graphql.schema import build_schema
from experience_plane.services.presentation import FAILURES


def test_the_schema_error_codes_are_the_service_codes_in_order() -> None:
    codes = build_schema()._schema.type_map["ErrorCode"]
    assert isinstance(codes, GraphQLEnumType)
    assert list(codes.values) == [code.name for code in services.ErrorCode]
    assert [value.value for value in codes.values.values()] == list(services.ErrorCode)


def test_every_row_names_an_error_type_of_the_upload_union() -> None:
    names = {member.__name__ for member in UPLOAD_CONTENT_RESULT.members}
    assert UPLOAD_CONTENT_RESULT.members[0] is ExecutionAccepted
    assert {row.schema_type for row in FAILURES if row.schema_type is not None} <= names
    # Only a failure no mutation meets has no type of its own, and cancelExecution's, whose
    # types the schema does not have yet.
    assert [row.error for row in FAILURES if row.schema_type is None] == [
        services.TooManySubscriptionsError,
        services.AlreadyFinishedError,
        services.CancelUnsupportedError,
    ]


def test_a_service_error_becomes_its_type_with_its_details() -> None:
    invalid = UPLOAD_CONTENT_RESULT.error(services.InvalidInputError("bad", field="file"))
    assert isinstance(invalid, InvalidInputError)
    assert (invalid.code, invalid.message, invalid.field) == (
        services.ErrorCode.INVALID_INPUT,
        "bad",
        "file",
    )
    limited = UPLOAD_CONTENT_RESULT.error(
        services.RateLimitedError("slow", retry_after_seconds=2.0)
    )
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after_seconds == 2.0
    lost = UPLOAD_CONTENT_RESULT.error(
        services.RuntimeOutcomeUnknownError("lost", idempotency_key="k1")
    )
    assert isinstance(lost, RuntimeOutcomeUnknownError)
    assert lost.idempotency_key == "k1"
    too_large = UPLOAD_CONTENT_RESULT.error(services.UploadTooLargeError("big", max_bytes=9))
    assert isinstance(too_large, UploadTooLargeError)
    assert too_large.max_bytes == 9


@pytest.mark.parametrize(
    "error",
    [
        services.NotFoundError("gone"),
        services.RuntimeProtocolFailure("garbled"),
        services.ServiceError("odd"),
    ],
)
def test_failures_without_a_type_are_unavailable_with_their_own_code(
    error: services.ServiceError,
) -> None:
    result = UPLOAD_CONTENT_RESULT.error(error)
    assert type(result) is RuntimeUnavailableError
    assert result.code is error.code


def test_a_failure_outside_the_union_is_unavailable_with_its_own_code() -> None:
    assert UploadTooLargeError not in CREATE_DATA_MASH_RESULT.members
    result = CREATE_DATA_MASH_RESULT.error(services.UploadTooLargeError("big", max_bytes=9))
    assert type(result) is RuntimeUnavailableError
    assert result.code is services.ErrorCode.UPLOAD_TOO_LARGE


async def test_a_resolver_raising_a_service_error_returns_it_and_others_propagate() -> None:
    @UPLOAD_CONTENT_RESULT.resolves
    async def resolver(fail: Exception) -> ExecutionAccepted:
        raise fail

    result = await resolver(services.RateLimitedError("slow", retry_after_seconds=1.0))
    assert isinstance(result, RateLimitedError)
    with pytest.raises(KeyError):
        await resolver(KeyError("bug"))
