"""The REST surface's JSON: the same fields as the GraphQL types, in snake_case.
`execution_json` builds an `Execution` from a status the services returned; reduced artifacts
(a Runtime that reports only ids) get their details through the services, as GraphQL's
resolvers do.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from experience_plane import runtime
from experience_plane.auth import Principal
from experience_plane.executions import Snapshot
from experience_plane.services import ExecutionService
from experience_plane.services.data_mash import MAX_CONTENT_REFS, MAX_NAME_LENGTH
from experience_plane.services.execution_failures import FAILURE_KINDS, execution_failure
from experience_plane.services.execution_failures import FailureCode as DomainFailureCode
from experience_plane.services.presentation import complete_artifact, stale_reason
from experience_plane.services.timestamps import rfc3339

# What `str.strip()` removes, as a character class JSON Schema (ECMA) and Python regexes both
# read the same way: their `\s` differ, and the service strips what Python calls whitespace.
_WHITESPACE = "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace())
NOT_BLANK_PATTERN = f"[^{_WHITESPACE}]"
"""A string with something besides whitespace (JSON Schema patterns match anywhere)."""
TRIMMED_TEXT_PATTERN = f"^[^{_WHITESPACE}]([\\s\\S]*[^{_WHITESPACE}])?$"
"""A non-blank string without surrounding whitespace."""

RECORDS_PATH = "/v1/data-mash/{mash_id}/records"
STATUS_PATH = "/v1/execution/{execution_id}/status"


def _spelt_by_name(domain: type[StrEnum], doc: str) -> type[StrEnum]:
    """`domain` with each member's name as its value: REST spells enums as GraphQL does."""
    members = [(member.name, member.name) for member in domain]
    # The functional API builds a class; mypy reads a call with computed members as a lookup.
    spelt = cast(type[StrEnum], StrEnum(domain.__name__, members, module=__name__))
    spelt.__doc__ = doc  # the OpenAPI description
    return spelt


if TYPE_CHECKING:
    # A class built at run time is not a type to mypy; every member is a StrEnum all the same.
    ExecutionState = StrEnum
    FailureCode = StrEnum
else:
    ExecutionState = _spelt_by_name(
        runtime.ExecutionState,
        "Where an execution is in its life (GraphQL's `ExecutionState` values).",
    )
    FailureCode = _spelt_by_name(
        DomainFailureCode,
        "Why an execution did not complete (GraphQL's `FailureCode` values):\n\n"
        + "\n".join(f"- `{kind.code.name}`: {kind.description}" for kind in FAILURE_KINDS),
    )

Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 in UTC with `Z`, e.g. `2025-01-31T12:00:00.123Z`.",
        }
    ),
]
"""A timestamp, written exactly as GraphQL's `DateTime` writes it."""


class ExecutionFailure(BaseModel):
    """Why an execution did not complete: a stable code and the Runtime's message."""

    code: FailureCode = Field(description="Why it did not complete, for programs to switch on.")
    message: str = Field(description="What happened, in the Runtime's words, for people to read.")


class Progress(BaseModel):
    """How far a running execution has got."""

    phase: str = Field(description="The phase being worked on, e.g. `profiling`.")
    percent: float = Field(description="Overall progress, 0 to 100.")


class ContentFile(BaseModel):
    """An uploaded file and what the Runtime learned about it."""

    type: Literal["content_file"] = "content_file"
    id: str = Field(description="The artifact's id (the file id), usable as a content ref.")
    file_id: str = Field(description="The file's id: pass it in `content_refs` to mash it.")
    name: str | None
    mime_type: str | None
    size: int | None = Field(description="Size in bytes.")
    sha256: str | None = Field(description="SHA-256 of the bytes, hex encoded.")
    format: str | None = Field(description="csv, json, ndjson, text, binary, ...")
    columns: list[runtime.ColumnProfile] | None = Field(
        description="Null when the file is not tabular."
    )
    row_count: int | None
    created_at: datetime | None = Field(
        default=None, description="When the Runtime stored the file; null when it does not say."
    )


