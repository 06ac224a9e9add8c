"""`RestRoute`: every REST route answers its failures in the common error shape.
A route class (rather than application-wide exception handlers) keeps the shape to `/v1`: the
GraphQL endpoints keep their own GraphQL-shaped errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from experience_plane import json_input, services
from experience_plane.context import InvalidSessionId, Unauthenticated, get_principal
from experience_plane.json_input import JsonInputError
from experience_plane.middleware import current_request_id
from experience_plane.negotiation import APPLICATION_JSON
from experience_plane.rest.errors import (
    INVALID_INPUT,
    NOT_FOUND,
    RestError,
    from_authentication_error,
    from_service_error,
    internal_error,
)

logger = logging.getLogger(__name__)

MULTIPART_FORM_DATA = "multipart/form-data"


DirectHandler = Callable[[Request], Coroutine[Any, Any, Any]]
"""Answers a request with the route's response model, reading what it needs from the request
itself (see `direct`)."""

_DIRECT_ATTRIBUTE = "__rest_direct_handler__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def direct(handler: DirectHandler) -> Callable[[Endpoint], Endpoint]:
    """Mark a route's endpoint as answered by `handler` instead of FastAPI's dependency solving.

    The endpoint's signature still describes the route (OpenAPI, documentation); `handler` must
    do what its dependencies would: for a GET route without a body whose parameters are plain
    strings, that is reading them from `request.path_params` and calling `get_principal` and
    `get_services`. Its result is serialized with the route's response model exactly as FastAPI
    serializes it, and its failures get the common error shape like every route's."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _DIRECT_ATTRIBUTE, handler)
        return endpoint

    return mark


class RestRoute(APIRoute):
    """An `APIRoute` whose handler turns every exception into the common error response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        direct_handler: DirectHandler | None = getattr(self.endpoint, _DIRECT_ATTRIBUTE, None)
        handler = (
            super().get_route_handler()
            if direct_handler is None
            else self._direct_route_handler(direct_handler)
        )
        has_body = self.body_field is not None
        form = self.body_field is not None and isinstance(self.body_field.field_info, params.Form)

        async def handle(request: Request) -> Response:
            try:
                if has_body:
                    # FastAPI reads (and spools) the body before it runs dependencies: refuse
                    # an unauthenticated caller first, so it is a 401 whatever it sent.
                    await get_principal(request)
                    await check_body(request, form=form)
                return await handler(request)
            except Exception as exc:
                # Every failure, expected or not, gets the one shape.
                return to_rest_error(exc, request).response()

        return handle

    def _direct_route_handler(
        self, direct_handler: DirectHandler
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """What FastAPI's handler does for a bodiless route whose result is the response model,
        without solving dependencies: the same JSON bytes (the response field's `dump_json`,
        by alias), the same status code."""
        if self.body_field is not None or self.response_field is None:
            raise TypeError(f"{self.path}: a direct handler needs a response model and no body")
        serialize_json = self.response_field.serialize_json
        status_code = self.status_code or 200

        async def handle(request: Request) -> Response:
            result = await direct_handler(request)
            return Response(
                serialize_json(result, by_alias=True),
                status_code=status_code,
                media_type=APPLICATION_JSON,
            )

        return handle


async def check_body(request: Request, *, form: bool) -> None:
    """Refuse, before FastAPI reads it, a body of another media type than the route takes
    (415: `multipart/form-data` for a form, JSON otherwise, which a missing `Content-Type` is
    taken for) and JSON that `json_input` refuses (400, with its `reason`: nested too deep, a
    lone surrogate, not JSON). Raises `RestError` (`INVALID_INPUT`)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    expected = MULTIPART_FORM_DATA if form else APPLICATION_JSON
    if form and media_type != MULTIPART_FORM_DATA:
        raise unsupported_media_type(expected)
    if (
        not form
        and media_type
        and media_type != APPLICATION_JSON
        and not media_type.endswith("+json")
    ):
        raise unsupported_media_type(expected)
    if form:
        return
    body = await request.body()  # kept by starlette for FastAPI's own reading
    if not body:
        return  # FastAPI answers a missing body with its validation error
    try:
        json_input.loads(body)
    except JsonInputError as exc:
        raise RestError(
            INVALID_INPUT, exc.message, status_code=400, details={"reason": exc.reason.value}
        ) from exc


