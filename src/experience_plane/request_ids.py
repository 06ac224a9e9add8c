"""The id of the request (or WebSocket connection) being served: set by
`middleware.RequestIdMiddleware`, read by every error answer and log line. Its own module, below
everything, so that the error shapes of every surface (`negotiation`, `rest.errors`) can quote it.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["REQUEST_ID_HEADER", "current_request_id", "request_id_var"]

REQUEST_ID_HEADER = "x-request-id"

request_id_var: ContextVar[str | None] = ContextVar("experience_plane_request_id", default=None)
"""Set for the length of each request and WebSocket connection by `RequestIdMiddleware`."""


def current_request_id() -> str | None:
    """The id of the request (or WebSocket connection) being served, if any."""
    return request_id_var.get()