class DataMash(BaseModel):
    """A data mash: several files composed into one canonical view."""

    type: Literal["data_mash"] = "data_mash"
    id: str = Field(description="The artifact's id (the mash id).")
    mash_id: str
    name: str | None
    entity: str | None = Field(description="What the records describe, e.g. `customer`.")
    canonical_fields: list[runtime.CanonicalField]
    join_keys: list[runtime.JoinKey]
    join_candidates: list[runtime.JoinCandidate] = Field(
        default_factory=list,
        description=(
            "Every pair of columns considered as a join key, with its containment and "
            "uniqueness: the chosen ones first, then why each other one was refused."
        ),
    )
    row_count: int | None
    quality_report: runtime.QualityReport | None
    records_url: str = Field(description="Where to read the joined records, a page at a time.")


ArtifactOut = Annotated[ContentFile | DataMash, Field(discriminator="type")]


class Execution(BaseModel):
    """An execution of an intent (an upload, a data mash): GraphQL's `Execution`."""

    id: str = Field(description="The execution's id (GraphQL's `executionId`).")
    intent_type: str | None = Field(description="`content.upload` or `data_mash.create`.")
    state: ExecutionState
    raw_status: str = Field(description="The status exactly as the Runtime spelt it.")
    progress: Progress | None
    error: str | None = Field(
        description="Deprecated: use `failure`. Why it failed, for a failed execution.",
        json_schema_extra={"deprecated": True},
    )
    failure: ExecutionFailure | None = Field(
        description=(
            "Why it did not complete: set when it failed, was cancelled or was lost by the "
            "Runtime; null otherwise."
        )
    )
    created_at: Timestamp | None
    updated_at: Timestamp | None
    is_terminal: bool = Field(description="True once the execution will not change any more.")
    stale: bool = Field(
        default=False,
        description=(
            "True once the Runtime has not been heard from for longer than the service's stale "
            "promise; the other fields are then the last status known (the execution has NOT "
            "failed). A later event with `stale: false` brings the true status; a status read "
            "answered from the last status known says so the same way."
        ),
    )
    stale_reason: str | None = Field(
        default=None,
        description=(
            "Why the status could not be refreshed, while stale: one fixed sentence per cause."
        ),
    )
    stale_since: Timestamp | None = Field(
        default=None, description="When the Runtime was last heard from, while stale."
    )
    artifacts: list[ArtifactOut] = Field(description="What it produced, once completed.")


class CreateDataMashRequest(BaseModel):
    """What to mash and how (GraphQL's `CreateDataMashInput`)."""

    model_config = {"extra": "forbid"}

    # The limits below are the service's (`services.data_mash`), which answers them with its
    # own messages; `json_schema_extra` documents them without a second check here.
    content_refs: list[str] = Field(
        description=(
            f"File ids of uploaded files: 1 to {MAX_CONTENT_REFS}, none blank, no duplicates "
            "(surrounding whitespace is ignored)."
        ),
        examples=[["file_0123", "file_4567"]],
        json_schema_extra={
            "minItems": 1,
            "maxItems": MAX_CONTENT_REFS,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": TRIMMED_TEXT_PATTERN},
        },
    )
    target_domain: str = Field(
        default="general",
        description="Vocabulary for matching fields, e.g. `insurance`; not blank.",
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    )
    confidence_level: Literal["low", "medium", "high"] = Field(
        default="medium", description="The least confidence at which a column is mapped."
    )
    name: str | None = Field(
        default=None,
        description=f"A name for the mash, up to {MAX_NAME_LENGTH} characters.",
        json_schema_extra={
            "anyOf": [{"type": "string", "maxLength": MAX_NAME_LENGTH}, {"type": "null"}]
        },
    )
    join: Literal["left", "full"] = Field(
        default="left",
        description=(
            "`left`: one record per row of the fact (the file the others are referenced "
            "from); `full`: also the rows of referenced files that no fact row names."
        ),
    )


