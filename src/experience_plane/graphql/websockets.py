"""WebSocket protocol handlers: Strawberry's, with authentication on `connection_init`, timeouts
and keep-alives on top. The caller is authenticated from the `connection_init` payload
(`Authorization: Bearer <t>` or `authToken`, else the handshake's header) before the connection
is acknowledged, so nothing runs for a refused caller, who gets close code 4403 with the reason
(e.g. `Forbidden: expired`; legacy graphql-ws sends a `connection_error` first); the payload may
carry the client's `sessionId`. A message beyond `json_input`'s limits (nested too deep, a lone
surrogate), or JSON that is no message of the protocol, closes either protocol with 4400 and
the reason. On graphql-transport-ws the server
pings every `keep_alive_interval` seconds, and subscribers of the same operation (document,
variables, operation name, tenant and roles) share one execution of it (`graphql.sharing`) when
the router has a `subscription_hub` (`create_app` always gives it one), each subscriber's own
token expiry still ending its subscription; legacy graphql-ws gets the same `connection_init`
timeout (4408). Queries and mutations over a socket, legacy graphql-ws and SSE are never shared.
Every subscription holds a place in its tenant's count of open streams (`services.streams`);
past the ceiling it is refused with an `error` message (`TOO_MANY_SUBSCRIPTIONS`). When the
service shuts down an acknowledged connection is closed with 1012 (service restart) and a
reason, and no `complete` is sent for what was still running: standard clients reconnect and
subscribe again (graphql-ws's does), where a `complete` would have ended their subscriptions.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import Any

from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    NextMessagePayload,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError

from experience_plane.auth import AuthenticationError
from experience_plane.context import (
    SESSION_HEADER,
    InvalidSessionId,
    client_session_id,
    get_authenticator,
)
from experience_plane.graphql.context import GraphQLContext
from experience_plane.graphql.documents import DocumentCache, UntrustedDocument
from experience_plane.graphql.errors import PublicError, public_error
from experience_plane.graphql.sharing import (
    OperationKey,
    SharedSubscriptions,
    is_subscription,
    operation_key,
    shared_principal,
)
from experience_plane.json_input import JsonInputError
from experience_plane.services import ErrorCode, TooManySubscriptionsError
from experience_plane.services.presentation import TOKEN_EXPIRED_MESSAGE
from experience_plane.strawberry_adapter import (
    Operation,
    OperationStreamClosed,
    handle_pre_execution_error,
    init_pending,
    mark_init_received,
    reject_incremental_delivery,
    starlette_websocket,
)

logger = logging.getLogger(__name__)

# graphql-transport-ws's close code for a bad message; legacy graphql-ws gets it too.
INVALID_MESSAGE = 4400
FORBIDDEN = 4403
INIT_TIMEOUT = 4408
SERVICE_RESTART = 1012
RESTART_REASON = "Service restart: reconnect and subscribe again"


class InvalidMessage(Exception):
    """A JSON message that is no message of the protocol (not an object, no string `type`, an
    `id` or `payload` of the wrong kind), which Strawberry's handlers would fail on."""


