"""Assembly of the reference Runtime: `create_app(settings)` and its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from reference_runtime.api import artifacts, control, executions, health, intents, sessions
from reference_runtime.blobs import BlobStore
from reference_runtime.executor import Executor, StatusHub
from reference_runtime.faults import (
    FaultInjectionMiddleware,
    LiveControls,
    RouteTable,
    RuntimeStats,
)
from reference_runtime.services import RuntimeServices
from reference_runtime.settings import RuntimeMode, RuntimeSettings
from reference_runtime.store import Store

logger = logging.getLogger(__name__)

DATABASE_NAME = "runtime.sqlite3"
BLOBS_DIR = "blobs"


def create_app(settings: RuntimeSettings | None = None) -> FastAPI:
    """Build the Runtime app; the store is opened (and interrupted work failed) at startup."""
    settings = settings or RuntimeSettings()
    controls = LiveControls.from_settings(settings)
    stats = RuntimeStats()
    hub = StatusHub()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.data_dir / DATABASE_NAME)
        blobs = BlobStore(settings.data_dir / BLOBS_DIR)
        executor = Executor(
            store=store, blobs=blobs, controls=controls, hub=hub, mode=settings.mode
        )
        interrupted = await executor.recover()
        if interrupted:
            logger.warning("marked %d interrupted execution(s) as failed", interrupted)
        app.state.services = RuntimeServices(
            settings=settings,
            store=store,
            blobs=blobs,
            executor=executor,
            hub=hub,
            controls=controls,
            stats=stats,
        )
        try:
            yield
        finally:
            await executor.shutdown()
            store.close()

    app = FastAPI(
        title="Reference Runtime",
        summary="A real, self-contained implementation of the Runtime contract.",
        lifespan=lifespan,
    )
    routers = [health.router, sessions.router, intents.router, executions.router]
    if settings.mode is RuntimeMode.ASYNC:
        # The platform's current Runtime has no stream, no cancel and no list: clients there
        # must poll, and keep their own list of the executions they started.
        routers += [executions.stream_router, executions.cancel_router, executions.list_router]
    routers.append(artifacts.router)
    if settings.control_enabled:
        routers.append(control.router)
    for router in routers:
        app.include_router(router)
    routes = RouteTable(route for router in routers for route in router.routes)
    app.add_middleware(FaultInjectionMiddleware, routes=routes, controls=controls, stats=stats)
    return app
