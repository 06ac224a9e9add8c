"""`GET /health`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from reference_runtime.services import Services

router = APIRouter()


@router.get("/health")
async def health(services: Services) -> dict[str, Any]:
    """Whether the Runtime is up, and how it runs."""
    return {
        "status": "healthy",
        "service": "reference-runtime",
        "mode": services.mode.value,
        "intent_types": services.executor.intent_types,
    }
