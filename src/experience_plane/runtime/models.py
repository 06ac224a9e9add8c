"""What the rest of the service sees of the Runtime: small frozen values, never raw JSON.
The Runtime's wire shapes vary (the reference Runtime, the platform's current Runtime, older
shapes); `experience_plane.runtime.wire` parses them all into these types, so nothing outside
this package needs to know which Runtime it talks to. The artifacts' parts (`ColumnProfile`,
`SourceColumn`, ...) are served as they are by REST and derived into GraphQL types, so a
`pydantic.Field` description in a field's annotation documents the field on both surfaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

__all__ = [
    "Artifact",
    "CanonicalField",
    "ColumnProfile",
    "DanglingReferences",
    "DataMashArtifact",
    "ExecutionList",
    "ExecutionState",
    "ExecutionStatus",
    "FileArtifact",
    "JoinCandidate",
    "JoinKey",
    "ListedExecution",
    "MashRecordsPage",
    "Progress",
    "QualityReport",
    "RuntimeCaller",
    "RuntimeFlavour",
    "SourceColumn",
    "SubmitResult",
]


class RuntimeFlavour(StrEnum):
    """Which Runtime the client talks to: the reference one, or the platform's current one.

    The flavour picks the upload intent and its encoding (`content.upload` with base64 for the
    reference Runtime, `ingest_file` with hex for the platform's).
    """

    REFERENCE = "reference"
    PLATFORM = "platform"


class ExecutionState(StrEnum):
    """An execution's state, normalised from the many status spellings Runtimes use."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """True once the execution will not change any more (`unknown` included: the Runtime
        has given up on it, so waiting longer would not help)."""
        return self in _TERMINAL

    @classmethod
    def from_raw(cls, raw: str | None) -> ExecutionState:
        """Normalise a Runtime's status spelling, case-insensitively; anything unrecognised is
        `UNKNOWN` rather than an error, so a new spelling never crashes a poller."""
        if raw is None:
            return cls.UNKNOWN
        return _SPELLINGS.get(raw.strip().lower().replace("-", "_"), cls.UNKNOWN)


_TERMINAL = frozenset(
    {
        ExecutionState.COMPLETED,
        ExecutionState.FAILED,
        ExecutionState.CANCELLED,
        ExecutionState.UNKNOWN,
    }
)

_SPELLINGS: dict[str, ExecutionState] = {
    **dict.fromkeys(("created", "accepted", "pending", "queued"), ExecutionState.PENDING),
    **dict.fromkeys(
        ("executing", "running", "artifacts_received", "in_progress"), ExecutionState.RUNNING
    ),
    **dict.fromkeys(("completed", "succeeded", "success"), ExecutionState.COMPLETED),
    **dict.fromkeys(("failed", "error"), ExecutionState.FAILED),
    **dict.fromkeys(("cancelled", "canceled"), ExecutionState.CANCELLED),
    "unknown": ExecutionState.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class RuntimeCaller:
    """Who an intent is submitted for: the tenant (from credentials, never from client input),
    the user and the Runtime session."""

    tenant_id: str
    user_id: str
    session_id: str


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a running execution has got, as the reference Runtime reports it."""

    phase: str
    percent: float


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """What the Runtime learned about one column of a tabular file."""

    name: str
    type: Annotated[
        str, Field(description="integer, number, boolean, string, date, datetime or empty.")
    ]
    null_count: int | None
    distinct_count: int | None


@dataclass(frozen=True, slots=True)
class SourceColumn:
    """Lineage: the file and column a value comes from."""

    file_id: str
    column: str
    confidence: Annotated[float | None, Field(description="0 to 1; null for join key sources.")]


@dataclass(frozen=True, slots=True)
class CanonicalField:
    """A field of the mash's canonical model and the columns mapped onto it."""

    name: str
    type: str | None
    confidence: float | None
    sources: tuple[SourceColumn, ...]


@dataclass(frozen=True, slots=True)
class JoinKey:
    """A field the sources were joined on."""

    field: str
    sources: tuple[SourceColumn, ...]
    overlap: Annotated[float | None, Field(description="Share of key values in common, 0 to 1.")]


