"""GraphQL over Server-Sent Events, as the service adds to Strawberry's: each stream holds a
place in its tenant's count of open streams (`services.streams`), starts with a `retry:` hint,
and ends without `complete` when the service shuts down.
A stream refused by the ceiling is one `next` event carrying the `TOO_MANY_SUBSCRIPTIONS`
error, then `complete` (a refusal is final). On shutdown the stream stops before the next
thing it would send (a `complete` included): an event stream that ends without `complete` is
a lost connection to graphql-sse's client, which reconnects and subscribes again (to another
replica behind a load balancer); `retry:` tells an `EventSource` how soon.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing

from experience_plane.graphql.errors import public_error
from experience_plane.services import OpenStreams, TooManySubscriptionsError

__all__ = ["RETRY_MILLISECONDS", "held_event_stream"]

# How long an `EventSource` waits before reconnecting: a replica restarting is replaced in about
# this time behind a load balancer.
RETRY_MILLISECONDS = 1000

TextStream = Callable[[], AsyncIterator[str]]


def _event(name: str, data: str | None = None) -> str:
    # Framed as Strawberry frames its own events.
    return f"event: {name}\r\ndata: {data or ''}\r\n\r\n"


def held_event_stream(
    streams: OpenStreams, tenant_id: str, stream: TextStream, encode_json: Callable[[object], str]
) -> TextStream:
    """`stream` (Strawberry's SSE events) counted for `tenant_id` while it runs, led by a
    `retry:` hint, and ended without `complete` once `streams` is restarting."""

    async def held() -> AsyncGenerator[str, None]:
        # Counted here, not before the response starts: a client gone before the first byte
        # never runs this generator, and must not hold a place.
        try:
            await streams.open(tenant_id)
        except TooManySubscriptionsError as exc:
            yield _event("next", encode_json({"errors": [public_error(exc).formatted]}))
            yield _event("complete")
            return
        try:
            yield f"retry: {RETRY_MILLISECONDS}\r\n\r\n"
            async with aclosing(stream()) as chunks:  # type: ignore[type-var]
                async for chunk in chunks:
                    if streams.restarting:
                        return  # shutdown is no completion: nothing more, `complete` least of all
                    yield chunk
        finally:
            streams.close(tenant_id)

    return held
