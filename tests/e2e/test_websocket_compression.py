"""permessage-deflate on WebSockets: never negotiated, though clients offer it (the subscription
events are too small for compression to pay, docs/benchmarks.md)."""

from __future__ import annotations

from tests.e2e.client import EXAMPLES, http_client, upload
from tests.e2e.raw import messages_until_complete, subscribe, ws_connection
from tests.support.processes import ApiProcess


async def negotiated_extensions(api: ApiProcess) -> str | None:
    """The extensions the server accepted (the client offers permessage-deflate), after a
    subscription has delivered every event over that connection."""
    async with http_client(api) as session:
        accepted = await upload(session, EXAMPLES / "customers.csv")
    execution_id = accepted["execution"]["id"]
    async with ws_connection(api) as socket:
        await subscribe(socket, execution_id)
        messages = await messages_until_complete(socket)
        assert messages[-1]["type"] == "complete", messages
        assert socket.response is not None
        header: str | None = socket.response.headers.get("Sec-WebSocket-Extensions")
        return header


async def test_compression_is_declined(api: ApiProcess) -> None:
    assert await negotiated_extensions(api) is None