@dataclass(frozen=True, slots=True)
class JoinCandidate:
    """A pair of columns considered as a join key, with the evidence for and against it."""

    kind: Annotated[
        str,
        Field(
            description="`reference` (the column's values are looked up in a column whose "
            "values are unique) or `shared` (a key the two sources share)."
        ),
    ]
    column: SourceColumn
    references: SourceColumn
    containment: Annotated[
        float | None,
        Field(description="Share of the column's distinct values found in the other, 0 to 1."),
    ]
    uniqueness: Annotated[
        float | None,
        Field(description="Distinct values per row of the referenced column: 1 for a key."),
    ]
    chosen: bool
    reason: Annotated[
        str | None,
        Field(description="Why it was refused or not chosen; null for a chosen candidate."),
    ]


@dataclass(frozen=True, slots=True)
class DanglingReferences:
    """The references of one join key that found nothing: those records are kept, with the
    referenced file's fields empty."""

    field: str
    column: SourceColumn
    references: SourceColumn
    count: Annotated[
        int, Field(description="Records whose value the referenced file does not have.")
    ]
    missing: Annotated[int | None, Field(description="Records with no value at all.")]
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The data-quality summary of a mash."""

    completeness: float | None
    null_density: float | None
    duplicate_keys: int | None
    type_conflicts: int | None
    issues: tuple[str, ...]
    dangling_references: tuple[DanglingReferences, ...] = ()


@dataclass(frozen=True, slots=True)
class FileArtifact:
    """A stored file and what the Runtime learned about it.

    `complete` is False for a reduced artifact (the platform's Runtime keeps only the ids at
    completion): the details are then None and `RuntimeClient.get_artifact(file_id)` fetches them.
    """

    file_id: str
    filename: str | None
    mime_type: str | None
    size: int | None
    sha256: str | None
    format: str | None
    columns: tuple[ColumnProfile, ...] | None
    row_count: int | None
    complete: bool
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DataMashArtifact:
    """A data mash: the canonical model composed from several sources, its join keys and its
    quality. The joined records are read separately (`RuntimeClient.get_mash_records`).

    `complete` is False for a reduced artifact (only `mash_id` known): use `get_artifact`.
    """

    mash_id: str
    name: str | None
    entity: str | None
    canonical_fields: tuple[CanonicalField, ...]
    join_keys: tuple[JoinKey, ...]
    row_count: int | None
    quality_report: QualityReport | None
    complete: bool
    join_candidates: tuple[JoinCandidate, ...] = ()


Artifact = FileArtifact | DataMashArtifact


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The Runtime's answer to a submitted intent.

    `execution_id` is None only when the platform's Runtime failed the intent synchronously
    (500 with a `detail` and no id): `state` is then FAILED and `error` the Runtime's message.
    """

    execution_id: str | None
    intent_id: str | None
    state: ExecutionState
    raw_status: str
    error: str | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class ExecutionStatus:
    """One reading of an execution's status, with the artifacts it has produced so far."""

    execution_id: str
    state: ExecutionState
    raw_status: str
    intent_id: str | None
    intent_type: str | None
    progress: Progress | None
    error: str | None
    created_at: datetime | None
    updated_at: datetime | None
    artifacts: tuple[Artifact, ...]
    events: tuple[Mapping[str, object], ...]


@dataclass(frozen=True, slots=True)
class MashRecordsPage:
    """A page of a data mash's joined canonical records; `total` counts all of them."""

    records: tuple[Mapping[str, object], ...]
    total: int
    offset: int


@dataclass(frozen=True, slots=True)
class ListedExecution:
    """One execution of the Runtime's list: its status and the user it ran for (None when the
    Runtime does not say)."""

    status: ExecutionStatus
    user_id: str | None


@dataclass(frozen=True, slots=True)
class ExecutionList:
    """A page of the Runtime's list of executions, newest first; `next_cursor` continues after
    its last one (None at the end)."""

    executions: tuple[ListedExecution, ...]
    next_cursor: str | None
