"""The error shape and the status of each code: one source of truth with GraphQL."""

from __future__ import annotations

import pytest

from experience_plane import services
from experience_plane.negotiation import UPLOAD_TOO_LARGE as BODY_LIMITS_UPLOAD_CODE
from experience_plane.rest.errors import (
    ERROR_CODES,
    STATUS_BY_CODE,
    from_service_error,
    snake_case,
)
from experience_plane.rest.route import validation_error


def test_every_code_has_a_status_and_is_documented() -> None:
    for code in services.ErrorCode:
        assert code.name in STATUS_BY_CODE, code.name
        assert code.name in ERROR_CODES
    assert "INTERNAL_SERVER_ERROR" in ERROR_CODES
    assert STATUS_BY_CODE["INTERNAL_SERVER_ERROR"] == 500


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (services.InvalidInputError("bad", field="contentRefs"), 422, "INVALID_INPUT"),
        (services.UploadTooLargeError("big", max_bytes=10), 413, "UPLOAD_TOO_LARGE"),
        (services.RuntimeUnavailableError("down"), 503, "RUNTIME_UNAVAILABLE"),
        (services.RuntimeTimeoutError("slow"), 504, "RUNTIME_TIMEOUT"),
        (services.RuntimeRejectedError("no"), 422, "RUNTIME_REJECTED"),
        (services.RuntimeProtocolFailure("garbled"), 502, "RUNTIME_PROTOCOL_ERROR"),
        (services.NotFoundError("gone"), 404, "NOT_FOUND"),
        (services.IdempotencyConflictError("other input"), 409, "IDEMPOTENCY_CONFLICT"),
        (
            services.RuntimeOutcomeUnknownError("lost", idempotency_key="k1"),
            502,
            "RUNTIME_OUTCOME_UNKNOWN",
        ),
    ],
)
def test_service_errors_map_to_statuses(
    error: services.ServiceError, status: int, code: str
) -> None:
    rest = from_service_error(error)
    assert (rest.status_code, rest.code, rest.message) == (status, code, error.message)


def test_invalid_input_names_the_field_as_the_rest_body_spells_it() -> None:
    rest = from_service_error(services.InvalidInputError("bad", field="contentRefs"))
    assert rest.details == {"field": "content_refs"}
    assert snake_case("targetDomain") == "target_domain"
    assert snake_case("name") == "name"


def test_rate_limited_rounds_retry_after_up_to_whole_seconds() -> None:
    rest = from_service_error(services.RateLimitedError("slow down", retry_after_seconds=1.2))
    assert rest.status_code == 429
    assert rest.headers["Retry-After"] == "2"
    assert rest.details == {"retry_after_seconds": 1.2}
    tiny = from_service_error(services.RateLimitedError("slow down", retry_after_seconds=0.01))
    assert tiny.headers["Retry-After"] == "1"


def test_upload_too_large_carries_the_limit() -> None:
    rest = from_service_error(services.UploadTooLargeError("big", max_bytes=1000))
    assert rest.details == {"max_bytes": 1000}


def test_validation_errors_become_one_invalid_input_with_each_problem() -> None:
    rest = validation_error(
        [
            {"type": "list_type", "loc": ("body", "content_refs"), "msg": "Input should be a list"},
            {"type": "missing", "loc": ("body", "items", 2, "id"), "msg": "Field required"},
        ]
    )
    assert rest.status_code == 422
    assert rest.code == "INVALID_INPUT"
    assert rest.message == "content_refs: Input should be a list"
    assert rest.details["field"] == "content_refs"
    assert [problem["field"] for problem in rest.details["errors"]] == [
        "content_refs",
        "items[2].id",
    ]


def test_unparsable_json_is_a_400() -> None:
    rest = validation_error([{"type": "json_invalid", "loc": ("body", 1), "msg": "JSON error"}])
    assert (rest.status_code, rest.code) == (400, "INVALID_INPUT")


def test_a_lost_answer_names_the_key_to_repeat_with() -> None:
    error = services.RuntimeOutcomeUnknownError("lost", idempotency_key="k1")
    assert from_service_error(error).details == {"idempotency_key": "k1"}
    without = services.RuntimeOutcomeUnknownError("lost", idempotency_key=None)
    assert from_service_error(without).details == {}


def test_the_body_limits_upload_code_is_the_services() -> None:
    # `negotiation` sits below the services and spells the code out; the two must agree.
    assert services.ErrorCode.UPLOAD_TOO_LARGE.name == BODY_LIMITS_UPLOAD_CODE
    assert STATUS_BY_CODE["REQUEST_TOO_LARGE"] == 413
    assert "REQUEST_TOO_LARGE" in ERROR_CODES
