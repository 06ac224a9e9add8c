"""A request-header timeout for uvicorn, which has none: a client that connects and sends
nothing, or half a request line, would otherwise hold its socket (and a file descriptor) for as
long as it likes. `header_timeout_protocol(seconds)` is uvicorn's h11 protocol closing such a
connection once `seconds` pass without a whole request head: from connecting, or from the first
byte of a next request on a kept-alive connection (idle kept-alive connections are uvicorn's
`timeout_keep_alive`'s). It leans on uvicorn's `H11Protocol` and its `conn` (the h11
connection), pinned by `tests/experience_plane/test_http_guard.py`. nginx in front
(`deploy/nginx.conf`) has its own `client_header_timeout` too.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["header_timeout_protocol"]


class _HeaderTimeoutProtocol(H11Protocol):
    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm()  # a request head is on its way: it has this long to arrive
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the head has arrived (or the connection was upgraded)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = asyncio.get_running_loop().call_later(
                self.header_timeout, self._expire
            )

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing connections that send no whole request head within
    `seconds` (pass it as `uvicorn.Config(http=...)`)."""
    return type("HeaderTimeoutProtocol", (_HeaderTimeoutProtocol,), {"header_timeout": seconds})
