"""Request-scoped dependencies shared by every surface (GraphQL over HTTP, WebSocket and SSE,
and REST): the services the lifespan built, and who is calling.
They take starlette's `HTTPConnection`, the common base of `Request` and `WebSocket`, so one
dependency serves every transport. `get_principal` is the REST surface's (and GraphQL over
HTTP's) authentication; a WebSocket authenticates on `connection_init` instead, through the same
`Authenticator`.
"""

from __future__ import annotations

import re

from starlette.requests import HTTPConnection
from starlette.responses import Response

from experience_plane.auth import AuthenticationError, Authenticator, AuthFailure, Principal
from experience_plane.negotiation import graphql_error_response
from experience_plane.services import Services
from experience_plane.services.presentation import www_authenticate

SERVICES_STATE_KEY = "services"
AUTHENTICATOR_STATE_KEY = "authenticator"
SESSION_HEADER = "x-session-id"
# Client session ids become part of a cache key and of Runtime metadata: short and plain only.
# (The OpenAPI document says it as a pattern, an empty header meaning none.)
SESSION_ID_PATTERN = r"^[A-Za-z0-9._:-]{0,128}$"
_SANE_SESSION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class Unauthenticated(Exception):
    """Raised by `get_principal`; the application answers 401 (503 if keys are unavailable)."""

    def __init__(self, error: AuthenticationError) -> None:
        super().__init__(str(error))
        self.error = error


class InvalidSessionId(Exception):
    """The `X-Session-Id` header (or `sessionId` payload) is not a usable session id."""


def get_services(connection: HTTPConnection) -> Services:
    """The application's services, as the lifespan put them on the connection's state."""
    services = getattr(connection.state, SERVICES_STATE_KEY, None)
    if not isinstance(services, Services):
        raise TypeError("The application's lifespan has not started: no services on state.")
    return services


async def services_of(connection: HTTPConnection) -> Services:
    """`get_services` as a route dependency. A coroutine, so that FastAPI calls it on the event
    loop: a plain function dependency is run in the thread pool, a thread hop per request."""
    return get_services(connection)


def get_authenticator(connection: HTTPConnection) -> Authenticator:
    """The application's authenticator, as the lifespan put it on the connection's state."""
    authenticator = getattr(connection.state, AUTHENTICATOR_STATE_KEY, None)
    if not isinstance(authenticator, Authenticator):
        raise TypeError("The application's lifespan has not started: no authenticator on state.")
    return authenticator


async def get_principal(connection: HTTPConnection) -> Principal:
    """The caller of an HTTP request (SSE included), from its `Authorization: Bearer` header.

    Raises `Unauthenticated`, which the application turns into a 401 for every surface.
    """
    try:
        return await get_authenticator(connection).from_header(
            connection.headers.get("authorization")
        )
    except AuthenticationError as exc:
        raise Unauthenticated(exc) from exc


def client_session_id(value: object) -> str | None:
    """The client's own session id (`X-Session-Id` or `sessionId`), checked; None if absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or _SANE_SESSION_ID.fullmatch(value) is None:
        raise InvalidSessionId(
            "The session id must be 1 to 128 letters, digits or '.', '_', ':', '-'."
        )
    return value


def unauthenticated_response(exc: Unauthenticated, accept: str | None = None) -> Response:
    """The 401 (or 503) answer to a refused caller, shaped like a GraphQL response, in the JSON
    media type `accept` negotiates.

    GraphQL clients read `errors` from any JSON body; the `reason` is stable for programs.
    """
    error = exc.error
    unavailable = error.reason is AuthFailure.KEYS_UNAVAILABLE
    return graphql_error_response(
        503 if unavailable else 401,
        error.message,
        accept=accept,
        code="UNAUTHENTICATED",
        extensions={"reason": error.reason.value},
        headers={"WWW-Authenticate": www_authenticate(error.reason)},
    )


def bad_request_response(message: str, accept: str | None = None) -> Response:
    """A 400 with a GraphQL-shaped body, for requests refused before GraphQL runs."""
    return graphql_error_response(400, message, accept=accept)