def unsupported_media_type(expected: str) -> RestError:
    """415 for a body that is not `expected`."""
    return RestError(
        INVALID_INPUT,
        f"Send the body as {expected}.",
        status_code=415,
        details={"field": "Content-Type"},
    )


def to_rest_error(exc: Exception, request: Request | None = None) -> RestError:
    """The REST error for any exception a route (or its dependencies) raised."""
    if isinstance(exc, RestError):
        return exc
    if isinstance(exc, Unauthenticated):
        return from_authentication_error(exc.error)
    if isinstance(exc, services.ServiceError):
        return from_service_error(exc)
    if isinstance(exc, RequestValidationError):
        return validation_error(exc.errors())
    if isinstance(exc, InvalidSessionId):
        return RestError(
            INVALID_INPUT, str(exc), status_code=400, details={"field": "X-Session-Id"}
        )
    if isinstance(exc, HTTPException):
        # FastAPI's own refusals, e.g. "There was an error parsing the body" for bad multipart.
        code = NOT_FOUND if exc.status_code == 404 else INVALID_INPUT
        return RestError(code, str(exc.detail), status_code=exc.status_code, headers=exc.headers)
    where = f"{request.method} {request.url.path}" if request is not None else "REST"
    logger.exception("Unexpected error in %s (request id %s)", where, current_request_id())
    return internal_error()


def validation_error(errors: Sequence[Any]) -> RestError:
    """`INVALID_INPUT` for FastAPI's validation errors: 400 when the body is not even JSON,
    422 when a field is wrong; `details.errors` lists each problem with its field."""
    problems = [
        {"field": _field_of(error.get("loc", ())), "message": str(error.get("msg", ""))}
        for error in errors
        if isinstance(error, dict)
    ]
    unparsable = any(isinstance(e, dict) and e.get("type") == "json_invalid" for e in errors)
    if unparsable:
        # The location of a JSON syntax error is a character offset, not a field.
        return RestError(INVALID_INPUT, "The body is not valid JSON.", status_code=400)
    field = problems[0]["field"] if problems else None
    reason = problems[0]["message"] if problems else "Invalid request."
    message = f"{field}: {reason}" if field else str(reason)
    return RestError(
        INVALID_INPUT,
        message,
        status_code=422,
        details={"field": field, "errors": problems},
    )


def _field_of(loc: Sequence[Any]) -> str | None:
    # ("body", "content_refs", 0) -> "content_refs[0]"; the location kind says nothing useful.
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "form"):
        parts = parts[1:]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or None


def add_fallback_route(router: APIRouter, *, covering: Sequence[APIRouter]) -> None:
    """Answer unknown `/v1` paths (404 `NOT_FOUND`) and wrong methods (405 with `Allow`, the
    methods `covering`'s routes take at that path) in the common shape rather than starlette's
    `{"detail": ...}`. Register it after `covering`."""

    @router.api_route(
        "/v1/{path:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        include_in_schema=False,
    )
    async def fallback(request: Request, path: str) -> Response:
        # `covering`'s routes: in `router.routes` each included router is one opaque entry.
        allowed = sorted(
            {
                method
                for covered in covering
                for route in covered.routes
                if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
                for method in route.methods or ()
            }
        )
        if allowed:
            raise RestError(
                INVALID_INPUT,
                f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                status_code=405,
                headers={"Allow": ", ".join(allowed)},
            )
        raise RestError(NOT_FOUND, f"No such route: {request.url.path}.")
