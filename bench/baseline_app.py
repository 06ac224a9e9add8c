"""The floor of `bench/query_overhead.py`: plain FastAPI routes doing the same Runtime status read.

`GET /status/{execution_id}` reads the execution's status from the Runtime with a bare aiohttp
session (one `ClientSession`, its default pool; no retries, no circuit breaker, no model) and
answers the fields the benchmark's GraphQL query selects, as JSON: the least a gateway over the
Runtime can do per request on this machine. `GET /client/{execution_id}` makes the same read
through the Experience Plane's own `RuntimeClient`, for a second row. No GraphQL, no
authentication, no middleware. The tenant is `BENCH_TENANT`.

    BENCH_RUNTIME_URL=http://127.0.0.1:8001 BENCH_TENANT=t1 \
        uvicorn --app-dir bench baseline_app:create_app --factory --port 8010
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
from fastapi import FastAPI, HTTPException, Request

from experience_plane.runtime import RuntimeClient


def fields_of_wire(wire: dict[str, Any]) -> dict[str, Any]:
    """The fields the benchmark's query selects, from the Runtime's status JSON."""
    progress = wire.get("progress")
    return {
        "id": wire["execution_id"],
        "state": wire["status"].upper(),
        "rawStatus": wire["status"],
        "isTerminal": wire["status"] in ("completed", "failed", "cancelled"),
        "progress": {"phase": progress.get("phase"), "percent": progress.get("percent")}
        if progress
        else None,
        "updatedAt": wire.get("updated_at"),
    }


def create_app() -> FastAPI:
    """The floor app; the Runtime's URL comes from `BENCH_RUNTIME_URL`."""
    runtime_url = os.environ["BENCH_RUNTIME_URL"].rstrip("/")
    tenant = os.environ.get("BENCH_TENANT", "t1")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session, RuntimeClient(runtime_url) as client:
            app.state.session = session
            app.state.client = client
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/status/{execution_id}")
    async def status(execution_id: str, request: Request) -> dict[str, Any]:
        session: aiohttp.ClientSession = request.app.state.session
        url = f"{runtime_url}/api/execution/{quote(execution_id, safe='')}/status"
        async with session.get(url, params={"tenant_id": tenant}) as response:
            if response.status != 200:
                raise HTTPException(response.status, await response.text())
            wire: dict[str, Any] = await response.json()
        return fields_of_wire(wire)

    @app.get("/client/{execution_id}")
    async def client_status(execution_id: str, request: Request) -> dict[str, Any]:
        client: RuntimeClient = request.app.state.client
        found = await client.get_execution(tenant, execution_id)
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
