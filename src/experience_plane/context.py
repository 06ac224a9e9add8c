"""Request-scoped dependencies shared by every surface (GraphQL over HTTP, WebSocket and SSE;
REST later): the services the lifespan built and the principal the connection acts as.

Both take starlette's `HTTPConnection`, the common base of `Request` and `WebSocket`, so one
dependency serves every transport.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from experience_plane.auth import Principal, principal_from_connection
from experience_plane.services import Services

SERVICES_STATE_KEY = "services"


def get_services(connection: HTTPConnection) -> Services:
    """The application's services, as the lifespan put them on the connection's state."""
    services = getattr(connection.state, SERVICES_STATE_KEY, None)
    if not isinstance(services, Services):
        raise TypeError("The application's lifespan has not started: no services on state.")
    return services


def get_principal(connection: HTTPConnection) -> Principal:
    """The principal the connection acts as (the configured dev principal until JWT lands)."""
    return principal_from_connection(connection, get_services(connection).settings)
