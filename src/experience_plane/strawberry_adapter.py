"""Every use of a Strawberry name outside its documented API, in one place.

Strawberry 0.341 has no public hook for some of what the service needs: query-limit rules to
validate with a shared document cache, the origin rule its WebSocket handshake applies, the
graphql-transport-ws handler's own error handling for a shared subscription, a leaner error
mask. Those uses import from here only, so a Strawberry upgrade that moves one breaks this module
and `tests/experience_plane/test_strawberry_adapter.py` names what moved. The same test pins the
undocumented hooks the service's subclasses override (the HTTP view's `execute_single`, the
WebSocket handlers' connection state), which cannot move out of those subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import ASTValidationRule, GraphQLSchema
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.extensions import MaskErrors
from strawberry.extensions.max_aliases import create_validator as _aliases_validator
from strawberry.extensions.query_depth_limiter import create_validator as _depth_validator
from strawberry.http.streaming import (
    HTTPStreamTransport,
    MultipartSubscriptionTransport,
    SSETransport,
)
from strawberry.http.websocket_origin import (
    is_same_origin,
    normalize_allowed_origins,
    normalize_origin,
)
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import validate_document
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    _OperationStreamClosed as OperationStreamClosed,
)
from strawberry.types.execution import PreExecutionError

__all__ = [
    "STREAM_TRANSPORTS",
    "CannotGetOperationTypeError",
    "InvalidOperationTypeError",
    "LeanMaskErrors",
    "LineFeedSSETransport",
    "Operation",
    "OperationStreamClosed",
    "aliases_rule",
    "depth_rule",
    "graphql_core_schema",
    "handle_pre_execution_error",
    "init_pending",
    "is_same_origin",
    "mark_init_received",
    "normalize_allowed_origins",
    "normalize_origin",
    "reject_incremental_delivery",
    "set_sub_response",
    "starlette_websocket",
    "validate_document",
    "wants_graphql_ide",
]

TransportHandler = BaseGraphQLTransportWSHandler[Any, Any]


def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    """The validation rule behind Strawberry's `QueryDepthLimiter`, counting every field."""
    return _depth_validator(max_depth, should_ignore=None)


def aliases_rule(max_aliases: int) -> type[ASTValidationRule]:
    """The validation rule behind Strawberry's `MaxAliasesLimiter`."""
    return _aliases_validator(max_aliases)


def graphql_core_schema(schema: BaseSchema) -> GraphQLSchema:
    """The graphql-core schema a Strawberry schema executes with."""
    core: GraphQLSchema = schema._schema  # type: ignore[attr-defined]
    return core


class LeanMaskErrors(MaskErrors):
    """Strawberry's `MaskErrors`, without its per-result protocol check: Strawberry asks
    `isinstance(result, <runtime-checkable Protocol>)`, which inspects the protocol's members on
    every request; an attribute lookup says the same. Subclasses override `anonymise_error`."""

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


class LineFeedSSETransport(SSETransport):
    """Strawberry's GraphQL-over-SSE framing with lines ending in LF, as every other SSE stream
    of the service (Strawberry ends them with CRLF, which the SSE spec allows but some
    line-based clients and proxies mishandle)."""

    def encode_event(self, event: str, data: str | None = None) -> str:
        return super().encode_event(event, data).replace("\r\n", "\n")

    def encode_comment(self, comment: str) -> str:
        return super().encode_comment(comment).replace("\r\n", "\n")


STREAM_TRANSPORTS: Mapping[str, type[HTTPStreamTransport]] = {
    MULTIPART_SUBSCRIPTION_PROTOCOL: MultipartSubscriptionTransport,
    GRAPHQL_SSE_PROTOCOL: LineFeedSSETransport,
}
"""The HTTP stream transports by protocol, for a view's `stream_transport_classes_by_protocol`."""


def wants_graphql_ide(view: Any, request_adapter: Any) -> bool:
    """Whether Strawberry would answer the request with its GraphiQL page."""
    return view.should_render_graphql_ide(request_adapter)  # type: ignore[no-any-return]


def set_sub_response(router: Any, response: Response) -> None:
    """Hand the FastAPI router the response resolvers may add headers to, as its own route
    does before calling `run` (its `get_sub_response` returns it)."""
    router.temporal_response = response


def init_pending(handler: TransportHandler) -> bool:
    """Whether a graphql-transport-ws connection has had neither `connection_init` nor its
    initialisation timeout yet."""
    return not handler.connection_init_received and not handler.connection_timed_out


def mark_init_received(handler: TransportHandler) -> None:
    """Record a `connection_init` the service answered itself (a refusal): the timeout no
    longer applies and a second `connection_init` is refused as Strawberry refuses it."""
    if handler.connection_init_timeout_task:
        handler.connection_init_timeout_task.cancel()
    handler.connection_init_received = True


async def handle_pre_execution_error(
    handler: TransportHandler, operation: Operation[Any, Any], result: PreExecutionError
) -> None:
    """Strawberry's answer to a subscription refused before execution (an `error` message, or
    closing the socket, then raising `OperationStreamClosed`)."""
    await handler._handle_pre_execution_error(operation, result)


async def reject_incremental_delivery(
    handler: TransportHandler, operation: Operation[Any, Any]
) -> None:
    """Strawberry's `error` message for @defer/@stream results over graphql-transport-ws."""
    await handler._reject_incremental_delivery(operation)


def starlette_websocket(websocket: object) -> WebSocket | None:
    """The Starlette WebSocket under Strawberry's ASGI adapter, to send prepared text on."""
    if isinstance(websocket, ASGIWebSocketAdapter):
        return websocket.ws
    return None
