"""Timestamps as the Runtime writes them: ISO-8601, UTC, with the offset."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    """The current time, e.g. `2025-01-31T12:00:00.123+00:00`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
