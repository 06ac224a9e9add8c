"""What GraphQL and REST both present, so that neither surface imports the other: `FAILURES`,
the one table of expected failures (each `ServiceError` class with the HTTP status REST answers
it with, the GraphQL error type a mutation returns for it, and the attributes both pass on, as
GraphQL fields and REST `details`; the mutation result unions are built from it, in its order),
the words clients see when the Runtime fails (`runtime_errors`, one fixed sentence per code,
and `STALE_REASONS`, one per stale cause: the details go to the log under the request id, never
to a client), the masked answer to an unexpected failure, the token-expiry message, the page
limit, the `WWW-Authenticate` challenge and artifact completion."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from experience_plane.auth import AuthFailure
from experience_plane.executions import Snapshot, StaleCause
from experience_plane.negotiation import REQUEST_TOO_LARGE
from experience_plane.runtime import (
    Artifact,
    CircuitOpen,
    DataMashArtifact,
    FileArtifact,
    RuntimeClientError,
    RuntimeProtocolError,
    RuntimeRejected,
    RuntimeTimeout,
    RuntimeUnavailable,
    SubmitOutcomeUnknown,
)
from experience_plane.services import errors
from experience_plane.services.errors import (
    ErrorCode,
    RuntimeOutcomeUnknownError,
    RuntimeProtocolFailure,
    RuntimeRejectedError,
    RuntimeTimeoutError,
    RuntimeUnavailableError,
    ServiceError,
    outcome_unknown_message,
)

logger = logging.getLogger(__name__)

INTERNAL_ERROR_CODE = "INTERNAL_SERVER_ERROR"
"""The code of an unexpected failure: masked, outside `ErrorCode` (no client handles it)."""
UNEXPECTED_ERROR_MESSAGE = "Unexpected error."
TOKEN_EXPIRED_MESSAGE = "Your token has expired; reconnect with a fresh one."  # noqa: S105 - a message
REALM = "experience-plane"
MAX_RECORDS_PAGE = 500
"""The most records one page may ask for (GraphQL's `first`/`last`, REST's `limit`/`last`)."""
DEFAULT_RECORDS_PAGE = 50
"""The records of a page that asks for no size."""

RUNTIME_UNAVAILABLE_MESSAGE = "The Runtime is unavailable; try again later."
CIRCUIT_OPEN_MESSAGE = "The Runtime is unavailable; nothing was started, try again later."
RUNTIME_TIMEOUT_MESSAGE = "The Runtime did not answer in time; try again later."
RUNTIME_UNREADABLE_MESSAGE = "The Runtime sent an answer that could not be read."
RUNTIME_REJECTED_MESSAGE = "The Runtime rejected the request."

STALE_REASONS: Mapping[StaleCause, str] = {
    StaleCause.NOT_ANSWERING: "The Runtime is not answering; showing the last known status.",
    StaleCause.UNAVAILABLE: "The Runtime is unavailable; showing the last known status.",
    StaleCause.UNREADABLE: ("The Runtime's answers cannot be read; showing the last known status."),
}
"""`staleReason`: what a stale status says, per cause, on every surface."""


def stale_reason(snapshot: Snapshot) -> str | None:
    """Why a stale snapshot could not be refreshed, in the words clients see (None if fresh)."""
    if not snapshot.stale:
        return None
    return STALE_REASONS[snapshot.stale_cause or StaleCause.NOT_ANSWERING]


@contextmanager
def runtime_errors() -> Iterator[None]:
    """Translate the Runtime client's exceptions into service errors, raised `from` them, with
    one fixed message per code; what actually happened is logged (under the request id).

    Not-found errors pass through untouched: each caller decides what "not found" means. A
    rejection keeps the Runtime's own explanation when it gave one in words.
    """
    try:
        yield
    except SubmitOutcomeUnknown as exc:
        _log(exc, ErrorCode.RUNTIME_OUTCOME_UNKNOWN)
        raise RuntimeOutcomeUnknownError(
            outcome_unknown_message(exc.idempotency_key), idempotency_key=exc.idempotency_key
        ) from exc
    except CircuitOpen as exc:  # failed fast: nothing was sent
        _log(exc, ErrorCode.RUNTIME_UNAVAILABLE)
        raise RuntimeUnavailableError(CIRCUIT_OPEN_MESSAGE) from exc
    except RuntimeTimeout as exc:
        _log(exc, ErrorCode.RUNTIME_TIMEOUT)
        raise RuntimeTimeoutError(RUNTIME_TIMEOUT_MESSAGE) from exc
    except RuntimeUnavailable as exc:
        _log(exc, ErrorCode.RUNTIME_UNAVAILABLE)
        raise RuntimeUnavailableError(RUNTIME_UNAVAILABLE_MESSAGE) from exc
    except RuntimeRejected as exc:
        _log(exc, ErrorCode.RUNTIME_REJECTED)
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail else None
        message = (
            f"{RUNTIME_REJECTED_MESSAGE[:-1]}: {detail}" if detail else RUNTIME_REJECTED_MESSAGE
        )
        raise RuntimeRejectedError(message) from exc
    except RuntimeProtocolError as exc:
        _log(exc, ErrorCode.RUNTIME_PROTOCOL_ERROR)
        raise RuntimeProtocolFailure(RUNTIME_UNREADABLE_MESSAGE) from exc


def _log(error: RuntimeClientError, code: ErrorCode) -> None:
    logger.warning("Runtime call failed, answered %s: %s", code.name, error)


@dataclass(frozen=True, slots=True)
class Failure:
    """How both surfaces present one kind of expected failure."""

    error: type[ServiceError]
    status: int
    """The HTTP status of REST's answer."""
    schema_type: str | None
    """The GraphQL error type (by name) a mutation result carries; None for a failure no
    mutation meets (it is refused where a stream opens) or whose type the schema does not
    have yet."""
    details: tuple[str, ...] = ()
    """The error's attributes passed on: GraphQL fields, REST `details` keys."""

    @property
    def code(self) -> ErrorCode:
        """The stable code, the error class's own."""
        return self.error.code


