"""`POST /v1/content/upload` and `POST /v1/content/data-mash/create`: start work, answer at once.
Both answer 202 Accepted with the execution as it stands and `Location` pointing at its status.
CSRF needs no special handling here: REST callers authenticate with an `Authorization` header
only (never a cookie), and a browser cannot attach that header cross-site without a CORS
preflight, so a forged form post arrives unauthenticated.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Header, Request, UploadFile
from starlette.responses import JSONResponse

from experience_plane.auth import Principal
from experience_plane.context import (
    SESSION_ID_PATTERN,
    client_session_id,
    get_principal,
    services_of,
)
from experience_plane.idempotency import MAX_KEY_LENGTH
from experience_plane.rest.errors import INVALID_INPUT, RestError, error_responses
from experience_plane.rest.models import (
    STATUS_PATH,
    CreateDataMashRequest,
    Execution,
    execution_json,
)
from experience_plane.rest.route import RestRoute
from experience_plane.services import ConfidenceLevel, JoinMode, Services

# `parse_idempotency_key`'s rule: visible ASCII, bare or in one pair of double quotes, not empty.
_KEY_CHARS = rf"[\x21-\x7E]{{1,{MAX_KEY_LENGTH}}}"
IDEMPOTENCY_KEY_SCHEMA: dict[str, object] = {
    "anyOf": [
        {"type": "string", "pattern": f"^{_KEY_CHARS}$", "not": {"const": '""'}},
        {"type": "string", "pattern": f'^"{_KEY_CHARS}"$'},
    ]
}

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "Makes a retry safe: the same key (per tenant and operation) with the same input "
            "returns the first request's execution and starts nothing new; with different "
            "input it is a 409 IDEMPOTENCY_CONFLICT. 1 to 255 visible ASCII characters, "
            'optionally in double quotes (a structured-field string: `"8e03978e-..."`); '
            "anything else (an empty key included) is a 422 INVALID_INPUT."
        ),
        # Documented, not validated here: the service's check answers with its own message.
        json_schema_extra=IDEMPOTENCY_KEY_SCHEMA,
    ),
]
SessionHeader = Annotated[
    str | None,
    Header(
        alias="X-Session-Id",
        description=(
            "Your client's own session id: each gets a Runtime session of its own. Up to 128 "
            "letters, digits or `.`, `_`, `:`, `-` (empty: none); anything else is a 400 "
            "INVALID_INPUT."
        ),
        json_schema_extra={"anyOf": [{"type": "string", "pattern": SESSION_ID_PATTERN}]},
    ),
]

# Its routes answer failures in the common error shape; `rest` adds authentication's OpenAPI.
router = APIRouter(route_class=RestRoute)


def accepted(execution: Execution) -> JSONResponse:
    """202 with the execution and `Location: /v1/execution/{id}/status`."""
    return JSONResponse(
        execution.model_dump(mode="json"),
        status_code=202,
        headers={"Location": STATUS_PATH.format(execution_id=execution.id)},
    )


@router.post(
    "/v1/content/upload",
    status_code=202,
    response_model=Execution,
    tags=["content"],
    summary="Upload a file; returns its execution at once.",
    responses=error_responses(400, 409, 413, 415, 422, 429, 502, 503, 504),
    # An upload's parts: one `file`, `filename` and `mime_type`; more is a 400 INVALID_INPUT.
    form_limits={"max_files": 1, "max_fields": 2},
)
async def upload_content(
    request: Request,
    file: Annotated[UploadFile, File(description="The file's bytes.")],
    principal: Annotated[Principal, Depends(get_principal)],
    services: Annotated[Services, Depends(services_of)],
    filename: Annotated[
        str | None, Form(description="The name to store; defaults to the part's file name.")
    ] = None,
    mime_type: Annotated[
        str | None, Form(description="The media type; defaults to the part's or a guess.")
    ] = None,
    key: IdempotencyKeyHeader = None,
    session: SessionHeader = None,
) -> JSONResponse:
    """Stream a multipart `file` part to the Runtime as a `content.upload` intent.

    The file is read in chunks from its spooled part, never whole into memory. The answer
    is the execution (202); follow it at `/v1/execution/{id}/events` or poll `Location`.
    The name stored is a safe base name; a `mime_type` that is not a media type is stored as
    `application/octet-stream` (the file's `mime_type` in the status shows it).
    """
    parts = Counter(name for name, _ in (await request.form()).multi_items())  # already read
    repeated = sorted(name for name, count in parts.items() if count > 1)
    if repeated:
        raise RestError(
            INVALID_INPUT,
            f"The multipart body repeats the part(s) {repeated}.",
            status_code=400,
            details={"field": repeated[0]},
        )
    status = await services.content.upload(
        principal,
        file,
        filename=filename or file.filename,
        mime_type=mime_type,
        sent_mime_type=file.content_type,
        size=file.size,
        client_session=client_session_id(session),
        idempotency_key=key,
    )
    return accepted(await execution_json(services.executions, principal, status))


@router.post(
    "/v1/content/data-mash/create",
    status_code=202,
    response_model=Execution,
    tags=["data mash"],
    summary="Compose uploaded files into one canonical view; returns at once.",
    responses=error_responses(400, 409, 413, 415, 422, 429, 502, 503, 504),
)
async def create_data_mash(
    body: CreateDataMashRequest,
    principal: Annotated[Principal, Depends(get_principal)],
    services: Annotated[Services, Depends(services_of)],
    key: IdempotencyKeyHeader = None,
    session: SessionHeader = None,
) -> JSONResponse:
    """Submit a `data_mash.create` intent over the given file ids; 202 with its execution."""
    status = await services.data_mash.create(
        principal,
        content_refs=body.content_refs,
        target_domain=body.target_domain,
        confidence_level=ConfidenceLevel(body.confidence_level),
        name=body.name,
        join=JoinMode(body.join),
        client_session=client_session_id(session),
        idempotency_key=key,
    )
    return accepted(await execution_json(services.executions, principal, status))
