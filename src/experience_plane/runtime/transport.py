"""The pooled network transport under `RuntimeClient`.

Two implementations speak HTTP/1.1 to the Runtime equally well: httpx's own (httpcore) and
aiohttp's behind the `httpx-aiohttp` adapter. `bench/runtime_client.py` measures the client CPU
each spends per status read; the cheaper one is the default.
"""

from __future__ import annotations

from enum import StrEnum

import httpx

__all__ = ["TransportKind", "default_transport", "make_transport"]


class TransportKind(StrEnum):
    """Which HTTP implementation carries the Runtime client's requests."""

    HTTPX = "httpx"
    AIOHTTP = "aiohttp"


DEFAULT_TRANSPORT = TransportKind.HTTPX


def make_transport(kind: TransportKind, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """A new pooled transport of the given kind; it holds no connection until first used."""
    if kind is TransportKind.AIOHTTP:
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits, trust_env=False)
    # retries=0: retrying is the client's decision (status reads only), never the transport's.
    return httpx.AsyncHTTPTransport(limits=limits, retries=0, trust_env=False)


def default_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The transport `RuntimeClient` uses unless it is given one."""
    return make_transport(DEFAULT_TRANSPORT, limits)
