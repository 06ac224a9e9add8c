"""The Runtime's wire shapes, parsed tolerantly into the values of `models`.
Tolerant means: unknown fields are ignored, optional fields may be missing or null, `""` stands
for "no value", timestamps without an offset are UTC (unreadable ones are absent), status
spellings are normalised, and an artifact of an unknown `result_type` is skipped. What the
contract requires (an execution id, a status) must be there: its absence raises
`pydantic.ValidationError`, which the client turns into `RuntimeProtocolError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from experience_plane.runtime.models import (
    Artifact,
    CanonicalField,
    ColumnProfile,
    DanglingReferences,
    DataMashArtifact,
    ExecutionList,
    ExecutionState,
    ExecutionStatus,
    FileArtifact,
    JoinCandidate,
    JoinKey,
    ListedExecution,
    Progress,
    QualityReport,
    SourceColumn,
    SubmitResult,
)

__all__ = [
    "WireArtifactDetail",
    "WireExecutionList",
    "WireHealth",
    "WireSession",
    "WireStatus",
    "WireSubmit",
    "artifact_from_detail",
    "artifacts_from_wire",
    "execution_list_from_wire",
    "status_from_wire",
    "submit_from_wire",
]

FILE_RESULT_TYPES = frozenset({"file", "content", "artifact"})
MASH_RESULT_TYPES = frozenset({"data_mash", "mash"})


def _blank_to_none(value: object) -> object:
    return None if value == "" else value


def _timestamp(value: object, handler: ValidatorFunctionWrapHandler) -> datetime | None:
    # Timestamps only inform: one the client cannot read is absent, not a broken answer.
    if value is None or value == "":
        return None
    try:
        parsed: datetime = handler(value)
    except ValidationError:
        return None
    # The platform's Runtime sometimes drops the offset; its clocks run on UTC.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _error_text(value: object) -> object:
    # An error should be a string; a Runtime that sends an object still means an error.
    if value is None or value == "" or isinstance(value, str):
        return _blank_to_none(value)
    return str(value)


Timestamp = Annotated[datetime | None, WrapValidator(_timestamp)]
OptionalStr = Annotated[str | None, BeforeValidator(_blank_to_none)]
RequiredStr = Annotated[str, Field(min_length=1)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireProgress(_Wire):
    phase: str = ""
    percent: float = 0.0


class WireSubmit(_Wire):
    """`POST /api/intent/submit` 200 (asynchronous: `accepted`; platform: already terminal)."""

    execution_id: RequiredStr
    intent_id: OptionalStr = None
    status: str = "accepted"
    error: Annotated[str | None, BeforeValidator(_error_text)] = None
    created_at: Timestamp = None


class WireStatus(_Wire):
    """`GET /api/execution/{id}/status` 200, and each status message of the stream."""

    execution_id: RequiredStr
    status: str
    intent_id: OptionalStr = None
    intent_type: OptionalStr = None
    artifacts: dict[str, Any] | list[Any] | None = None
    events: list[dict[str, Any]] | None = None
    error: Annotated[str | None, BeforeValidator(_error_text)] = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    progress: WireProgress | None = None


class WireArtifactDetail(_Wire):
    """`GET /api/artifacts/{id}` 200: a file or a data mash with everything known about it.

    The reference Runtime answers `id`, `name`, `type`, `size`, `hash` and the semantic payload;
    the platform's answers a file record (`artifact_id`, `file_id`, `file_name`, `file_size`,
    `mime_type`, `metadata` with the `sha256` or `file_hash`, ...): both are read.
    """

    id: OptionalStr = None
    artifact_type: OptionalStr = None
    name: OptionalStr = None
    type: OptionalStr = None
    size: int | None = None
    hash: OptionalStr = None
    created_at: Timestamp = None
    semantic_payload: dict[str, Any] | None = None
    records: list[dict[str, Any]] | None = None
    records_total: int | None = None
    artifact_id: OptionalStr = None
    file_id: OptionalStr = None
    file_name: OptionalStr = None
    file_size: int | None = None
    mime_type: OptionalStr = None
    metadata: dict[str, Any] | None = None


class WireListedStatus(WireStatus):
    """One execution of `GET /api/executions`: a status record with its user."""

    user_id: OptionalStr = None


class WireExecutionList(_Wire):
    """`GET /api/executions` 200."""

    executions: list[WireListedStatus]
    next_cursor: OptionalStr = None


class WireSession(_Wire):
    """`POST /api/session/create` 200."""

    session_id: RequiredStr


class WireHealth(_Wire):
    """`GET /health` 200."""

    status: str = ""


class _WireColumn(_Wire):
    name: str
    type: str = "string"
    null_count: int | None = None
    distinct_count: int | None = None


class _WireFilePayload(_Wire):
    file_id: OptionalStr = None
    artifact_id: OptionalStr = None
    filename: OptionalStr = None
    mime_type: OptionalStr = None
    size: int | None = None
    sha256: OptionalStr = None
    format: OptionalStr = None
    columns: list[_WireColumn] | None = None
    row_count: int | None = None
    created_at: Timestamp = None


class _WireFileMetadata(_Wire):
    """What the platform's file record may keep under `metadata`."""

    sha256: OptionalStr = None
    file_hash: OptionalStr = None
    format: OptionalStr = None
    columns: list[_WireColumn] | None = None
    row_count: int | None = None


