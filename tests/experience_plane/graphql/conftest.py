"""An in-process app for GraphQL tests that need no Runtime (validation, HTTP semantics)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from experience_plane.services import Services
from experience_plane.settings import Environment, Settings
from tests.experience_plane.support import RunningApp, running_app
from tests.support.processes import free_port


@pytest.fixture
def settings() -> Settings:
    """Settings pointing at a port nothing listens on: any Runtime call fails fast.

    Development environment without authentication: these tests are about GraphQL over HTTP;
    authentication and production hardening have tests of their own.
    """
    return Settings(
        runtime_url=f"http://127.0.0.1:{free_port()}",
        runtime_timeout=2.0,
        environment=Environment.DEVELOPMENT,
        insecure_dev=True,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    """The app with its lifespan running, and an httpx client talking to it in process."""
    async with running_app(settings) as running:
        yield running


@pytest.fixture
def services(app: RunningApp) -> Services:
    """The services the app's lifespan built."""
    return app.services
