"""The `Artifact` interface every result of an execution implements."""

from __future__ import annotations

import strawberry

from experience_plane import services
from experience_plane.graphql.context import Info
from experience_plane.graphql.errors import public_error
from experience_plane.graphql.global_ids import Node
from experience_plane.services import presentation
from experience_plane.services.presentation import ArtifactT


@strawberry.interface(
    description="Something an execution produced: an uploaded file or a data mash."
)
class Artifact(Node):
    """Fields every artifact has: a global `id`; the own id is the type's `fileId` or
    `mashId`."""


async def complete_artifact(info: Info, artifact: ArtifactT) -> ArtifactT:
    """The complete artifact: the status's own, or the Runtime's full record of it.

    Details are read through the request's DataLoader, so one request reads each artifact once
    however often it is selected; a failure to read them is a top-level error.
    """
    try:
        return await presentation.complete_artifact(artifact, info.context.loaders.artifact)
    except services.ServiceError as exc:
        raise public_error(exc) from exc
