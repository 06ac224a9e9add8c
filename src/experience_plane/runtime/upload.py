"""The streamed JSON body of an upload intent.
A file travels inside the intent's JSON, encoded (base64 or hex) in `parameters.file_content`.
Building that JSON in memory would hold the file several times over; instead the body is written
piece by piece: the JSON up to the opening quote of `file_content`, the encoded chunks as they
arrive, then `size` and `sha256` (computed on the way) and the closing braces. JSON does not care
about key order, so the Runtime reads size and hash after the content.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from enum import StrEnum

__all__ = ["ContentEncoding", "platform_file_type", "upload_body"]

# Large `bytes` content is encoded in slices so no second full-size copy is ever built.
SLICE_SIZE = 64 * 1024
_MIME_FILE_TYPES = {"text/csv": "csv", "application/json": "json", "text/plain": "text"}


class ContentEncoding(StrEnum):
    """How the file's bytes are written into `file_content`."""

    BASE64 = "base64"
    HEX = "hex"


def _open_object(fields: Mapping[str, object]) -> str:
    """`fields` as a JSON object with its closing brace left off, ready for more keys."""
    text = json.dumps(fields, separators=(",", ":"))
    return text[:-1] + ("," if fields else "")


async def _chunks(content: bytes | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(content, bytes | bytearray | memoryview):
        view = memoryview(content)
        for start in range(0, len(view), SLICE_SIZE):
            yield bytes(view[start : start + SLICE_SIZE])
        return
    async for chunk in content:
        if chunk:
            yield bytes(chunk)


def _encoder(encoding: ContentEncoding) -> tuple[Callable[[bytes], bytes], int]:
    """The chunk encoder and the block size it must be fed in multiples of."""
    if encoding is ContentEncoding.BASE64:
        return base64.b64encode, 3
    return lambda data: data.hex().encode("ascii"), 1


async def upload_body(
    envelope: Mapping[str, object],
    parameters: Mapping[str, object],
    content: bytes | AsyncIterable[bytes],
    encoding: ContentEncoding,
) -> AsyncIterator[bytes]:
    """Yield the JSON body `{**envelope, "parameters": {**parameters, "file_content": <encoded>,
    "size": n, "sha256": hex}}` without ever holding the whole content.

    Base64 is encoded on 3-byte boundaries: up to two bytes of a chunk are carried over to the
    next one, so the concatenated pieces are exactly the base64 of the whole content.
    """
    encode, block = _encoder(encoding)
    digest = hashlib.sha256()
    size = 0
    carry = b""
    head = f'{_open_object(envelope)}"parameters":{_open_object(parameters)}"file_content":"'
    yield head.encode()
    async for chunk in _chunks(content):
        digest.update(chunk)
        size += len(chunk)
        data = carry + chunk if carry else chunk
        cut = len(data) - len(data) % block
        carry = data[cut:]
        if cut:
            yield encode(data[:cut])
    if carry:
        yield encode(carry)
    yield f'","size":{size},"sha256":"{digest.hexdigest()}"}}}}'.encode()


def platform_file_type(filename: str, mime_type: str) -> str:
    """The platform's `file_type`: the file's extension, else what its MIME type implies."""
    stem, dot, extension = filename.rpartition(".")
    if dot and stem and extension:
        return extension.lower()
    return _MIME_FILE_TYPES.get(mime_type.split(";")[0].strip().lower(), "binary")
