"""Serving the schema: Strawberry's FastAPI router, made to follow GraphQL over HTTP closely.
On top of what Strawberry serves (POST and GET, multipart uploads, both WebSocket protocols, SSE
and multipart subscriptions) this adds content negotiation by RFC 9110 (`negotiation`): JSON as
`application/json` or `application/graphql-response+json`, an event stream only for a
subscription or when it is strictly preferred, multipart for subscriptions that ask for it, 406
when nothing fits; request errors answered without `data` (400, or 200 under
`application/json`); 405 for a mutation sent with GET and a clear 400 for a subscription sent
as plain HTTP; persisted queries and trusted documents (`graphql.persisted`); refusals of
requests that are not GraphQL at all in GraphQL's error shape and the negotiated media type;
CSRF prevention (Apollo's convention: a GET or a "simple" POST must carry a preflight-forcing
header); WebSocket handlers that authenticate `connection_init` (`graphql.websockets`); and
`/graphql/stream`, always an SSE stream, for clients that cannot set headers; SSE streams are
counted per tenant, hint `retry:` and end without `complete` on shutdown (`graphql.sse`). Body
size limits are `middleware.BodySizeLimitMiddleware`'s, for every surface.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, cast

from cross_web import HTTPException, StarletteRequestAdapter
from fastapi import Depends
from starlette.background import BackgroundTasks
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.exceptions import MissingQueryError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, GraphQLRequestProtocol
from strawberry.schema import BaseSchema
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from experience_plane import json_input
from experience_plane.graphiql import GraphiQLPage
from experience_plane.graphql.context import GraphQLContext
from experience_plane.graphql.documents import UNKNOWN_DOCUMENT, UNTRUSTED_MESSAGE, DocumentCache
from experience_plane.graphql.persisted import PersistedQueries, PersistedQueryError
from experience_plane.graphql.sharing import SharedSubscriptions, is_subscription
from experience_plane.graphql.sse import held_event_stream
from experience_plane.graphql.uploads import (
    MultipartRefused,
    is_multipart,
    operations_with_files,
    read_form,
)
from experience_plane.graphql.websockets import LegacyWSHandler, TransportWSHandler
from experience_plane.json_input import JsonInputError
from experience_plane.negotiation import (
    APPLICATION_JSON,
    BAD_REQUEST,
    EVENT_STREAM,
    GRAPHQL_RESPONSE_JSON,
    JSON_OFFERS,
    MULTIPART_MIXED,
    Offer,
    Rank,
    best_of,
    graphql_error_response,
    parse_accept,
)
from experience_plane.services import ErrorCode
from experience_plane.strawberry_adapter import (
    STREAM_TRANSPORTS,
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
    set_sub_response,
    wants_graphql_ide,
)

SUBSCRIPTION_OVER_HTTP = (
    "Subscriptions need a WebSocket (graphql-transport-ws or graphql-ws), Server-Sent Events "
    "(Accept: text/event-stream, or POST /graphql/stream) or multipart HTTP (Accept: "
    'multipart/mixed;subscriptionSpec="1.0").'
)
NOT_ACCEPTABLE_MESSAGE = (
    f"Accept {APPLICATION_JSON} or {GRAPHQL_RESPONSE_JSON} (and, for subscriptions, "
    f'{EVENT_STREAM} or {MULTIPART_MIXED};subscriptionSpec="1.0") to receive a response.'
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

SSE = Offer(EVENT_STREAM)
MULTIPART_SUBSCRIPTIONS = Offer(MULTIPART_MIXED, (("subscriptionspec", "1.0"),))
# Streams in the server's order of preference, with the Strawberry protocol answering each.
STREAM_OFFERS = (SSE, MULTIPART_SUBSCRIPTIONS)
_PROTOCOLS: dict[Offer, GraphQLRequestProtocol] = {
    SSE: "sse",
    MULTIPART_SUBSCRIPTIONS: "multipart-subscription",
}
# Set by `run` for a streamed answer and read by `create_streaming_response` in the same task.
_stream_context: ContextVar[GraphQLContext | None] = ContextVar(
    "graphql_stream_context", default=None
)


@dataclass(frozen=True, slots=True)
class Negotiation:
    """What a request's `Accept` header allows: the best JSON media type, the best stream and
    the event stream, each with the client's rank (None: not acceptable)."""

    json: tuple[Offer, Rank] | None
    stream: tuple[Offer, Rank] | None
    sse: Rank | None

    @classmethod
    def of(cls, accept: str | None) -> Negotiation:
        """The negotiation for an `Accept` header (missing: anything is acceptable)."""
        ranges = parse_accept(accept)
        return cls(
            best_of(ranges, JSON_OFFERS),
            best_of(ranges, STREAM_OFFERS),
            SSE.rank(ranges, 0),
        )

    @property
    def acceptable(self) -> bool:
        """Whether any answer at all is acceptable."""
        return self.json is not None or self.stream is not None

    @property
    def json_media_type(self) -> str | None:
        """The JSON media type to answer with, if one is acceptable."""
        return self.json[0].media_type if self.json else None

    def protocol(self, subscription: Callable[[], bool]) -> GraphQLRequestProtocol | None:
        """How to answer: a stream when the operation is a `subscription`, an event stream also
        when it is strictly preferred to JSON; None when nothing acceptable fits (406)."""
        if self.stream is not None and subscription():
            return _PROTOCOLS[self.stream[0]]
        if self.sse is not None and (self.json is None or self.sse[:2] > self.json[1][:2]):
            return "sse"
        return "http" if self.json is not None else None


