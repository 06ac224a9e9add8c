"""Expected failures as schema types: an `Error` interface with a stable code, one type per kind.
Mutations return a result union of their success type and these; unexpected failures are not in
the schema and reach the client masked (see `graphql.schema`).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from experience_plane import services
from experience_plane.observability.metrics import record_error


@strawberry.enum(description="Stable codes of the failures a client is expected to handle.")
class ErrorCode(Enum):
    """The schema's copy of `services.ErrorCode`, values in GraphQL enum style."""

    INVALID_INPUT = strawberry.enum_value(
        "INVALID_INPUT", description="An argument is missing, malformed or inconsistent."
    )
    UPLOAD_TOO_LARGE = strawberry.enum_value(
        "UPLOAD_TOO_LARGE", description="The uploaded file is larger than the configured limit."
    )
    RUNTIME_UNAVAILABLE = strawberry.enum_value(
        "RUNTIME_UNAVAILABLE", description="The Runtime could not be reached; try again later."
    )
    RUNTIME_TIMEOUT = strawberry.enum_value(
        "RUNTIME_TIMEOUT", description="The Runtime did not answer in time; try again later."
    )
    RUNTIME_REJECTED = strawberry.enum_value(
        "RUNTIME_REJECTED", description="The Runtime refused the request or failed it at once."
    )
    RUNTIME_PROTOCOL_ERROR = strawberry.enum_value(
        "RUNTIME_PROTOCOL_ERROR", description="The Runtime sent an answer that could not be read."
    )
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="No such execution or artifact is visible to the caller."
    )
    RATE_LIMITED = strawberry.enum_value(
        "RATE_LIMITED", description="Your tenant started too much work; retry after a while."
    )
    IDEMPOTENCY_CONFLICT = strawberry.enum_value(
        "IDEMPOTENCY_CONFLICT",
        description="The idempotency key was already used with different input.",
    )
    RUNTIME_OUTCOME_UNKNOWN = strawberry.enum_value(
        "RUNTIME_OUTCOME_UNKNOWN",
        description=(
            "The Runtime's answer was lost: the request may or may not have started an "
            "execution. Repeat it with the same idempotency key to find out safely."
        ),
    )
    UNAUTHENTICATED = strawberry.enum_value(
        "UNAUTHENTICATED", description="The credentials are missing, invalid or have expired."
    )


@strawberry.interface(description="An expected failure: a stable code and a message for people.")
class Error:
    """Fields every error type of the schema has."""

    code: ErrorCode = strawberry.field(description="What went wrong, for programs to switch on.")
    message: str = strawberry.field(description="What went wrong, for people to read.")


@strawberry.type(description="An argument is missing, malformed or inconsistent.")
class InvalidInputError(Error):
    """The caller's input was refused before anything was submitted."""

    field: str | None = strawberry.field(
        default=None, description="The argument or input field at fault, when there is one."
    )


@strawberry.type(description="The uploaded file is larger than the service accepts.")
class UploadTooLargeError(Error):
    """The upload was refused before anything was submitted."""

    max_bytes: int = strawberry.field(description="The largest upload accepted, in bytes.")


@strawberry.type(description="The Runtime could not be reached or kept failing.")
class RuntimeUnavailableError(Error):
    """Nothing was started; the same request may succeed later."""


@strawberry.type(description="The Runtime did not answer in time.")
class RuntimeTimeoutError(Error):
    """The request may or may not have been started by the Runtime."""


@strawberry.type(description="The Runtime refused the request, or failed it before starting it.")
class RuntimeRejectedError(Error):
    """The message is the Runtime's own explanation."""


@strawberry.type(description="Your tenant started more work than its rate allows.")
class RateLimitedError(Error):
    """Nothing was started; the same request succeeds after `retryAfterSeconds`."""

    retry_after_seconds: float = strawberry.field(
        description="Seconds to wait before the next attempt can succeed."
    )


@strawberry.type(description="The idempotency key was already used with different input.")
class IdempotencyConflictError(Error):
    """Nothing was started: the key belongs to an earlier request with other input. Repeat that
    request unchanged to get its result, or send new input with a new key."""


@strawberry.type(
    description=(
        "The request reached the Runtime but its answer was lost: an execution may or may not "
        "have been started."
    )
)
class RuntimeOutcomeUnknownError(Error):
    """Repeating the request with the same idempotency key is safe: it returns the execution
    if one was started and starts one otherwise. Without a key a repeat may start a second."""

    idempotency_key: str | None = strawberry.field(
        default=None,
        description="The key to repeat the request with; null when the request had none.",
    )


MutationError = (
    InvalidInputError
    | UploadTooLargeError
    | RuntimeUnavailableError
    | RuntimeTimeoutError
    | RuntimeRejectedError
    | RateLimitedError
    | IdempotencyConflictError
    | RuntimeOutcomeUnknownError
)


def error_type_for(error: services.ServiceError) -> MutationError:
    """The schema's error object for an expected service failure."""
    code = ErrorCode[error.code.name]
    record_error("graphql", code.name)
    if isinstance(error, services.InvalidInputError):
        return InvalidInputError(code=code, message=error.message, field=error.field)
    if isinstance(error, services.UploadTooLargeError):
        return UploadTooLargeError(code=code, message=error.message, max_bytes=error.max_bytes)
    if isinstance(error, services.RateLimitedError):
        return RateLimitedError(
            code=code, message=error.message, retry_after_seconds=error.retry_after_seconds
        )
    if isinstance(error, services.IdempotencyConflictError):
        return IdempotencyConflictError(code=code, message=error.message)
    if isinstance(error, services.RuntimeOutcomeUnknownError):
        return RuntimeOutcomeUnknownError(
            code=code, message=error.message, idempotency_key=error.idempotency_key
        )
    if isinstance(error, services.RuntimeTimeoutError):
        return RuntimeTimeoutError(code=code, message=error.message)
    if isinstance(error, services.RuntimeRejectedError):
        return RuntimeRejectedError(code=code, message=error.message)
    # Unavailable, unreadable answers and anything else the Runtime caused: try again later.
    return RuntimeUnavailableError(code=code, message=error.message)


class PublicError(GraphQLError):
    """A GraphQL error whose message is meant for the client and is never masked."""

    def __init__(self, message: str, code: ErrorCode, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code.value, **extensions})


IdempotencyKeyArgument = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "Makes retries safe: the same key (from your tenant) with the same input returns the "
            "first request's execution and starts nothing new, even while the first is still "
            "running; with other input it is an IDEMPOTENCY_CONFLICT. Up to 255 visible ASCII "
            "characters, e.g. a UUID per user action. May be sent as the `Idempotency-Key` "
            "header instead; both given and different is INVALID_INPUT."
        )
    ),
]


def public_error(error: services.ServiceError) -> PublicError:
    """A service failure raised as a top-level GraphQL error (queries and subscriptions)."""
    return PublicError(error.message, ErrorCode[error.code.name])
