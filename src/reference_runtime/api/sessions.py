"""`POST /api/session/create` and `GET /api/session/{session_id}`."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from reference_runtime.services import Services
from reference_runtime.store import SessionRecord
from reference_runtime.timeutil import utc_now

router = APIRouter(prefix="/api/session")


class SessionCreate(BaseModel):
    """The body of a session create request."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: str = Field(min_length=1)
    user_id: str
    session_id: str | None = None
    execution_contract: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


def _session_json(record: SessionRecord) -> dict[str, Any]:
    return {
        "session_id": record.session_id,
        "tenant_id": record.tenant_id,
        "user_id": record.user_id,
        "created_at": record.created_at,
        "metadata": record.metadata,
    }


@router.post("/create")
async def create_session(body: SessionCreate, services: Services) -> dict[str, Any]:
    """Create a session; the execution contract must name the action and the session."""
    contract = body.execution_contract
    contract_session = contract.get("session_id")
    if (
        contract.get("action") != "create_session"
        or not isinstance(contract_session, str)
        or not contract_session
        or (body.session_id is not None and body.session_id != contract_session)
    ):
        raise HTTPException(
            status_code=403,
            detail=(
                "execution_contract must contain action 'create_session' and the session_id "
                "being created"
            ),
        )
    record = SessionRecord(
        session_id=contract_session,
        tenant_id=body.tenant_id,
        user_id=body.user_id,
        metadata=body.metadata,
        created_at=utc_now(),
    )
    stored = await asyncio.to_thread(services.store.create_session, record)
    return _session_json(stored)


@router.get("/{session_id}")
async def get_session(
    session_id: str, services: Services, tenant_id: str = Query(min_length=1)
) -> dict[str, Any]:
    """The tenant's session, or 404."""
    record = await asyncio.to_thread(services.store.get_session, tenant_id, session_id)
    if record is None:
        raise HTTPException(status_code=404, detail="Session not found")
    return _session_json(record)
