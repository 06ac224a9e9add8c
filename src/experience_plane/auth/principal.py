"""The principal a request acts as.

Authentication (JWT) is a later step; until then every HTTP request, WebSocket and SSE stream
acts as the configured development principal. This is the one place that changes when tokens
arrive: everything else receives a `Principal` and never looks at headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from experience_plane.settings import Settings


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the tenant whose data it may see and the user acting."""

    tenant_id: str
    user_id: str


def principal_from_connection(connection: HTTPConnection, settings: Settings) -> Principal:
    """Derive the caller from an HTTP request or WebSocket handshake (dev principal for now)."""
    del connection  # the credentials will be read from here once JWT authentication lands
    return Principal(tenant_id=settings.dev_tenant_id, user_id=settings.dev_user_id)
