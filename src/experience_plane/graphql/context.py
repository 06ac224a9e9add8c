"""The typed GraphQL context, built by one FastAPI dependency for HTTP, WebSocket and SSE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeAlias

import strawberry
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext

from experience_plane.auth import Principal
from experience_plane.context import (
    SESSION_HEADER,
    client_session_id,
    get_principal,
    get_services,
)
from experience_plane.graphql.errors import PublicError
from experience_plane.graphql.loaders import Loaders
from experience_plane.middleware import current_request_id
from experience_plane.services import ErrorCode, Services
from experience_plane.services.presentation import TOKEN_EXPIRED_MESSAGE


class GraphQLContext(BaseContext):
    """What resolvers see: the caller, the shared services and this request's loaders.

    Over HTTP and SSE the caller is known when the context is built; on a WebSocket only once
    `connection_init` has been verified (`authenticate`), and Strawberry runs no operation
    before that. Reading `principal` after the token has expired fails with UNAUTHENTICATED,
    so a long-lived connection cannot outlive its credentials.

    On a WebSocket the context lives as long as the connection, so its loaders cache across
    that connection's operations; artifact details and record pages do not change once
    written, so that is safe.
    """

    def __init__(
        self,
        services: Services,
        principal: Principal | None = None,
        client_session: str | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.client_session = client_session
        self.request_id = current_request_id()
        self._principal = principal
        self._loaders: Loaders | None = None
        self._leeway = timedelta(seconds=services.settings.auth_leeway_seconds)

    def authenticate(self, principal: Principal, client_session: str | None) -> None:
        """Set the caller once a WebSocket's `connection_init` has been verified."""
        self._principal = principal
        self.client_session = client_session
        self._loaders = None

    @property
    def authenticated(self) -> bool:
        """Whether a caller has been set (always, once an operation runs)."""
        return self._principal is not None

    @property
    def principal(self) -> Principal:
        """The caller; an UNAUTHENTICATED error if there is none or its token has expired."""
        principal = self._principal
        if principal is None:
            raise PublicError(
                "Not authenticated.", ErrorCode.UNAUTHENTICATED, reason="missing_token"
            )
        if self.seconds_until_expiry() == 0.0:
            raise PublicError(TOKEN_EXPIRED_MESSAGE, ErrorCode.UNAUTHENTICATED, reason="expired")
        return principal

    def seconds_until_expiry(self) -> float | None:
        """Seconds the caller's credentials stay valid (None: they never expire)."""
        if self._principal is None:
            return 0.0
        return self._principal.seconds_until_expiry(datetime.now(UTC) - self._leeway)

    @property
    def idempotency_header(self) -> str | None:
        """The request's `Idempotency-Key` header (the WebSocket handshake's on a socket)."""
        request = self.request
        return request.headers.get("idempotency-key") if request is not None else None

    @property
    def loaders(self) -> Loaders:
        """This request's (or connection's) loaders, for the current caller."""
        principal = self.principal
        if self._loaders is None:
            self._loaders = Loaders(self.services.executions, principal)
        return self._loaders


Info: TypeAlias = strawberry.Info[GraphQLContext, None]


def _renders_ide(connection: HTTPConnection) -> bool:
    # The GraphiQL page itself needs no credentials (it sends them with each operation); a GET
    # naming no operation (no query, no persisted query or document id) executes nothing, so
    # letting it through unauthenticated reveals nothing.
    params = connection.query_params
    return connection.scope.get("method") == "GET" and not any(
        name in params for name in ("query", "extensions", "documentId")
    )


async def get_graphql_context(connection: HTTPConnection) -> GraphQLContext:
    """Build the context for one HTTP request, SSE stream or WebSocket connection.

    HTTP and SSE are authenticated here from the `Authorization` header (`Unauthenticated`
    becomes a 401 before anything runs); a WebSocket on `connection_init`.
    """
    # Read here rather than declared as a dependency: `get_services` is a plain function,
    # which FastAPI would run in its thread pool (a thread hand-off per request for a lookup),
    # and every sub-dependency is resolved again on every request.
    services = get_services(connection)
    if isinstance(connection, WebSocket) or _renders_ide(connection):
        return GraphQLContext(services)
    principal = await get_principal(connection)
    session = client_session_id(connection.headers.get(SESSION_HEADER))
    return GraphQLContext(services, principal, session)
