"""`node(id:)` and `nodes(ids:)`: refetching any object by its global id (the Relay specification).

Each id is read through the request's loaders, so the ids of one request are read together and
each once. An id of another tenant's object is null exactly like a missing one (the Runtime
answers both alike); an id this API did not make is an INVALID_INPUT error at its place.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, cast

import strawberry
from graphql import GraphQLError

from experience_plane import runtime, services
from experience_plane.graphql.content import ContentFile
from experience_plane.graphql.context import Info
from experience_plane.graphql.data_mash import DataMash
from experience_plane.graphql.errors import public_error
from experience_plane.graphql.executions import Execution
from experience_plane.graphql.global_ids import Node, parse_global_id

MAX_NODES = 100
"""The most ids one `nodes` field may ask for."""


async def _load(info: Info, value: str) -> Node | None:
    type_name, own_id = parse_global_id(value)
    loaders = info.context.loaders
    if type_name == "Execution":
        snapshot = await loaders.execution(own_id)
        return None if snapshot is None else Execution.from_snapshot(snapshot)
    try:
        artifact = await loaders.artifact(own_id)
    except services.NotFoundError:
        return None
    # An id of one type that names an object of another is no object of that type.
    if type_name == "ContentFile" and isinstance(artifact, runtime.FileArtifact):
        return ContentFile.from_artifact(artifact)
    if type_name == "DataMash" and isinstance(artifact, runtime.DataMashArtifact):
        return DataMash.from_artifact(artifact)
    return None


async def _node_or_error(info: Info, value: str) -> Node | GraphQLError | None:
    try:
        return await _load(info, value)
    except services.ServiceError as exc:
        # Returned, not raised: graphql-core reports an error item at its own index.
        return public_error(exc)


async def node(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="The object's global `id`.")],
) -> Node | None:
    """The object whose global id is `id`; null when your tenant has no such object."""
    result = await _node_or_error(info, str(id))
    if isinstance(result, GraphQLError):
        raise result
    return result


async def nodes(
    info: Info,
    ids: Annotated[
        list[strawberry.ID],
        strawberry.argument(description=f"Global ids, at most {MAX_NODES}."),
    ],
) -> list[Node | None]:
    """The objects of `ids`, in their order; null for each your tenant has no such object."""
    if len(ids) > MAX_NODES:
        raise public_error(
            services.InvalidInputError(
                f"At most {MAX_NODES} ids can be read at once, got {len(ids)}.", field="ids"
            )
        )
    found = await asyncio.gather(*(_node_or_error(info, str(value)) for value in ids))
    # graphql-core completes an Exception in a list as that item's error (null, with its path).
    return cast("list[Node | None]", found)
