"""`GET /api/artifacts/{artifact_id}`: a file's or a data mash's full details.
A data mash's records are read a page at a time from their indexed file (`record_files`), so a
page costs the same whatever the mash's size. In platform mode a file answers the platform's file
record instead (the contract's Compatibility 7).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from starlette.responses import Response

from reference_runtime.record_files import read_lines
from reference_runtime.services import Services
from reference_runtime.settings import RuntimeMode
from reference_runtime.store import ArtifactRecord

router = APIRouter(prefix="/api/artifacts")

# The file artifact's payload keys that the platform's record keeps under `metadata`.
_PLATFORM_METADATA = ("format", "tabular", "columns", "row_count")


@router.get("/{artifact_id}")
async def get_artifact(
    artifact_id: str,
    services: Services,
    tenant_id: str = Query(min_length=1),
    records_offset: int | None = Query(default=None, ge=0),
    records_limit: int | None = Query(default=None, ge=0),
) -> Any:
    """The artifact, with a data mash's joined records (a page of them when asked)."""
    record = await asyncio.to_thread(services.store.get_artifact, artifact_id, tenant_id)
    if record is None:
        raise HTTPException(status_code=404, detail="Artifact not found")
    if record.artifact_type == "file" and services.mode is RuntimeMode.PLATFORM:
        return platform_file_record(record)
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
    if record.artifact_type != "data_mash":
        return body
    lines, total = await asyncio.to_thread(
        read_lines, services.blobs, record.hash, records_offset or 0, records_limit
    )
    # The stored lines are JSON objects already: spliced in, not decoded and encoded again.
    head = json.dumps(body, separators=(",", ":"))[:-1].encode()
    content = b"".join(
        (head, b',"records":[', b",".join(lines), b'],"records_total":', b"%d}" % total)
    )
    return Response(content, media_type="application/json")


def platform_file_record(record: ArtifactRecord) -> dict[str, Any]:
    """An uploaded file as the platform's Runtime describes it: its file record, with the
    profile among the `metadata` and the sha256 as `file_hash`."""
    payload = record.payload
    metadata: dict[str, Any] = {"file_hash": record.hash}
    metadata.update({key: payload[key] for key in _PLATFORM_METADATA if key in payload})
    return {
        "artifact_id": record.artifact_id,
        "artifact_type": "file",
        "tenant_id": record.tenant_id,
        "file_id": record.artifact_id,
        "file_path": f"blobs/{record.hash[:2]}/{record.hash[2:4]}/{record.hash}",
        "file_reference": f"sha256:{record.hash}",
        "file_name": record.name,
        "file_type": payload.get("file_type"),
        "mime_type": record.mime_type,
        "file_size": record.size,
        "metadata": metadata,
        "created_at": record.created_at,
        "updated_at": record.created_at,
    }
