"""Data mashes: several files composed into one canonical view, and the mutation that starts one."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry
from strawberry.scalars import JSON

from experience_plane import services
from experience_plane.graphql.artifacts import Artifact, complete_artifact
from experience_plane.graphql.context import Info
from experience_plane.graphql.enums import schema_enum
from experience_plane.graphql.errors import (
    Error,
    IdempotencyKeyArgument,
    PublicError,
    ResultUnion,
    public_error,
)
from experience_plane.graphql.executions import Execution, ExecutionAccepted
from experience_plane.graphql.fields import described_field
from experience_plane.runtime import DataMashArtifact, FieldSource
from experience_plane.services import ErrorCode
from experience_plane.services.presentation import MAX_RECORDS_PAGE

_CURSOR_PREFIX = "record:"


ConfidenceLevel = schema_enum(
    services.ConfidenceLevel,
    description="The least confidence at which a column is mapped onto a field.",
    values={
        services.ConfidenceLevel.LOW: "Map even weak matches.",
        services.ConfidenceLevel.MEDIUM: "Map reasonable matches (default).",
        services.ConfidenceLevel.HIGH: "Map only strong matches.",
    },
)


@strawberry.type(description="A source column feeding a canonical field or a join key.")
class SourceColumn:
    """Lineage: which file and column a value comes from."""

    file_id: strawberry.ID = strawberry.field(description="The source file's id.")
    column: str = strawberry.field(description="The column's name in that file.")
    confidence: float | None = strawberry.field(
        description="How sure the mapping is, 0 to 1 (null for join key sources)."
    )

    @classmethod
    def from_source(cls, source: FieldSource) -> SourceColumn:
        """The schema object for a Runtime field source."""
        return cls(
            file_id=strawberry.ID(source.file_id),
            column=source.column,
            confidence=source.confidence,
        )


@strawberry.type(description="A field of the mash's canonical model.")
class CanonicalField:
    """A field and the source columns mapped onto it."""

    name: str = strawberry.field(description="The canonical field's name.")
    type: str | None = strawberry.field(description="The field's inferred type.")
    confidence: float | None = strawberry.field(
        description="The confidence of the field's mapping, 0 to 1."
    )
    sources: list[SourceColumn] = strawberry.field(description="The columns feeding it.")


@strawberry.type(description="A field the sources were joined on.")
class JoinKey:
    """The key and the columns that carry it in each source."""

    field: str = strawberry.field(description="The canonical field used as the key.")
    sources: list[SourceColumn] = strawberry.field(description="The key's column in each source.")
    overlap: float | None = strawberry.field(
        description="The share of key values the sources have in common, 0 to 1."
    )


@strawberry.type(description="The data-quality summary of a mash.")
class QualityReport:
    """Completeness, nulls, duplicates, type conflicts and notes for people."""

    completeness: float | None = strawberry.field(description="Share of filled values, 0 to 1.")
    null_density: float | None = strawberry.field(description="Share of empty values, 0 to 1.")
    duplicate_keys: int | None = strawberry.field(description="How many join keys repeat.")
    type_conflicts: int | None = strawberry.field(
        description="How many fields had values of conflicting types."
    )
    issues: list[str] = strawberry.field(description="Findings worth a person's attention.")


@strawberry.type(description="One joined record of a mash, and where it is in the list.")
class MashRecordEdge:
    """A record with its cursor."""

    cursor: str = strawberry.field(description="Pass as `after` to read the records after it.")
    node: JSON = strawberry.field(description="The record: canonical field name to value.")


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    """Whether there is more, and the cursor to continue from."""

    has_next_page: bool = strawberry.field(description="True when more records follow.")
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last record; null for an empty page."
    )


@strawberry.type(description="A page of a mash's joined records.")
class MashRecordConnection:
    """Records in the order the Runtime joined them."""

    edges: list[MashRecordEdge] = strawberry.field(description="The records of this page.")
    page_info: PageInfo = strawberry.field(description="How to read the next page.")
    total_count: int = strawberry.field(description="How many records the mash has in all.")


@strawberry.type(description="A data mash: several files composed into one canonical view.")
class DataMash(Artifact):
    """Details missing from a reduced status artifact are fetched once per request."""

    mash_id: strawberry.ID = strawberry.field(description="The mash's id.")
    artifact: strawberry.Private[DataMashArtifact]

    @classmethod
    def from_artifact(cls, artifact: DataMashArtifact) -> DataMash:
        """The schema object for a data mash artifact of an execution status."""
        mash_id = strawberry.ID(artifact.mash_id)
        return cls(id=mash_id, mash_id=mash_id, artifact=artifact)

    async def details(self, info: Info) -> DataMashArtifact:
        """The complete artifact: the status's own, or the Runtime's full record of it."""
        return await complete_artifact(info, self.artifact)

    @described_field("The mash's name.")
    async def name(self, info: Info) -> str | None:
        return (await self.details(info)).name

    @described_field("The entity the records describe, e.g. `customer`.")
    async def entity(self, info: Info) -> str | None:
        return (await self.details(info)).entity

    @described_field("The canonical model: fields and the columns mapped onto them.")
    async def canonical_fields(self, info: Info) -> list[CanonicalField]:
        return [
            CanonicalField(
                name=field.name,
                type=field.type,
                confidence=field.confidence,
                sources=[SourceColumn.from_source(source) for source in field.sources],
            )
            for field in (await self.details(info)).canonical_fields
        ]

    @described_field("The fields the sources were joined on.")
    async def join_keys(self, info: Info) -> list[JoinKey]:
        return [
            JoinKey(
                field=key.field,
                sources=[SourceColumn.from_source(source) for source in key.sources],
                overlap=key.overlap,
            )
            for key in (await self.details(info)).join_keys
        ]

    @described_field("How many joined records the mash has.")
    async def row_count(self, info: Info) -> int | None:
        return (await self.details(info)).row_count

    @described_field("The data-quality summary.")
    async def quality_report(self, info: Info) -> QualityReport | None:
        report = (await self.details(info)).quality_report
        if report is None:
            return None
        return QualityReport(
            completeness=report.completeness,
            null_density=report.null_density,
            duplicate_keys=report.duplicate_keys,
            type_conflicts=report.type_conflicts,
            issues=list(report.issues),
        )

    @described_field("The joined records, a page at a time.")
    async def records(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description=f"Page size, 1 to {MAX_RECORDS_PAGE}.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(description="Read the records after this cursor."),
        ] = None,
    ) -> MashRecordConnection:
        if not 1 <= first <= MAX_RECORDS_PAGE:
            raise PublicError(
                f"`first` must be between 1 and {MAX_RECORDS_PAGE}, got {first}.",
                ErrorCode.INVALID_INPUT,
            )
        offset = 0 if after is None else decode_cursor(after) + 1
        try:
            page = await info.context.loaders.records_page(
                self.artifact.mash_id, offset=offset, limit=first
            )
        except services.ServiceError as exc:
            raise public_error(exc) from exc
        edges = [
            MashRecordEdge(cursor=encode_cursor(page.offset + index), node=_plain(record))
            for index, record in enumerate(page.records)
        ]
        return MashRecordConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.offset + len(edges) < page.total,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total,
        )


def encode_cursor(position: int) -> str:
    """The opaque cursor of the record at `position`."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{position}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The position a cursor stands for; a clear error for anything not made by this API."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(_CURSOR_PREFIX):
            position = int(text.removeprefix(_CURSOR_PREFIX))
            if position >= 0:
                return position
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise PublicError(f"`after` is not a valid cursor: {cursor!r}.", ErrorCode.INVALID_INPUT)


