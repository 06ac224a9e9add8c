"""The work behind each intent type: what an execution does between `executing` and its end.
A handler returns the artifacts it produced in two shapes: in full (the contract) and reduced to
their ids (the platform's current Runtime), with the records the executor stores together with
the status that names them. Problems a person can fix raise `IntentFailed` with a message that
says what to do. A handler checks `ctx.cancel` at its safe points and commits it just before it
writes anything lasting (a blob), so a cancelled execution leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from reference_runtime.blobs import BlobStore
from reference_runtime.cancelling import CancelToken
from reference_runtime.intake import SpooledText, discard_spooled, text_chunks
from reference_runtime.realms.content import ContentError, describe_file, profile_file
from reference_runtime.store import ArtifactRecord, ExecutionRecord, Store
from reference_runtime.timeutil import utc_now


class IntentFailed(Exception):
    """The execution cannot succeed; the message is shown to the person who asked for it."""


@dataclass(frozen=True, slots=True)
class IntentResult:
    """The artifacts an execution produced, in full and reduced to ids, and their records (stored
    by the executor in the transaction that marks the execution `artifacts_received`)."""

    artifacts: dict[str, Any]
    reduced: dict[str, Any]
    records: tuple[ArtifactRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class IntentContext:
    """What a handler may use: the stores, the execution it runs for and its cancel flag."""

    store: Store
    blobs: BlobStore
    execution: ExecutionRecord
    cancel: CancelToken


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


@dataclass(frozen=True, slots=True)
class _Encoding:
    """How `file_content` spells the bytes: its name, block size (in characters) and decoder."""

    name: str
    block: int
    decode: Callable[[bytes], bytes]


def _b64decode(text: bytes) -> bytes:
    return base64.b64decode(text, validate=True)


BASE64 = _Encoding("base64", 4, _b64decode)


def _hexdecode(text: bytes) -> bytes:
    return bytes.fromhex(text.decode("ascii"))


HEX = _Encoding("hex", 2, _hexdecode)


def _decode_into(
    target: BinaryIO,
    chunks: Iterator[bytes],
    encoding: _Encoding,
    checkpoint: Callable[[], None] = lambda: None,
) -> tuple[str, int]:
    """Decode encoded text arriving in chunks into `target`; return the bytes' sha256 and size.

    Text is decoded in whole blocks; the last block is held back until the end, so that base64
    padding is only accepted there. `checkpoint` runs before each chunk (a safe point)."""
    digest = hashlib.sha256()
    size = 0
    pending = b""

    def write(text: bytes) -> None:
        nonlocal size
        data = encoding.decode(text)
        digest.update(data)
        size += len(data)
        target.write(data)

    for chunk in chunks:
        checkpoint()
        pending += chunk
        cut = len(pending) - len(pending) % encoding.block - encoding.block
        if cut > 0:
            if pending[cut - 1 : cut] == b"=":
                raise ValueError("padding before the end of the content")
            write(pending[:cut])
            pending = pending[cut:]
    if pending:
        write(pending)
    return digest.hexdigest(), size


def _verify(size: int, digest: str, filename: str, params: Mapping[str, Any]) -> None:
    """Check the declared size and sha256 against what was received."""
    declared = params.get("size")
    if declared is not None:
        if isinstance(declared, bool) or not isinstance(declared, int):
            raise IntentFailed(f"parameters.size must be an integer, got {declared!r}")
        if declared != size:
            raise IntentFailed(
                f"Size mismatch for {filename}: expected {declared} bytes, got {size} bytes; "
                "the upload was truncated or altered, send it again"
            )
    expected = params.get("sha256")
    if expected is not None and str(expected).lower() != digest:
        raise IntentFailed(
            f"SHA-256 mismatch for {filename}: expected {expected}, got {digest}; "
            "the content was altered on the way, send it again"
        )


def _receive(
    blobs: BlobStore,
    encoded: str | SpooledText,
    encoding: _Encoding,
    filename: str,
    checkpoint: Callable[[], None],
) -> tuple[Path, str, int]:
    """Decode `file_content` into a new file in the blob store's `incoming`, streaming; return
    the file, its sha256 and size. The file is deleted when the content is not valid, or the
    execution is cancelled on the way."""
    fd, name = tempfile.mkstemp(dir=blobs.incoming, prefix="file-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as target:
            digest, size = _decode_into(target, text_chunks(encoded), encoding, checkpoint)
    except (binascii.Error, ValueError) as exc:
        path.unlink(missing_ok=True)
        raise IntentFailed(
            f"file_content of {filename} is not valid {encoding.name}: {exc}"
        ) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest, size


async def _store_file(
    ctx: IntentContext,
    encoded: str | SpooledText,
    encoding: _Encoding,
    params: Mapping[str, Any],
    *,
    filename: str,
    mime_type: str,
    file_type: str | None = None,
) -> ArtifactRecord:
    """Decode, verify, profile and store the bytes; return the `file` artifact's record (its
    payload with the `file_type` the platform's upload names, when given). The content streams
    from the request's text to a file in `incoming`, never held whole, and becomes a blob only
    once the execution is past its point of no return."""
    checkpoint = ctx.cancel.checkpoint
    path, digest, size = await asyncio.to_thread(
        _receive, ctx.blobs, encoded, encoding, filename, checkpoint
    )
    try:
        _verify(size, digest, filename, params)
        try:
            profile = await asyncio.to_thread(
                profile_file, path, filename, mime_type, checkpoint=checkpoint
            )
        except ContentError as exc:
            raise IntentFailed(str(exc)) from exc
        ctx.cancel.commit()
        await asyncio.to_thread(ctx.blobs.adopt, path, digest)
    finally:
        path.unlink(missing_ok=True)
    file_id = new_id("file")
    created_at = utc_now()
    payload = describe_file(
        file_id=file_id,
        filename=filename,
        mime_type=mime_type,
        size=size,
        sha256=digest,
        profile=profile,
        created_at=created_at,
    )
    if file_type is not None:
        payload["file_type"] = file_type
    return ArtifactRecord(
        artifact_id=file_id,
        tenant_id=ctx.execution.tenant_id,
        artifact_type="file",
        name=filename,
        mime_type=mime_type,
        size=size,
        hash=digest,
        execution_id=ctx.execution.execution_id,
        payload=payload,
        created_at=created_at,
    )


def _file_result(record: ArtifactRecord) -> IntentResult:
    payload = record.payload
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
        records=(record,),
    )


def _file_content(params: dict[str, Any], intent: str, encoding: _Encoding) -> str | SpooledText:
    # Popped: the parameters must not keep the content alive (or its spool file around).
    encoded = params.pop("file_content", None)
    if not isinstance(encoded, str | SpooledText):
        discard_spooled(encoded)
        raise IntentFailed(f"{intent} needs parameters.file_content ({encoding.name} text)")
    return encoded


async def content_upload(ctx: IntentContext, params: dict[str, Any]) -> IntentResult:
    """`content.upload`: base64 bytes, verified, stored content-addressed and profiled."""
    intent = "content.upload"
    filename = _text_param(params, "filename", intent, required=True) or ""
    mime_type = _text_param(params, "mime_type", intent, required=False)
    encoding = _text_param(params, "content_encoding", intent, required=False) or "base64"
    if encoding != "base64":
        raise IntentFailed(f"Unsupported content_encoding {encoding!r}; send the bytes as base64")
    encoded = _file_content(params, intent, BASE64)
    try:
        record = await _store_file(
            ctx,
            encoded,
            BASE64,
            params,
            filename=filename,
            mime_type=mime_type or "application/octet-stream",
        )
    finally:
        discard_spooled(encoded)
    return _file_result(record)


async def ingest_file(ctx: IntentContext, params: dict[str, Any]) -> IntentResult:
    """`ingest_file` (platform mode): hex bytes with a required `ui_name`."""
    intent = "ingest_file"
    ui_name = _text_param(params, "ui_name", intent, required=True) or ""
    filename = _text_param(params, "filename", intent, required=False) or ui_name
    mime_type = _text_param(params, "mime_type", intent, required=False)
    file_type = _text_param(params, "file_type", intent, required=False)
    encoded = _file_content(params, intent, HEX)
    try:
        record = await _store_file(
            ctx,
            encoded,
            HEX,
            params,
            filename=filename,
            mime_type=mime_type or "application/octet-stream",
            file_type=file_type,
        )
    finally:
        discard_spooled(encoded)
    return _file_result(record)
