"""Execution status: `GET /api/execution/{id}/status` and the `WS .../stream` push channel."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect

from reference_runtime.api.presenters import status_json
from reference_runtime.services import Services

router = APIRouter(prefix="/api/execution")
stream_router = APIRouter(prefix="/api/execution")

NOT_FOUND = "Execution not found"


@router.get("/{execution_id}/status")
async def execution_status(
    execution_id: str, services: Services, tenant_id: str = Query(min_length=1)
) -> dict[str, Any]:
    """The execution's status; another tenant's execution is as unknown as a missing one."""
    record = await asyncio.to_thread(services.store.get_execution, execution_id, tenant_id)
    if record is None:
        raise HTTPException(status_code=404, detail=NOT_FOUND)
    return status_json(record, services.mode)


@stream_router.websocket("/{execution_id}/stream")
async def execution_stream(websocket: WebSocket, execution_id: str, services: Services) -> None:
    """Push the status at each change, with keep-alive pings; close after a terminal status.

    An unknown or foreign execution is refused before the handshake completes (HTTP 403).
    The live faults reach an open stream too: `latency` delays every message (pings
    included), and `error_rate` is the chance, at each message, that the stream fails
    (closed with 1011), as a failing Runtime's would.
    """
    tenant_id = websocket.query_params.get("tenant_id") or ""
    # Subscribe before reading, so that no change between the read and the wait is missed.
    with services.hub.subscribe(execution_id) as changes:
        record = (
            await asyncio.to_thread(services.store.get_execution, execution_id, tenant_id)
            if tenant_id
            else None
        )
        if record is None:
            await websocket.close(code=1008, reason=NOT_FOUND)
            return
        await websocket.accept()
        interval = services.settings.stream_ping_interval
        controls = services.controls
        last_sent: dict[str, Any] | None = None

        async def send(message: dict[str, Any]) -> bool:
            """Send under the live faults; False when an injected error closed the stream."""
            if controls.latency > 0:
                await asyncio.sleep(controls.latency)
            if controls.error_rate > 0 and random.random() < controls.error_rate:  # noqa: S311
                await websocket.close(code=1011, reason="Injected fault")
                return False
            await websocket.send_json(message)
            return True

        try:
            while True:
                payload = status_json(record, services.mode)
                if payload != last_sent:
                    if not await send(payload):
                        return
                    last_sent = payload
                if record.is_terminal:
                    break
                try:
                    record = await asyncio.wait_for(changes.get(), timeout=interval)
                except TimeoutError:
                    if not await send({"type": "ping"}):
                        return
            await websocket.close(code=1000)
        except WebSocketDisconnect:
            return
