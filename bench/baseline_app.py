"""The baseline of `bench/query_overhead.py`: a plain FastAPI app doing the same Runtime call.

One route, `POST /status`, reads an execution's status through the same `RuntimeClient` (same
default transport, same pool) that the Experience Plane uses, and answers the fields the
benchmark's GraphQL query selects, as JSON. No GraphQL, no authentication, no middleware: what is
left is the floor that a gateway over the Runtime cannot go below on this machine.

    BENCH_RUNTIME_URL=http://127.0.0.1:8001 uvicorn --app-dir bench baseline_app:create_app \
        --factory --port 8010
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel

from experience_plane.runtime import RuntimeClient


class StatusRequest(BaseModel):
    """Which execution to read, for which tenant."""

    tenant_id: str
    execution_id: str


def create_app() -> FastAPI:
    """The baseline app; the Runtime's URL comes from `BENCH_RUNTIME_URL`."""
    runtime_url = os.environ["BENCH_RUNTIME_URL"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with RuntimeClient(runtime_url) as client:
            app.state.client = client
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.post("/status")
    async def status(body: StatusRequest, request: Request) -> dict[str, Any]:
        client: RuntimeClient = request.app.state.client
        found = await client.get_execution(body.tenant_id, body.execution_id)
        progress = found.progress
        return {
            "id": found.execution_id,
            "state": found.state.value.upper(),
            "rawStatus": found.raw_status,
            "isTerminal": found.state.is_terminal,
            "progress": {"phase": progress.phase, "percent": progress.percent}
            if progress
            else None,
            "updatedAt": found.updated_at.isoformat() if found.updated_at else None,
        }

    return app