# In the order of the mutation result unions. Failures without a type of their own in the
# schema (an unreadable answer, an id that went missing) are "try again later" to a mutation,
# keeping their own code.
FAILURES: tuple[Failure, ...] = (
    Failure(errors.InvalidInputError, 422, "InvalidInputError", ("field",)),
    Failure(errors.UploadTooLargeError, 413, "UploadTooLargeError", ("max_bytes",)),
    Failure(errors.RuntimeUnavailableError, 503, "RuntimeUnavailableError"),
    Failure(errors.RuntimeTimeoutError, 504, "RuntimeTimeoutError"),
    Failure(errors.RuntimeRejectedError, 422, "RuntimeRejectedError"),
    Failure(errors.RateLimitedError, 429, "RateLimitedError", ("retry_after_seconds",)),
    Failure(errors.IdempotencyConflictError, 409, "IdempotencyConflictError"),
    Failure(
        errors.RuntimeOutcomeUnknownError, 502, "RuntimeOutcomeUnknownError", ("idempotency_key",)
    ),
    Failure(errors.RuntimeProtocolFailure, 502, "RuntimeUnavailableError"),
    Failure(errors.NotFoundError, 404, "RuntimeUnavailableError"),
    Failure(ServiceError, 503, "RuntimeUnavailableError"),
    Failure(errors.TooManySubscriptionsError, 429, None),
    # cancelExecution's: its result union names them `AlreadyFinishedError` and
    # `CancelUnsupportedError` once the schema has them.
    Failure(errors.AlreadyFinishedError, 409, None),
    Failure(errors.CancelUnsupportedError, 501, None),
)

_BY_ERROR: Mapping[type[ServiceError], Failure] = {row.error: row for row in FAILURES}

STATUS_BY_CODE: Mapping[str, int] = {
    **{row.code.name: row.status for row in FAILURES},
    ErrorCode.UNAUTHENTICATED.name: 401,
    REQUEST_TOO_LARGE: 413,
    INTERNAL_ERROR_CODE: 500,
}
"""The HTTP status of every public code (a code shared by several rows has one status)."""


def failure_of(error: ServiceError) -> Failure:
    """The row of `error`'s class, or of its nearest listed base class."""
    for cls in type(error).__mro__:
        row = _BY_ERROR.get(cls)
        if row is not None:
            return row
    raise LookupError(f"{type(error).__name__} is not a ServiceError")  # pragma: no cover


def details_of(error: ServiceError) -> dict[str, Any]:
    """The attributes of `error` that its row passes on, by name."""
    return {name: getattr(error, name) for name in failure_of(error).details}


def www_authenticate(reason: AuthFailure) -> str:
    """The `WWW-Authenticate` challenge (RFC 6750) for a refused caller."""
    # RFC 6750 §3.1: no error code when the request carried no credentials at all.
    if reason is AuthFailure.MISSING_TOKEN:
        return f'Bearer realm="{REALM}"'
    return f'Bearer realm="{REALM}", error="invalid_token", error_description="{reason.value}"'


ArtifactT = TypeVar("ArtifactT", bound=FileArtifact | DataMashArtifact)


def artifact_id(artifact: Artifact) -> str:
    """The id an artifact is read by: a file id or a mash id."""
    return artifact.file_id if isinstance(artifact, FileArtifact) else artifact.mash_id


async def complete_artifact(
    artifact: ArtifactT, load: Callable[[str], Awaitable[Artifact]]
) -> ArtifactT:
    """The complete artifact: the status's own, or the Runtime's full record read by `load`.

    A reduced status artifact (the platform's Runtime) carries only ids. The Runtime's record
    must be of the same kind; anything else keeps what the status said.
    """
    if artifact.complete:
        return artifact
    loaded = await load(artifact_id(artifact))
    return loaded if isinstance(loaded, type(artifact)) else artifact
