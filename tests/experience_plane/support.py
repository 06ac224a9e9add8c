"""Running the app in process: its lifespan, and an httpx client over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from experience_plane.app import create_app
from experience_plane.services import Services
from experience_plane.settings import Settings


@dataclass
class RunningApp:
    """An app whose lifespan has started, and a client for it."""

    http: httpx.AsyncClient
    services: Services
    app: FastAPI


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[RunningApp]:
    """Start the app's lifespan and hand out a client; httpx's ASGI transport does not run
    lifespans, so this does, and copies the lifespan state into each request as servers do."""
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        lifespan_state: Mapping[str, Any] = state or {}

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": dict(lifespan_state)}, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            services = lifespan_state["services"]
            assert isinstance(services, Services)
            yield RunningApp(http=http, services=services, app=app)
