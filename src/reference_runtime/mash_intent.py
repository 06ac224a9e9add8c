"""`data_mash.create`: load the referenced tabular files and compose them into one view."""

from __future__ import annotations

from typing import Any

from reference_runtime.intents import IntentContext, IntentFailed, IntentResult


async def data_mash_create(ctx: IntentContext, params: dict[str, Any]) -> IntentResult:
    """Compose the tenant's referenced files into a canonical, joined data mash."""
    raise IntentFailed("data_mash.create is not implemented yet")
