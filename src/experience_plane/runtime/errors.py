"""The Runtime client's exception hierarchy.

Every low-level failure met while talking to the Runtime (socket errors, timeouts, unexpected
status codes, malformed bodies) is translated at the client boundary into one of these, raised
`from` the original exception so the cause stays in the traceback:

* RuntimeClientError
  + RuntimeUnavailable
    - RuntimeTimeout
  + RuntimeRejected
  + ExecutionNotFound
  + ArtifactNotFound
  + RuntimeProtocolError
  + StreamUnavailable
"""

from __future__ import annotations

__all__ = [
    "ArtifactNotFound",
    "ExecutionNotFound",
    "RuntimeClientError",
    "RuntimeProtocolError",
    "RuntimeRejected",
    "RuntimeTimeout",
    "RuntimeUnavailable",
    "StreamUnavailable",
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
