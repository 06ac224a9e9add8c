"""The boundary with gql: the HTTP and WebSocket transports, and the translation of their errors.
gql reports everything as a `TransportError` (or lets `httpx`/`websockets`/`asyncio` errors out
as the cause of one). `translate` turns that into the SDK's typed errors once, here, and says
whether a retry is safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import websockets.exceptions
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from graphql import ExecutionResult

from experience_plane_sdk.errors import (
    ApiProtocolError,
    ApiUnreachable,
    AuthenticationFailed,
    ExperienceError,
    RateLimited,
    error_for_code,
)

# What a GraphQL-over-HTTP server should answer with; both are JSON for gql.
ACCEPT = "application/graphql-response+json, application/json;q=0.9"
# The API refuses a multipart upload (a "simple" request a browser could send cross-site)
# without it, as CSRF protection; a non-browser client just sends it.
PREFLIGHT_HEADER = "GraphQL-Preflight"
# Close codes graphql-transport-ws servers use for refused credentials (4401 Unauthorized,
# 4403 Forbidden); our API closes with 4403.
AUTH_CLOSE_CODES = frozenset({4401, 4403})
AUTH_STATUS_CODES = frozenset({401, 403})
# Answers a proxy or an overloaded server gives when the request never reached the resolver.
UNAVAILABLE_STATUS_CODES = frozenset({502, 503, 504})


class Retry(Enum):
    """Whether the failed request may be sent again."""

    NEVER = "never"
    # The request never reached the API (connection refused, 502/503/504): always safe.
    SAFE = "safe"
    # It may have reached the API (read timeout, reset mid-answer): safe for reads, and for
    # mutations only because they carry an idempotency key.
    IF_IDEMPOTENT = "if_idempotent"


class HttpTransport(HTTPXAsyncTransport):
    """gql's httpx transport, with HTTP status codes checked before the body is trusted.

    gql reads any JSON body as a GraphQL result, so a 401 with `{"errors": [...]}` would look
    like a query error; here 401/403 become `AuthenticationFailed` and 5xx a server error.
    """

    def _prepare_result(self, response: httpx.Response) -> ExecutionResult:
        if response.status_code in AUTH_STATUS_CODES:
            raise AuthenticationFailed(
                f"The API refused the credentials (HTTP {response.status_code}): "
                f"{_short_body(response)}"
            )
        if response.status_code == 429:
            raise RateLimited(
                f"The API asks to slow down (HTTP 429): {_short_body(response)}",
                retry_after=_retry_after(response),
            )
        if response.status_code >= 500:
            raise TransportServerError(
                f"HTTP {response.status_code}: {_short_body(response)}", response.status_code
            )
        return super()._prepare_result(response)


def _retry_after(response: httpx.Response) -> float | None:
    """The pause a `Retry-After: <seconds>` header asks for (HTTP dates are not worth parsing)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _short_body(response: httpx.Response, limit: int = 200) -> str:
    """The first GraphQL error's message of a JSON body, else the body's start."""
    try:
        message = response.json()["errors"][0]["message"]
    except (ValueError, LookupError, TypeError):
        message = None
    text = message if isinstance(message, str) else " ".join(response.text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def http_transport(url: str, *, headers: Mapping[str, str], timeout: float) -> HTTPXAsyncTransport:
    """The HTTP transport for queries and mutations, one pooled httpx client."""
    return HttpTransport(
        url,
        headers={"Accept": ACCEPT, PREFLIGHT_HEADER: "1", **headers},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
    )


def websocket_url(url: str) -> str:
    """The WebSocket URL of an HTTP GraphQL endpoint (same host and path)."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit(parts._replace(scheme=scheme))


def websocket_transport(
    url: str, *, headers: Mapping[str, str], token: str | None, timeout: float
) -> WebsocketsTransport:
    """The graphql-transport-ws transport for subscriptions; the token rides in connection_init."""
    return WebsocketsTransport(
        url=websocket_url(url),
        headers=dict(headers),
        init_payload={"Authorization": f"Bearer {token}"} if token else {},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        connect_timeout=timeout,
        ack_timeout=timeout,
        close_timeout=min(timeout, 5.0),
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def query_error(errors: list[Any] | None) -> ExperienceError:
    """The typed error for a GraphQL `errors` list (the first error decides)."""
    first = (errors or [{}])[0]
    if not isinstance(first, Mapping):
        return ApiProtocolError(str(first))
    extensions = first.get("extensions") or {}
    code = extensions.get("code") if isinstance(extensions, Mapping) else None
    message = str(first.get("message") or "The API reported an error without a message.")
    return error_for_code(code if isinstance(code, str) else None, message)


def translate(exc: BaseException, url: str) -> tuple[ExperienceError, Retry]:
    """The SDK error for anything gql, httpx or websockets raised, and whether to retry."""
    if isinstance(exc, ExperienceError):
        return exc, Retry.NEVER
    if isinstance(exc, TransportQueryError):
        return query_error(exc.errors), Retry.NEVER
    for cause in _chain(exc):
        if isinstance(cause, ExperienceError):
            return cause, Retry.NEVER
        if isinstance(cause, websockets.exceptions.InvalidStatus):
            status = cause.response.status_code
            if status in AUTH_STATUS_CODES:
                return AuthenticationFailed(f"The API refused the credentials (HTTP {status})"), (
                    Retry.NEVER
                )
            return ApiUnreachable(f"The API refused the WebSocket at {url} (HTTP {status})"), (
                Retry.SAFE if status in UNAVAILABLE_STATUS_CODES else Retry.NEVER
            )
        if isinstance(cause, websockets.exceptions.ConnectionClosed):
            close = cause.rcvd
            if close is not None and close.code in AUTH_CLOSE_CODES:
                reason = f": {close.reason}" if close.reason else ""
                return AuthenticationFailed(
                    f"The API refused the credentials (WebSocket close {close.code}{reason})"
                ), Retry.NEVER
            return ApiUnreachable(f"The API closed the WebSocket at {url}"), Retry.IF_IDEMPOTENT
        if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | ConnectionRefusedError):
            return ApiUnreachable(f"Cannot connect to the API at {url}: {cause}"), Retry.SAFE
        if isinstance(cause, httpx.TimeoutException | asyncio.TimeoutError):
            return ApiUnreachable(f"The API at {url} did not answer in time"), Retry.IF_IDEMPOTENT
        if isinstance(cause, httpx.TransportError | OSError):
            return ApiUnreachable(f"Lost the connection to the API at {url}: {cause!r}"), (
                Retry.IF_IDEMPOTENT
            )
    if isinstance(exc, TransportServerError):
        if exc.code in AUTH_STATUS_CODES:
            return AuthenticationFailed(f"The API refused the credentials (HTTP {exc.code})"), (
                Retry.NEVER
            )
        if exc.code in UNAVAILABLE_STATUS_CODES:
            return ApiUnreachable(f"The API at {url} is unavailable ({exc})"), Retry.SAFE
        if exc.code is not None and exc.code >= 500:
            return ApiUnreachable(f"The API at {url} failed ({exc})"), Retry.IF_IDEMPOTENT
        return ApiProtocolError(f"The API at {url} answered {exc}"), Retry.NEVER
    if isinstance(exc, TransportProtocolError):
        return ApiProtocolError(f"The API at {url} did not answer GraphQL: {exc}"), Retry.NEVER
    if isinstance(exc, TransportConnectionFailed | TransportClosed):
        return ApiUnreachable(f"Lost the connection to the API at {url}: {exc}"), (
            Retry.IF_IDEMPOTENT
        )
    return ApiProtocolError(f"Unexpected failure talking to {url}: {exc!r}"), Retry.NEVER
