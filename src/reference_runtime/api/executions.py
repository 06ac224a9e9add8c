"""Executions: `GET /api/execution/{id}/status`; and, in asynchronous mode only (the platform's
current Runtime has none of them), the `WS .../stream` push channel, `POST .../cancel` and the
list, `GET /api/executions`."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
from typing import Any

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect

from reference_runtime.api.presenters import status_json
from reference_runtime.services import Services
from reference_runtime.store import ListPosition

router = APIRouter(prefix="/api/execution")
stream_router = APIRouter(prefix="/api/execution")
cancel_router = APIRouter(prefix="/api/execution")
list_router = APIRouter(prefix="/api/executions")

NOT_FOUND = "Execution not found"
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 200
INVALID_CURSOR = "Invalid cursor: pass a next_cursor this endpoint returned"


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


@cancel_router.post("/{execution_id}/cancel")
async def cancel_execution(
    execution_id: str, services: Services, tenant_id: str = Query(min_length=1)
) -> dict[str, Any]:
    """Stop a running execution at its next safe point and answer its status: `cancelled`, or
    still running when the work has not reached a safe point in time. 409 when it has finished
    (before the cancellation, or because its work was already past its last safe point); 404
    for an unknown id or another tenant's execution."""
    record = await asyncio.to_thread(services.store.get_execution, execution_id, tenant_id)
    if record is None:
        raise HTTPException(status_code=404, detail=NOT_FOUND)
    if not record.is_terminal:
        record = await services.executor.cancel(record)
        if record.status == "cancelled":
            return status_json(record, services.mode)
    if record.is_terminal:
        raise HTTPException(status_code=409, detail=f"Execution already finished: {record.status}")
    return status_json(record, services.mode)


def _encode_cursor(position: ListPosition) -> str:
    raw = json.dumps([position.created_at, position.seq], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> ListPosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, seq = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise HTTPException(status_code=422, detail=INVALID_CURSOR) from exc
    if not isinstance(created_at, str) or isinstance(seq, bool) or not isinstance(seq, int):
        raise HTTPException(status_code=422, detail=INVALID_CURSOR)
    return ListPosition(created_at, seq)


@list_router.get("")
async def list_executions(
    services: Services,
    tenant_id: str = Query(min_length=1),
    user_id: str | None = Query(default=None, min_length=1),
    limit: int = Query(default=DEFAULT_LIST_LIMIT, ge=1, le=MAX_LIST_LIMIT),
    cursor: str | None = Query(default=None, min_length=1),
) -> dict[str, Any]:
    """The tenant's executions (one user's with `user_id`), newest first, `limit` at a time:
    each status record with its `user_id`; `next_cursor` continues after the last (null at
    the end). The cursor is a position, so executions created meanwhile never shift a page."""
    older_than = _decode_cursor(cursor) if cursor is not None else None
    # One more than asked: whether there is a next page, without a second read.
    rows = await asyncio.to_thread(
        services.store.list_executions,
        tenant_id,
        user_id=user_id,
        limit=limit + 1,
        older_than=older_than,
    )
    page = rows[:limit]
    return {
        "executions": [
            {**status_json(record, services.mode), "user_id": record.user_id} for _, record in page
        ],
        "next_cursor": _encode_cursor(page[-1][0]) if len(rows) > limit else None,
    }
