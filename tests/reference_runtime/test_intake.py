"""Reading a submit body as it streams: small strings parsed, large ones spooled to disk."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reference_runtime.intake import (
    BodyTooLarge,
    MalformedBody,
    SpooledText,
    discard_spooled,
    read_json_body,
    text_chunks,
)


async def _pieces(body: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    position = 0
    index = 0
    while position < len(body):
        size = sizes[index % len(sizes)]
        yield body[position : position + size]
        position += size
        index += 1


async def _read(body: bytes, tmp_path: Path, sizes: list[int], threshold: int = 64) -> Any:
    return await read_json_body(_pieces(body, sizes), tmp_path, spool_threshold=threshold)


def _left(directory: Path) -> list[str]:
    return [path.name for path in directory.iterdir()]


def _resolved(value: Any) -> Any:
    """The document with every spooled string read back, as `json.loads` would give it."""
    if isinstance(value, SpooledText):
        return b"".join(text_chunks(value, size=7)).decode()
    if isinstance(value, dict):
        return {key: _resolved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item) for item in value]
    return value


DOCUMENTS: list[Any] = [
    {
        "intent_type": "content.upload",
        "parameters": {
            "filename": 'a "quoted" \\ name',
            "file_content": base64.b64encode(bytes(range(256)) * 3).decode(),
        },
        "metadata": {"user_id": "u1"},
    },
    {"escaped big": "x\\/y" * 50 + '"\\\\' * 40 + "\u00e9\u2603" * 30, "n": [1, 2.5, None, True]},
    {"edge": "\\" * 101, "after": "z" * 65, "list": ["q" * 200, "short"]},
]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("sizes", [[1], [3, 5, 7], [64 * 1024]])
async def test_a_body_in_any_chunking_reads_as_json_loads_reads_it(
    document: Any, sizes: list[int], tmp_path: Path
) -> None:
    body = json.dumps(document, ensure_ascii=False).encode()
    parsed = await _read(body, tmp_path, sizes)
    assert _resolved(parsed) == document
    discard_spooled(parsed)
    assert _left(tmp_path) == []


async def test_only_strings_over_the_threshold_are_spooled(tmp_path: Path) -> None:
    content = "QUJD" * 1000
    body = json.dumps({"parameters": {"file_content": content, "filename": "a.csv"}}).encode()
    parsed = await _read(body, tmp_path, [1000], threshold=1024)
    spooled = parsed["parameters"]["file_content"]
    assert isinstance(spooled, SpooledText)
    assert b"".join(text_chunks(spooled)) == content.encode()
    assert parsed["parameters"]["filename"] == "a.csv"
    assert _left(tmp_path) == [spooled.path.name]
    discard_spooled(parsed)
    assert _left(tmp_path) == []


async def test_random_chunkings_of_escaped_text_read_back_exactly(tmp_path: Path) -> None:
    rng = random.Random(3)  # noqa: S311 - repeatable test data, not a secret
    alphabet = ['"', "\\", "/", "a", "\n", "\u00e9", "\u2028", "\U0001f600"]
    text = "".join(rng.choice(alphabet) for _ in range(5000))
    body = json.dumps({"t": text}).encode()
    for _ in range(5):
        sizes = [rng.randint(1, 50) for _ in range(20)]
        parsed = await _read(body, tmp_path, sizes, threshold=100)
        assert _resolved(parsed) == {"t": text}
        discard_spooled(parsed)


@pytest.mark.parametrize("body", [b'{"a": "unterminated', b'{"a": 1', b"not json", b""])
async def test_a_malformed_body_is_an_error_and_leaves_nothing_on_disk(
    body: bytes, tmp_path: Path
) -> None:
    with pytest.raises(MalformedBody):
        await _read(body + b"x" * 200 if body.endswith(b"unterminated") else body, tmp_path, [7])
    assert _left(tmp_path) == []


async def test_too_much_outside_large_strings_is_refused(tmp_path: Path) -> None:
    body = json.dumps({"many": ["short"] * 1000}).encode()
    with pytest.raises(BodyTooLarge):
        await read_json_body(
            _pieces(body, [100]), tmp_path, spool_threshold=64, max_skeleton_bytes=1000
        )
    assert _left(tmp_path) == []
