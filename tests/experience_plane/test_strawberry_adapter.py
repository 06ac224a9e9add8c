"""The Strawberry names the service uses outside Strawberry's documented API are still there.

Each check names what it needs; when a Strawberry upgrade moves one, the failure says
"strawberry <name> moved: ..." and `experience_plane.strawberry_adapter` is the one place to fix.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from graphql import GraphQLSchema

from experience_plane.graphql.schema import build_schema
from experience_plane.strawberry_adapter import graphql_core_schema

HTTP_VIEW = "strawberry.http.async_base_view.AsyncBaseHTTPView"
BASE_VIEW = "strawberry.http.base.BaseView"
ROUTER = "strawberry.fastapi.router.GraphQLRouter"
TRANSPORT_WS = "strawberry.subscriptions.protocols.graphql_transport_ws.handlers"
LEGACY_WS = "strawberry.subscriptions.protocols.graphql_ws.handlers.BaseGraphQLWSHandler"
MASK_ERRORS = "strawberry.extensions.mask_errors.MaskErrors"

# (dotted name, the parameters it must take, in order; None: only that it exists)
NAMES: list[tuple[str, tuple[str, ...] | None]] = [
    ("strawberry.extensions.query_depth_limiter.create_validator", ("max_depth", "should_ignore")),
    ("strawberry.extensions.max_aliases.create_validator", ("max_alias_count",)),
    ("strawberry.schema.schema.validate_document", ("schema", "document", "validation_rules")),
    ("strawberry.schema.exceptions.CannotGetOperationTypeError", None),
    ("strawberry.schema.exceptions.InvalidOperationTypeError", ("operation_type",)),
    (
        "strawberry.schema.exceptions.InvalidOperationTypeError.as_http_error_reason",
        ("self", "method"),
    ),
    (
        "strawberry.schema.exceptions.CannotGetOperationTypeError.as_http_error_reason",
        ("self",),
    ),
    ("strawberry.http.websocket_origin.is_same_origin", ("origin", "host")),
    ("strawberry.http.websocket_origin.normalize_origin", ("origin",)),
    ("strawberry.http.websocket_origin.normalize_allowed_origins", ("allowed_origins",)),
    ("strawberry.asgi.ASGIWebSocketAdapter", ("view", "request", "response")),
    (f"{MASK_ERRORS}._process_result", ("self", "result")),
    (f"{MASK_ERRORS}._process_errors", ("self", "errors")),
    (f"{MASK_ERRORS}.anonymise_error", ("self", "error")),
    (f"{BASE_VIEW}._get_stream_transport_from_headers", ("self", "headers")),
    (f"{BASE_VIEW}.should_render_graphql_ide", ("self", "request")),
    (
        f"{HTTP_VIEW}.execute_single",
        (
            *("self", "request", "request_adapter", "sub_response"),
            *("context", "root_value", "request_data"),
        ),
    ),
    (f"{ROUTER}.get_sub_response", ("self", "request")),
    (f"{TRANSPORT_WS}._OperationStreamClosed", None),
    (f"{TRANSPORT_WS}.Operation", None),
    (f"{TRANSPORT_WS}.Operation.send_operation_message", ("self", "message")),
    (
        f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler._handle_pre_execution_error",
        ("self", "operation", "result"),
    ),
    (
        f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler._reject_incremental_delivery",
        ("self", "operation"),
    ),
    (f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.run_operation", ("self", "operation")),
    (f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.handle_connection_init", ("self", "message")),
    (f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.handle_task_exception", ("self", "error")),
    (f"{LEGACY_WS}.handle_connection_init", ("self", "message")),
    (f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.handle", ("self",)),
    (f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.handle_message", ("self", "message")),
    (f"{LEGACY_WS}.handle", ("self",)),
    (f"{LEGACY_WS}.handle_message", ("self", "message")),
    (f"{BASE_VIEW}.decode_json", ("self", "data")),
    (f"{BASE_VIEW}.parse_json", ("self", "data")),
]

# (dotted name of a function, what its source must still contain, why the service needs it)
SOURCES: list[tuple[str, str, str]] = [
    (
        f"{HTTP_VIEW}.execute_operation",
        "self.execute_single(",
        "plain HTTP operations must still go through execute_single, which the router overrides",
    ),
    (
        f"{ROUTER}.get_sub_response",
        "self.temporal_response",
        "the router's sub-response must still be the attribute set_sub_response sets",
    ),
    (
        f"{MASK_ERRORS}.on_operation",
        "self._process_result(",
        "MaskErrors must still mask through _process_result, which LeanMaskErrors overrides",
    ),
    (
        f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.__init__",
        "self.connection_init_received",
        "init_pending/mark_init_received read and set the handler's connection_init state",
    ),
    (
        f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.__init__",
        "self.connection_timed_out",
        "init_pending reads the handler's initialisation timeout state",
    ),
    (
        f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.__init__",
        "self.connection_init_timeout_task",
        "mark_init_received cancels the handler's initialisation timer",
    ),
    (
        f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.__init__",
        "self.connection_acknowledged",
        "TransportWSHandler starts its pings once the connection is acknowledged",
    ),
    (
        f"{LEGACY_WS}.__init__",
        "self.connection_acknowledged",
        "LegacyWSHandler's init timeout reads whether the connection was acknowledged",
    ),
    (
        f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.run_operation",
        "except _OperationStreamClosed",
        "the shared-subscription path mirrors run_operation's error handling",
    ),
    (
        f"{TRANSPORT_WS}.Operation.__init__",
        "self.completed",
        "TransportWSHandler sends nothing more on a completed operation",
    ),
    (
        f"{TRANSPORT_WS}.BaseGraphQLTransportWSHandler.handle",
        "await self.handle_message(",
        "every graphql-transport-ws message must pass handle_message, which checks its shape",
    ),
    (
        f"{LEGACY_WS}.handle",
        "await self.handle_message(",
        "every graphql-ws message must pass handle_message, which checks its shape",
    ),
    (
        "strawberry.asgi.ASGIWebSocketAdapter.iter_json",
        "self.view.decode_json(",
        "WebSocket messages must be read by the router's decode_json (json_input's limits)",
    ),
    (
        f"{HTTP_VIEW}.parse_http_body",
        "self.parse_json(",
        "JSON bodies must be read by the router's parse_json (json_input's limits)",
    ),
    (
        f"{BASE_VIEW}.parse_query_params",
        "self.parse_json(",
        "GET variables and extensions must be read by the router's parse_json (json_input)",
    ),
    (
        "strawberry.asgi.ASGIWebSocketAdapter.__init__",
        "self.ws = response",
        "starlette_websocket sends prepared text on the adapter's Starlette WebSocket",
    ),
]


def resolve(dotted: str) -> object:
    """Import the longest module prefix of `dotted`, then walk the attributes after it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                pytest.fail(f"strawberry {dotted} moved: {attribute!r} is gone from {found!r}")
            found = getattr(found, attribute)
        return found
    pytest.fail(f"strawberry {dotted} moved: no module of it can be imported")


