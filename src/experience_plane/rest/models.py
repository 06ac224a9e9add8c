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

from pydantic import BaseModel, Field

from experience_plane import runtime
from experience_plane.auth import Principal
from experience_plane.executions import Snapshot
from experience_plane.services import ExecutionService
from experience_plane.services.presentation import complete_artifact

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
else:
    ExecutionState = _spelt_by_name(
        runtime.ExecutionState,
        "Where an execution is in its life (GraphQL's `ExecutionState` values).",
    )


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

    id: str
    intent_type: str | None = Field(description="`content.upload` or `data_mash.create`.")
    state: ExecutionState
    raw_status: str = Field(description="The status exactly as the Runtime spelt it.")
    progress: Progress | None
    error: str | None = Field(description="Why it failed, for a failed execution.")
    created_at: datetime | None
    updated_at: datetime | None
    is_terminal: bool = Field(description="True once the execution will not change any more.")
    stale: bool = Field(
        default=False,
        description=(
            "Events only: true while the Runtime has not answered for a while; the other "
            "fields are then the last status known (the execution has NOT failed). A later "
            "event with `stale: false` brings the true status."
        ),
    )
    stale_reason: str | None = Field(
        default=None, description="Why the status could not be refreshed, while stale."
    )
    stale_since: datetime | None = Field(
        default=None, description="When the Runtime stopped answering, while stale."
    )
    artifacts: list[ArtifactOut] = Field(description="What it produced, once completed.")


class CreateDataMashRequest(BaseModel):
    """What to mash and how (GraphQL's `CreateDataMashInput`)."""

    model_config = {"extra": "forbid"}

    content_refs: list[str] = Field(
        description="File ids of uploaded files (at least one, no duplicates).",
        examples=[["file_0123", "file_4567"]],
    )
    target_domain: str = Field(
        default="general", description="Vocabulary for matching fields, e.g. `insurance`."
    )
    confidence_level: Literal["low", "medium", "high"] = Field(
        default="medium", description="The least confidence at which a column is mapped."
    )
    name: str | None = Field(default=None, description="A name for the mash.")
    join: Literal["left", "full"] = Field(
        default="left",
        description=(
            "`left`: one record per row of the fact (the file the others are referenced "
            "from); `full`: also the rows of referenced files that no fact row names."
        ),
    )


class RecordsPage(BaseModel):
    """A page of a mash's joined records, in the order the Runtime joined them."""

    mash_id: str
    offset: int
    limit: int
    total: int = Field(description="How many records the mash has in all.")
    records: list[dict[str, Any]] = Field(description="Canonical field name to value.")
    next_offset: int | None = Field(description="The offset of the next page; null at the end.")


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
        created_at=status.created_at,
        updated_at=status.updated_at,
        is_terminal=status.state.is_terminal,
        artifacts=[artifact_json(artifact) for artifact in artifacts],
    )


async def snapshot_json(
    executions: ExecutionService, principal: Principal, snapshot: Snapshot
) -> Execution:
    """The REST `Execution` of an event: a status, flagged when it is stale."""
    execution = await execution_json(executions, principal, snapshot.status)
    if snapshot.stale:
        execution.stale = True
        execution.stale_reason = snapshot.last_error
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
