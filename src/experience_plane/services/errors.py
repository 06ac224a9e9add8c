"""Expected failures of the service layer, each with a stable code.
GraphQL maps them onto its error types and REST onto problem responses; both read `code` and
`message` and never the Runtime client's exceptions (`presentation.runtime_errors` translates
those, with the words clients see).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable, documented codes of the failures a caller is expected to handle.

    The one definition: GraphQL's `ErrorCode` enum and REST's `code` are these names (each
    value is its name), so a client switches on the same values whichever surface it uses.
    """

    INVALID_INPUT = "INVALID_INPUT"
    UPLOAD_TOO_LARGE = "UPLOAD_TOO_LARGE"
    RUNTIME_UNAVAILABLE = "RUNTIME_UNAVAILABLE"
    RUNTIME_TIMEOUT = "RUNTIME_TIMEOUT"
    RUNTIME_REJECTED = "RUNTIME_REJECTED"
    RUNTIME_PROTOCOL_ERROR = "RUNTIME_PROTOCOL_ERROR"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    RUNTIME_OUTCOME_UNKNOWN = "RUNTIME_OUTCOME_UNKNOWN"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    ALREADY_FINISHED = "ALREADY_FINISHED"
    CANCEL_UNSUPPORTED = "CANCEL_UNSUPPORTED"
    # Raised by authentication, before any service runs; a public code all the same.
    UNAUTHENTICATED = "UNAUTHENTICATED"


class ServiceError(Exception):
    """Base of the expected failures: a code a program can switch on and a message for people."""

    code: ErrorCode = ErrorCode.RUNTIME_UNAVAILABLE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(ServiceError):
    """The caller's input is wrong; `field` names the offending argument when there is one."""

    code = ErrorCode.INVALID_INPUT

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UploadTooLargeError(ServiceError):
    """The upload is larger than the configured limit."""

    code = ErrorCode.UPLOAD_TOO_LARGE

    def __init__(self, message: str, *, max_bytes: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes


class TooManySubscriptionsError(ServiceError):
    """The caller's tenant has as many open subscriptions and event streams as it may
    (`EXPERIENCE_MAX_STREAMS_PER_TENANT`); one must end before another opens."""

    code = ErrorCode.TOO_MANY_SUBSCRIPTIONS

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Your tenant has {limit} open subscriptions and event streams, the most it may "
            "have; end one before opening another."
        )
        self.limit = limit


class RuntimeUnavailableError(ServiceError):
    """The Runtime could not be reached or kept failing."""

    code = ErrorCode.RUNTIME_UNAVAILABLE


class RuntimeTimeoutError(RuntimeUnavailableError):
    """The Runtime did not answer in time."""

    code = ErrorCode.RUNTIME_TIMEOUT


class RuntimeRejectedError(ServiceError):
    """The Runtime refused the request or the execution failed at submission."""

    code = ErrorCode.RUNTIME_REJECTED


class RuntimeProtocolFailure(ServiceError):
    """The Runtime answered something this service does not understand."""

    code = ErrorCode.RUNTIME_PROTOCOL_ERROR


class NotFoundError(ServiceError):
    """The execution or artifact does not exist for this tenant."""

    code = ErrorCode.NOT_FOUND


class AlreadyFinishedError(ServiceError):
    """The execution cannot be cancelled: it has finished (completed, failed or cancelled)."""

    code = ErrorCode.ALREADY_FINISHED


class CancelUnsupportedError(ServiceError):
    """The Runtime behind this service cannot cancel executions (its contract's cancel endpoint
    is optional); nothing was changed."""

    code = ErrorCode.CANCEL_UNSUPPORTED


class RateLimitedError(ServiceError):
    """The tenant started more work than its rate allows; nothing was submitted."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class IdempotencyConflictError(ServiceError):
    """The idempotency key was already used by this tenant with different input."""

    code = ErrorCode.IDEMPOTENCY_CONFLICT


class RuntimeOutcomeUnknownError(ServiceError):
    """The submit reached the Runtime but its answer was lost: it may or may not have started.

    `idempotency_key` is the key the request carried (None without one): repeating the request
    with the same key is safe and returns the execution if one was started.
    """

    code = ErrorCode.RUNTIME_OUTCOME_UNKNOWN

    def __init__(self, message: str, *, idempotency_key: str | None) -> None:
        super().__init__(message)
        self.idempotency_key = idempotency_key


def outcome_unknown_message(idempotency_key: str | None) -> str:
    """What a client is told when a submit's answer was lost, and how to retry safely."""
    lost = "The Runtime may or may not have started this request: its answer was lost."
    if idempotency_key is not None:
        return (
            f"{lost} Repeat the same request with the same idempotency key "
            f"({idempotency_key!r}) to get its execution; that never starts a second one."
        )
    return (
        f"{lost} The request carried no idempotency key, so repeating it may start a second "
        "execution; send an idempotency key (argument or Idempotency-Key header) with every "
        "mutation so that a retry is always safe."
    )
