"""Upload sources: a path, bytes or a binary file object, (re)opened once per attempt.
A path is reopened for every attempt and a seekable file object sent again from its start, so
a retried upload sends the same bytes; an unseekable stream can be sent only once. Nothing is
read whole into memory except `bytes`, which already are.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO, Any

from experience_plane_sdk.errors import InvalidInput

__all__ = ["UploadSource", "upload_opener"]

UploadSource = str | os.PathLike[str] | bytes | IO[bytes]
DEFAULT_NAME = "upload.bin"


class _Borrowed:
    """A caller's file object, lent for one attempt: never closed by us."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def __enter__(self) -> IO[bytes]:
        return self.stream

    def __exit__(self, *exc_info: object) -> None:
        return None


class _Unsized:
    """Only `read` of an unseekable stream (a pipe, a socket), so that httpx sends it chunked.

    httpx sizes a file object with `fstat`, which says 0 for a pipe: the request would declare
    a Content-Length that the body then overruns.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


def upload_opener(
    source: UploadSource,
) -> tuple[Callable[[], AbstractContextManager[Any]], str, bool]:
    """How to (re)open the upload for each attempt, its default file name, and if it can be
    sent again.

    httpx sends a seekable file object whole, from its start, on every attempt; an unseekable
    one is sent chunked and consumed by the first attempt.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return (lambda: io.BytesIO(data)), DEFAULT_NAME, True
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"No such file: {path}", field="file")
        return (lambda: path.open("rb")), path.name, True
    # A file object's `name` is its path, or an int for one opened from a file descriptor.
    source_name = getattr(source, "name", None)
    name = os.path.basename(source_name) if isinstance(source_name, str) else ""
    name = name or DEFAULT_NAME
    try:
        seekable = bool(source.seekable())
    except (AttributeError, OSError):
        seekable = False
    if seekable:
        return (lambda: _Borrowed(source)), name, True
    return (lambda: nullcontext(_Unsized(source))), name, False
