"""The pooled network transport under `RuntimeClient`.

Two implementations speak HTTP/1.1 to the Runtime equally well: httpx's own (httpcore) and
aiohttp's behind the `httpx-aiohttp` adapter. `bench/runtime_client.py` measures the client CPU
each spends per status read: aiohttp's costs about half as much sequentially and a fifth under
fifty concurrent polls, so it is the default.
"""

from __future__ import annotations

from enum import StrEnum

import aiohttp
import httpx

__all__ = [
    "DEFAULT_LIMITS",
    "TRANSPORT_ERRORS",
    "TransportKind",
    "default_transport",
    "is_timeout",
    "make_transport",
    "nothing_sent",
]


class TransportKind(StrEnum):
    """Which HTTP implementation carries the Runtime client's requests."""

    HTTPX = "httpx"
    AIOHTTP = "aiohttp"


DEFAULT_TRANSPORT = TransportKind.AIOHTTP
# Enough for every poller of a busy instance; idle connections are kept long enough to be reused
# between polls (the poll interval is seconds, not minutes).
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=30
)


def make_transport(kind: TransportKind, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """A new pooled transport of the given kind; it holds no connection until first used."""
    if kind is TransportKind.AIOHTTP:
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits, trust_env=False)
    # retries=0: retrying is the client's decision (status reads only), never the transport's.
    return httpx.AsyncHTTPTransport(limits=limits, retries=0, trust_env=False)


def default_transport(limits: httpx.Limits = DEFAULT_LIMITS) -> httpx.AsyncBaseTransport:
    """The transport `RuntimeClient` uses unless it is given one."""
    return make_transport(DEFAULT_TRANSPORT, limits)


# What a transport may raise when the network fails. httpx-aiohttp lets a few aiohttp errors
# through unmapped (a malformed answer, for one), so they are listed beside httpx's own.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError, OSError, aiohttp.ClientError)


def is_timeout(exc: BaseException) -> bool:
    """Whether a transport failure was a timeout rather than a refused or broken connection.

    httpx-aiohttp maps every aiohttp connection error, a refused connection included, onto
    `httpx.ConnectTimeout`; the aiohttp error it was raised from tells what really happened.
    """
    exc = _unwrapped(exc)
    if isinstance(exc, aiohttp.ClientError):
        return isinstance(exc, TimeoutError)  # aiohttp's timeouts are asyncio.TimeoutErrors
    return isinstance(exc, httpx.TimeoutException | TimeoutError)


def _unwrapped(exc: BaseException) -> BaseException:
    """The aiohttp error behind an httpx error raised by httpx-aiohttp, else `exc` itself."""
    cause = exc.__cause__
    if isinstance(exc, httpx.TransportError) and isinstance(cause, aiohttp.ClientError):
        return cause
    return exc


def nothing_sent(exc: BaseException) -> bool:
    """Whether a transport failure certainly happened before any of the request left: no
    connection was made (refused, unreachable, connect or pool timeout).

    Anything else (a write or read failure, a read timeout, a connection dropped mid-answer)
    may have come after the Runtime read the request, so its outcome is unknown. Only a
    connect-phase failure is "nothing sent": when unsure, the answer is no.
    """
    exc = _unwrapped(exc)
    if isinstance(exc, aiohttp.ClientError):
        return isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    if isinstance(exc, httpx.TransportError):
        return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return isinstance(exc, ConnectionRefusedError)
