"""Data mashes: several files composed into one canonical view, and the mutation that starts one."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry
from strawberry.scalars import JSON

from experience_plane import runtime, services
from experience_plane.graphql.artifacts import Artifact, complete_artifact
from experience_plane.graphql.context import Info
from experience_plane.graphql.enums import schema_enum
from experience_plane.graphql.errors import (
    CANCEL_ONLY,
    Error,
    IdempotencyKeyArgument,
    ResultUnion,
    public_error,
)
from experience_plane.graphql.executions import Execution, ExecutionAccepted
from experience_plane.graphql.fields import described_field
from experience_plane.graphql.global_ids import global_id
from experience_plane.graphql.objects import schema_type
from experience_plane.graphql.pagination import (
    AfterArgument,
    BeforeArgument,
    PageInfo,
    first_argument,
    last_argument,
)
from experience_plane.runtime import DataMashArtifact
from experience_plane.services.pagination import Page, PageRequest, read_page
from experience_plane.services.presentation import DEFAULT_RECORDS_PAGE, MAX_RECORDS_PAGE

ConfidenceLevel = schema_enum(
    services.ConfidenceLevel,
    description="The least confidence at which a column is mapped onto a field.",
    values={
        services.ConfidenceLevel.LOW: "Map even weak matches.",
        services.ConfidenceLevel.MEDIUM: "Map reasonable matches (default).",
        services.ConfidenceLevel.HIGH: "Map only strong matches.",
    },
)


JoinMode = schema_enum(
    services.JoinMode,
    description="Which rows of the sources a mash makes records of.",
    values={
        services.JoinMode.LEFT: (
            "One record per row of the fact (the file the others are referenced from); rows "
            "of referenced files that no fact row names are counted, not emitted (default)."
        ),
        services.JoinMode.FULL: "As LEFT, and the unreferenced rows are records of their own.",
    },
)


if TYPE_CHECKING:
    # To mypy a derived type is the domain class whose values its resolvers return.
    from experience_plane.runtime import (
        CanonicalField,
        DanglingReferences,
        JoinCandidate,
        JoinKey,
        QualityReport,
        SourceColumn,
    )
else:
    SourceColumn = schema_type(
        runtime.SourceColumn,
        types={"file_id": strawberry.ID},
        descriptions={
            "file_id": "The source file's id.",
            "column": "The column's name in that file.",
        },
    )
    CanonicalField = schema_type(
        runtime.CanonicalField,
        descriptions={
            "name": "The canonical field's name.",
            "type": "The field's inferred type.",
            "confidence": "The confidence of the field's mapping, 0 to 1.",
            "sources": "The columns feeding it.",
        },
    )
    JoinKey = schema_type(
        runtime.JoinKey,
        descriptions={
            "field": "The canonical field used as the key.",
            "sources": "The key's column in each source.",
        },
    )
    JoinCandidate = schema_type(
        runtime.JoinCandidate,
        descriptions={
            "column": "The column whose values were looked up.",
            "references": "The column they were looked up in.",
            "chosen": "True when the sources were joined on it.",
        },
    )
    DanglingReferences = schema_type(
        runtime.DanglingReferences,
        descriptions={
            "field": "The canonical field of the key.",
            "column": "The referencing column.",
            "references": "The referenced column.",
            "examples": "A few of the values not found, as written.",
        },
    )
    QualityReport = schema_type(
        runtime.QualityReport,
        descriptions={
            "completeness": "Share of filled values, 0 to 1.",
            "null_density": "Share of empty values, 0 to 1.",
            "duplicate_keys": "How many join keys repeat.",
            "type_conflicts": "How many fields had values of conflicting types.",
            "issues": "Findings worth a person's attention.",
            "dangling_references": (
                "Per reference joined: the records whose key the referenced file lacks."
            ),
        },
    )


@strawberry.type(description="One joined record of a mash, and where it is in the list.")
class MashRecordEdge:
    """A record with its cursor."""

    cursor: str = strawberry.field(
        description=(
            "Opaque; pass it as `after` for the records after it, or `before` for those before."
        )
    )
    node: JSON = strawberry.field(description="The record: canonical field name to value.")


@strawberry.type(description="A page of a mash's joined records.")
class MashRecordConnection:
    """Records in the order the Runtime joined them."""

    edges: list[MashRecordEdge] = strawberry.field(description="The records of this page.")
    page_info: PageInfo = strawberry.field(description="How to read the pages around it.")
    total_count: int = strawberry.field(description="How many records the mash has in all.")


@strawberry.type(description="A data mash: several files composed into one canonical view.")
class DataMash(Artifact):
    """Details missing from a reduced status artifact are fetched once per request."""

    mash_id: strawberry.ID = strawberry.field(description="The mash's id.")
    artifact: strawberry.Private[DataMashArtifact]

    @classmethod
    def from_artifact(cls, artifact: DataMashArtifact) -> DataMash:
        """The schema object for a data mash artifact of an execution status."""
        return cls(
            id=global_id("DataMash", artifact.mash_id),
            mash_id=strawberry.ID(artifact.mash_id),
            artifact=artifact,
        )

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
        return list((await self.details(info)).canonical_fields)

    @described_field("The fields the sources were joined on.")
    async def join_keys(self, info: Info) -> list[JoinKey]:
        return list((await self.details(info)).join_keys)

    @described_field(
        "Every pair of columns considered as a join key, with its containment and uniqueness: "
        "the chosen ones first, then why each other one was refused."
    )
    async def join_candidates(self, info: Info) -> list[JoinCandidate]:
        return list((await self.details(info)).join_candidates)

    @described_field("How many joined records the mash has.")
    async def row_count(self, info: Info) -> int | None:
        return (await self.details(info)).row_count

    @described_field("The data-quality summary.")
    async def quality_report(self, info: Info) -> QualityReport | None:
        return (await self.details(info)).quality_report

    @described_field(
        "The joined records, a page at a time: `first`/`after` forwards, `last`/`before` "
        "backwards. A cursor stays valid across pages; one this API did not make is "
        "INVALID_INPUT."
    )
    async def records(
        self,
        info: Info,
        first: Annotated[int | None, first_argument(MAX_RECORDS_PAGE, DEFAULT_RECORDS_PAGE)] = None,
        after: AfterArgument = None,
        last: Annotated[int | None, last_argument(MAX_RECORDS_PAGE)] = None,
        before: BeforeArgument = None,
    ) -> MashRecordConnection:
        request = PageRequest(
            first=first,
            after=after,
            last=last,
            before=before,
            default_size=DEFAULT_RECORDS_PAGE,
            max_size=MAX_RECORDS_PAGE,
        )
        mash_id = self.artifact.mash_id
        loaders = info.context.loaders

        async def read(offset: int, limit: int) -> Page[Mapping[str, object]]:
            page = await loaders.records_page(mash_id, offset=offset, limit=limit)
            return Page(offset=page.offset, items=page.records, total=page.total)

        try:
            page = await read_page(request, read)
        except services.ServiceError as exc:
            raise public_error(exc) from exc
        return MashRecordConnection(
            edges=[
                MashRecordEdge(cursor=page.cursor(index), node=JSON(dict(record)))
                for index, record in enumerate(page.items)
            ],
            page_info=PageInfo.of(page),
            total_count=page.total,
        )


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
    # A member of the derived `JoinMode`; the resolver maps it onto the service's by name.
    join: Enum = strawberry.field(
        graphql_type=JoinMode,
        default=JoinMode["LEFT"],
        description="Which rows become records: one per fact row (LEFT) or every row (FULL).",
    )


CREATE_DATA_MASH_RESULT = ResultUnion(
    "CreateDataMashResult",
    "The mash's execution, or why it was not started.",
    ExecutionAccepted,
    # Nothing is uploaded: UPLOAD_TOO_LARGE cannot happen here.
    without=(services.UploadTooLargeError, *CANCEL_ONLY),
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
        join=services.JoinMode[input.join.name],
        client_session=info.context.client_session,
        idempotency_key=idempotency_key,
        idempotency_header=info.context.idempotency_header,
    )
    return ExecutionAccepted(execution=Execution.from_status(status))