def check_message(message: object, *, start: str, with_id: frozenset[str]) -> None:
    """Raise `InvalidMessage` unless `message` is shaped as the handlers read it: an object
    with a string `type`; a string `id` for the types in `with_id`; for `start` (the message
    that runs an operation) a `payload` with a string `query`, and `variables` and
    `extensions` objects and `operationName` a string when present."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise InvalidMessage("a message must be a JSON object with a string `type`")
    kind = message["type"]
    if kind in with_id and not isinstance(message.get("id"), str):
        raise InvalidMessage(f"a `{kind}` message needs a string `id`")
    if kind != start:
        return
    payload = message.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        raise InvalidMessage(f"a `{kind}` payload needs a string `query`")
    for name, kinds in _PAYLOAD_FIELDS.items():
        if not isinstance(payload.get(name), kinds):
            raise InvalidMessage(f"`payload.{name}` is of the wrong kind")


_PAYLOAD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "variables": (dict, type(None)),
    "extensions": (dict, type(None)),
    "operationName": (str, type(None)),
}
_TRANSPORT_IDS = frozenset({"subscribe", "complete"})
_LEGACY_IDS = frozenset({"start", "stop"})


async def close_for_input(websocket: Any, error: JsonInputError | InvalidMessage) -> None:
    """Close a connection whose message `json_input` refused (nested too deep, a lone
    surrogate...) or that is no protocol message, with 4400 and the reason, as
    graphql-transport-ws closes any bad message."""
    what = "input" if isinstance(error, JsonInputError) else "message"
    with suppress(Exception):  # it may be closing already (a restart, the client)
        # The messages are short: within the 123 bytes a close reason may have.
        await websocket.close(code=INVALID_MESSAGE, reason=f"Invalid {what}: {error}")


def counted_tenant(context: GraphQLContext, query: str, operation_name: str | None) -> str | None:
    """The tenant whose count of open streams `query` takes a place in: the caller's, for a
    subscription of an authenticated caller; None otherwise (refused or answered elsewhere)."""
    if not context.authenticated or context.seconds_until_expiry() == 0.0:
        return None
    if not isinstance(query, str) or not is_subscription(query, operation_name):
        return None
    return context.principal.tenant_id


class Restartable:
    """What both protocol handlers do when the service restarts: close the connection with
    1012 and send nothing more (no `complete` for what was still running)."""

    restarting = False
    _unregister: Callable[[], None] | None = None

    def watch_restart(self, context: GraphQLContext, websocket: Any) -> None:
        """Close `websocket` as a restart when the service shuts down (once acknowledged)."""
        if self._unregister is not None:
            return

        async def restart() -> None:
            self.restarting = True
            await websocket.close(code=SERVICE_RESTART, reason=RESTART_REASON)

        self._unregister = context.services.streams.on_restart(restart)

    def stop_watching_restart(self) -> None:
        """The connection has ended: nothing to restart any more."""
        if self._unregister is not None:
            self._unregister()
            self._unregister = None


class _Refusal:
    """Why a `connection_init` was refused: a stable reason and a message for people."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message

    @property
    def close_reason(self) -> str:
        # WebSocket close reasons are limited to 123 bytes; the reason codes are short.
        return f"Forbidden: {self.reason}"

    @property
    def payload(self) -> dict[str, object]:
        return {
            "message": self.message,
            "extensions": {"code": "UNAUTHENTICATED", "reason": self.reason},
        }


async def authenticate_connection(context: Any, payload: object) -> _Refusal | None:
    """Verify a `connection_init` payload and set the caller on the context; None when accepted."""
    if not isinstance(context, GraphQLContext):
        raise TypeError("The WebSocket context is not the Experience Plane's GraphQLContext.")
    websocket = context.request
    if websocket is None:
        raise TypeError("The WebSocket context has no connection.")
    params = payload if isinstance(payload, dict) else {}
    try:
        principal = await get_authenticator(websocket).from_connection_params(
            params, websocket.headers.get("authorization")
        )
        session = client_session_id(
            params.get("sessionId") or websocket.headers.get(SESSION_HEADER)
        )
    except AuthenticationError as exc:
        logger.info("WebSocket connection refused: %s", exc)
        return _Refusal(exc.reason.value, exc.message)
    except InvalidSessionId as exc:
        return _Refusal("invalid_session_id", str(exc))
    context.authenticate(principal, session)
    return None


def quiet_disconnects(error: Exception) -> bool:
    """Whether `error` is a client gone away mid-send, logged at debug level and otherwise
    ignored: a browser tab closing while an event is on its way is no server error, and
    Strawberry would log it with a traceback at ERROR."""
    if isinstance(error, WebSocketDisconnected):
        logger.debug("WebSocket client went away while a message was being sent")
        return True
    return False


def encode_next(view: Any, result: object) -> str | None:
    """A result's `next` payload as JSON text, built as Strawberry's `Operation.send_next` does
    and encoded by the router; None for what each subscriber must handle itself."""
    if not isinstance(result, ExecutionResult) or isinstance(result, PreExecutionError):
        return None
    payload: NextMessagePayload = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    encoded: str = view.encode_json_string(payload)
    return encoded


