"""One time format: RFC 3339 in UTC with `Z`, naive timestamps taken as UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from experience_plane.services.timestamps import parse_rfc3339, rfc3339


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2025, 1, 31, 12, 0, 0, 123456, tzinfo=UTC), "2025-01-31T12:00:00.123Z"),
        (datetime(2025, 1, 31, 12, 0, tzinfo=UTC), "2025-01-31T12:00:00.000Z"),
        (datetime(2025, 1, 31, 12, 0), "2025-01-31T12:00:00.000Z"),
        (
            datetime(2025, 1, 31, 14, 0, tzinfo=timezone(timedelta(hours=2))),
            "2025-01-31T12:00:00.000Z",
        ),
    ],
    ids=["utc", "whole-second", "naive", "offset"],
)
def test_every_instant_is_written_in_utc_with_z(value: datetime, text: str) -> None:
    assert rfc3339(value) == text


@pytest.mark.parametrize(
    "text",
    ["2025-01-31T12:00:00Z", "2025-01-31T12:00:00+00:00", "2025-01-31T13:00:00+01:00"],
)
def test_rfc3339_is_read_back_as_the_same_instant(text: str) -> None:
    assert parse_rfc3339(text) == datetime(2025, 1, 31, 12, tzinfo=UTC)


def test_a_time_without_offset_is_read_as_utc() -> None:
    assert parse_rfc3339("2025-01-31T12:00:00") == datetime(2025, 1, 31, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "  ", "yesterday", "2025-13-01T00:00:00Z"])
def test_anything_else_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339(text)
