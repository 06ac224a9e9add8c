"""Reading executions: status, live events (SSE), and a data mash's records.
The WebSocket at `/v1/execution/{id}/events` is `rest.websocket`'s.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.responses import StreamingResponse

from experience_plane.auth import Principal
from experience_plane.context import get_principal, get_services, services_of
from experience_plane.rest.errors import RestError, error_responses, not_found
from experience_plane.rest.models import Execution, RecordsPage, snapshot_json
from experience_plane.rest.route import RestRoute, direct
from experience_plane.rest.streams import SHUTTING_DOWN, KeepAlive, follow_execution
from experience_plane.services import InvalidInputError, Services
from experience_plane.services.pagination import Page, PageRequest, encode_cursor, read_page
from experience_plane.services.presentation import DEFAULT_RECORDS_PAGE, MAX_RECORDS_PAGE

EVENTS_DESCRIPTION = """\
Server-Sent Events, one per change of the execution:

```
retry: 1000

event: status
data: {"id": "exec_…", "state": "RUNNING", …}      (the Execution JSON, as /status answers it)

event: complete
data: {"id": "exec_…", "state": "COMPLETED"}
```

The `retry:` line tells an `EventSource` how soon to reconnect (milliseconds). The first
`status` event is the execution as it stands; `complete` follows the terminal one and the stream
ends. Comment lines (`: keep-alive`) are sent while nothing changes, so idle proxies keep the
connection open. A failure mid-stream is an `event: error` whose data is the common error body
(`{"error": {"code": …}}`), and the stream ends; past `EXPERIENCE_MAX_STREAMS_PER_TENANT` open
streams in the tenant that is `TOO_MANY_SUBSCRIPTIONS`. When the service shuts down before the
execution finished the stream ends with

```
event: restarting
data: {"id": "exec_…", "message": "The service is restarting; reconnect to follow the execution."}
```

which is no completion: reconnect (another replica answers) and follow on. No later than
`EXPERIENCE_TUNING__SUBSCRIPTION_STALE_AFTER_SECONDS` after the Runtime was last heard from
(refusing, failing, frozen or slow), the last status is sent again with `stale: true` and a
`stale_reason`; the true status follows when it is back. Unknown ids answer 404 before any
event.

**WebSocket at the same path** (`ws://…/v1/execution/{id}/events`): authenticate with the
`Authorization: Bearer` header on the handshake, or (browsers cannot set headers) send
`{"type": "auth", "token": "<token>"}` as the first message within the WebSocket connection-init
timeout (5 s by default). The server then sends `{"type": "status", "execution": {…}}` per
change and closes with 1000 after the terminal one. A missing or bad token (or a page from an
origin that is not allowed) is closed with 4403 before anything is sent; a failure is a
`{"type": "error", "error": {…}}` message, then close 4404 (`NOT_FOUND`), 4403
(`UNAUTHENTICATED`: the token expired), 1012 (shutting down: reconnect), 1013 (the Runtime is
unavailable, or `TOO_MANY_SUBSCRIPTIONS`) or 1011.
"""

# How long an `EventSource` waits before reconnecting (the `retry:` line every stream starts with).
RETRY_MILLISECONDS = 1000
RESTARTING_MESSAGE = "The service is restarting; reconnect to follow the execution."

# One event of the stream (OpenAPI 3.1 reads an event stream's schema as each event's, its
# fields as the SSE spec names them); `data` is JSON, as `contentSchema` says for each event.
SSE_EVENT_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "event": {"enum": ["status", "complete", "error", "restarting"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "retry": {"type": "integer", "description": "Milliseconds to wait before reconnecting."},
        "id": {"type": "string"},
    },
    "oneOf": [
        {"required": ["retry"], "not": {"required": ["event"]}},
        {
            "required": ["event", "data"],
            "properties": {
                "event": {"const": "status"},
                "data": {"contentSchema": {"$ref": "#/components/schemas/Execution"}},
            },
        },
        {
            "required": ["event", "data"],
            "properties": {"event": {"enum": ["complete", "error", "restarting"]}},
        },
    ],
}

# Its routes answer failures in the common error shape; `rest` adds authentication's OpenAPI.
router = APIRouter(route_class=RestRoute)


def sse(event: str, data: object) -> str:
    """One Server-Sent Event (the JSON has no newlines, so one `data:` line)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def execution_status_direct(request: Request) -> Execution:
    """`execution_status` without FastAPI's dependency solving (see `route.direct`): this is the
    hottest REST route. The path parameter is a plain string, the bearer scheme declared on the
    router only documents (it never refuses), so this does all the route's dependencies do."""
    return await execution_status(
        request.path_params["execution_id"], await get_principal(request), get_services(request)
    )


@router.get(
    "/v1/execution/{execution_id}/status",
    response_model=Execution,
    tags=["executions"],
    summary="An execution's current status.",
    responses=error_responses(404, 422, 502, 503, 504),
)
@direct(execution_status_direct)
async def execution_status(
    execution_id: Annotated[str, Path(description="The execution's id.")],
    principal: Annotated[Principal, Depends(get_principal)],
    services: Annotated[Services, Depends(services_of)],
) -> Execution:
    """The execution as it stands, artifacts with all their details once completed; flagged
    `stale` when it is the last status known and the Runtime has not been heard from for
    longer than the stale promise."""
    snapshot = await services.executions.get(principal, execution_id)
    if snapshot is None:
        raise not_found("Execution", execution_id)
    return await snapshot_json(services.executions, principal, snapshot)


