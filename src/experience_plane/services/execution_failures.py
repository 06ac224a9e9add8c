"""Why an execution failed, as a stable code: the one table that classifies the Runtime's errors.

The Runtime contract gives a failed execution only `error`, a message for people. Programs need
a code to switch on, so each message is classified here by what the reference Runtime says for
each kind of failure (`src/reference_runtime`: intents, mash intent, realms, executor); a message
nothing matches is `UNKNOWN`, never a guess. A cancelled execution is `CANCELLED_BY_USER`
whatever its message. GraphQL's `FailureCode` enum and REST's `failure.code` are derived from
`FAILURE_KINDS`, descriptions included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from experience_plane.runtime import ExecutionState, ExecutionStatus

__all__ = ["FAILURE_KINDS", "ExecutionFailure", "FailureCode", "FailureKind", "execution_failure"]


class FailureCode(StrEnum):
    """Stable codes of why an execution did not complete (each value is its name)."""

    UNKNOWN_CONTENT_REF = "UNKNOWN_CONTENT_REF"
    NOT_A_FILE = "NOT_A_FILE"
    NOT_TABULAR = "NOT_TABULAR"
    UNREADABLE_FILE = "UNREADABLE_FILE"
    NO_JOIN_KEY = "NO_JOIN_KEY"
    TOO_MANY_RECORDS = "TOO_MANY_RECORDS"
    UNKNOWN_TARGET_DOMAIN = "UNKNOWN_TARGET_DOMAIN"
    UPLOAD_CORRUPTED = "UPLOAD_CORRUPTED"
    INVALID_PARAMETERS = "INVALID_PARAMETERS"
    RUNTIME_RESTARTED = "RUNTIME_RESTARTED"
    CANCELLED_BY_USER = "CANCELLED_BY_USER"
    RUNTIME_ERROR = "RUNTIME_ERROR"
    LOST_BY_RUNTIME = "LOST_BY_RUNTIME"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class FailureKind:
    """One kind of failure: its code, what it means to a person, and the Runtime's messages
    that say it (None: it is not read from a message)."""

    code: FailureCode
    description: str
    pattern: re.Pattern[str] | None = None


def _said(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE)


# Messages are matched in this order, the first match wins: the specific kinds come before the
# broad "a parameter is wrong" one, which would otherwise catch `parameters.content_refs ...`.
FAILURE_KINDS: tuple[FailureKind, ...] = (
    FailureKind(
        FailureCode.UNKNOWN_CONTENT_REF,
        "A content ref names no file your tenant uploaded.",
        _said(r"^Unknown content refs?\b"),
    ),
    FailureKind(
        FailureCode.NOT_A_FILE,
        "A content ref names something other than an uploaded file (e.g. a data mash).",
        _said(r"\bnot an uploaded file\b"),
    ),
    FailureKind(
        FailureCode.NOT_TABULAR,
        "A file to mash is not tabular data (CSV, a JSON array of objects, or NDJSON).",
        _said(r"\bis not tabular data\b"),
    ),
    FailureKind(
        FailureCode.UNREADABLE_FILE,
        "A file could not be read in the format it claims (e.g. a `.csv` that is not CSV).",
        _said(r"\bcould not be read as a table\b", r"\bis not readable as\b"),
    ),
    FailureKind(
        FailureCode.NO_JOIN_KEY,
        "The files have no column in common to join them on.",
        _said(r"\bNo join key found\b", r"\bno (?:common|shared) key\b"),
    ),
    FailureKind(
        FailureCode.TOO_MANY_RECORDS,
        "Joining the files would give more records than the Runtime allows.",
        _said(r"\bwould give [\d,]+ records, more than the limit\b"),
    ),
    FailureKind(
        FailureCode.UNKNOWN_TARGET_DOMAIN,
        "The mash's target domain is not one the Runtime knows.",
        _said(r"^Unknown target_domain\b"),
    ),
    FailureKind(
        FailureCode.UPLOAD_CORRUPTED,
        "The uploaded bytes arrived truncated or altered; upload the file again.",
        _said(r"^(?:Size|SHA-256) mismatch\b", r"^file_content of .* is not valid \w+"),
    ),
    FailureKind(
        FailureCode.INVALID_PARAMETERS,
        "The Runtime refused the intent's parameters.",
        _said(
            r"\bneeds parameters\.",
            r"^parameters\.",
            r"^options\.",
            r"^Unsupported content_encoding\b",
            r"^Unknown confidence_level\b",
            r"^Unknown join\b",
            r"\bneeds at least one content ref\b",
        ),
    ),
    FailureKind(
        FailureCode.RUNTIME_RESTARTED,
        "The Runtime restarted before the execution finished; submit it again.",
        _said(r"^Interrupted: the Runtime restarted\b"),
    ),
    FailureKind(
        FailureCode.RUNTIME_ERROR,
        "The Runtime failed unexpectedly while running the execution.",
        _said(r"^The Runtime failed while running\b"),
    ),
    FailureKind(
        FailureCode.CANCELLED_BY_USER,
        "The execution was cancelled before it finished.",
    ),
    FailureKind(
        FailureCode.LOST_BY_RUNTIME,
        "The Runtime lost track of the execution; its outcome is not known.",
    ),
    FailureKind(
        FailureCode.UNKNOWN,
        "A failure this service cannot classify; the message says what happened.",
    ),
)

_DESCRIPTIONS = {kind.code: kind.description for kind in FAILURE_KINDS}
_NO_MESSAGE = {
    FailureCode.CANCELLED_BY_USER: "The execution was cancelled.",
    FailureCode.LOST_BY_RUNTIME: "The Runtime lost track of the execution.",
    FailureCode.UNKNOWN: "The execution failed; the Runtime gave no reason.",
}


@dataclass(frozen=True, slots=True)
class ExecutionFailure:
    """Why an execution did not complete: a stable code and the Runtime's message."""

    code: FailureCode
    message: str

    @property
    def description(self) -> str:
        """What the code means, for people."""
        return _DESCRIPTIONS[self.code]


def classify(message: str | None) -> FailureCode:
    """The code of a failed execution's error message (`UNKNOWN` when nothing matches)."""
    if message:
        for kind in FAILURE_KINDS:
            if kind.pattern is not None and kind.pattern.search(message):
                return kind.code
    return FailureCode.UNKNOWN


def execution_failure(status: ExecutionStatus) -> ExecutionFailure | None:
    """Why the execution did not complete; None unless it failed, was cancelled or was lost."""
    if status.state is ExecutionState.FAILED:
        code = classify(status.error)
    elif status.state is ExecutionState.CANCELLED:
        code = FailureCode.CANCELLED_BY_USER
    elif status.state is ExecutionState.UNKNOWN:
        code = FailureCode.LOST_BY_RUNTIME
    else:
        return None
    return ExecutionFailure(code=code, message=status.error or _NO_MESSAGE[code])
