"""Serving the schema: Strawberry's FastAPI router, made to follow GraphQL over HTTP closely.
On top of what Strawberry serves (POST and GET, multipart uploads, both WebSocket protocols, SSE)
this adds content negotiation between `application/graphql-response+json` (preferred) and
`application/json` (406 when neither is acceptable); request errors answered without `data`
(400, or 200 under `application/json`); 405 for a mutation sent with GET and a clear 400 for a
subscription sent as plain HTTP; JSON error bodies for requests that are not GraphQL at all;
CSRF prevention (Apollo's convention: a GET or a "simple" POST must carry a preflight-forcing
header); WebSocket handlers that authenticate `connection_init` (`graphql.websockets`); and
`/graphql/stream`, always an SSE stream, for clients that cannot set headers; SSE streams are
counted per tenant, hint `retry:` and end without `complete` on shutdown (`graphql.sse`). Body
size limits are `middleware.BodySizeLimitMiddleware`'s, for every surface.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, cast

from cross_web import HTTPException, StarletteRequestAdapter
from fastapi import Depends
from starlette.background import BackgroundTasks
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket
from strawberry.exceptions import MissingQueryError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from experience_plane.graphql.context import GraphQLContext
from experience_plane.graphql.sharing import SharedSubscriptions
from experience_plane.graphql.sse import held_event_stream
from experience_plane.graphql.websockets import LegacyWSHandler, TransportWSHandler
from experience_plane.strawberry_adapter import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
    set_sub_response,
    stream_transport_requested,
    wants_graphql_ide,
)

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
EVENT_STREAM = "text/event-stream"
SUBSCRIPTION_OVER_HTTP = (
    "Subscriptions need a WebSocket (graphql-transport-ws or graphql-ws) or Server-Sent Events "
    "(Accept: text/event-stream, or POST /graphql/stream)."
)
# Any of these, non-empty, makes a browser send a CORS preflight before the request.
PREFLIGHT_HEADERS = ("graphql-preflight", "apollo-require-preflight", "x-apollo-operation-name")
# Content types a browser sends cross-origin without a preflight (the Fetch spec's "simple" ones).
_SIMPLE_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
CSRF_MESSAGE = (
    "This request has been blocked as a possible Cross-Site Request Forgery (CSRF): a GET, or a "
    "POST that is not JSON (e.g. a multipart upload), must carry a non-empty "
    "'GraphQL-Preflight' header (or 'Apollo-Require-Preflight' or 'X-Apollo-Operation-Name')."
)

# Set per request by `run` and read by `create_response` in the same task.
_response_media_type: ContextVar[str] = ContextVar(
    "graphql_response_media_type", default=GRAPHQL_RESPONSE_JSON
)
# Set by `run` for a streamed answer and read by `create_streaming_response` in the same task.
_stream_context: ContextVar[GraphQLContext | None] = ContextVar(
    "graphql_stream_context", default=None
)


def negotiate_media_type(accept: str | None) -> str | None:
    """The response media type for an `Accept` header, or None when nothing fits (406).

    The highest `q` wins, ties go to the type listed first; wildcards and a missing header mean
    `application/graphql-response+json`, as GraphQL over HTTP asks since its 2025 watershed.
    """
    if accept is None or not accept.strip():
        return GRAPHQL_RESPONSE_JSON
    best: tuple[float, int, str] | None = None
    for index, part in enumerate(accept.split(",")):
        media_range, *params = (piece.strip() for piece in part.split(";"))
        media_range = media_range.lower()
        if media_range in (GRAPHQL_RESPONSE_JSON, APPLICATION_JSON):
            candidate = media_range
        elif media_range in ("*/*", "application/*"):
            candidate = GRAPHQL_RESPONSE_JSON
        else:
            continue
        quality = _quality(params)
        if quality <= 0:
            continue
        ranked = (quality, -index, candidate)
        if best is None or ranked[:2] > best[:2]:
            best = ranked
    return best[2] if best else None


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def is_csrf_risk(method: str, headers: Mapping[str, str]) -> bool:
    """True for a request a browser could send cross-site without a CORS preflight.

    Such a request cannot be told apart from a forgery (its response is unreadable to the
    attacker, but its side effects happen), so it needs a header only a preflight allows.
    """
    if any(headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
        return False
    if method == "GET":
        return True
    content_type = headers.get("content-type")
    if content_type is None:
        return True
    return content_type.split(";", 1)[0].strip().lower() in _SIMPLE_CONTENT_TYPES


def is_request_error(result: ExecutionResult) -> bool:
    """True when the operation never executed: parse, validation or variable errors.

    Those errors have no `path`; an error raised while executing a field always has one.
    """
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


class GraphQLHTTPRouter(GraphQLRouter[GraphQLContext, None]):
    """The `/graphql` endpoints (and `/graphql/stream`), following GraphQL over HTTP."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    # Set by `create_app` when subscriptions are shared (see `graphql.sharing`); None: unshared.
    subscription_hub: SharedSubscriptions | None = None

    def __init__(
        self,
        schema: BaseSchema,
        *,
        path: str = "",
        csrf_prevention: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "subscription_protocols",
            (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL),
        )
        super().__init__(schema, path=path, **kwargs)
        self.csrf_prevention = csrf_prevention

        async def handle_stream(
            request: Request,
            response: Response,
            context: GraphQLContext = Depends(self.context_getter),  # noqa: B008 - FastAPI idiom
        ) -> Response:
            set_sub_response(self, response)
            result = await self.run(
                request=_accepting(request, EVENT_STREAM), context=context, root_value=None
            )
            return cast(Response, result)

        self.add_api_route(
            path + "/stream",
            handle_stream,
            methods=["GET", "POST"],
            include_in_schema=False,
            summary="GraphQL over Server-Sent Events (distinct connections mode)",
        )

        build_context = kwargs.get("context_getter")
        if build_context is not None:
            self._serve_post_directly(path, build_context)

    def _serve_post_directly(
        self, path: str, build_context: Callable[[HTTPConnection], Awaitable[GraphQLContext]]
    ) -> None:
        """Serve `POST path` from a plain Starlette endpoint, ahead of Strawberry's own route.

        Strawberry's route asks FastAPI to solve four dependencies per request (its merged
        context, ours under it, the root value, the background tasks) before it does what this
        does directly; on `bench/query_overhead.py` that solving was a sizeable share of a
        query's CPU. Errors still reach the application's exception handlers.
        """

        async def handle_post(request: Request) -> Response:
            # FastAPI only records APIRoutes as the scope's route; metrics label by its path.
            request.scope["route"] = route
            context = await build_context(request)
            # Where resolvers may add headers, as FastAPI makes it: without its own
            # Content-Length, which would otherwise be copied into the answer beside the real one.
            sub_response = Response()
            del sub_response.headers["content-length"]
            tasks = BackgroundTasks()
            # What Strawberry's FastAPI dependency sets on a `BaseContext`.
            context.request = request
            context.response = sub_response
            context.background_tasks = tasks
            set_sub_response(self, sub_response)
            try:
                result = cast(Response, await self.run(request, context=context, root_value=None))
            except HTTPException as exc:  # as Strawberry's route answers them
                return PlainTextResponse(exc.reason, status_code=exc.status_code)
            if tasks.tasks:
                result.background = tasks
            return result

        self.add_route(path, handle_post, methods=["POST"], include_in_schema=False)
        # First, so that it matches before Strawberry's POST route for the same path.
        route = self.routes.pop()
        self.routes.insert(0, route)

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: GraphQLContext = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        adapter = StarletteRequestAdapter(request)
        if (
            self.csrf_prevention
            and not wants_graphql_ide(self, adapter)
            and is_csrf_risk(request.method, request.headers)
        ):
            return _error_response(400, CSRF_MESSAGE, APPLICATION_JSON)
        streaming = stream_transport_requested(self, request.headers)
        if streaming or wants_graphql_ide(self, adapter):
            stream_token = _stream_context.set(context or None)
            try:
                return await super().run(request, context, root_value)
            except HTTPException as exc:
                return _error_response(exc.status_code, exc.reason, APPLICATION_JSON)
            finally:
                _stream_context.reset(stream_token)
        media_type = negotiate_media_type(request.headers.get("accept"))
        if media_type is None:
            return _error_response(
                406,
                f"Accept {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON} to receive a response.",
                APPLICATION_JSON,
            )
        token = _response_media_type.set(media_type)
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            headers = {"Allow": "POST"} if exc.status_code == 405 else None
            return _error_response(exc.status_code, exc.reason, media_type, headers)
        finally:
            _response_media_type.reset(token)
            # Strawberry reads multipart bodies with `request.form()` and never closes the
            # uploaded files' temporary files; the answer is complete here, so close them.
            await request.close()

    async def create_streaming_response(
        self,
        request: Request,
        stream: Callable[[], AsyncIterator[str]],
        sub_response: Response,
        headers: Mapping[str, str],
    ) -> Response:
        context = _stream_context.get()
        if headers.get("Content-Type") == EVENT_STREAM and context is not None:
            stream = held_event_stream(
                context.services.streams,
                context.principal.tenant_id,
                stream,
                self.encode_json_string,
            )
        return await super().create_streaming_response(request, stream, sub_response, headers)

    def parse_json(self, data: str | bytes) -> object:
        """Strawberry's JSON parsing, refusing a body that is not a JSON object (or a batch
        list), or one that is not UTF-8: Strawberry would otherwise call `.get` on a number or
        a string, or let the decoding error through, and answer 500."""
        try:
            parsed = super().parse_json(data)
        except UnicodeDecodeError as exc:
            raise HTTPException(400, "The request body is not valid UTF-8 JSON.") from exc
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    async def parse_multipart(self, request: Any) -> dict[str, str]:
        """Strawberry's multipart parsing, with every malformed body a 400: `operations` or
        `map` of the wrong JSON type, a map naming files that were not sent or paths that do
        not exist in the variables."""
        try:
            return await super().parse_multipart(request)
        except HTTPException:
            raise
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise HTTPException(
                400,
                "Malformed multipart request: `operations` must be a GraphQL request object and "
                "`map` an object mapping each sent file to paths of null variables.",
            ) from exc

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: GraphQLContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Strawberry's own version, but plain HTTP never runs a subscription (that needs
        # a WebSocket or SSE) and a GET mutation is 405 rather than 400. Strawberry has no
        # public hook for the operation types a request may run, so this overrides its
        # undocumented one (pinned by tests/experience_plane/test_strawberry_adapter.py).
        method = request_adapter.method
        allowed = OperationType.from_http(method) - {OperationType.SUBSCRIPTION}
        if not self.allow_queries_via_get and method == "GET":
            allowed -= {OperationType.QUERY}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise HTTPException(400, SUBSCRIPTION_OVER_HTTP) from exc
            if method == "GET" and exc.operation_type is OperationType.MUTATION:
                raise HTTPException(405, "Mutations must be sent with POST.") from exc
            raise HTTPException(400, exc.as_http_error_reason(method)) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request.") from exc

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if is_request_error(result):
            # The GraphQL spec: a request error happens before execution, so there is no data.
            response.pop("data", None)
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media_type = _response_media_type.get()
        status_code = sub_response.status_code or 200
        if (
            media_type == GRAPHQL_RESPONSE_JSON
            and isinstance(response_data, Mapping)
            and "data" not in response_data
        ):
            status_code = 400
        response = Response(
            self.encode_json(response_data),
            status_code=status_code,
            media_type=f"{media_type}; charset=utf-8",
        )
        response.headers.raw.extend(sub_response.headers.raw)
        return response


def _accepting(request: Request, media_type: str) -> Request:
    """The same request with its `Accept` header replaced."""
    headers = [(name, value) for name, value in request.scope["headers"] if name != b"accept"]
    headers.append((b"accept", media_type.encode("latin-1")))
    return Request({**request.scope, "headers": headers}, request.receive)


def _error_response(
    status_code: int,
    message: str,
    media_type: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = json.dumps({"errors": [{"message": message}]}, separators=(",", ":"))
    return Response(
        body,
        status_code=status_code,
        media_type=f"{media_type}; charset=utf-8",
        headers=dict(headers or {}),
    )
