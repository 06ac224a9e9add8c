"""The peer of `bench/query_overhead.py`: a default Strawberry app on FastAPI.

`strawberry.fastapi.GraphQLRouter` with its defaults at `/graphql`, one query,
`executionStatus(executionId)`, whose resolver does the floor's work: a bare aiohttp read of the
Runtime's status, answering the same fields. What a team gets from the documentation's example.

    BENCH_RUNTIME_URL=http://127.0.0.1:8001 BENCH_TENANT=t1 \
        uvicorn --app-dir bench strawberry_peer:create_app --factory --port 8011
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
import strawberry
from fastapi import FastAPI
from strawberry.fastapi import GraphQLRouter
from strawberry.types import Info


@strawberry.type
class Progress:
    phase: str | None
    percent: float | None


@strawberry.type
class Execution:
    id: strawberry.ID
    state: str
    raw_status: str
    is_terminal: bool
    progress: Progress | None
    updated_at: str | None


def create_app() -> FastAPI:
    """The peer app; the Runtime's URL comes from `BENCH_RUNTIME_URL`."""
    runtime_url = os.environ["BENCH_RUNTIME_URL"].rstrip("/")
    tenant = os.environ.get("BENCH_TENANT", "t1")
    sessions: list[aiohttp.ClientSession] = []

    @strawberry.type
    class Query:
        @strawberry.field
        async def execution_status(self, info: Info, execution_id: strawberry.ID) -> Execution:
            url = f"{runtime_url}/api/execution/{quote(execution_id, safe='')}/status"
            async with sessions[0].get(url, params={"tenant_id": tenant}) as response:
                response.raise_for_status()
                wire: dict[str, Any] = await response.json()
            progress = wire.get("progress")
            return Execution(
                id=strawberry.ID(wire["execution_id"]),
                state=wire["status"].upper(),
                raw_status=wire["status"],
                is_terminal=wire["status"] in ("completed", "failed", "cancelled"),
                progress=Progress(phase=progress.get("phase"), percent=progress.get("percent"))
                if progress
                else None,
                updated_at=wire.get("updated_at"),
            )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            sessions.append(session)
            yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(GraphQLRouter(strawberry.Schema(query=Query)), prefix="/graphql")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    return app
