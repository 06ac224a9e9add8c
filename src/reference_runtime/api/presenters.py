"""How executions look on the wire, in full (asynchronous mode) or sparse (platform mode)."""

from __future__ import annotations

from typing import Any

from reference_runtime.settings import RuntimeMode
from reference_runtime.store import ExecutionRecord


def status_json(record: ExecutionRecord, mode: RuntimeMode) -> dict[str, Any]:
    """The status record of an execution."""
    if mode is RuntimeMode.PLATFORM:
        # The platform's current Runtime leaves these empty; clients must cope, so we do too.
        return {
            "execution_id": record.execution_id,
            "status": record.status,
            "intent_id": "",
            "artifacts": record.artifacts,
            "events": None,
            "error": record.error,
            "created_at": "",
        }
    return {
        "execution_id": record.execution_id,
        "status": record.status,
        "intent_id": record.intent_id,
        "intent_type": record.intent_type,
        "artifacts": record.artifacts,
        "events": record.events,
        "error": record.error,
        "progress": {"phase": record.phase, "percent": record.percent},
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def submit_json(record: ExecutionRecord, mode: RuntimeMode) -> dict[str, Any]:
    """The answer to a submit."""
    if mode is RuntimeMode.PLATFORM:
        return {
            "execution_id": record.execution_id,
            "intent_id": "",
            "status": record.status,
            "created_at": "",
        }
    return {
        "execution_id": record.execution_id,
        "intent_id": record.intent_id,
        "status": "accepted",
        "created_at": record.created_at,
    }
