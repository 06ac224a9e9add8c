"""The pooled network transport under `RuntimeClient`, and the answers it hands back.
Requests to the Runtime are carried by aiohttp's `ClientSession`, used directly
(`AiohttpCarrier`): no httpx `Request`, `URL` or `Response` is built per call; it won
`bench/runtime_client.py` (client CPU per status read) against httpx's own transport and httpx
over aiohttp (figures in docs/benchmarks.md), which are gone. An injected
`httpx.AsyncBaseTransport` (tests pass `httpx.MockTransport`) is carried by httpx
(`HttpxCarrier`). Whichever carries a request, the client sees one `Answer` (status, headers,
whole body).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import httpx
from yarl import URL

__all__ = [
    "DEFAULT_LIMITS",
    "TRANSPORT_ERRORS",
    "AiohttpCarrier",
    "Answer",
    "Carrier",
    "HttpxCarrier",
    "is_timeout",
    "make_carrier",
    "nothing_sent",
]

Body = bytes | AsyncIterator[bytes]


# Enough for every poller of a busy instance; idle connections are kept long enough to be reused
# between polls (the poll interval is seconds, not minutes).
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=30
)


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of the Runtime, read whole: what `runtime.answers` turns into values or
    typed errors, whichever transport carried it. `path` is the request's, without its query."""

    method: str
    path: str
    url: str
    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def what(self) -> str:
        """The request, for messages: `GET /api/execution/x/status`."""
        return f"{self.method} {self.path}"

    @property
    def text(self) -> str:
        """The body as text (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; `ValueError` when it is not JSON."""
        return json.loads(self.content)

    def status_error(self) -> httpx.HTTPStatusError:
        """The answer's status as httpx's error, for typed errors to be raised `from`."""
        request = httpx.Request(self.method, self.url)
        response = httpx.Response(
            self.status_code, headers=dict(self.headers), content=self.content, request=request
        )
        return httpx.HTTPStatusError(
            f"{self.status_code} for {self.what}", request=request, response=response
        )


class Carrier(Protocol):
    """Sends one request to the Runtime and reads its whole answer; network failures are
    raised as they come (one of `TRANSPORT_ERRORS`), and `RuntimeClient` translates them."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send `method path?params` with `content`, return the answer."""
        ...

    async def aclose(self) -> None:
        """Close the pooled connections."""
        ...


class HttpxCarrier:
    """Requests carried by an `httpx.AsyncClient` over the given transport."""

    def __init__(
        self, base_url: str, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            # The Runtime is an internal service reached directly; proxies configured in the
            # environment for outbound traffic must not capture it.
            trust_env=False,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send the request through httpx and read the whole answer."""
        response = await self._http.request(
            method, path, params=params, content=content, headers=headers
        )
        return Answer(
            method,
            path,
            str(response.request.url),
            response.status_code,
            response.headers,
            response.content,
        )

    async def aclose(self) -> None:
        """Close the client and its transport."""
        await self._http.aclose()


class AiohttpCarrier:
    """Requests carried by one aiohttp `ClientSession`, with the same limits and timeouts.

    The session is opened on first use (aiohttp binds it to the running event loop). Timeouts
    follow `httpx.Timeout`: `connect` bounds the TCP connect, `pool` the wait for a pooled
    connection plus the connect, `read` each read of the answer; there is no total deadline,
    as with httpx. Environment proxies are ignored (`trust_env=False`, aiohttp's default).
    """

    def __init__(self, base_url: str, limits: httpx.Limits, timeout: httpx.Timeout) -> None:
        self._base_url = base_url.rstrip("/")
        self._limits = limits
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout.pool, sock_connect=timeout.connect, sock_read=timeout.read
        )
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry or 0,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, trust_env=False
        )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send the request through aiohttp and read the whole answer."""
        session = self._session or self._open()
        url = self._base_url + path + ("?" + urlencode(params) if params else "")
        # encoded=True: the client already quoted the path and urlencode the query, so yarl
        # need not parse and requote them on every call.
        async with session.request(
            method, URL(url, encoded=True), data=content, headers=headers, allow_redirects=False
        ) as response:
            body = await response.read()
        return Answer(method, path, url, response.status, response.headers, body)

    async def aclose(self) -> None:
        """Close the session and its pooled connections."""
        if self._session is not None:
            await self._session.close()


def make_carrier(
    base_url: str,
    *,
    timeout: httpx.Timeout,
    limits: httpx.Limits = DEFAULT_LIMITS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Carrier:
    """What carries `RuntimeClient`'s requests: httpx over `transport` when one is given (tests
    inject `httpx.MockTransport`), else a new pooled aiohttp carrier."""
    if transport is not None:
        return HttpxCarrier(base_url, transport, timeout)
    return AiohttpCarrier(base_url, limits, timeout)


# What a carrier may raise when the network fails: aiohttp's errors, raised as they are by the
# aiohttp carrier, and httpx's, raised by an injected httpx transport.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError, OSError, aiohttp.ClientError)


def is_timeout(exc: BaseException) -> bool:
    """Whether a transport failure was a timeout rather than a refused or broken connection."""
    if isinstance(exc, aiohttp.ClientError):
        return isinstance(exc, TimeoutError)  # aiohttp's timeouts are asyncio.TimeoutErrors
    return isinstance(exc, httpx.TimeoutException | TimeoutError)


def nothing_sent(exc: BaseException) -> bool:
    """Whether a transport failure certainly happened before any of the request left: no
    connection was made (refused, unreachable, connect or pool timeout).

    Anything else (a write or read failure, a read timeout, a connection dropped mid-answer)
    may have come after the Runtime read the request, so its outcome is unknown. Only a
    connect-phase failure is "nothing sent": when unsure, the answer is no.
    """
    if isinstance(exc, aiohttp.ClientError):
        return isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    if isinstance(exc, httpx.TransportError):
        return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return isinstance(exc, ConnectionRefusedError)
