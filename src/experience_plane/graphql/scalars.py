"""The schema's own definitions of standard Python types, given to the schema's `scalar_map`.

`DateTime` is RFC 3339 in UTC with `Z`, written by `services.timestamps` exactly as REST writes
its timestamps (Strawberry's own scalar writes Python's `isoformat()`, `+00:00`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import strawberry
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

from experience_plane.services.timestamps import parse_rfc3339, rfc3339


def _serialize(value: object) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"DateTime cannot represent {value!r}")
    return rfc3339(value)


def _parse(value: object) -> datetime:
    # A GraphQL error, not a ValueError: it reaches the client as the input error it is.
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(
            f"DateTime cannot represent {value!r}: expected an RFC 3339 string."
        )
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise StrawberryInputCoercionError(f"DateTime cannot represent {value!r}: {exc}.") from None


DATE_TIME = strawberry.scalar(
    name="DateTime",
    description=(
        "An instant, as RFC 3339 text in UTC ending in `Z`, e.g. `2025-01-31T12:00:00.123Z`. "
        "As input, any RFC 3339 offset is accepted, and none means UTC."
    ),
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
    serialize=_serialize,
    parse_value=_parse,
)

SCALAR_MAP: Mapping[object, ScalarDefinition] = {datetime: DATE_TIME}
"""What `StrawberryConfig(scalar_map=...)` takes."""
