"""Expected failures as schema types: an `Error` interface with a stable code, one type per kind.
Mutations return a `ResultUnion` of their success type and these, built from the one table of
expected failures (`services.presentation`); unexpected failures are not in the schema and reach
the client masked (see `graphql.schema`).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Awaitable, Callable, Collection
from typing import Annotated, Any, ParamSpec, TypeVar

import strawberry
from graphql import GraphQLError

from experience_plane import services
from experience_plane.graphql.enums import schema_enum
from experience_plane.observability.metrics import record_error
from experience_plane.services import ErrorCode
from experience_plane.services.presentation import FAILURES, details_of, failure_of

P = ParamSpec("P")
ResultT = TypeVar("ResultT")


ErrorCodeEnum = schema_enum(
    ErrorCode,
    description="Stable codes of the failures a client is expected to handle.",
    values={
        ErrorCode.INVALID_INPUT: "An argument is missing, malformed or inconsistent.",
        ErrorCode.UPLOAD_TOO_LARGE: "The uploaded file is larger than the configured limit.",
        ErrorCode.RUNTIME_UNAVAILABLE: "The Runtime could not be reached; try again later.",
        ErrorCode.RUNTIME_TIMEOUT: "The Runtime did not answer in time; try again later.",
        ErrorCode.RUNTIME_REJECTED: "The Runtime refused the request or failed it at once.",
        ErrorCode.RUNTIME_PROTOCOL_ERROR: "The Runtime sent an answer that could not be read.",
        ErrorCode.NOT_FOUND: "No such execution or artifact is visible to the caller.",
        ErrorCode.RATE_LIMITED: "Your tenant started too much work; retry after a while.",
        ErrorCode.IDEMPOTENCY_CONFLICT: (
            "The idempotency key was already used with different input."
        ),
        ErrorCode.RUNTIME_OUTCOME_UNKNOWN: (
            "The Runtime's answer was lost: the request may or may not have started an "
            "execution. Repeat it with the same idempotency key to find out safely."
        ),
        ErrorCode.TOO_MANY_SUBSCRIPTIONS: (
            "Your tenant has as many open subscriptions and event streams as it may; end one "
            "before opening another."
        ),
        ErrorCode.UNAUTHENTICATED: "The credentials are missing, invalid or have expired.",
        ErrorCode.ALREADY_FINISHED: "The execution has finished; it cannot be cancelled.",
        ErrorCode.CANCEL_UNSUPPORTED: "The Runtime cannot cancel executions.",
    },
)
"""The schema's `ErrorCode`, derived from `services.ErrorCode`; Python code passes the service
codes themselves."""


@strawberry.interface(description="An expected failure: a stable code and a message for people.")
class Error:
    """Fields every error type of the schema has."""

    code: ErrorCode = strawberry.field(
        graphql_type=ErrorCodeEnum, description="What went wrong, for programs to switch on."
    )
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


# The schema's error types by name, as `services.presentation.FAILURES` names them.
_SCHEMA_TYPES: dict[str, type[Error]] = {cls.__name__: cls for cls in Error.__subclasses__()}


class ResultUnion:
    """A mutation's result union: its success type, then the error type of every expected
    failure it can meet, in the order of `services.presentation.FAILURES`.

    `resolves` wraps the mutation's resolver, which then simply raises a `ServiceError`: it is
    returned as the union's error type instead. A failure whose type is not in the union
    (`without`) is returned as `RuntimeUnavailableError`, with its own code.
    """

    def __init__(
        self,
        name: str,
        description: str,
        success: type,
        *,
        without: Collection[type[services.ServiceError]] = (),
    ) -> None:
        members: list[type] = [success]
        for row in FAILURES:
            if row.schema_type is None:
                continue
            schema_type = _SCHEMA_TYPES[row.schema_type]
            if row.error not in without and schema_type not in members:
                members.append(schema_type)
        self.members = tuple(members)
        self.annotation = Annotated[
            functools.reduce(operator.or_, self.members),
            strawberry.union(name, description=description),
        ]

    def error(self, error: services.ServiceError) -> Error:
        """The union's error object for an expected service failure."""
        record_error("graphql", error.code.name)
        row = failure_of(error)
        schema_type = _SCHEMA_TYPES.get(row.schema_type or "")
        if schema_type is None or schema_type not in self.members:
            return RuntimeUnavailableError(code=error.code, message=error.message)
        return schema_type(code=error.code, message=error.message, **details_of(error))

    def resolves(
        self, resolver: Callable[P, Awaitable[ResultT]]
    ) -> Callable[P, Awaitable[ResultT | Error]]:
        """`resolver`, returning the union's error type for a `ServiceError` it raises."""

        @functools.wraps(resolver)
        async def resolve(*args: P.args, **kwargs: P.kwargs) -> ResultT | Error:
            try:
                return await resolver(*args, **kwargs)
            except services.ServiceError as exc:
                return self.error(exc)

        return resolve


class PublicError(GraphQLError):
    """A GraphQL error whose message is meant for the client and is never masked."""

    def __init__(self, message: str, code: ErrorCode, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code.name, **extensions})


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
    return PublicError(error.message, error.code)
