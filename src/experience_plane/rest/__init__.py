"""The REST v1 surface: the same services, authentication, tenancy and error codes as GraphQL.
Every route needs `Authorization: Bearer <token>`: `POST /v1/content/upload` and
`POST /v1/content/data-mash/create` answer 202 with the execution (`Idempotency-Key` and
`X-Session-Id` headers as on GraphQL); `GET /v1/execution/{id}/status`, its live events as SSE or
a WebSocket at `/v1/execution/{id}/events`, `GET /v1/executions` (the caller's, newest first) and
`GET /v1/data-mash/{mash_id}/records` read; `POST /v1/execution/{id}/cancel` stops one.
Errors have one shape (see `rest.errors`). OpenAPI is served at `/openapi.json` always (the
surface's public contract, like the checked-in SDL); `/docs` and `/redoc` follow GraphiQL's
switch (`EXPERIENCE_GRAPHIQL`).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Security
from fastapi.security import HTTPBearer

from experience_plane.rest import content, execution_list, executions
from experience_plane.rest.route import RestRoute, add_fallback_route
from experience_plane.rest.websocket import add_websocket_route

BEARER = HTTPBearer(
    auto_error=False,
    description="A JWT naming your tenant; the same token as for GraphQL.",
)

TAGS = [
    {"name": "content", "description": "Uploading files."},
    {"name": "data mash", "description": "Composing files into one canonical view."},
    {"name": "executions", "description": "Following what the Runtime is doing."},
]


def build_rest_router() -> APIRouter:
    """Every REST v1 route, HTTP ones answering failures in the common error shape."""
    # The bearer scheme is declared for OpenAPI (and the docs' Authorize button);
    # `get_principal` on each route is what authenticates.
    http = APIRouter(route_class=RestRoute, dependencies=[Security(BEARER)])
    surfaces = (content.router, executions.router, execution_list.router)
    for surface in surfaces:
        http.include_router(surface)
    add_fallback_route(http, covering=surfaces)
    router = APIRouter()
    router.include_router(http)
    add_websocket_route(router)
    return router


def install_rest_api(app: FastAPI) -> None:
    """Add the REST surface and its OpenAPI tags to `app` (whose docs pages `create_app` sets)."""
    app.include_router(build_rest_router())
    app.openapi_tags = [*(app.openapi_tags or []), *TAGS]


__all__ = ["build_rest_router", "install_rest_api"]
