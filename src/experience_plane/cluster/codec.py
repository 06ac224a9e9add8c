"""How execution snapshots travel through Redis: JSON, the same in every replica."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Final

from pydantic import TypeAdapter

from experience_plane.executions import Snapshot, StaleCause
from experience_plane.runtime import ExecutionStatus

__all__ = ["MISSING", "decode_snapshot", "decode_status", "encode_snapshot", "encode_status"]

_STATUS: Final = TypeAdapter(ExecutionStatus)

MISSING: Final = "missing"
"""The payload a watcher publishes when the Runtime knows no such execution (for this tenant)."""


def encode_status(status: ExecutionStatus) -> str:
    """An execution status as JSON text."""
    return _STATUS.dump_json(status).decode()


def decode_status(text: str | bytes) -> ExecutionStatus:
    """The status `encode_status` wrote (raises `pydantic.ValidationError` for anything else)."""
    return _STATUS.validate_json(text)


def encode_snapshot(snapshot: Snapshot) -> str:
    """A snapshot (status and staleness) as JSON text."""
    return json.dumps(
        {
            "status": json.loads(encode_status(snapshot.status)),
            "stale": snapshot.stale,
            "stale_cause": snapshot.stale_cause.value if snapshot.stale_cause else None,
            "stale_since": snapshot.stale_since.isoformat() if snapshot.stale_since else None,
        },
        separators=(",", ":"),
    )


def decode_snapshot(text: str) -> Snapshot:
    """The snapshot `encode_snapshot` wrote (a cause this replica does not know, as a replica
    of another version may write, reads as the Runtime being unavailable)."""
    data = json.loads(text)
    since = data.get("stale_since")
    stale = bool(data.get("stale"))
    cause: StaleCause | None = None
    if stale:
        try:
            cause = StaleCause(data.get("stale_cause"))
        except ValueError:
            cause = StaleCause.UNAVAILABLE
    return Snapshot(
        status=_STATUS.validate_python(data["status"]),
        stale=stale,
        stale_cause=cause,
        stale_since=datetime.fromisoformat(since) if since else None,
    )
