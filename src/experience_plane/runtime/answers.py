"""Reading the Runtime's HTTP answers: status codes become typed errors, bodies become models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import pydantic

from experience_plane.runtime.errors import (
    RuntimeClientError,
    RuntimeProtocolError,
    RuntimeRejected,
    RuntimeUnavailable,
)
from experience_plane.runtime.models import ExecutionState, SubmitResult
from experience_plane.runtime.transport import Answer

__all__ = [
    "checked",
    "error_detail",
    "failed_submit",
    "json_body",
    "parse_answer",
    "parse_body",
    "retry_after",
]

_W = TypeVar("_W", bound=pydantic.BaseModel)


def checked(response: Answer, not_found: type[RuntimeClientError] | None) -> Answer:
    """`response` itself when its status is 2xx; any other status raises its error.

    404 raises `not_found` when the caller looked something up (else `RuntimeRejected`); 429
    and 5xx raise `RuntimeUnavailable` (with the `Retry-After` pause); other 4xx raise
    `RuntimeRejected` with the Runtime's `detail`; a 1xx/3xx status raises
    `RuntimeProtocolError`.
    """
    status = response.status_code
    if 200 <= status < 300:
        return response
    exc = response.status_error()
    detail = _detail(response)
    message = f"{response.what}: {status} {_short(detail)}"
    if status == 404 and not_found is not None:
        raise not_found(message, status_code=status) from exc
    if status == 429 or status >= 500:
        pause = retry_after(response)
        raise RuntimeUnavailable(message, status_code=status, retry_after=pause) from exc
    if 400 <= status < 500:
        raise RuntimeRejected(message, detail=detail, status_code=status) from exc
    raise RuntimeProtocolError(message, status_code=status) from exc


def json_body(response: Answer, not_found: type[RuntimeClientError] | None) -> object:
    """The decoded JSON body of a 2xx answer; any other status raises as in `checked`, and a
    body that is not JSON raises `RuntimeProtocolError`."""
    checked(response, not_found)
    try:
        return response.json()
    except ValueError as exc:
        raise _not_json(response) from exc


def parse_body(model: type[_W], response: Answer) -> _W:
    """The body of a (`checked`) answer as `model`, validated straight from its bytes in one
    pass (no intermediate `json.loads` tree): `RuntimeProtocolError` when it is not JSON or
    not of that shape, as `json_body` and `parse_answer` say it."""
    try:
        return model.model_validate_json(response.content)
    except pydantic.ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise _not_json(response) from exc
        raise RuntimeProtocolError(f"Unexpected answer from the Runtime: {exc}") from exc


def parse_answer(model: type[_W], data: object) -> _W:
    """`data` as `model`, or `RuntimeProtocolError` when it is not of that shape."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise RuntimeProtocolError(f"Unexpected answer from the Runtime: {exc}") from exc


def failed_submit(response: Answer, intent_id: str) -> SubmitResult | None:
    """The platform's synchronous failure (500 `{"detail": ...}`, no execution id) as a failed
    `SubmitResult`; None when the 500 is anything else (an HTML page, no detail)."""
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.get("detail") or data.get("execution_id"):
        return None
    detail = data["detail"]
    return SubmitResult(
        execution_id=None,
        intent_id=intent_id,
        state=ExecutionState.FAILED,
        raw_status="failed",
        error=detail if isinstance(detail, str) else json.dumps(detail),
        created_at=None,
    )


def retry_after(response: Answer) -> float | None:
    """The pause in seconds a `Retry-After` header asks for (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _not_json(response: Answer) -> RuntimeProtocolError:
    return RuntimeProtocolError(
        f"{response.what}: answer is not JSON: {_short(response.text)}",
        status_code=response.status_code,
    )


def _detail(response: Answer) -> object:
    """The FastAPI `detail` of an error answer, or its text when it is not FastAPI-shaped."""
    try:
        data = response.json()
    except ValueError:
        return response.text
    if isinstance(data, dict) and "detail" in data:
        return data["detail"]
    return data


def error_detail(response: Answer) -> str:
    """An error answer's `detail` (or text), short enough for a message."""
    return _short(_detail(response))


def _short(value: object, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
