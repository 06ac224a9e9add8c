"""The `Artifact` interface every result of an execution implements."""

from __future__ import annotations

from typing import TypeVar

import strawberry

from experience_plane import services
from experience_plane.graphql.context import Info
from experience_plane.graphql.errors import public_error
from experience_plane.runtime import DataMashArtifact, FileArtifact

ArtifactT = TypeVar("ArtifactT", FileArtifact, DataMashArtifact)


@strawberry.interface(
    description="Something an execution produced: an uploaded file or a data mash."
)
class Artifact:
    """Fields every artifact has."""

    id: strawberry.ID = strawberry.field(
        description="The artifact's id (a file id or a mash id), usable as a content ref."
    )


async def complete_artifact(info: Info, artifact: ArtifactT, artifact_id: str) -> ArtifactT:
    """The complete artifact: the status's own, or the Runtime's full record of it.

    A reduced status artifact (the platform's Runtime) carries only ids; its details are read
    through the request's DataLoader, so one request reads each artifact once however often it
    is selected.
    """
    if artifact.complete:
        return artifact
    try:
        loaded = await info.context.loaders.artifact(artifact_id)
    except services.ServiceError as exc:
        raise public_error(exc) from exc
    return loaded if isinstance(loaded, type(artifact)) else artifact
