"""The application: liveness, readiness and the lifespan's wiring."""

from __future__ import annotations

from experience_plane.settings import Settings
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
    assert response.json() == {
        "status": "unavailable",
        "reason": f"Runtime at {url} is not healthy",
    }


async def test_readyz_is_200_when_the_runtime_is_healthy(runtime: RuntimeProcess) -> None:
    async with running_app(Settings(runtime_url=runtime.url, insecure_dev=True)) as app:
        response = await app.http.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready"}
        # The lifespan wired one client and one tracker into the services.
        assert app.services.executions is not None
        assert app.services.tracker.active_watchers == 0
