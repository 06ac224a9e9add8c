"""The streamed upload body: valid JSON whose decoded content, size and hash match the input."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experience_plane.runtime.upload import SLICE_SIZE, ContentEncoding, upload_body

ENVELOPE = {"intent_type": "content.upload", "tenant_id": "t", "metadata": {"user_id": "u"}}
PARAMETERS = {"filename": 'quo"te.csv', "mime_type": "text/csv"}


async def pieces(chunks: Sequence[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def body_of(
    content: bytes | Sequence[bytes], encoding: ContentEncoding
) -> tuple[dict[str, object], list[bytes]]:
    source = content if isinstance(content, bytes) else pieces(content)
    written = [piece async for piece in upload_body(ENVELOPE, PARAMETERS, source, encoding)]
    return json.loads(b"".join(written)), written


def decode(params: dict[str, object], encoding: ContentEncoding) -> bytes:
    encoded = params["file_content"]
    assert isinstance(encoded, str)
    if encoding is ContentEncoding.BASE64:
        return base64.b64decode(encoded, validate=True)
    return bytes.fromhex(encoded)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=600),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=12),
    encoding=st.sampled_from(ContentEncoding),
)
async def test_any_chunking_round_trips(
    data: bytes, cuts: list[int], encoding: ContentEncoding
) -> None:
    body, _ = await body_of(split(data, cuts), encoding)
    params = body["parameters"]
    assert isinstance(params, dict)
    assert decode(params, encoding) == data
    assert params["size"] == len(data)
    assert params["sha256"] == hashlib.sha256(data).hexdigest()
    assert params["filename"] == 'quo"te.csv'
    assert {k: v for k, v in body.items() if k != "parameters"} == ENVELOPE


@pytest.mark.parametrize("encoding", list(ContentEncoding))
async def test_large_bytes_are_written_in_slices(encoding: ContentEncoding) -> None:
    data = bytes(range(256)) * (SLICE_SIZE // 64)  # four slices
    body, written = await body_of(data, encoding)
    params = body["parameters"]
    assert isinstance(params, dict)
    assert decode(params, encoding) == data
    # Never one piece holding the whole encoded file.
    assert max(len(piece) for piece in written) < 2 * SLICE_SIZE + 10


async def test_empty_content() -> None:
    body, _ = await body_of(b"", ContentEncoding.BASE64)
    assert body["parameters"] == {
        **PARAMETERS,
        "file_content": "",
        "size": 0,
        "sha256": hashlib.sha256(b"").hexdigest(),
    }
