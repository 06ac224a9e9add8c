"""Translating gql, httpx and websockets failures into the SDK's typed errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import websockets.exceptions
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from websockets.frames import Close
from websockets.http11 import Response

from experience_plane_sdk import (
    ApiProtocolError,
    ApiUnreachable,
    AuthenticationFailed,
    ExecutionNotFoundError,
    ExperienceError,
    InvalidInput,
    RateLimited,
    RuntimeTimeoutError,
    RuntimeUnavailableError,
)
from experience_plane_sdk.errors import error_for_code
from experience_plane_sdk.transport import Retry, translate, websocket_url

URL = "http://127.0.0.1:9/graphql"


def wrapped(cause: BaseException) -> TransportConnectionFailed:
    try:
        raise TransportConnectionFailed("failed") from cause
    except TransportConnectionFailed as exc:
        return exc


def query_error(code: str | None) -> TransportQueryError:
    extensions: dict[str, Any] = {} if code is None else {"code": code}
    return TransportQueryError("boom", errors=[{"message": "boom", "extensions": extensions}])


@pytest.mark.parametrize(
    ("exc", "expected", "retry"),
    [
        (wrapped(httpx.ConnectError("refused")), ApiUnreachable, Retry.SAFE),
        (wrapped(httpx.ReadTimeout("slow")), ApiUnreachable, Retry.IF_IDEMPOTENT),
        (wrapped(ConnectionResetError()), ApiUnreachable, Retry.IF_IDEMPOTENT),
        (TransportServerError("HTTP 503", 503), ApiUnreachable, Retry.SAFE),
        (TransportServerError("HTTP 500", 500), ApiUnreachable, Retry.IF_IDEMPOTENT),
        (TransportServerError("HTTP 401", 401), AuthenticationFailed, Retry.NEVER),
        (TransportServerError("HTTP 404", 404), ApiProtocolError, Retry.NEVER),
        (TransportProtocolError("not JSON"), ApiProtocolError, Retry.NEVER),
        (query_error("NOT_FOUND"), ExecutionNotFoundError, Retry.NEVER),
        (query_error("INVALID_INPUT"), InvalidInput, Retry.NEVER),
        (query_error("UNAUTHENTICATED"), AuthenticationFailed, Retry.NEVER),
        (query_error(None), ApiProtocolError, Retry.NEVER),
        (
            wrapped(websockets.exceptions.InvalidStatus(Response(403, "Forbidden", []))),  # type: ignore[arg-type]
            AuthenticationFailed,
            Retry.NEVER,
        ),
        (
            wrapped(websockets.exceptions.ConnectionClosedError(Close(4403, "expired"), None)),
            AuthenticationFailed,
            Retry.NEVER,
        ),
        (
            wrapped(websockets.exceptions.ConnectionClosedError(Close(1011, "oops"), None)),
            ApiUnreachable,
            Retry.IF_IDEMPOTENT,
        ),
    ],
)
def test_failures_become_typed_errors(
    exc: BaseException, expected: type[ExperienceError], retry: Retry
) -> None:
    error, retry_policy = translate(exc, URL)
    assert type(error) is expected
    assert retry_policy is retry


def test_an_unknown_api_code_is_kept_on_the_error() -> None:
    error = error_for_code("SOMETHING_NEW", "new failure")
    assert isinstance(error, ApiProtocolError)
    assert (error.code, error.message) == ("SOMETHING_NEW", "new failure")


def test_rate_limited_keeps_the_pause() -> None:
    error = error_for_code("RATE_LIMITED", "slow down", retry_after=1.5)
    assert isinstance(error, RateLimited)
    assert (error.code, error.retry_after) == ("RATE_LIMITED", 1.5)


def test_runtime_timeout_is_a_kind_of_unavailable() -> None:
    error = error_for_code("RUNTIME_TIMEOUT", "slow")
    assert isinstance(error, RuntimeTimeoutError)
    assert isinstance(error, RuntimeUnavailableError)
    assert error.code == "RUNTIME_TIMEOUT"


def test_invalid_input_keeps_the_field() -> None:
    error = error_for_code("INVALID_INPUT", "bad", field="contentRefs")
    assert isinstance(error, InvalidInput)
    assert error.field == "contentRefs"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/graphql", "ws://127.0.0.1:8000/graphql"),
        ("https://api.example.com/v1/graphql?x=1", "wss://api.example.com/v1/graphql?x=1"),
    ],
)
def test_websocket_url(url: str, expected: str) -> None:
    assert websocket_url(url) == expected