@pytest.mark.parametrize(("dotted", "parameters"), NAMES, ids=[name for name, _ in NAMES])
def test_each_non_public_name_is_where_the_adapter_expects_it(
    dotted: str, parameters: tuple[str, ...] | None
) -> None:
    found = resolve(dotted)
    if parameters is None:
        return
    assert callable(found), f"strawberry {dotted} moved: it is no longer callable"
    signature = inspect.signature(found)
    actual = tuple(signature.parameters)[: len(parameters)]
    assert actual == parameters, (
        f"strawberry {dotted} moved: its parameters are now {tuple(signature.parameters)}, "
        f"the adapter passes {parameters}"
    )


@pytest.mark.parametrize(
    ("dotted", "needle", "why"), SOURCES, ids=[f"{name}:{needle}" for name, needle, _ in SOURCES]
)
def test_each_overridden_hook_is_still_used_as_the_adapter_expects(
    dotted: str, needle: str, why: str
) -> None:
    found = resolve(dotted)
    assert callable(found), f"strawberry {dotted} moved: not a function"
    assert needle in inspect.getsource(found), f"strawberry {dotted} moved: {why}"


def test_the_graphql_core_schema_is_where_the_adapter_reads_it() -> None:
    assert isinstance(graphql_core_schema(build_schema()), GraphQLSchema), (
        "strawberry Schema._schema moved: it is no longer the graphql-core schema"
    )
