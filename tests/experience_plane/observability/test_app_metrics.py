"""`/metrics` on the assembled application: on by default, off by the setting."""

from __future__ import annotations

from experience_plane.settings import Settings
from tests.experience_plane.support import running_app
from tests.support.processes import free_port


def settings(**overrides: object) -> Settings:
    return Settings(
        runtime_url=f"http://127.0.0.1:{free_port()}",
        insecure_dev=True,
        runtime_timeout=1.0,
        **overrides,  # type: ignore[arg-type]
    )


async def test_metrics_report_live_state_and_stay_out_of_the_api_description() -> None:
    async with running_app(settings()) as app:
        assert (await app.http.get("/readyz")).status_code == 503
        response = await app.http.get("/metrics")
        described = (await app.http.get("/openapi.json")).json()
    assert response.status_code == 200
    text = response.text
    assert "experience_subscriptions_active 0.0" in text
    assert "experience_execution_watchers_active 0.0" in text
    assert 'experience_runtime_breaker_state{state="closed"} 1.0' in text
    assert "experience_runtime_breaker_consecutive_failures 1.0" in text
    assert 'experience_runtime_calls_total{call="health",outcome="error"} 1.0' in text
    assert 'experience_http_requests_total{method="GET",route="/readyz",status="503"} 1.0' in text
    assert "_created" not in text
    assert "/metrics" not in described["paths"]


async def test_metrics_can_be_turned_off() -> None:
    async with running_app(settings(metrics_enabled=False)) as app:
        assert (await app.http.get("/metrics")).status_code == 404
        assert (await app.http.get("/healthz")).status_code == 200
