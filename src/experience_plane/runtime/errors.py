"""The Runtime client's exception hierarchy: every low-level failure met while talking to the
Runtime (socket errors, timeouts, unexpected status codes, malformed bodies) is translated at the
client boundary into a `RuntimeClientError` (`RuntimeUnavailable` with its `RuntimeTimeout`,
`CircuitOpen` and `SubmitOutcomeUnknown`; `RuntimeRejected`; `ExecutionNotFound`;
`ArtifactNotFound`; `AlreadyFinished`; `RuntimeProtocolError`; `StreamUnavailable`,
`ListUnsupported` and `CancelUnsupported` for the contract's optional endpoints), raised `from`
the original exception so the cause stays in the traceback.
"""

from __future__ import annotations

__all__ = [
    "AlreadyFinished",
    "ArtifactNotFound",
    "CancelUnsupported",
    "CircuitOpen",
    "ExecutionNotFound",
    "ListUnsupported",
    "RuntimeClientError",
    "RuntimeProtocolError",
    "RuntimeRejected",
    "RuntimeTimeout",
    "RuntimeUnavailable",
    "StreamUnavailable",
    "SubmitOutcomeUnknown",
]


class RuntimeClientError(Exception):
    """Base class of every error the Runtime client raises.

    Catch this to handle any failure of a Runtime call; `status_code` is the HTTP status of the
    answer that caused it, or None when there was no answer (a socket error, a timeout).
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class RuntimeUnavailable(RuntimeClientError):
    """The Runtime could not be reached or could not answer.

    Raised when the connection is refused or reset, when the Runtime answers 5xx (or 429), and,
    for status and artifact reads, only once the retries are used up. The call may succeed later;
    `retry_after` is the pause (seconds) the Runtime asked for, when it sent `Retry-After`.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class RuntimeTimeout(RuntimeUnavailable):
    """The Runtime did not connect, accept the request or answer within the configured timeout.

    A subclass of `RuntimeUnavailable`: a slow Runtime is, to the caller, an unavailable one.
    """


class CircuitOpen(RuntimeUnavailable):
    """The client's circuit breaker is open: the Runtime failed repeatedly, so the call failed
    at once without being sent.

    `retry_after` is the seconds until the breaker lets a probe through. Nothing reached the
    Runtime, so a submit refused this way is safe to repeat.
    """


class SubmitOutcomeUnknown(RuntimeUnavailable):
    """A submit was sent but its answer was lost (a read timeout, a connection dropped mid-answer):
    the Runtime may or may not have started the execution.

    `idempotency_key` is the key the submit carried (None when it had none), `intent_id` the
    intent's id, `timed_out` whether the answer was lost to a timeout. Repeating the submit is
    safe only with the same idempotency key: the Runtime then returns the execution the first
    submit started, if it started one, instead of starting a second.
    """

    def __init__(
        self,
        message: str,
        *,
        idempotency_key: str | None,
        intent_id: str | None = None,
        timed_out: bool = False,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.idempotency_key = idempotency_key
        self.intent_id = intent_id
        self.timed_out = timed_out


class RuntimeRejected(RuntimeClientError):
    """The Runtime refused the request itself (a 4xx answer other than a 404 on a lookup).

    `detail` carries the Runtime's own explanation (the FastAPI `detail`: a message, or for a 422
    the list of validation errors). Retrying the same request will fail the same way.
    """

    def __init__(self, message: str, *, detail: object = None, status_code: int | None = None):
        super().__init__(message, status_code=status_code)
        self.detail = detail


class ExecutionNotFound(RuntimeClientError):
    """The Runtime knows no such execution for this tenant (404 on a status read or a stream).

    The Runtime answers the same way for an unknown id and for another tenant's execution, so
    this never tells whether the execution exists elsewhere.
    """


class ArtifactNotFound(RuntimeClientError):
    """The Runtime knows no such artifact (file or data mash) for this tenant (404)."""


class RuntimeProtocolError(RuntimeClientError):
    """The Runtime answered, but not in the shape the contract promises.

    Raised for a body that is not JSON (an HTML error page from a proxy, say), a JSON body of the
    wrong shape, or one missing a required field. Usually a deployment or version mismatch.
    """


class StreamUnavailable(RuntimeClientError):
    """The Runtime offers no execution stream (its WebSocket handshake was refused with 403/404).

    The platform's current Runtime has no stream endpoint; the caller should poll instead.
    """


class ListUnsupported(RuntimeClientError):
    """The Runtime has no list of executions (`GET /api/executions` answered 404 or 405).

    The list endpoint is optional; the platform's current Runtime has none. The Experience Plane
    then lists the executions it started itself from its own index.
    """


class CancelUnsupported(RuntimeClientError):
    """The Runtime cannot cancel executions (`POST /api/execution/{id}/cancel` is not a route
    of it: 405, or FastAPI's `404 {"detail": "Not Found"}` for a path it does not serve).

    The cancel endpoint is optional; the platform's current Runtime has none.
    """


class AlreadyFinished(RuntimeClientError):
    """The execution cannot be cancelled: it has finished already (409 on a cancel).

    `detail` is the Runtime's explanation (its `detail`, e.g. "Execution already finished:
    completed").
    """

    def __init__(self, message: str, *, detail: object = None, status_code: int | None = None):
        super().__init__(message, status_code=status_code)
        self.detail = detail
