"""`GET /api/artifacts/{artifact_id}`: a file's or a data mash's full details."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from reference_runtime.services import Services

router = APIRouter(prefix="/api/artifacts")


@router.get("/{artifact_id}")
async def get_artifact(
    artifact_id: str,
    services: Services,
    tenant_id: str = Query(min_length=1),
    records_offset: int | None = Query(default=None, ge=0),
    records_limit: int | None = Query(default=None, ge=0),
) -> dict[str, Any]:
    """The artifact, with a data mash's joined records (a page of them when asked)."""
    record = await asyncio.to_thread(services.store.get_artifact, artifact_id, tenant_id)
    if record is None:
        raise HTTPException(status_code=404, detail="Artifact not found")
    body: dict[str, Any] = {
        "id": record.artifact_id,
        "artifact_type": record.artifact_type,
        "name": record.name,
        "type": record.mime_type,
        "size": record.size,
        "hash": record.hash,
        "created_at": record.created_at,
        "semantic_payload": record.payload,
    }
    if record.artifact_type == "data_mash":
        raw = await asyncio.to_thread(services.blobs.get, record.hash)
        records: list[dict[str, Any]] = json.loads(raw)
        start = records_offset or 0
        end = None if records_limit is None else start + records_limit
        body["records"] = records[start:end]
        body["records_total"] = len(records)
    return body
