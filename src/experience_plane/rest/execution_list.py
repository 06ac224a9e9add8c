"""`GET /v1/executions`: the caller's executions, newest first, a cursor-paged window at a time;
`POST /v1/execution/{id}/cancel`: stop a running execution."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from experience_plane import runtime
from experience_plane.auth import Principal
from experience_plane.context import get_principal, services_of
from experience_plane.index import ExecutionFilter
from experience_plane.rest.content import IdempotencyKeyHeader
from experience_plane.rest.errors import error_responses
from experience_plane.rest.models import Execution, ExecutionsPage, ExecutionState, execution_json
from experience_plane.rest.route import RestRoute
from experience_plane.services import InvalidInputError, Services
from experience_plane.services.listing import (
    DEFAULT_EXECUTIONS_PAGE,
    MAX_EXECUTIONS_PAGE,
    PageRequest,
)
from experience_plane.services.timestamps import parse_rfc3339

EXECUTIONS_PATH = "/v1/executions"
MAX_INTENT_TYPE_LENGTH = 200
"""The longest `intent_type` filter value taken (intent types are short dotted names)."""
MAX_FILTER_VALUES = 20
"""The most values one repeated filter parameter (`state`, `intent_type`) may have."""
PAGING_PARAMETERS = ("limit", "after", "last", "before")

LINK_HEADER = {
    "Link": {
        "description": (
            'The pages around this one (RFC 8288): `<…>; rel="next"` (older) and `<…>; '
            'rel="prev"` (newer), each when there is such a page, with the same filters.'
        ),
        "schema": {"type": "string"},
    }
}

# Its routes answer failures in the common error shape; `rest` adds authentication's OpenAPI.
router = APIRouter(route_class=RestRoute)


def _instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_rfc3339(value)
    except (ValueError, OverflowError):
        raise InvalidInputError(
            f"{name} must be an RFC 3339 date-time, e.g. 2025-01-31T12:00:00Z.", field=name
        ) from None


@router.get(
    EXECUTIONS_PATH,
    response_model=ExecutionsPage,
    tags=["executions"],
    summary="Your executions, newest first, a page at a time.",
    responses={
        200: {"description": "A page of executions.", "headers": LINK_HEADER},
        **error_responses(422, 502, 503, 504),
    },
)
async def list_executions(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(get_principal)],
    services: Annotated[Services, Depends(services_of)],
    state: Annotated[
        list[ExecutionState] | None,
        Query(
            description="Only executions in one of these states (repeat the parameter).",
            max_length=MAX_FILTER_VALUES,
        ),
    ] = None,
    intent_type: Annotated[
        list[Annotated[str, Query(min_length=1, max_length=MAX_INTENT_TYPE_LENGTH)]] | None,
        Query(
            description=(
                "Only executions of one of these intents, e.g. `content.upload` (repeat the "
                "parameter)."
            ),
            max_length=MAX_FILTER_VALUES,
        ),
    ] = None,
    created_after: Annotated[
        str | None,
        Query(
            description="Only executions created after this instant (RFC 3339).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    created_before: Annotated[
        str | None,
        Query(
            description="Only executions created before this instant (RFC 3339).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_EXECUTIONS_PAGE,
            description=(
                f"Page size: the first executions after `after` (default "
                f"{DEFAULT_EXECUTIONS_PAGE})."
            ),
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(description="Read the executions after (older than) this cursor (`end_cursor`)."),
    ] = None,
    last: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_EXECUTIONS_PAGE,
            description=(
                "Page size, read backwards: the last executions before `before` (or of the "
                "list); not with `limit`."
            ),
        ),
    ] = None,
    before: Annotated[
        str | None,
        Query(description="Read the executions before (newer than) this cursor (`start_cursor`)."),
    ] = None,
) -> ExecutionsPage:
    """Your own executions (your tenant's with the `tenant-admin` role), newest first, as
    GraphQL's `executions` lists them. Page forwards with `after=<end_cursor>` (and `limit`),
    backwards with `before=<start_cursor>` (and `last`); cursors are opaque and stay valid, one
    this API did not make is a 422 INVALID_INPUT. The `Link` header has the next and previous
    pages' URLs."""
    if limit is not None and last is not None:
        raise InvalidInputError("Pass limit or last, not both.", field="last")
    filter = ExecutionFilter(
        states=frozenset(runtime.ExecutionState[value.name] for value in state or ()),
        intent_types=frozenset(intent_type or ()),
        created_after=_instant(created_after, "created_after"),
        created_before=_instant(created_before, "created_before"),
    )
    page = await services.executions.list_executions(
        principal, filter, PageRequest(first=limit, after=after, last=last, before=before)
    )
    executions = await asyncio.gather(
        *(execution_json(services.executions, principal, edge.execution) for edge in page.edges)
    )
    size = last if last is not None else (limit or DEFAULT_EXECUTIONS_PAGE)
    kept = [
        (name, value)
        for name, value in request.query_params.multi_items()
        if name not in PAGING_PARAMETERS
    ]
    links = []
    if page.has_next_page and page.end_cursor is not None:
        links.append(_link(request, "next", kept, after=page.end_cursor, limit=size))
    if page.has_previous_page and page.start_cursor is not None:
        links.append(_link(request, "prev", kept, before=page.start_cursor, last=size))
    if links:
        response.headers["Link"] = ", ".join(links)
    return ExecutionsPage(
        executions=list(executions),
        cursors=[edge.cursor for edge in page.edges],
        total=await page.total_count(),
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=page.start_cursor,
        end_cursor=page.end_cursor,
    )


def _link(request: Request, rel: str, kept: list[tuple[str, str]], **params: str | int) -> str:
    """One `Link` header value (RFC 8288): this path with the filters and `params`."""
    query = urlencode([*kept, *params.items()])
    return f'<{request.url.path}?{query}>; rel="{rel}"'


@router.post(
    "/v1/execution/{execution_id}/cancel",
    response_model=Execution,
    tags=["executions"],
    summary="Cancel a running execution.",
    responses=error_responses(
        404,
        409,
        422,
        429,
        501,
        502,
        503,
        504,
        described={
            409: (
                "The execution has finished already (`ALREADY_FINISHED`), or the "
                "`Idempotency-Key` was used with different input (`IDEMPOTENCY_CONFLICT`)."
            ),
        },
    ),
)
async def cancel_execution(
    execution_id: Annotated[str, Path(description="The execution's id.")],
    principal: Annotated[Principal, Depends(get_principal)],
    services: Annotated[Services, Depends(services_of)],
    key: IdempotencyKeyHeader = None,
) -> Execution:
    """Ask the Runtime to stop the execution: its work stops at the next safe point and it ends
    `CANCELLED` (event streams show it and end); nothing half-written remains. The answer (200)
    is the execution as it stands: `CANCELLED`, or still running when the Runtime has not
    reached a safe point yet (it will end cancelled; follow it). A finished execution is a 409
    `ALREADY_FINISHED`, an unknown one a 404, a Runtime that cannot cancel a 501
    `CANCEL_UNSUPPORTED`. With an `Idempotency-Key` a repeat gets the first answer."""
    status = await services.executions.cancel_execution(
        principal, execution_id, idempotency_key=key
    )
    return await execution_json(services.executions, principal, status)
