"""The application factory: `create_app(settings)` assembles everything; nothing at import time.

Run it with `experience-plane serve` (uvicorn with `factory=True`), or
`uvicorn --factory experience_plane.app:create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request

from experience_plane.context import get_services
from experience_plane.executions import ExecutionTracker
from experience_plane.graphql.context import get_graphql_context
from experience_plane.graphql.http import GraphQLHTTPRouter
from experience_plane.graphql.schema import build_schema
from experience_plane.runtime import RuntimeClient, RuntimeFlavour
from experience_plane.services import Services
from experience_plane.settings import Settings

GRAPHQL_PATH = "/graphql"


class State(TypedDict):
    """What the lifespan puts on every request's state (read it with `get_services`)."""

    services: Services


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Experience Plane application; settings default to the environment's."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with (
            RuntimeClient(
                settings.runtime_url,
                flavour=RuntimeFlavour(settings.runtime_flavour.value),
                timeout=settings.runtime_timeout,
                solution_id=settings.solution_id,
            ) as client,
            ExecutionTracker(
                client,
                poll_interval_min=settings.poll_interval_min,
                poll_interval_max=settings.poll_interval_max,
                use_stream=settings.use_runtime_stream,
            ) as tracker,
        ):
            yield {"services": Services.build(settings, client, tracker)}

    app = FastAPI(
        title="Experience Plane",
        description="GraphQL (and, later, REST) experience API over the platform's Runtime.",
        lifespan=lifespan,
    )

    schema = build_schema(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_tokens=settings.max_query_tokens,
        cache_size=settings.query_cache_size,
    )
    graphql = GraphQLHTTPRouter(
        schema,
        path=GRAPHQL_PATH,
        context_getter=get_graphql_context,
        graphql_ide="graphiql" if settings.graphiql else None,
        multipart_uploads_enabled=True,
        # Legacy graphql-ws clients get `ka` messages so idle proxies keep the socket open.
        keep_alive=True,
        keep_alive_interval=15,
        max_body_bytes=settings.max_upload_bytes,
    )
    app.include_router(graphql)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: the Runtime answers its health check.")
    async def readyz(request: Request) -> JSONResponse:
        services = get_services(request)
        if await services.client.health():
            return JSONResponse({"status": "ready"})
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": f"Runtime at {settings.runtime_url} is not healthy",
            },
            status_code=503,
        )

    return app
