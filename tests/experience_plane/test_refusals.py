"""What no route answers itself, answered in the surface's own error shape with the request id:
starlette's refusals (unknown paths, methods not taken) and unexpected errors, on HTTP (a
masked 500) and on WebSockets (a close with 1011 and a reason, never a dropped socket)."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message
from starlette.websockets import WebSocket

from experience_plane.middleware import RequestIdMiddleware
from experience_plane.refusals import UnexpectedErrorMiddleware
from experience_plane.settings import Settings
from tests.experience_plane.support import running_app
from tests.support.processes import free_port


class Boom(Exception):
    """A bug in a route."""


def failing_app() -> FastAPI:
    """Routes that fail, behind the request id and unexpected error middleware."""
    app = FastAPI()

    @app.get("/v1/boom")
    @app.get("/graphql/boom")
    async def boom() -> None:
        raise Boom("secret detail")

    @app.websocket("/ws")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise Boom("secret detail")

    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app


@pytest.mark.parametrize("path", ["/v1/boom", "/graphql/boom"])
async def test_an_unexpected_error_is_a_masked_500_with_the_request_id(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    transport = httpx.ASGITransport(app=failing_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get(path, headers={"x-request-id": "req-boom-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-boom-1"
    assert "secret detail" not in response.text
    body = response.json()
    if path.startswith("/v1"):
        assert body["error"]["code"] == "INTERNAL_SERVER_ERROR"
        assert body["error"]["request_id"] == "req-boom-1"
    else:
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-boom-1"}
        assert "req-boom-1" in error["message"]
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "req-boom-1" in record.getMessage()
    assert record.exc_info is not None


async def test_a_websocket_whose_handler_fails_is_closed_with_1011_and_a_reason() -> None:
    incoming: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hello"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
    await failing_app()(scope, receive, send)
    assert [message["type"] for message in sent] == ["websocket.accept", "websocket.close"]
    assert sent[-1]["code"] == 1011
    assert sent[-1]["reason"].startswith("Internal error (request id ")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "NOT_FOUND"),
        ("PUT", "/graphql", 405, "METHOD_NOT_ALLOWED"),
        ("DELETE", "/graphql/stream", 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/readyz", 405, "METHOD_NOT_ALLOWED"),
    ],
)
async def test_starlettes_refusals_are_graphql_shaped_outside_v1(
    method: str, path: str, status: int, code: str
) -> None:
    settings = Settings(runtime_url=f"http://127.0.0.1:{free_port()}", insecure_dev=True)
    async with running_app(settings) as app:
        response = await app.http.request(method, path)
    assert response.status_code == status
    assert "detail" not in response.json()
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": code, "requestId": response.headers["x-request-id"]}
    if status == 405:
        assert response.headers["allow"]