def _plain(record: Mapping[str, object]) -> JSON:
    return JSON(dict(record))


@strawberry.input(description="What to mash and how.")
class CreateDataMashInput:
    """The files to compose and the options of the composition."""

    content_refs: list[strawberry.ID] = strawberry.field(
        description="The ids of uploaded files to compose (at least one, no duplicates)."
    )
    target_domain: str = strawberry.field(
        default="general",
        description="The vocabulary that helps match fields, e.g. `general` or `insurance`.",
    )
    # A member of the derived `ConfidenceLevel`; the resolver maps it onto the service's by name.
    confidence_level: Enum = strawberry.field(
        graphql_type=ConfidenceLevel,
        default=ConfidenceLevel["MEDIUM"],
        description="The least confidence at which a column is mapped onto a field.",
    )
    name: str | None = strawberry.field(default=None, description="A name for the mash.")


CREATE_DATA_MASH_RESULT = ResultUnion(
    "CreateDataMashResult",
    "The mash's execution, or why it was not started.",
    ExecutionAccepted,
    # Nothing is uploaded: UPLOAD_TOO_LARGE cannot happen here.
    without=(services.UploadTooLargeError,),
)
if TYPE_CHECKING:
    CreateDataMashResult: TypeAlias = ExecutionAccepted | Error
else:
    CreateDataMashResult = CREATE_DATA_MASH_RESULT.annotation


@CREATE_DATA_MASH_RESULT.resolves
async def create_data_mash(
    info: Info,
    input: Annotated[CreateDataMashInput, strawberry.argument(description="What to mash and how.")],
    idempotency_key: IdempotencyKeyArgument = None,
) -> CreateDataMashResult:
    """Submit the mash and return its execution at once."""
    status = await info.context.services.data_mash.create(
        info.context.principal,
        content_refs=[str(ref) for ref in input.content_refs],
        target_domain=input.target_domain,
        confidence_level=services.ConfidenceLevel[input.confidence_level.name],
        name=input.name,
        client_session=info.context.client_session,
        idempotency_key=idempotency_key,
        idempotency_header=info.context.idempotency_header,
    )
    return ExecutionAccepted(execution=Execution.from_status(status))
