"""Global object identification (the Relay specification): the `Node` interface and its ids.

A node's `id` is opaque to clients: the base64 of `<type name>:<own id>`, e.g. of
`Execution:exec_0123`, so one id names one object of one type across the schema and
`node(id:)` knows which type to read. The own id stays available as `executionId`, `fileId`
or `mashId`. A plain interface rather than `strawberry.relay`: its `node` field answers a
malformed id with a masked error, and this one must be INVALID_INPUT.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal, get_args

import strawberry

from experience_plane import services

NodeType = Literal["Execution", "ContentFile", "DataMash"]
_NODE_TYPES: dict[str, NodeType] = {name: name for name in get_args(NodeType)}


@strawberry.interface(
    description=(
        "An object with a global id: refetch it with `node(id:)` (the Relay specification)."
    )
)
class Node:
    """Fields every refetchable object has."""

    id: strawberry.ID = strawberry.field(
        description=(
            "The object's global id: opaque, unique across types, for `node(id:)` and client "
            "caches. Not the id other arguments take (`executionId`, `fileId`, `mashId`)."
        )
    )


def global_id(type_name: NodeType, own_id: str) -> strawberry.ID:
    """The global id of the object of type `type_name` whose own id is `own_id`."""
    return strawberry.ID(base64.b64encode(f"{type_name}:{own_id}".encode()).decode("ascii"))


def parse_global_id(value: str) -> tuple[NodeType, str]:
    """(type name, own id) of a global id this schema made; `InvalidInputError` otherwise."""
    try:
        text = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    name, _, own_id = text.partition(":")
    type_name = _NODE_TYPES.get(name)
    if type_name is None or not own_id:
        raise services.InvalidInputError(f"{value!r} is not a valid global id.", field="id")
    return type_name, own_id


def own_execution_id(value: str) -> str:
    """The execution id an `executionId` argument stands for: the id itself or, equally, the
    execution's global `id` (which a client holding an `Execution` object is likely to pass)."""
    try:
        type_name, own_id = parse_global_id(value)
    except services.InvalidInputError:
        return value
    return own_id if type_name == "Execution" else value