class TransportWSHandler(Restartable, BaseGraphQLTransportWSHandler[GraphQLContext, None]):
    """graphql-transport-ws with authentication on `connection_init`, server pings, a ceiling
    on open subscriptions per tenant, and 1012 on shutdown."""

    async def send_message(self, message: Any) -> None:
        if not self.restarting:  # closed as a restart: nothing more, `complete` least of all
            await super().send_message(message)

    async def handle(self) -> None:
        try:
            await super().handle()
        except (JsonInputError, InvalidMessage) as exc:
            await close_for_input(self.websocket, exc)

    async def handle_message(self, message: Any) -> None:
        check_message(message, start="subscribe", with_id=_TRANSPORT_IDS)
        await super().handle_message(message)

    async def handle_task_exception(self, error: Exception) -> None:
        if not quiet_disconnects(error):
            await super().handle_task_exception(error)

    _keep_alive_task: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload", {})
        if init_pending(self) and isinstance(payload, dict):
            refusal = await authenticate_connection(self.context, payload)
            if refusal is not None:
                mark_init_received(self)
                await self.websocket.close(code=FORBIDDEN, reason=refusal.close_reason)
                return
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._keep_alive_task is None:
            self._keep_alive_task = asyncio.create_task(self._ping())
            self.watch_restart(self.context, self.websocket)

    async def _ping(self) -> None:
        # The router's interval, the one legacy graphql-ws uses for its `ka` messages.
        interval = self.view.keep_alive_interval or 15.0
        while True:
            await asyncio.sleep(interval)
            await self.send_message({"type": "ping"})

    async def run_operation(self, operation: Operation[GraphQLContext, None]) -> None:
        cache = getattr(self.schema, "document_cache", None)
        if isinstance(cache, DocumentCache) and not cache.trusts(operation.query):
            # Trusted documents only: refused as on HTTP, before anything is parsed.
            error = {
                "id": operation.id,
                "type": "error",
                "payload": [UntrustedDocument().formatted],
            }
            await operation.send_operation_message(error)  # type: ignore[arg-type]
            self.operations.pop(operation.id, None)
            return
        tenant = counted_tenant(self.context, operation.query, operation.operation_name)
        if tenant is None:
            await self._run_operation(operation)
            return
        streams = self.context.services.streams
        try:
            await streams.open(tenant)
        except TooManySubscriptionsError as exc:
            payload = [public_error(exc).formatted]
            await operation.send_operation_message(
                {"id": operation.id, "type": "error", "payload": payload}
            )
            return
        try:
            await self._run_operation(operation)
        finally:
            streams.close(tenant)

    async def _run_operation(self, operation: Operation[GraphQLContext, None]) -> None:
        hub = getattr(self.view, "subscription_hub", None)
        key = self._sharing_key(operation) if isinstance(hub, SharedSubscriptions) else None
        if hub is None or key is None:
            await super().run_operation(operation)
            return
        # The base class's error handling, around the shared path instead of its own.
        try:
            await self._run_shared(hub, key, operation)
        except OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise

    def _sharing_key(self, operation: Operation[GraphQLContext, None]) -> OperationKey | None:
        context = self.context
        if not context.authenticated or context.seconds_until_expiry() == 0.0:
            return None  # refused on the unshared path, with its usual error
        if not is_subscription(operation.query, operation.operation_name):
            return None
        return operation_key(
            operation.query, operation.variables, operation.operation_name, context.principal
        )

    async def _run_shared(
        self,
        hub: SharedSubscriptions,
        key: OperationKey,
        operation: Operation[GraphQLContext, None],
    ) -> None:
        context = self.context
        shared_context = GraphQLContext(
            context.services, shared_principal(context.principal), context.client_session
        )
        # The shared operation may outlive this connection: it holds no reference to it.
        schema, root_value, view = self.schema, self.root_value, self.view
        query, variables, name = operation.query, operation.variables, operation.operation_name

        def source() -> Any:
            return schema.stream(
                query,
                variable_values=variables,
                context_value=shared_context,
                root_value=root_value,
                operation_name=name,
            )

        results = hub.subscribe(key, source, partial(encode_next, view))
        # Framing a shared payload costs one string concatenation per event, no serialisation.
        prefix = f'{{"id":{json.dumps(operation.id)},"type":"next","payload":'
        try:
            async with asyncio.timeout(context.seconds_until_expiry()) as deadline:
                first = True
                async for item in results:
                    if isinstance(item, str):
                        await self._send_framed(operation, prefix + item + "}")
                    elif first and isinstance(item, PreExecutionError):
                        await handle_pre_execution_error(self, operation, item)
                        return
                    else:
                        await reject_incremental_delivery(self, operation)
                        return
                    first = False
        except TimeoutError:
            if not deadline.expired():
                raise
            expired = PublicError(
                TOKEN_EXPIRED_MESSAGE, ErrorCode.UNAUTHENTICATED, reason="expired"
            )
            payload = {"data": None, "errors": [expired.formatted]}
            await self._send_next_text(operation, self.view.encode_json_string(payload))
        finally:
            await results.aclose()
        await operation.send_operation_message(CompleteMessage(id=operation.id, type="complete"))

    async def _send_next_text(
        self, operation: Operation[GraphQLContext, None], payload: str
    ) -> None:
        # The shared payload is spliced in as text: framing costs one small string, not a
        # serialisation of the whole result per subscriber.
        message = f'{{"id":{json.dumps(operation.id)},"type":"next","payload":{payload}}}'
        await self._send_framed(operation, message)

    async def _send_framed(self, operation: Operation[GraphQLContext, None], message: str) -> None:
        """Send a complete `next` message as text, unless the operation has completed (or the
        connection was closed as a restart)."""
        if operation.completed or self.restarting:
            return
        websocket = starlette_websocket(self.websocket)
        if websocket is None:
            await self.send_message(json.loads(message))
            return
        try:
            await websocket.send_text(message)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def shutdown(self) -> None:
        self.stop_watching_restart()
        if self._keep_alive_task is not None:
            self._keep_alive_task.cancel()
            with suppress(BaseException):
                await self._keep_alive_task
        await super().shutdown()


