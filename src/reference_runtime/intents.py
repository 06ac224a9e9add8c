"""The work behind each intent type: what an execution does between `executing` and its end.

A handler returns the artifacts it produced in two shapes: in full (the contract) and reduced to
their ids (the platform's current Runtime). Problems a person can fix raise `IntentFailed` with a
message that says what to do.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reference_runtime.blobs import BlobStore
from reference_runtime.realms.content import ContentError, describe_file, parse_content
from reference_runtime.store import ArtifactRecord, ExecutionRecord, Store
from reference_runtime.timeutil import utc_now


class IntentFailed(Exception):
    """The execution cannot succeed; the message is shown to the person who asked for it."""


@dataclass(frozen=True, slots=True)
class IntentResult:
    """The artifacts an execution produced, in full and reduced to ids."""

    artifacts: dict[str, Any]
    reduced: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IntentContext:
    """What a handler may use: the stores and the execution it runs for."""

    store: Store
    blobs: BlobStore
    execution: ExecutionRecord


Handler = Callable[[IntentContext, dict[str, Any]], Awaitable[IntentResult]]


def new_id(prefix: str) -> str:
    """A fresh opaque identifier such as `file_3f2a...`."""
    return f"{prefix}_{uuid.uuid4().hex}"


def _text_param(params: Mapping[str, Any], name: str, intent: str, *, required: bool) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise IntentFailed(f"{intent} needs parameters.{name}")
        return None
    if not isinstance(value, str):
        raise IntentFailed(f"parameters.{name} must be a string, got {type(value).__name__}")
    return value


def _verify(data: bytes, filename: str, params: Mapping[str, Any]) -> str:
    """Check the declared size and sha256 against the bytes; return the real sha256."""
    size = params.get("size")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise IntentFailed(f"parameters.size must be an integer, got {size!r}")
        if size != len(data):
            raise IntentFailed(
                f"Size mismatch for {filename}: expected {size} bytes, got {len(data)} bytes; "
                "the upload was truncated or altered, send it again"
            )
    digest = hashlib.sha256(data).hexdigest()
    expected = params.get("sha256")
    if expected is not None and str(expected).lower() != digest:
        raise IntentFailed(
            f"SHA-256 mismatch for {filename}: expected {expected}, got {digest}; "
            "the content was altered on the way, send it again"
        )
    return digest


async def _store_file(
    ctx: IntentContext, data: bytes, *, filename: str, mime_type: str
) -> dict[str, Any]:
    """Store verified bytes, profile them, and record the `file` artifact; return its payload."""
    digest = await asyncio.to_thread(ctx.blobs.put, data)
    try:
        parsed = await asyncio.to_thread(parse_content, data, filename, mime_type)
    except ContentError as exc:
        raise IntentFailed(str(exc)) from exc
    file_id = new_id("file")
    payload = describe_file(
        file_id=file_id,
        filename=filename,
        mime_type=mime_type,
        size=len(data),
        sha256=digest,
        parsed=parsed,
    )
    record = ArtifactRecord(
        artifact_id=file_id,
        tenant_id=ctx.execution.tenant_id,
        artifact_type="file",
        name=filename,
        mime_type=mime_type,
        size=len(data),
        hash=digest,
        execution_id=ctx.execution.execution_id,
        payload=payload,
        created_at=utc_now(),
    )
    await asyncio.to_thread(ctx.store.insert_artifact, record)
    return payload


def _file_result(payload: dict[str, Any]) -> IntentResult:
    return IntentResult(
        artifacts={"file": {"result_type": "file", "semantic_payload": payload}},
        reduced={
            "artifact": {
                "result_type": "file",
                "semantic_payload": {
                    "artifact_id": payload["file_id"],
                    "boundary_contract_id": new_id("bc"),
                },
            }
        },
    )


async def content_upload(ctx: IntentContext, params: dict[str, Any]) -> IntentResult:
    """`content.upload`: base64 bytes, verified, stored content-addressed and profiled."""
    intent = "content.upload"
    filename = _text_param(params, "filename", intent, required=True) or ""
    mime_type = _text_param(params, "mime_type", intent, required=False)
    encoding = _text_param(params, "content_encoding", intent, required=False) or "base64"
    if encoding != "base64":
        raise IntentFailed(f"Unsupported content_encoding {encoding!r}; send the bytes as base64")
    encoded = params.pop("file_content", None)  # popped: the decoded bytes are the only copy kept
    if not isinstance(encoded, str):
        raise IntentFailed(f"{intent} needs parameters.file_content (base64 text)")
    try:
        data = await asyncio.to_thread(base64.b64decode, encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IntentFailed(f"file_content of {filename} is not valid base64: {exc}") from exc
    del encoded
    _verify(data, filename, params)
    payload = await _store_file(
        ctx, data, filename=filename, mime_type=mime_type or "application/octet-stream"
    )
    return _file_result(payload)


async def ingest_file(ctx: IntentContext, params: dict[str, Any]) -> IntentResult:
    """`ingest_file` (platform mode): hex bytes with a required `ui_name`."""
    intent = "ingest_file"
    ui_name = _text_param(params, "ui_name", intent, required=True) or ""
    filename = _text_param(params, "filename", intent, required=False) or ui_name
    mime_type = _text_param(params, "mime_type", intent, required=False)
    encoded = params.pop("file_content", None)
    if not isinstance(encoded, str):
        raise IntentFailed(f"{intent} needs parameters.file_content (hex text)")
    try:
        data = bytes.fromhex(encoded)
    except ValueError as exc:
        raise IntentFailed(f"file_content of {filename} is not valid hex: {exc}") from exc
    del encoded
    _verify(data, filename, params)
    payload = await _store_file(
        ctx, data, filename=filename, mime_type=mime_type or "application/octet-stream"
    )
    return _file_result(payload)
