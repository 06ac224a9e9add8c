"""What can go wrong when talking to the Experience Plane: one small hierarchy, one `.code` each.
Every error the SDK raises is an `ExperienceError`. Its `code` is the API's `ErrorCode` string
when the API reported the failure (`INVALID_INPUT`, `UPLOAD_TOO_LARGE`, `RUNTIME_UNAVAILABLE`,
`RUNTIME_TIMEOUT`, `RUNTIME_REJECTED`, `RUNTIME_PROTOCOL_ERROR`, `NOT_FOUND`, `RATE_LIMITED`,
`IDEMPOTENCY_CONFLICT`, `RUNTIME_OUTCOME_UNKNOWN`, `TOO_MANY_SUBSCRIPTIONS`, `ALREADY_FINISHED`,
`CANCEL_UNSUPPORTED`, `UNAUTHENTICATED`),
or one of the SDK's own
codes otherwise (`API_UNREACHABLE`, `UNAUTHENTICATED`, `API_PROTOCOL_ERROR`,
`EXECUTION_FAILED`, `WAIT_TIMEOUT`). Errors caused by a lower-level exception are raised `from`
it, like `httpx`'s.
The API-reported classes are named after the schema's error types (`RuntimeUnavailableError`
for `RuntimeUnavailableError`, ...), except `InvalidInput` and `UploadTooLarge`, which read
better at the call site (as do `RateLimited` and `TooManySubscriptions`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from experience_plane_sdk.models import Execution

__all__ = [
    "ApiProtocolError",
    "ApiUnreachable",
    "AuthenticationFailed",
    "ExecutionFailed",
    "ExecutionNotFoundError",
    "ExperienceError",
    "IdempotencyConflictError",
    "InvalidInput",
    "RateLimited",
    "RuntimeOutcomeUnknownError",
    "RuntimeProtocolError",
    "RuntimeRejectedError",
    "RuntimeTimeoutError",
    "RuntimeUnavailableError",
    "UploadTooLarge",
    "WaitTimeout",
    "error_for_code",
]


class ExperienceError(Exception):
    """Base class of every SDK error; `code` is stable and meant for programs to switch on."""

    code: str = "ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ApiUnreachable(ExperienceError):
    """The API could not be reached: connection refused or reset, DNS, a 502/503/504, a timeout."""

    code = "API_UNREACHABLE"


class AuthenticationFailed(ExperienceError):
    """The API refused the credentials: HTTP 401/403, or the WebSocket closed with 4401/4403."""

    code = "UNAUTHENTICATED"


class ApiProtocolError(ExperienceError):
    """The API answered something the SDK cannot read (not GraphQL, or an unexpected error)."""

    code = "API_PROTOCOL_ERROR"


class InvalidInput(ExperienceError):
    """An argument was missing, malformed or inconsistent; `field` names it when known."""

    code = "INVALID_INPUT"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class UploadTooLarge(ExperienceError):
    """The file is larger than the API accepts; `max_bytes` is the limit when the API said it."""

    code = "UPLOAD_TOO_LARGE"

    def __init__(
        self, message: str, *, max_bytes: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.max_bytes = max_bytes


class RateLimited(ExperienceError):
    """The caller's tenant started too much work; `retry_after` is the pause (seconds) the API
    asked for, when it said. The SDK does not wait and retry by itself."""

    code = "RATE_LIMITED"

    def __init__(
        self, message: str, *, retry_after: float | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class TooManySubscriptions(ExperienceError):
    """The caller's tenant has as many open subscriptions and event streams as the API allows;
    one must end before another opens."""

    code = "TOO_MANY_SUBSCRIPTIONS"


class AlreadyFinishedError(ExperienceError):
    """The execution has finished (completed, failed or cancelled): it cannot be cancelled."""

    code = "ALREADY_FINISHED"


class CancelUnsupportedError(ExperienceError):
    """The Runtime behind the API cannot cancel executions; nothing was changed."""

    code = "CANCEL_UNSUPPORTED"


class RuntimeUnavailableError(ExperienceError):
    """The API could not reach the Runtime; the same request may succeed later."""

    code = "RUNTIME_UNAVAILABLE"


class RuntimeTimeoutError(RuntimeUnavailableError):
    """The Runtime did not answer the API in time; the work may or may not have started."""

    code = "RUNTIME_TIMEOUT"


class RuntimeRejectedError(ExperienceError):
    """The Runtime refused the request or failed it at once; the message is its explanation."""

    code = "RUNTIME_REJECTED"


class RuntimeProtocolError(ExperienceError):
    """The Runtime sent the API an answer that could not be read."""

    code = "RUNTIME_PROTOCOL_ERROR"


class IdempotencyConflictError(ExperienceError):
    """The idempotency key was already used with different input; nothing was started. Use a
    fresh key for a different request."""

    code = "IDEMPOTENCY_CONFLICT"


class RuntimeOutcomeUnknownError(ExperienceError):
    """The Runtime's answer was lost: the request may or may not have started an execution.

    Repeating the call with the same `idempotency_key` (None when the request had none, and a
    repeat is then unsafe) finds out safely: it returns the execution if there is one.
    """

    code = "RUNTIME_OUTCOME_UNKNOWN"

    def __init__(
        self, message: str, *, idempotency_key: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.idempotency_key = idempotency_key


class ExecutionNotFoundError(ExperienceError):
    """No such execution (or artifact) is visible to the caller."""

    code = "NOT_FOUND"


class ExecutionFailed(ExperienceError):
    """The execution ended FAILED, CANCELLED or UNKNOWN; `execution` is its final status."""

    code = "EXECUTION_FAILED"

    def __init__(self, execution: Execution) -> None:
        failure = execution.failure
        reason = f": {failure.code.value}: {failure.message}" if failure is not None else ""
        super().__init__(f"Execution {execution.id} ended {execution.state.value}{reason}")
        self.execution = execution


class WaitTimeout(ExperienceError):
    """The execution was not finished when the wait ran out; `execution` is the last status seen."""

    code = "WAIT_TIMEOUT"

    def __init__(self, execution_id: str, timeout: float, execution: Execution | None) -> None:
        state = f" (still {execution.state.value})" if execution is not None else ""
        super().__init__(f"Execution {execution_id} did not finish within {timeout:g}s{state}")
        self.execution_id = execution_id
        self.timeout = timeout
        self.execution = execution


_BY_CODE: dict[str, type[ExperienceError]] = {
    "INVALID_INPUT": InvalidInput,
    "UPLOAD_TOO_LARGE": UploadTooLarge,
    "RUNTIME_UNAVAILABLE": RuntimeUnavailableError,
    "RUNTIME_TIMEOUT": RuntimeTimeoutError,
    "RUNTIME_REJECTED": RuntimeRejectedError,
    "RUNTIME_PROTOCOL_ERROR": RuntimeProtocolError,
    "NOT_FOUND": ExecutionNotFoundError,
    "RATE_LIMITED": RateLimited,
    "IDEMPOTENCY_CONFLICT": IdempotencyConflictError,
    "RUNTIME_OUTCOME_UNKNOWN": RuntimeOutcomeUnknownError,
    "TOO_MANY_SUBSCRIPTIONS": TooManySubscriptions,
    "ALREADY_FINISHED": AlreadyFinishedError,
    "CANCEL_UNSUPPORTED": CancelUnsupportedError,
    # Spellings authentication layers commonly put in a GraphQL error's `extensions.code`.
    "UNAUTHENTICATED": AuthenticationFailed,
    "FORBIDDEN": AuthenticationFailed,
}


def error_for_code(
    code: str | None,
    message: str,
    *,
    field: str | None = None,
    max_bytes: int | None = None,
    retry_after: float | None = None,
    idempotency_key: str | None = None,
) -> ExperienceError:
    """The typed error for an API error code; `ApiProtocolError` for a missing or unknown one.

    An unknown code is kept on the error, so a newer server's codes still reach the caller.
    """
    cls = _BY_CODE.get(code or "")
    if cls is InvalidInput:
        return InvalidInput(message, field=field)
    if cls is UploadTooLarge:
        return UploadTooLarge(message, max_bytes=max_bytes)
    if cls is RateLimited:
        return RateLimited(message, retry_after=retry_after)
    if cls is RuntimeOutcomeUnknownError:
        return RuntimeOutcomeUnknownError(message, idempotency_key=idempotency_key)
    if cls is not None:
        return cls(message)
    return ApiProtocolError(message, code=code)