class LegacyWSHandler(Restartable, BaseGraphQLWSHandler[GraphQLContext, None]):
    """Legacy graphql-ws with authentication on `connection_init`, an init timeout, a ceiling
    on open subscriptions per tenant, and 1012 on shutdown."""

    async def send_message(self, message: Any) -> None:
        if not self.restarting:  # closed as a restart: nothing more, `complete` least of all
            await super().send_message(message)

    async def handle(self) -> None:
        timer = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        except (JsonInputError, InvalidMessage) as exc:
            await close_for_input(self.websocket, exc)
        finally:
            self.stop_watching_restart()
            timer.cancel()
            with suppress(BaseException):
                await timer

    async def handle_message(self, message: Any) -> None:
        check_message(message, start="start", with_id=_LEGACY_IDS)
        await super().handle_message(message)

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(
                code=INIT_TIMEOUT, reason="Connection initialisation timeout"
            )

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        payload = message.get("payload")
        if not self.connection_acknowledged and (payload is None or isinstance(payload, dict)):
            refusal = await authenticate_connection(self.context, payload)
            if refusal is not None:
                await self.send_message({"type": "connection_error", "payload": refusal.payload})
                await self.websocket.close(code=FORBIDDEN, reason=refusal.close_reason)
                return
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.watch_restart(self.context, self.websocket)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        tenant = counted_tenant(self.context, query, operation_name)
        if tenant is None:
            await super().handle_async_results(operation_id, query, operation_name, variables)
            return
        streams = self.context.services.streams
        try:
            await streams.open(tenant)
        except TooManySubscriptionsError as exc:
            # What Strawberry's own path does when it ends: the id no longer counts.
            self.tasks.pop(operation_id, None)
            payload = public_error(exc).formatted
            await self.send_message({"type": "error", "id": operation_id, "payload": payload})
            return
        try:
            await super().handle_async_results(operation_id, query, operation_name, variables)
        finally:
            streams.close(tenant)
