"""The `Artifact` interface every result of an execution implements."""

from __future__ import annotations

import strawberry


@strawberry.interface(
    description="Something an execution produced: an uploaded file or a data mash."
)
class Artifact:
    """Fields every artifact has."""

    id: strawberry.ID = strawberry.field(
        description="The artifact's id (a file id or a mash id), usable as a content ref."
    )
