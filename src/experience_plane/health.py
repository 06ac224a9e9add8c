"""`/healthz` and `/readyz`: what an orchestrator asks before it sends traffic.

Liveness only says the process answers. Readiness asks the Runtime (through the client's circuit
breaker) and says no while the service drains for shutdown; Redis being down is reported but does
not make a replica unready, since it then serves alone (see `experience_plane.cluster`). Both are
unauthenticated, so they report states and counts only: no address, no error text (those are in
the log).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.requests import Request

from experience_plane.context import get_services
from experience_plane.lifecycle import Lifecycle
from experience_plane.runtime import BreakerState

__all__ = ["build_health_router"]


def build_health_router(lifecycle: Lifecycle) -> APIRouter:
    """The two probes; `/readyz` reads `lifecycle` (draining?)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: the Runtime answers and the circuit breaker is not open.",
    )
    async def readyz(request: Request) -> JSONResponse:
        services = get_services(request)
        client = services.client
        # While the circuit is open this answers False without touching the network; once
        # half-open it may be the probe that closes the circuit again.
        reachable = await client.health()
        breaker = client.breaker_snapshot()
        ready = reachable and breaker.state is not BreakerState.OPEN and not lifecycle.draining
        body: dict[str, object] = {
            "status": "ready" if ready else "unavailable",
            "runtime": {"reachable": reachable, "breaker": breaker.as_dict()},
            "executions": {
                "watchers": services.tracker.active_watchers,
                "subscribers": services.tracker.active_subscribers,
            },
        }
        # Redis down is not unready: the replica serves alone (see `experience_plane.cluster`).
        cluster = services.cluster
        body["redis"] = await cluster.report() if cluster is not None else {"status": "disabled"}
        if lifecycle.draining:
            body["reason"] = "shutting down"
        elif not ready:
            body["reason"] = "the Runtime is not reachable"
        return JSONResponse(body, status_code=200 if ready else 503)

    return router