class _WireSource(_Wire):
    file_id: str
    column: str
    confidence: float | None = None


class _WireCanonicalField(_Wire):
    name: str
    type: OptionalStr = None
    confidence: float | None = None
    sources: list[_WireSource] = []


class _WireJoinKey(_Wire):
    field: str
    sources: list[_WireSource] = []
    overlap: float | None = None


class _WireJoinCandidate(_Wire):
    kind: str = "reference"
    column: _WireSource
    references: _WireSource
    containment: float | None = None
    uniqueness: float | None = None
    chosen: bool = False
    reason: OptionalStr = None


class _WireDanglingReferences(_Wire):
    field: str
    file_id: str
    column: str
    references: _WireSource
    count: int = 0
    missing: int | None = None
    examples: list[str] = []


class _WireQualityReport(_Wire):
    completeness: float | None = None
    null_density: float | None = None
    duplicate_keys: int | None = None
    type_conflicts: int | None = None
    issues: list[str] = []
    dangling_references: list[_WireDanglingReferences] = []


class _WireMashPayload(_Wire):
    mash_id: OptionalStr = None
    name: OptionalStr = None
    entity: OptionalStr = None
    canonical_fields: list[_WireCanonicalField] | None = None
    # The contract describes join keys as objects; older payloads list bare field names.
    join_keys: list[_WireJoinKey | str] | None = None
    join_candidates: list[_WireJoinCandidate] | None = None
    row_count: int | None = None
    quality_report: _WireQualityReport | None = None


def _source(source: _WireSource) -> SourceColumn:
    return SourceColumn(source.file_id, source.column, source.confidence)


def _sources(sources: Iterable[_WireSource]) -> tuple[SourceColumn, ...]:
    return tuple(_source(s) for s in sources)


def _file_artifact(
    payload: _WireFilePayload, *, file_id: str, complete: bool | None = None
) -> FileArtifact:
    details = (payload.filename, payload.mime_type, payload.size, payload.sha256, payload.format)
    columns = None
    if payload.columns is not None:
        columns = tuple(
            ColumnProfile(c.name, c.type, c.null_count, c.distinct_count) for c in payload.columns
        )
    return FileArtifact(
        file_id=file_id,
        filename=payload.filename,
        mime_type=payload.mime_type,
        size=payload.size,
        sha256=payload.sha256,
        format=payload.format,
        columns=columns,
        row_count=payload.row_count,
        complete=all(d is not None for d in details) if complete is None else complete,
        created_at=payload.created_at,
    )


def _mash_artifact(
    payload: _WireMashPayload, *, mash_id: str, complete: bool | None = None
) -> DataMashArtifact:
    join_keys = tuple(
        JoinKey(key, (), None)
        if isinstance(key, str)
        else JoinKey(key.field, _sources(key.sources), key.overlap)
        for key in payload.join_keys or ()
    )
    report = payload.quality_report
    return DataMashArtifact(
        mash_id=mash_id,
        name=payload.name,
        entity=payload.entity,
        canonical_fields=tuple(
            CanonicalField(f.name, f.type, f.confidence, _sources(f.sources))
            for f in payload.canonical_fields or ()
        ),
        join_keys=join_keys,
        row_count=payload.row_count,
        quality_report=None
        if report is None
        else QualityReport(
            report.completeness,
            report.null_density,
            report.duplicate_keys,
            report.type_conflicts,
            tuple(report.issues),
            tuple(
                DanglingReferences(
                    d.field,
                    SourceColumn(d.file_id, d.column, None),
                    _source(d.references),
                    d.count,
                    d.missing,
                    tuple(d.examples),
                )
                for d in report.dangling_references
            ),
        ),
        complete=payload.canonical_fields is not None if complete is None else complete,
        join_candidates=tuple(
            JoinCandidate(
                c.kind,
                _source(c.column),
                _source(c.references),
                c.containment,
                c.uniqueness,
                c.chosen,
                c.reason,
            )
            for c in payload.join_candidates or ()
        ),
    )


def _artifact_from_entry(key: str, entry: object) -> Artifact | None:
    if not isinstance(entry, Mapping):
        return None
    kind = str(entry.get("result_type") or key).lower()
    payload = entry.get("semantic_payload")
    if not isinstance(payload, Mapping):
        # A flat entry (payload keys beside result_type) is read the same way.
        payload = {k: v for k, v in entry.items() if k != "result_type"}
    if kind in FILE_RESULT_TYPES:
        file_payload = _WireFilePayload.model_validate(payload)
        # `artifact_id` is the platform's name for the file id.
        file_id = file_payload.file_id or file_payload.artifact_id
        return _file_artifact(file_payload, file_id=file_id) if file_id else None
    if kind in MASH_RESULT_TYPES:
        mash_payload = _WireMashPayload.model_validate(payload)
        if not mash_payload.mash_id:
            return None
        return _mash_artifact(mash_payload, mash_id=mash_payload.mash_id)
    return None


