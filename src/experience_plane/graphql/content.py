"""Content: uploaded files, what the Runtime learned about them, and the upload mutation."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from experience_plane import runtime, services
from experience_plane.graphql.artifacts import Artifact, complete_artifact
from experience_plane.graphql.context import Info
from experience_plane.graphql.errors import (
    CANCEL_ONLY,
    Error,
    IdempotencyKeyArgument,
    ResultUnion,
)
from experience_plane.graphql.executions import Execution, ExecutionAccepted
from experience_plane.graphql.fields import described_field
from experience_plane.graphql.global_ids import global_id
from experience_plane.graphql.objects import schema_type
from experience_plane.runtime import FileArtifact

if TYPE_CHECKING:
    # To mypy the derived type is the domain class whose values its resolver returns.
    from experience_plane.runtime import ColumnProfile
else:
    ColumnProfile = schema_type(
        runtime.ColumnProfile,
        descriptions={
            "name": "The column's name as it appears in the file.",
            "null_count": "How many values are empty.",
            "distinct_count": "How many values are distinct.",
        },
    )


@strawberry.type(description="An uploaded file and what the Runtime learned about it.")
class ContentFile(Artifact):
    """Details missing from a reduced status artifact are fetched once per request."""

    file_id: strawberry.ID = strawberry.field(
        description="The file's id: pass it in `contentRefs` to mash it."
    )
    artifact: strawberry.Private[FileArtifact]

    @classmethod
    def from_artifact(cls, artifact: FileArtifact) -> ContentFile:
        """The schema object for a file artifact of an execution status."""
        return cls(
            id=global_id("ContentFile", artifact.file_id),
            file_id=strawberry.ID(artifact.file_id),
            artifact=artifact,
        )

    async def details(self, info: Info) -> FileArtifact:
        """The complete artifact: the status's own, or the Runtime's full record of it."""
        return await complete_artifact(info, self.artifact)

    @described_field("The file's name.")
    async def name(self, info: Info) -> str | None:
        return (await self.details(info)).filename

    @described_field("The file's media type.")
    async def mime_type(self, info: Info) -> str | None:
        return (await self.details(info)).mime_type

    @described_field("The file's size in bytes.")
    async def size(self, info: Info) -> int | None:
        return (await self.details(info)).size

    @described_field("The SHA-256 of the file's bytes, hex encoded.")
    async def sha256(self, info: Info) -> str | None:
        return (await self.details(info)).sha256

    @described_field("The detected format: csv, json, ndjson, text, binary, ...")
    async def format(self, info: Info) -> str | None:
        return (await self.details(info)).format

    @described_field("The columns of a tabular file; null when it is not tabular.")
    async def columns(self, info: Info) -> list[ColumnProfile] | None:
        columns = (await self.details(info)).columns
        return None if columns is None else list(columns)

    @described_field("How many data rows a tabular file has.")
    async def row_count(self, info: Info) -> int | None:
        return (await self.details(info)).row_count

    @described_field("When the Runtime stored the file; null when it does not say.")
    async def created_at(self, info: Info) -> datetime | None:
        return (await self.details(info)).created_at


UPLOAD_CONTENT_RESULT = ResultUnion(
    "UploadContentResult",
    "The upload's execution, or why it was not started.",
    ExecutionAccepted,
    without=CANCEL_ONLY,
)
if TYPE_CHECKING:
    UploadContentResult: TypeAlias = ExecutionAccepted | Error
else:
    UploadContentResult = UPLOAD_CONTENT_RESULT.annotation


@UPLOAD_CONTENT_RESULT.resolves
async def upload_content(
    info: Info,
    file: Annotated[
        Upload,
        strawberry.argument(description="The file, sent per the GraphQL multipart request spec."),
    ],
    filename: Annotated[
        str | None,
        strawberry.argument(description="The name to store; defaults to the uploaded name."),
    ] = None,
    mime_type: Annotated[
        str | None,
        strawberry.argument(description="The media type; defaults to the uploaded or guessed one."),
    ] = None,
    idempotency_key: IdempotencyKeyArgument = None,
) -> UploadContentResult:
    """Stream the file to the Runtime and return its execution at once."""
    if not isinstance(file, UploadFile):
        raise services.InvalidInputError("`file` must be a multipart upload.", field="file")
    status = await info.context.services.content.upload(
        info.context.principal,
        file,
        filename=filename or file.filename,
        mime_type=mime_type,
        sent_mime_type=file.content_type,
        size=file.size,
        client_session=info.context.client_session,
        idempotency_key=idempotency_key,
        idempotency_header=info.context.idempotency_header,
    )
    return ExecutionAccepted(execution=Execution.from_status(status))
