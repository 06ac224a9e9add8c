"""The application: liveness, readiness and the lifespan's wiring."""

from __future__ import annotations

import asyncio

import pytest

from experience_plane.settings import Settings, Tuning
from tests.experience_plane.support import running_app
from tests.support.processes import RuntimeProcess, free_port


async def test_healthz_answers_without_a_runtime() -> None:
    settings = Settings(runtime_url=f"http://127.0.0.1:{free_port()}", insecure_dev=True)
    async with running_app(settings) as app:
        response = await app.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_503_with_a_reason_when_the_runtime_is_down() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with running_app(
        Settings(runtime_url=url, runtime_timeout=1.0, insecure_dev=True)
    ) as app:
        response = await app.http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"] == "the Runtime is not reachable"
    # States only, for anyone to read: no address, no error text.
    assert url.split("//")[1] not in response.text
    assert "Error" not in response.text
    assert body["runtime"]["reachable"] is False
    assert body["runtime"]["breaker"]["state"] == "closed"
    assert body["runtime"]["breaker"]["consecutive_failures"] == 1


@pytest.mark.own_runtime
async def test_readyz_reports_an_open_breaker_and_recovers(runtime: RuntimeProcess) -> None:
    settings = Settings(
        runtime_url=runtime.url,
        insecure_dev=True,
        tuning=Tuning(runtime_breaker_failure_threshold=2, runtime_breaker_reset_seconds=0.3),
    )
    async with running_app(settings) as app:
        runtime.stop()
        for _ in range(2):
            assert (await app.http.get("/readyz")).status_code == 503
        opened = (await app.http.get("/readyz")).json()
        assert opened["runtime"]["breaker"]["state"] == "open"
        assert opened["runtime"]["breaker"]["trips"] == 1
        runtime.start()
        await asyncio.sleep(0.4)  # the cool-down: the next check is the probe
        response = await app.http.get("/readyz")
        assert response.status_code == 200
        assert response.json()["runtime"]["breaker"]["state"] == "closed"


async def test_readyz_is_200_when_the_runtime_is_healthy(runtime: RuntimeProcess) -> None:
    async with running_app(Settings(runtime_url=runtime.url, insecure_dev=True)) as app:
        response = await app.http.get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready"
        assert body["runtime"]["reachable"] is True
        assert body["runtime"]["breaker"]["state"] == "closed"
        assert body["executions"] == {"watchers": 0, "subscribers": 0}
        # The lifespan wired one client and one tracker into the services.
        assert app.services.executions is not None
        assert app.services.tracker.active_watchers == 0