def artifacts_from_wire(raw: Mapping[str, Any] | list[Any] | None) -> tuple[Artifact, ...]:
    """Parse a status's `artifacts` (an object keyed by name, or a list) into artifacts.

    Every known shape is accepted: the full `file` and `data_mash` payloads, the platform's
    `artifact` (`artifact_id` + `boundary_contract_id`), and reduced payloads holding only ids
    (those come back with `complete=False`). Unknown result types are skipped.
    """
    if raw is None:
        return ()
    entries = raw.items() if isinstance(raw, Mapping) else ((str(i), e) for i, e in enumerate(raw))
    artifacts = (_artifact_from_entry(key, entry) for key, entry in entries)
    return tuple(artifact for artifact in artifacts if artifact is not None)


def status_from_wire(wire: WireStatus) -> ExecutionStatus:
    """Turn a parsed status record into an `ExecutionStatus`."""
    progress = None
    if wire.progress is not None:
        progress = Progress(wire.progress.phase, wire.progress.percent)
    return ExecutionStatus(
        execution_id=wire.execution_id,
        state=ExecutionState.from_raw(wire.status),
        raw_status=wire.status,
        intent_id=wire.intent_id,
        intent_type=wire.intent_type,
        progress=progress,
        error=wire.error,
        created_at=wire.created_at,
        updated_at=wire.updated_at,
        artifacts=artifacts_from_wire(wire.artifacts),
        events=tuple(wire.events or ()),
    )


def submit_from_wire(wire: WireSubmit) -> SubmitResult:
    """Turn a parsed submit answer into a `SubmitResult`."""
    return SubmitResult(
        execution_id=wire.execution_id,
        intent_id=wire.intent_id,
        state=ExecutionState.from_raw(wire.status),
        raw_status=wire.status,
        error=wire.error,
        created_at=wire.created_at,
    )


def artifact_from_detail(wire: WireArtifactDetail) -> Artifact | None:
    """Turn an `/api/artifacts/{id}` answer into a complete artifact, or None when it is neither
    a file nor a data mash. The top-level `name`, `type`, `size`, `hash` and `created_at` (or
    the platform file record's `file_name`, `mime_type`, `file_size` and `metadata`) fill in
    whatever the semantic payload leaves out."""
    payload = dict(wire.semantic_payload or {})
    kind = (wire.artifact_type or "").lower()
    if not kind:
        kind = "data_mash" if "mash_id" in payload or wire.records is not None else "file"
    if kind in MASH_RESULT_TYPES:
        mash = _WireMashPayload.model_validate(payload)
        mash_id = mash.mash_id or wire.id
        if not mash_id:
            return None
        if mash.name is None and wire.name is not None:
            mash = mash.model_copy(update={"name": wire.name})
        return _mash_artifact(mash, mash_id=mash_id, complete=True)
    if kind in FILE_RESULT_TYPES:
        file = _WireFilePayload.model_validate(payload)
        file_id = file.file_id or file.artifact_id or wire.file_id or wire.artifact_id or wire.id
        if not file_id:
            return None
        metadata = _file_metadata(wire.metadata)
        fallbacks: dict[str, object] = {
            "filename": wire.name or wire.file_name,
            "mime_type": wire.type or wire.mime_type,
            "size": wire.size if wire.size is not None else wire.file_size,
            "sha256": wire.hash or metadata.sha256 or metadata.file_hash,
            "format": metadata.format,
            "columns": metadata.columns,
            "row_count": metadata.row_count,
            "created_at": wire.created_at,
        }
        missing = {k: v for k, v in fallbacks.items() if getattr(file, k) is None}
        return _file_artifact(file.model_copy(update=missing), file_id=file_id, complete=True)
    return None


def _file_metadata(raw: dict[str, Any] | None) -> _WireFileMetadata:
    # The platform's metadata is free-form: keys of an unexpected shape are ignored, not fatal.
    if raw is None:
        return _WireFileMetadata()
    try:
        return _WireFileMetadata.model_validate(raw)
    except ValidationError:
        known = _WireFileMetadata.model_fields
        kept = {}
        for key, value in raw.items():
            if key in known:
                try:
                    _WireFileMetadata.model_validate({key: value})
                except ValidationError:
                    continue
                kept[key] = value
        return _WireFileMetadata.model_validate(kept)


def execution_list_from_wire(wire: WireExecutionList) -> ExecutionList:
    """Turn a parsed page of the Runtime's list into an `ExecutionList`."""
    return ExecutionList(
        executions=tuple(
            ListedExecution(status=status_from_wire(item), user_id=item.user_id)
            for item in wire.executions
        ),
        next_cursor=wire.next_cursor,
    )