@router.get(
    "/v1/execution/{execution_id}/events",
    tags=["executions"],
    summary="Live events of an execution (SSE; a WebSocket at the same path).",
    description=EVENTS_DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "An event stream.",
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
        },
        **error_responses(404, 422, 502, 503, 504),
    },
)
async def execution_events(
    execution_id: Annotated[str, Path(description="The execution's id.")],
    principal: Annotated[Principal, Depends(get_principal)],
    services: Annotated[Services, Depends(services_of)],
) -> StreamingResponse:
    # Unknown ids are a plain 404, before the stream starts.
    if await services.executions.get(principal, execution_id) is None:
        raise not_found("Execution", execution_id)
    keep_alive = services.settings.tuning.ws_keep_alive_interval

    async def events() -> AsyncIterator[str]:
        # A client going away cancels this generator; `follow_execution` cleans up.
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        try:
            async for item in follow_execution(
                services, principal, execution_id, keep_alive=keep_alive
            ):
                if isinstance(item, KeepAlive):
                    yield ": keep-alive\n\n"
                    continue
                yield sse("status", item.model_dump(mode="json"))
                if item.is_terminal:
                    yield sse("complete", {"id": item.id, "state": item.state.value})
        except RestError as exc:
            if exc.details.get("reason") == SHUTTING_DOWN:
                # Shutdown is no completion: the client reconnects and follows on.
                yield sse("restarting", {"id": execution_id, "message": RESTARTING_MESSAGE})
            else:
                yield sse("error", exc.body())

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        # No caching, and no buffering by proxies (nginx honours X-Accel-Buffering).
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/v1/data-mash/{mash_id}/records",
    response_model=RecordsPage,
    tags=["data mash"],
    summary="A page of a data mash's joined records.",
    responses={
        200: {
            "description": "A page of records.",
            "headers": {
                "Link": {
                    "description": (
                        'The pages around this one (RFC 8288): `<…>; rel="next"` and '
                        '`<…>; rel="prev"`, each when there is such a page.'
                    ),
                    "schema": {"type": "string"},
                }
            },
        },
        **error_responses(404, 422, 502, 503, 504),
    },
)
async def mash_records(
    request: Request,
    response: Response,
    mash_id: Annotated[str, Path(description="The mash's id (`mash_id` of its artifact).")],
    principal: Annotated[Principal, Depends(get_principal)],
    services: Annotated[Services, Depends(services_of)],
    offset: Annotated[
        int | None, Query(ge=0, description="Records to skip (not with `after`/`before`).")
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_RECORDS_PAGE,
            description=f"Page size: the first records (default {DEFAULT_RECORDS_PAGE}).",
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(min_length=1, description="Read the records after this cursor (`end_cursor`)."),
    ] = None,
    before: Annotated[
        str | None,
        Query(min_length=1, description="Read the records before this cursor (`start_cursor`)."),
    ] = None,
    last: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_RECORDS_PAGE,
            description="Page size, read backwards: the last records before `before` (or of "
            "the mash); not with `limit`.",
        ),
    ] = None,
) -> RecordsPage:
    """Records in the order the Runtime joined them. Page forwards with `offset`/`limit` (follow
    `next_offset`) or with cursors: `after=<end_cursor>` with `limit`, and backwards with
    `before=<start_cursor>` with `last`. Cursors are opaque and stay valid; one this API did not
    make is a 422 INVALID_INPUT. The `Link` header has the next and previous pages' URLs."""
    if offset is not None and (after is not None or before is not None):
        raise InvalidInputError(
            "Pass `offset` or the cursors `after`/`before`, not both.", field="offset"
        )
    if offset:
        after = encode_cursor(offset - 1)
    page_request = PageRequest(
        first=limit,
        after=after,
        last=last,
        before=before,
        default_size=DEFAULT_RECORDS_PAGE,
        max_size=MAX_RECORDS_PAGE,
        names=("limit", "after", "last", "before"),
    )
    size = page_request.size

    async def read(start: int, count: int) -> Page[Mapping[str, object]]:
        page = await services.executions.mash_records(principal, mash_id, offset=start, limit=count)
        return Page(offset=page.offset, items=page.records, total=page.total)

    page = await read_page(page_request, read)
    records = [dict(record) for record in page.items]
    end = page.offset + len(records)
    links = []
    if page.has_next_page:
        links.append(_link(request, "next", after=_cursor_before(end), limit=size))
    if page.has_previous_page:
        start = min(page.offset, page.total)
        links.append(_link(request, "prev", before=encode_cursor(start), last=size))
    if links:
        response.headers["Link"] = ", ".join(links)
    return RecordsPage(
        mash_id=mash_id,
        offset=page.offset,
        limit=size,
        total=page.total,
        records=records,
        next_offset=end if records and end < page.total else None,
        prev_offset=max(0, page.offset - size) if page.has_previous_page else None,
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=page.start_cursor,
        end_cursor=page.end_cursor,
    )


def _cursor_before(position: int) -> str | None:
    """The `after` cursor from which a page starts at `position` (None: the start)."""
    return encode_cursor(position - 1) if position > 0 else None


def _link(request: Request, rel: str, **params: str | int | None) -> str:
    """One `Link` header value (RFC 8288): this path with `params`, relative like `Location`."""
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return f'<{request.url.path}?{query}>; rel="{rel}"'
