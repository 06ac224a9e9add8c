"""The one time format of both surfaces: RFC 3339 in UTC, written with `Z`.

GraphQL's `DateTime` scalar and REST's timestamp fields both serialize through `rfc3339`, so a
client reads the same text for the same instant whichever surface it uses. A timestamp without
an offset is taken as UTC (the platform's Runtime drops it; its clocks run on UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "parse_rfc3339", "rfc3339"]


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """`value` as RFC 3339 text in UTC with milliseconds, e.g. `2025-01-31T12:00:00.123Z`.

    Always the same shape (milliseconds, as the Runtime keeps time and JavaScript's `Date`
    reads it), so timestamps sort as text too.
    """
    return as_utc(value).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def parse_rfc3339(text: str) -> datetime:
    """The instant an RFC 3339 text stands for, in UTC; `ValueError` for anything else.

    A date alone or a time without an offset is accepted as UTC; a blank text is no instant.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected an RFC 3339 date-time, got {text!r}")
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected an RFC 3339 date-time, got {text!r}") from None
    return as_utc(parsed)
