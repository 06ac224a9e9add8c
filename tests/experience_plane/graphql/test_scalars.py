"""The schema's `DateTime`: written as REST writes timestamps, read from any RFC 3339 text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from graphql import GraphQLError
from pydantic import TypeAdapter

from experience_plane.graphql.scalars import DATE_TIME
from experience_plane.graphql.schema import build_schema
from experience_plane.rest.models import Timestamp


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 1, 31, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(2025, 1, 31, 12, 0),
        datetime(2025, 1, 31, 14, 0, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_graphql_and_rest_write_the_same_text(value: datetime) -> None:
    rest = TypeAdapter(Timestamp).dump_python(value, mode="json")
    assert DATE_TIME.serialize(value) == rest
    assert rest.endswith("Z")


def test_the_schema_uses_it() -> None:
    schema = build_schema()
    printed = schema.as_str()
    assert 'scalar DateTime @specifiedBy(url: "https://datatracker.ietf.org/doc/html/rfc3339")' in (
        printed
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31T12:00:00Z", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("2025-01-31T13:00:00+01:00", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("2025-01-31T12:00:00", datetime(2025, 1, 31, 12, tzinfo=UTC)),
    ],
)
def test_input_is_any_rfc3339_read_as_utc(text: str, expected: datetime) -> None:
    assert DATE_TIME.parse_value is not None
    parsed = DATE_TIME.parse_value(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("value", ["yesterday", "", 17, None])
def test_other_input_is_a_graphql_input_error(value: object) -> None:
    assert DATE_TIME.parse_value is not None
    with pytest.raises(GraphQLError, match="DateTime cannot represent"):
        DATE_TIME.parse_value(value)