class RecordsPage(BaseModel):
    """A page of a mash's joined records, in the order the Runtime joined them. The `Link`
    header has the URLs of the pages around it (`rel="next"`, `rel="prev"`)."""

    mash_id: str
    offset: int = Field(description="The position of the page's first record in the mash.")
    limit: int = Field(description="The page size asked for (`limit` or `last`).")
    total: int = Field(description="How many records the mash has in all.")
    records: list[dict[str, Any]] = Field(description="Canonical field name to value.")
    next_offset: int | None = Field(description="The offset of the next page; null at the end.")
    prev_offset: int | None = Field(
        description="The offset of the page of `limit` records before; null at the start."
    )
    has_next_page: bool = Field(description="True when records follow this page.")
    has_previous_page: bool = Field(description="True when records come before this page.")
    start_cursor: str | None = Field(
        description=(
            "The opaque cursor of the page's first record: `before` it reads the page before; "
            "null for an empty page."
        )
    )
    end_cursor: str | None = Field(
        description=(
            "The opaque cursor of the page's last record: `after` it reads the page after; null "
            "for an empty page."
        )
    )


class ExecutionsPage(BaseModel):
    """A page of your executions, newest first (GraphQL's `ExecutionConnection`). The `Link`
    header has the URLs of the pages around it (`rel="next"`, `rel="prev"`)."""

    executions: list[Execution] = Field(description="The executions of this page.")
    cursors: list[str] = Field(
        description="Each execution's opaque cursor, in the same order (GraphQL's edges)."
    )
    total: int = Field(description="How many executions pass the filter in all.")
    has_next_page: bool = Field(description="True when (older) executions follow this page.")
    has_previous_page: bool = Field(description="True when (newer) executions come before it.")
    start_cursor: str | None = Field(
        description=(
            "The cursor of the page's first execution: `before` it reads the page before; null "
            "for an empty page."
        )
    )
    end_cursor: str | None = Field(
        description=(
            "The cursor of the page's last execution: `after` it reads the page after; null "
            "for an empty page."
        )
    )


async def execution_json(
    executions: ExecutionService, principal: Principal, status: runtime.ExecutionStatus
) -> Execution:
    """The REST `Execution` for a status, reduced artifacts completed through the services."""
    load = functools.partial(executions.artifact, principal)
    artifacts = await asyncio.gather(
        *(complete_artifact(artifact, load) for artifact in status.artifacts)
    )
    progress = status.progress
    return Execution(
        id=status.execution_id,
        intent_type=status.intent_type,
        state=ExecutionState(status.state.name),
        raw_status=status.raw_status,
        progress=Progress(phase=progress.phase, percent=progress.percent) if progress else None,
        error=status.error,
        failure=_failure(status),
        created_at=status.created_at,
        updated_at=status.updated_at,
        is_terminal=status.state.is_terminal,
        artifacts=[artifact_json(artifact) for artifact in artifacts],
    )


def _failure(status: runtime.ExecutionStatus) -> ExecutionFailure | None:
    failure = execution_failure(status)
    if failure is None:
        return None
    return ExecutionFailure(code=FailureCode(failure.code.name), message=failure.message)


async def snapshot_json(
    executions: ExecutionService, principal: Principal, snapshot: Snapshot
) -> Execution:
    """The REST `Execution` of a tracked status (an event, a status read), flagged when it is
    stale."""
    execution = await execution_json(executions, principal, snapshot.status)
    if snapshot.stale:
        execution.stale = True
        execution.stale_reason = stale_reason(snapshot)
        execution.stale_since = snapshot.stale_since
    return execution


def artifact_json(artifact: runtime.Artifact) -> ContentFile | DataMash:
    """The REST JSON of one artifact."""
    if isinstance(artifact, runtime.FileArtifact):
        columns = artifact.columns
        return ContentFile(
            id=artifact.file_id,
            file_id=artifact.file_id,
            name=artifact.filename,
            mime_type=artifact.mime_type,
            size=artifact.size,
            sha256=artifact.sha256,
            format=artifact.format,
            columns=None if columns is None else list(columns),
            row_count=artifact.row_count,
            created_at=artifact.created_at,
        )
    return DataMash(
        id=artifact.mash_id,
        mash_id=artifact.mash_id,
        name=artifact.name,
        entity=artifact.entity,
        canonical_fields=list(artifact.canonical_fields),
        join_keys=list(artifact.join_keys),
        join_candidates=list(artifact.join_candidates),
        row_count=artifact.row_count,
        quality_report=artifact.quality_report,
        records_url=RECORDS_PATH.format(mash_id=artifact.mash_id),
    )
