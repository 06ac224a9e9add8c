"""What the OpenAPI document says beyond what FastAPI derives from the routes: the limits the
server enforces on bodies (`EXPERIENCE_MAX_REQUEST_BYTES`, `EXPERIENCE_MAX_UPLOAD_BYTES`, the
parts an upload may have) and the `X-Request-Id` every answer carries. Header patterns and field
limits are on the routes and models themselves (`rest.content`, `rest.models`); together they
make every request the document calls valid one the server accepts (a schema-driven fuzzer,
`tests/e2e/test_openapi_fuzz.py`, holds the two to that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from experience_plane.json_input import MAX_DEPTH
from experience_plane.middleware import BodySizeLimitMiddleware
from experience_plane.settings import Settings

__all__ = ["describe_limits"]

_REQUEST_ID = {
    "description": "This request's id, to quote when reporting a problem (in error bodies too).",
    "schema": {"type": "string"},
}


def describe_limits(app: FastAPI, settings: Settings) -> None:
    """Make `app.openapi()` (FastAPI's documented hook for extending the document) describe
    the body limits of `settings` and the request id header."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    described = False

    def openapi() -> dict[str, Any]:
        nonlocal described
        document = generate()  # built once and kept by FastAPI
        if not described:
            _describe(document, settings)
            described = True
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _describe(document: dict[str, Any], settings: Settings) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {})["X-Request-Id"] = _REQUEST_ID
            body = operation.get("requestBody")
            if body is not None:
                _describe_body(body, schemas, settings)


def _describe_body(body: dict[str, Any], schemas: dict[str, Any], settings: Settings) -> None:
    content = body.get("content", {})
    if "multipart/form-data" in content:
        envelope = BodySizeLimitMiddleware.MULTIPART_OVERHEAD_BYTES
        body["description"] = (
            f"A file of at most {settings.max_upload_bytes} bytes "
            f"(`EXPERIENCE_MAX_UPLOAD_BYTES`; the whole body may be {envelope} bytes more), "
            "as the one `file` part, with at most the `filename` and `mime_type` parts beside "
            "it; a larger file is a 413 UPLOAD_TOO_LARGE, another part a 400 INVALID_INPUT."
        )
        ref = content["multipart/form-data"].get("schema", {}).get("$ref", "")
        form = schemas.get(ref.rsplit("/", 1)[-1])
        if form is not None:
            form["additionalProperties"] = False
        return
    body["description"] = (
        f"At most {settings.max_request_bytes} bytes (`EXPERIENCE_MAX_REQUEST_BYTES`), else a "
        f"413 REQUEST_TOO_LARGE; JSON nested at most {MAX_DEPTH} levels deep, with no lone "
        "surrogate in a string, else a 400 INVALID_INPUT."
    )
