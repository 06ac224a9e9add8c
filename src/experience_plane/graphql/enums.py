"""GraphQL enums derived from the domain's, so each concept has one definition.

The service's enums (`runtime.ExecutionState`, `services.ConfidenceLevel`) are the definitions;
the schema gets a derived enum with the same member names and a description for each. Its
members' values are the domain members: a resolver returns a domain member as it is, and an
argument turns back into one by name (`services.ConfidenceLevel[argument.name]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar, cast

import strawberry

D = TypeVar("D", bound=Enum)


def schema_enum(domain: type[D], *, description: str, values: Mapping[D, str]) -> type[Enum]:
    """The GraphQL enum of `domain`, named like it; `values` describes every member.

    A member without a description (one added to the domain enum and not to the schema) raises
    `ValueError` at import, not a silently undocumented schema.
    """
    undescribed = [member.name for member in domain if member not in values]
    if undescribed:
        raise ValueError(f"{domain.__name__}: no description for {', '.join(undescribed)}")
    members = [
        (member.name, strawberry.enum_value(member, description=values[member]))
        for member in domain
    ]
    # The functional API builds a class; mypy reads a call with computed members as a lookup.
    derived = cast(type[Enum], Enum(domain.__name__, members))
    return strawberry.enum(derived, description=description)