# Set per request by `run`, read by `parse_http_body` and `create_response` in the same task.
# (An immutable default: a missing `Accept` header's negotiation.)
ACCEPT_ANYTHING = Negotiation.of(None)
_negotiation: ContextVar[Negotiation] = ContextVar("graphql_negotiation", default=ACCEPT_ANYTHING)


class InputRefused(HTTPException):
    """JSON that `json_input` refused, as a 400: code `BAD_REQUEST` when it is not JSON,
    `INVALID_INPUT` (with the `reason`) when it is JSON beyond a limit."""

    def __init__(self, error: JsonInputError) -> None:
        super().__init__(400, error.message)
        self.code = BAD_REQUEST if error.malformed else ErrorCode.INVALID_INPUT.name
        self.extensions = {"reason": error.reason.value}


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
    stream_transport_classes_by_protocol = STREAM_TRANSPORTS
    # Set by `create_app` when subscriptions are shared (see `graphql.sharing`); None: unshared.
    subscription_hub: SharedSubscriptions | None = None
    # Set by `create_app` when GraphiQL is on: the page served instead of Strawberry's, which
    # loads GraphiQL from a CDN (see `experience_plane.graphiql`).
    graphiql: GraphiQLPage | None = None

    def __init__(
        self,
        schema: BaseSchema,
        *,
        path: str = "",
        csrf_prevention: bool = True,
        persisted_queries: PersistedQueries | None = None,
        allowed_origin_pattern: re.Pattern[str] | None = None,
        max_json_bytes: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "subscription_protocols",
            (
                GRAPHQL_TRANSPORT_WS_PROTOCOL,
                GRAPHQL_WS_PROTOCOL,
                GRAPHQL_SSE_PROTOCOL,
                MULTIPART_SUBSCRIPTION_PROTOCOL,
            ),
        )
        super().__init__(schema, path=path, **kwargs)
        self.csrf_prevention = csrf_prevention
        self.persisted_queries = persisted_queries or PersistedQueries()
        self.allowed_origin_pattern = allowed_origin_pattern
        # The most JSON one body, parameter, part or message may hold (None: no limit here).
        self.max_json_bytes = max_json_bytes

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
            except HTTPException as exc:  # refused before `run` could answer it
                return graphql_error_response(
                    exc.status_code, exc.reason, accept=request.headers.get("accept")
                )
            if tasks.tasks:
                result.background = tasks
            return result

        self.add_route(path, handle_post, methods=["POST"], include_in_schema=False)
        # First, so that it matches before Strawberry's POST route for the same path.
        route = self.routes.pop()
        self.routes.insert(0, route)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """The service's own GraphiQL page (Strawberry's documented hook for a custom IDE)."""
        if self.graphiql is None:
            raise HTTPException(404, "Not Found")
        return self.graphiql.response()

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: GraphQLContext = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        adapter = StarletteRequestAdapter(request)
        negotiation = Negotiation.of(request.headers.get("accept"))
        error_type = negotiation.json_media_type or APPLICATION_JSON
        ide = wants_graphql_ide(self, adapter)
        if self.csrf_prevention and not ide and is_csrf_risk(request.method, request.headers):
            return graphql_error_response(400, CSRF_MESSAGE, media_type=error_type)
        if not ide and not negotiation.acceptable:
            return graphql_error_response(406, NOT_ACCEPTABLE_MESSAGE, media_type=error_type)
        if is_multipart(request):
            try:
                await read_form(request)  # with limits, before Strawberry reads it without
            except MultipartRefused as exc:
                return graphql_error_response(400, exc.reason, media_type=error_type, code=exc.code)
        token = _negotiation.set(negotiation)
        streamed = _stream_context.set(context if isinstance(context, GraphQLContext) else None)
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            headers = {"Allow": "POST"} if exc.status_code == 405 else None
            return graphql_error_response(
                exc.status_code,
                exc.reason,
                media_type=error_type,
                headers=headers,
                code=getattr(exc, "code", None),
                extensions=getattr(exc, "extensions", None),
            )
        except PersistedQueryError as exc:
            return graphql_error_response(
                exc.status_code, exc.message, media_type=error_type, code=exc.code
            )
        finally:
            _negotiation.reset(token)
            _stream_context.reset(streamed)
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

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        """Strawberry's rule (same origin, or listed in `allowed_origins`), and any origin
        matching `allowed_origin_pattern` (`experience-plane dev`: loopback on any port)."""
        if super().is_websocket_origin_allowed(request, origin):
            return True
        pattern = self.allowed_origin_pattern
        return pattern is not None and pattern.fullmatch(origin) is not None

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry's parsing, then the persisted query resolved (`graphql.persisted`) and the
        transport chosen by content negotiation (`Negotiation.protocol`)."""
        data = await super().parse_http_body(request)
        if isinstance(data, list):  # refused by Strawberry already: batching is off
            return data
        query = await self.persisted_queries.resolve(data.query, data.extensions)
        cache = getattr(self.schema, "document_cache", None)
        if query is not None and isinstance(cache, DocumentCache) and not cache.trusts(query):
            raise PersistedQueryError(400, UNTRUSTED_MESSAGE, UNKNOWN_DOCUMENT)
        protocol = _negotiation.get().protocol(
            lambda: query is not None and is_subscription(query, data.operation_name)
        )
        if protocol is None:
            raise HTTPException(406, NOT_ACCEPTABLE_MESSAGE)
        return replace(data, query=query, protocol=protocol)

    def decode_json(self, data: str | bytes) -> object:
        """JSON as `json_input` reads it, for WebSocket messages (HTTP goes by `parse_json`):
        a message that is not JSON is Strawberry's to answer as it does (graphql-transport-ws
        closes with 4400, legacy graphql-ws ignores it); one beyond a limit raises
        `JsonInputError`, which the protocol handlers answer with a 4400 close."""
        try:
            return json_input.loads(data, max_bytes=self.max_json_bytes)
        except JsonInputError as exc:
            if exc.malformed:
                raise json.JSONDecodeError(exc.message, "", 0) from exc
            raise

    def parse_json(self, data: str | bytes) -> object:
        """A request body, GET parameter or multipart part read by `json_input` (a 400 with
        code `BAD_REQUEST` when it is not JSON, `INVALID_INPUT` when it is JSON beyond a limit
        or holds a lone surrogate), then refused unless a JSON object (or a batch list):
        Strawberry would otherwise call `.get` on a number or a string, and answer 500."""
        try:
            parsed = json_input.loads(data, max_bytes=self.max_json_bytes)
        except JsonInputError as exc:
            raise InputRefused(exc) from exc
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        if isinstance(parsed, dict):
            return _document_id_as_persisted_query(parsed)
        return parsed

    def parse_query_params(self, params: Any) -> dict[str, Any]:
        """Strawberry's reading of a GET's parameters, with `documentId` as a persisted query."""
        parsed = super().parse_query_params(params)
        if not isinstance(parsed.get("extensions"), dict | None):
            raise HTTPException(400, "The `extensions` parameter must be a JSON object.")
        return _document_id_as_persisted_query(parsed)

    async def parse_multipart(self, request: Any) -> dict[str, str]:
        """The request in a multipart body, read by `graphql.uploads` rather than Strawberry:
        every malformed body (a repeated part, a path mapped twice or not a null variable, a
        file not mapped) is a 400 with code `BAD_REQUEST`."""
        form = (await request.get_form_data()).form  # starlette's, read by `run` with limits
        return cast(dict[str, str], operations_with_files(form, self.parse_json))

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
        media_type = _negotiation.get().json_media_type or APPLICATION_JSON
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


def _document_id_as_persisted_query(data: dict[str, Any]) -> dict[str, Any]:
    """GraphQL over HTTP's `documentId` (`sha256:<hex>` or a manifest key) said the way Apollo's
    persisted queries say it, so that `PersistedQueries` has one form to resolve."""
    document_id = data.get("documentId")
    if document_id is None:
        return data
    if not isinstance(document_id, str) or not document_id:
        raise HTTPException(400, "`documentId` must be a non-empty string.")
    extensions = data.get("extensions")
    if not isinstance(extensions, dict | None):
        return data  # Strawberry refuses it with its own message
    digest = document_id.removeprefix("sha256:")
    persisted = {"version": 1, "sha256Hash": digest}
    return {**data, "extensions": {"persistedQuery": persisted, **(extensions or {})}}
