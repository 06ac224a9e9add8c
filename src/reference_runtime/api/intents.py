"""`POST /api/intent/submit`: asynchronous by default, synchronous in platform mode.
The body is read as it streams in (`reference_runtime.intake`): an upload's `file_content`, which
may be larger than memory should hold, goes to a spool file on the way and reaches the handler
as a `SpooledText`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reference_runtime.api.presenters import submit_json
from reference_runtime.executor import Submission, UnknownIntentType
from reference_runtime.intake import BodyTooLarge, MalformedBody, discard_spooled, read_json_body
from reference_runtime.services import RuntimeServices, Services
from reference_runtime.settings import RuntimeMode

router = APIRouter(prefix="/api/intent")


class IntentSubmit(BaseModel):
    """The body of an intent submit; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    intent_type: str = Field(min_length=1)
    tenant_id: str = Field(min_length=1)
    session_id: str = Field(min_length=1)
    solution_id: str
    intent_id: str | None = None
    # `Any` values are passed through as parsed: a large file_content is not copied again.
    parameters: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


def _optional_text(metadata: dict[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    return value if isinstance(value, str) and value else None


def _invalid(errors: list[Any]) -> JSONResponse:
    """A 422 shaped like FastAPI's own for a malformed body."""
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


async def _read_submit(request: Request, services: RuntimeServices) -> IntentSubmit | JSONResponse:
    """The submit body, its large strings spooled; a 422 or 413 answer when it is not one."""
    try:
        document = await read_json_body(request.stream(), services.blobs.incoming)
    except MalformedBody as exc:
        return _invalid([{"type": "json_invalid", "loc": ["body"], "msg": f"JSON: {exc}"}])
    except BodyTooLarge as exc:
        return JSONResponse(status_code=413, content={"detail": str(exc)})
    try:
        return IntentSubmit.model_validate(document)
    except ValidationError as exc:
        discard_spooled(document)
        return _invalid(exc.errors(include_url=False, include_context=False))


@router.post("/submit")
async def submit_intent(request: Request, services: Services) -> JSONResponse:
    """Start an execution of the intent and answer at once (or, in platform mode, at its end)."""
    body = await _read_submit(request, services)
    if isinstance(body, JSONResponse):
        return body
    try:
        return await _submit(body, services)
    except BaseException:
        discard_spooled(body.parameters)
        raise


async def _submit(body: IntentSubmit, services: RuntimeServices) -> JSONResponse:
    services.stats.submits[body.intent_type] += 1
    if services.settings.requires_session:
        session = await asyncio.to_thread(
            services.store.get_session, body.tenant_id, body.session_id
        )
        if session is None:
            discard_spooled(body.parameters)
            return JSONResponse(status_code=404, content={"detail": "Session not found"})
    metadata = body.metadata or {}
    submission = Submission(
        intent_type=body.intent_type,
        tenant_id=body.tenant_id,
        session_id=body.session_id,
        solution_id=body.solution_id,
        intent_id=body.intent_id or None,
        user_id=_optional_text(metadata, "user_id"),
        idempotency_key=_optional_text(metadata, "idempotency_key"),
    )
    params = body.parameters or {}
    del body  # the parameters may hold a large file_content: keep one reference only
    platform = services.mode is RuntimeMode.PLATFORM
    try:
        record, is_new = await services.executor.create(submission)
    except UnknownIntentType as exc:
        discard_spooled(params)
        return JSONResponse(status_code=500 if platform else 400, content={"detail": str(exc)})
    counter = services.stats.executions_created if is_new else services.stats.submits_deduplicated
    counter[record.intent_type] += 1
    if not is_new:
        discard_spooled(params)  # the earlier execution ran (or runs) with its own content
    if not platform:
        if is_new:
            services.executor.start(record, params)
        return JSONResponse(submit_json(record, services.mode))
    if is_new:
        record = await services.executor.run(record, params)
    if record.status == "failed":
        return JSONResponse(status_code=500, content={"detail": record.error or "Execution failed"})
    return JSONResponse(submit_json(record, services.mode))
