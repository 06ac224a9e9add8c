"""`/_control`: test controls (request counters, live faults), mounted only when enabled."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from reference_runtime.services import Services

router = APIRouter(prefix="/_control")


class FaultUpdate(BaseModel):
    """Any of the live knobs; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    latency: float | None = Field(default=None, ge=0.0)
    status_error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    drop_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    phase_delay: float | None = Field(default=None, ge=0.0)
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    drop_after_handling_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    step_delay: float | None = Field(default=None, ge=0.0)


@router.get("/stats")
async def stats(services: Services) -> dict[str, dict[str, int]]:
    """Requests by route, status reads and stream connections by execution, submits by type."""
    return services.stats.as_json()


@router.get("/headers")
async def recent_headers(services: Services) -> list[dict[str, str | None]]:
    """The `traceparent` and `x-request-id` of the latest requests, oldest first."""
    return list(services.stats.recent_headers)


@router.post("/stats/reset")
async def reset_stats(services: Services) -> dict[str, dict[str, int]]:
    """Forget every count."""
    services.stats.reset()
    return services.stats.as_json()


@router.post("/faults")
async def set_faults(update: FaultUpdate, services: Services) -> dict[str, float]:
    """Change faults and pacing live; answer the values now in force."""
    controls = services.controls
    for name, value in update.model_dump(exclude_none=True).items():
        setattr(controls, name, value)
    return controls.as_json()
