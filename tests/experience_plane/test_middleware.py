"""Request ids and body limits, in process: chunked bodies and the REST-style dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import Depends, FastAPI
from starlette.responses import PlainTextResponse, Response

from experience_plane.auth import Principal
from experience_plane.context import get_principal
from experience_plane.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from experience_plane.settings import Settings
from tests.experience_plane.support import running_app
from tests.support.processes import free_port

SECRET = "k" * 32


def echo_app(max_request_bytes: int) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(body: dict[str, object]) -> dict[str, object]:
        return body

    app.add_middleware(
        BodySizeLimitMiddleware,
        max_request_bytes=max_request_bytes,
        max_upload_bytes=10,
    )
    app.add_middleware(RequestIdMiddleware)
    return app


async def test_a_chunked_body_is_cut_off_at_the_limit() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    transport = httpx.ASGITransport(app=echo_app(max_request_bytes=1000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        refused = await http.post(
            "/echo", content=chunks(), headers={"content-type": "application/json"}
        )
        small = await http.post("/echo", json={"a": "b"})
    assert refused.status_code == 413
    assert refused.json()["errors"][0]["extensions"] == {
        "code": "REQUEST_TOO_LARGE",
        "requestId": refused.headers["x-request-id"],
    }
    assert small.json() == {"a": "b"}


async def test_get_principal_is_the_rest_surfaces_dependency() -> None:
    settings = Settings(
        runtime_url=f"http://127.0.0.1:{free_port()}",
        auth_hs256_secret=SECRET,  # type: ignore[arg-type]
    )
    from experience_plane.auth import mint_token

    async with running_app(settings) as running:
        app = running.app

        # Not under /v1: the REST surface answers unknown /v1 paths itself.
        @app.get("/whoami")
        async def whoami(principal: Principal = Depends(get_principal)) -> dict[str, str]:  # noqa: B008
            return {"tenant": principal.tenant_id, "user": principal.user_id}

        token = mint_token(SECRET, tenant_id="t-rest", user_id="u-rest")
        ok = await running.http.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        refused = await running.http.get("/whoami")
    assert ok.json() == {"tenant": "t-rest", "user": "u-rest"}
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"] == {
        "code": "UNAUTHENTICATED",
        "reason": "missing_token",
        "requestId": refused.headers["x-request-id"],
    }
    assert refused.headers["www-authenticate"] == 'Bearer realm="experience-plane"'


async def test_a_path_prefix_picks_its_own_413() -> None:
    def plain(message: str, max_bytes: int, upload: bool) -> Response:
        return PlainTextResponse(f"{max_bytes} {upload}: {message}", status_code=413)

    app = FastAPI()

    @app.post("/v1/echo")
    async def echo(body: dict[str, object]) -> dict[str, object]:
        return body

    app.add_middleware(
        BodySizeLimitMiddleware,
        max_request_bytes=10,
        max_upload_bytes=10,
        responders={"/v1/": plain},
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        prefixed = await http.post("/v1/echo", json={"a": "b" * 20})
        other = await http.post("/v10/echo", json={"a": "b" * 20})
        upload = await http.post("/v1/echo", files={"file": ("x", b"x" * (2 * 1024 * 1024))})
    assert prefixed.status_code == 413
    assert prefixed.text == "10 False: The request body is larger than the limit of 10 bytes."
    assert prefixed.headers["connection"] == "close"
    # No request id middleware here: nothing to quote.
    assert other.json()["errors"][0]["extensions"] == {"code": "REQUEST_TOO_LARGE"}
    assert upload.text.startswith("10 True: The request is larger than the limit of 10 bytes")


async def test_an_upload_too_large_says_so_in_graphqls_shape() -> None:
    transport = httpx.ASGITransport(app=echo_app(max_request_bytes=1000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        refused = await http.post("/echo", files={"file": ("x", b"x" * (2 * 1024 * 1024))})
    assert refused.status_code == 413
    (error,) = refused.json()["errors"]
    assert error["extensions"] == {
        "code": "UPLOAD_TOO_LARGE",
        "maxBytes": 10,
        "requestId": refused.headers["x-request-id"],
    }
    assert error["message"] == (
        "The request is larger than the limit of 10 bytes for an upload (plus the multipart "
        "envelope)."
    )
