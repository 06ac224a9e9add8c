"""An in-process app with authentication on and no Runtime: auth, validation and error shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from experience_plane.auth import mint_token
from experience_plane.settings import Settings
from tests.experience_plane.support import RunningApp, running_app
from tests.support.processes import free_port

SECRET = "rest-unit-tests-secret-0123456789abcdef"


def bearer(
    tenant: str = "t1", *, secret: str = SECRET, issued_hours_ago: float = 0.0
) -> dict[str, str]:
    """`Authorization` for a one-hour token signed with `secret` (the app's unless told)."""
    now = datetime.now(UTC) - timedelta(hours=issued_hours_ago)
    token = mint_token(secret, tenant_id=tenant, user_id="u1", ttl=timedelta(hours=1), now=now)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def settings() -> Settings:
    """Production settings, a real secret, and a Runtime URL nothing listens on."""
    return Settings(
        runtime_url=f"http://127.0.0.1:{free_port()}",
        runtime_timeout=1.0,
        auth_hs256_secret=SECRET,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    """The app with its lifespan running, and an httpx client talking to it in process."""
    async with running_app(settings) as running:
        yield running
