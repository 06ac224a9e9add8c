"""Typed results: frozen dataclasses parsed from the API's GraphQL answers.
Each `from_graphql` takes the JSON object the operations in `operations.py` select and raises
`ApiProtocolError` when it does not have the shape the schema promises, so a caller never sees
a `KeyError` from deep inside a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias

from experience_plane_sdk.errors import ApiProtocolError

__all__ = [
    "Artifact",
    "CanonicalField",
    "ColumnProfile",
    "ContentFile",
    "DataMash",
    "Execution",
    "ExecutionFailure",
    "ExecutionState",
    "FailureCode",
    "JoinKey",
    "Node",
    "Progress",
    "QualityReport",
    "RecordsPage",
    "SourceColumn",
]

JsonObject: TypeAlias = Mapping[str, Any]


class ExecutionState(StrEnum):
    """Where an execution is in its life (the schema's `ExecutionState`)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """True once the execution will not change any more."""
        return self not in (ExecutionState.PENDING, ExecutionState.RUNNING)

    @property
    def succeeded(self) -> bool:
        """True for COMPLETED only; FAILED, CANCELLED and UNKNOWN are all unsuccessful ends."""
        return self is ExecutionState.COMPLETED


class FailureCode(StrEnum):
    """Why an execution did not complete (the schema's `FailureCode`); a code newer than this
    SDK reads as `UNKNOWN`, its message still says what happened."""

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

    @classmethod
    def _missing_(cls, value: object) -> FailureCode:
        return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class ExecutionFailure:
    """Why an execution did not complete: a stable code to switch on and the Runtime's message."""

    code: FailureCode
    message: str

    @classmethod
    def from_graphql(cls, data: JsonObject) -> ExecutionFailure:
        """Parse an `ExecutionFailure` object."""
        return cls(code=FailureCode(data["code"]), message=str(data["message"]))


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a running execution has got: the phase and an overall percentage (0 to 100)."""

    phase: str
    percent: float

    @classmethod
    def from_graphql(cls, data: JsonObject) -> Progress:
        """Parse a `Progress` object."""
        return cls(phase=str(data["phase"]), percent=float(data["percent"]))


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """What the Runtime learned about one column of a tabular file."""

    name: str
    type: str
    null_count: int | None
    distinct_count: int | None

    @classmethod
    def from_graphql(cls, data: JsonObject) -> ColumnProfile:
        """Parse a `ColumnProfile` object."""
        return cls(
            name=data["name"],
            type=data["type"],
            null_count=data.get("nullCount"),
            distinct_count=data.get("distinctCount"),
        )


@dataclass(frozen=True, slots=True)
class ContentFile:
    """An uploaded file; pass its `file_id` (also its `id`) to `create_data_mash`.
    `global_id` is the schema's opaque `Node` id, for `node(id:)`."""

    id: str
    global_id: str
    file_id: str
    name: str | None
    mime_type: str | None
    size: int | None
    sha256: str | None
    format: str | None
    columns: tuple[ColumnProfile, ...] | None
    row_count: int | None

    @classmethod
    def from_graphql(cls, data: JsonObject) -> ContentFile:
        """Parse a `ContentFile` artifact."""
        columns = data.get("columns")
        return cls(
            id=data["fileId"],
            global_id=data["id"],
            file_id=data["fileId"],
            name=data.get("name"),
            mime_type=data.get("mimeType"),
            size=data.get("size"),
            sha256=data.get("sha256"),
            format=data.get("format"),
            columns=None
            if columns is None
            else tuple(ColumnProfile.from_graphql(c) for c in columns),
            row_count=data.get("rowCount"),
        )


@dataclass(frozen=True, slots=True)
class SourceColumn:
    """A source column feeding a canonical field or a join key."""

    file_id: str
    column: str
    confidence: float | None

    @classmethod
    def from_graphql(cls, data: JsonObject) -> SourceColumn:
        """Parse a `SourceColumn` object."""
        return cls(file_id=data["fileId"], column=data["column"], confidence=data.get("confidence"))


@dataclass(frozen=True, slots=True)
class CanonicalField:
    """A field of the mash's canonical model and the columns mapped onto it."""

    name: str
    type: str | None
    confidence: float | None
    sources: tuple[SourceColumn, ...]

    @classmethod
    def from_graphql(cls, data: JsonObject) -> CanonicalField:
        """Parse a `CanonicalField` object."""
        return cls(
            name=data["name"],
            type=data.get("type"),
            confidence=data.get("confidence"),
            sources=tuple(SourceColumn.from_graphql(s) for s in data["sources"]),
        )


@dataclass(frozen=True, slots=True)
class JoinKey:
    """A field the sources were joined on, its column in each source and their overlap (0-1)."""

    field: str
    sources: tuple[SourceColumn, ...]
    overlap: float | None

    @classmethod
    def from_graphql(cls, data: JsonObject) -> JoinKey:
        """Parse a `JoinKey` object."""
        return cls(
            field=data["field"],
            sources=tuple(SourceColumn.from_graphql(s) for s in data["sources"]),
            overlap=data.get("overlap"),
        )


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The data-quality summary of a mash."""

    completeness: float | None
    null_density: float | None
    duplicate_keys: int | None
    type_conflicts: int | None
    issues: tuple[str, ...]

    @classmethod
    def from_graphql(cls, data: JsonObject) -> QualityReport:
        """Parse a `QualityReport` object."""
        return cls(
            completeness=data.get("completeness"),
            null_density=data.get("nullDensity"),
            duplicate_keys=data.get("duplicateKeys"),
            type_conflicts=data.get("typeConflicts"),
            issues=tuple(data.get("issues") or ()),
        )


@dataclass(frozen=True, slots=True)
class DataMash:
    """A data mash: its canonical model, join keys and quality. Read its records with
    `ExperienceClient.records(execution_id)`. `id` is the `mash_id`; `global_id` the schema's
    opaque `Node` id."""

    id: str
    global_id: str
    mash_id: str
    name: str | None
    entity: str | None
    canonical_fields: tuple[CanonicalField, ...]
    join_keys: tuple[JoinKey, ...]
    row_count: int | None
    quality_report: QualityReport | None

    @classmethod
    def from_graphql(cls, data: JsonObject) -> DataMash:
        """Parse a `DataMash` artifact (without its records)."""
        report = data.get("qualityReport")
        return cls(
            id=data["mashId"],
            global_id=data["id"],
            mash_id=data["mashId"],
            name=data.get("name"),
            entity=data.get("entity"),
            canonical_fields=tuple(CanonicalField.from_graphql(f) for f in data["canonicalFields"]),
            join_keys=tuple(JoinKey.from_graphql(k) for k in data["joinKeys"]),
            row_count=data.get("rowCount"),
            quality_report=None if report is None else QualityReport.from_graphql(report),
        )


Artifact: TypeAlias = ContentFile | DataMash


def _artifact(data: JsonObject) -> Artifact | None:
    typename = data.get("__typename")
    if typename == "ContentFile":
        return ContentFile.from_graphql(data)
    if typename == "DataMash":
        return DataMash.from_graphql(data)
    # An artifact type newer than this SDK: skipped rather than failing the whole status.
    return None


def _datetime(value: object) -> datetime | None:
    # The schema's DateTime is RFC 3339 in UTC (`...Z`); an aware datetime either way.
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected an RFC 3339 string, got {value!r}")
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Execution:
    """An execution of an intent (an upload, a data mash) as the API reported it.

    `id` is the execution id every method takes (the schema's `executionId`); `global_id` the
    schema's opaque `Node` id. `failure` says why it did not complete (None while it runs and
    once it completed); `error` is its message, kept for older callers."""

    id: str
    global_id: str
    intent_type: str | None
    state: ExecutionState
    raw_status: str
    progress: Progress | None
    failure: ExecutionFailure | None
    created_at: datetime | None
    updated_at: datetime | None
    is_terminal: bool
    artifacts: tuple[Artifact, ...]

    @property
    def error(self) -> str | None:
        """Why it did not complete, for people: `failure.message` (None without a failure)."""
        return self.failure.message if self.failure is not None else None

    @property
    def files(self) -> tuple[ContentFile, ...]:
        """The uploaded files among the artifacts."""
        return tuple(a for a in self.artifacts if isinstance(a, ContentFile))

    @property
    def data_mash(self) -> DataMash | None:
        """The data mash the execution produced, if any."""
        return next((a for a in self.artifacts if isinstance(a, DataMash)), None)

    @classmethod
    def from_graphql(cls, data: JsonObject) -> Execution:
        """Parse an `Execution` object; `ApiProtocolError` if it is not shaped like one."""
        try:
            progress = data.get("progress")
            failure = data.get("failure")
            artifacts = (_artifact(a) for a in data.get("artifacts") or ())
            return cls(
                id=data["executionId"],
                global_id=data["id"],
                intent_type=data.get("intentType"),
                state=ExecutionState(data["state"]),
                raw_status=data["rawStatus"],
                progress=None if progress is None else Progress.from_graphql(progress),
                failure=None if failure is None else ExecutionFailure.from_graphql(failure),
                created_at=_datetime(data.get("createdAt")),
                updated_at=_datetime(data.get("updatedAt")),
                is_terminal=bool(data["isTerminal"]),
                artifacts=tuple(a for a in artifacts if a is not None),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ApiProtocolError(f"Unreadable execution in the API's answer: {exc!r}") from exc


Node: TypeAlias = Execution | ContentFile | DataMash
"""What a global id names: an execution or an artifact."""


def node_from_graphql(data: JsonObject | None) -> Node | None:
    """Parse a `Node` (by its `__typename`); None for null or a type newer than this SDK."""
    if data is None:
        return None
    if data.get("__typename") == "Execution":
        return Execution.from_graphql(data)
    try:
        return _artifact(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ApiProtocolError(f"Unreadable object in the API's answer: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class RecordsPage:
    """One page of a mash's joined records and where to continue from: `after=end_cursor`
    forwards, `before=start_cursor` backwards."""

    records: tuple[dict[str, Any], ...]
    total_count: int
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None

    @classmethod
    def from_graphql(cls, data: JsonObject) -> RecordsPage:
        """Parse a `MashRecordConnection`."""
        try:
            page_info = data["pageInfo"]
            return cls(
                records=tuple(dict(edge["node"]) for edge in data["edges"]),
                total_count=int(data["totalCount"]),
                has_next_page=bool(page_info["hasNextPage"]),
                end_cursor=page_info.get("endCursor"),
                has_previous_page=bool(page_info.get("hasPreviousPage", False)),
                start_cursor=page_info.get("startCursor"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiProtocolError(f"Unreadable records page in the API's answer: {exc!r}") from exc
