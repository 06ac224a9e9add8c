"""The one error shape of the REST surface, and the HTTP status of each error code.
Every failure answers `{"error": {"code", "message", "details", "request_id"}}`. The codes are
`services.ErrorCode`'s names, as in GraphQL's `ErrorCode`, so a client switches on the same values
whichever surface it uses; unexpected failures are `INTERNAL_SERVER_ERROR`, masked as in GraphQL,
with the request id to quote. Each expected failure's status is `services.presentation.FAILURES`'s;
the status of each code, and why, is `error_responses`' table in the OpenAPI document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from experience_plane import services
from experience_plane.auth import AuthenticationError, AuthFailure
from experience_plane.json_input import MAX_DEPTH
from experience_plane.middleware import current_request_id
from experience_plane.negotiation import REQUEST_TOO_LARGE
from experience_plane.observability.metrics import record_error
from experience_plane.services import ErrorCode
from experience_plane.services.presentation import (
    INTERNAL_ERROR_CODE,
    STATUS_BY_CODE,
    UNEXPECTED_ERROR_MESSAGE,
    details_of,
    www_authenticate,
)

UNAUTHENTICATED = ErrorCode.UNAUTHENTICATED.name
INVALID_INPUT = ErrorCode.INVALID_INPUT.name
NOT_FOUND = ErrorCode.NOT_FOUND.name
IDEMPOTENCY_CONFLICT = ErrorCode.IDEMPOTENCY_CONFLICT.name
UPLOAD_TOO_LARGE = ErrorCode.UPLOAD_TOO_LARGE.name
RUNTIME_OUTCOME_UNKNOWN = ErrorCode.RUNTIME_OUTCOME_UNKNOWN.name

# Every code a REST client can see; documented as the `code` enum in OpenAPI: the service
# codes, and the two outside them: a body over the size limit and the masked internal error.
ERROR_CODES: tuple[str, ...] = (
    *(code.name for code in ErrorCode),
    REQUEST_TOO_LARGE,
    INTERNAL_ERROR_CODE,
)

_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


class ErrorDetail(BaseModel):
    """What went wrong: a stable code for programs, a message for people, and context."""

    code: str = Field(
        description="Stable code to switch on: the GraphQL API's `ErrorCode` names.",
        json_schema_extra={"enum": list(ERROR_CODES)},
    )
    message: str = Field(description="What went wrong, for people to read.")
    details: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Context for programs: `field` (and `errors`) for invalid input, `max_bytes` for "
            "an upload or body too large, `retry_after_seconds` when rate limited, `reason` when "
            "unauthenticated."
        ),
    )
    request_id: str | None = Field(
        default=None, description="This request's id (also the `X-Request-Id` header)."
    )


class ErrorBody(BaseModel):
    """The body of every REST error response."""

    error: ErrorDetail


class RestError(Exception):
    """A failure answered in the common error shape; raised by route code, turned into a
    response by `RestRoute`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status_code: int | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status_code = status_code or STATUS_BY_CODE.get(code, 500)
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body: `{"error": {...}}` with this request's id (counted in metrics)."""
        record_error("rest", self.code)
        detail = ErrorDetail(
            code=self.code,
            message=self.message,
            details=self.details,
            request_id=current_request_id(),
        )
        return {"error": detail.model_dump(mode="json")}

    def response(self) -> JSONResponse:
        """The response carrying this error."""
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers)


def from_service_error(error: services.ServiceError) -> RestError:
    """The REST error for an expected failure of the service layer."""
    # An absent field or key is left out rather than sent as null.
    details = {name: value for name, value in details_of(error).items() if value not in (None, "")}
    if "field" in details:
        details["field"] = snake_case(details["field"])
    headers: dict[str, str] = {}
    if isinstance(error, services.RateLimitedError):
        # Retry-After is whole seconds (RFC 9110); round up so that a retry then succeeds.
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after_seconds)))
    return RestError(error.code.name, error.message, details=details, headers=headers)


def from_authentication_error(error: AuthenticationError) -> RestError:
    """401 with `WWW-Authenticate` (RFC 6750); 503 when the signing keys cannot be fetched."""
    unavailable = error.reason is AuthFailure.KEYS_UNAVAILABLE
    return RestError(
        UNAUTHENTICATED,
        error.message,
        status_code=503 if unavailable else 401,
        details={"reason": error.reason.value},
        headers={"WWW-Authenticate": www_authenticate(error.reason)},
    )


def internal_error() -> RestError:
    """The masked answer to an unexpected failure: nothing but the request id to quote."""
    request_id = current_request_id()
    message = UNEXPECTED_ERROR_MESSAGE
    if request_id is not None:
        message = f"Unexpected error (request id {request_id})."
    return RestError(INTERNAL_ERROR_CODE, message)


def too_large_response(message: str, max_bytes: int, upload: bool) -> Response:
    """The body size middleware's 413 for `/v1` with `details.max_bytes`: `UPLOAD_TOO_LARGE`
    for an upload (as when the upload service refuses a file), else `REQUEST_TOO_LARGE`."""
    code = UPLOAD_TOO_LARGE if upload else REQUEST_TOO_LARGE
    return RestError(code, message, details={"max_bytes": max_bytes}).response()


def not_found(what: str, identifier: str) -> RestError:
    """404 for an id unknown to the caller's tenant (another tenant's looks the same)."""
    return RestError(NOT_FOUND, f"{what} {identifier!r} not found.")


def snake_case(name: str) -> str:
    """A GraphQL argument name (`contentRefs`) as the REST body spells it (`content_refs`)."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` documenting the error shape for `statuses` (401 and 500 always)."""
    descriptions = {
        400: (
            "The body could not be read (`INVALID_INPUT`): not JSON (or not multipart), JSON "
            f"nested more than {MAX_DEPTH} levels deep or holding a lone surrogate "
            "(`details.reason`), more parts than the operation takes, or a bad `X-Session-Id`."
        ),
        401: "Missing, invalid or expired bearer token (`UNAUTHENTICATED`).",
        404: "No such id for your tenant (`NOT_FOUND`).",
        409: "The `Idempotency-Key` was used with different input (`IDEMPOTENCY_CONFLICT`).",
        413: (
            "The file is larger than the upload limit (`UPLOAD_TOO_LARGE`), or the body than "
            "the request limit (`REQUEST_TOO_LARGE`)."
        ),
        415: "The body is not of the media type the operation takes (`INVALID_INPUT`).",
        422: "Invalid input (`INVALID_INPUT`) or refused by the Runtime (`RUNTIME_REJECTED`).",
        429: "Your tenant's rate is exceeded (`RATE_LIMITED`); see `Retry-After`.",
        500: "Unexpected error, masked (`INTERNAL_SERVER_ERROR`); quote the request id.",
        502: (
            "The Runtime sent an unreadable answer (`RUNTIME_PROTOCOL_ERROR`), or its answer "
            "was lost (`RUNTIME_OUTCOME_UNKNOWN`: repeat with the same `Idempotency-Key`)."
        ),
        503: "The Runtime is unavailable (`RUNTIME_UNAVAILABLE`).",
        504: "The Runtime did not answer in time (`RUNTIME_TIMEOUT`).",
    }
    chosen = sorted({401, 500, *statuses})
    return {status: {"model": ErrorBody, "description": descriptions[status]} for status in chosen}
