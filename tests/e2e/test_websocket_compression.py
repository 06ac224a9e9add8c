"""permessage-deflate on WebSockets: off by default, offered when the setting turns it on."""

from __future__ import annotations

import pytest

from tests.e2e.client import EXAMPLES, http_client, upload
from tests.e2e.raw import messages_until_complete, subscribe, ws_connection
from tests.support.processes import ApiProcess, RuntimeProcess


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


async def test_compression_is_off_by_default(api: ApiProcess) -> None:
    assert await negotiated_extensions(api) is None


async def test_compression_is_negotiated_when_turned_on(
    e2e_runtime: RuntimeProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {"EXPERIENCE_WS_PER_MESSAGE_DEFLATE": "true"}
    logs = tmp_path_factory.mktemp("deflate-api-logs")
    with ApiProcess(e2e_runtime.url, logs, auth=True, env=env) as process:
        extensions = await negotiated_extensions(process)
    assert extensions is not None
    assert "permessage-deflate" in extensions
