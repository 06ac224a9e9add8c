"""Upload sources: a path, bytes or a binary file object, (re)opened once per attempt.

A path is reopened for every attempt and a seekable file object sent again from its start, so
a retried upload sends the same bytes; an unseekable stream can be sent only once. Nothing is
read whole into memory except `bytes`, which already are.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

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


def upload_opener(
    source: UploadSource,
) -> tuple[Callable[[], AbstractContextManager[IO[bytes]]], str, bool]:
    """How to (re)open the upload for each attempt, its default file name, and if it can be
    sent again.

    httpx sends a seekable file object whole, from its start, on every attempt; an unseekable
    one (a pipe, a socket) is consumed by the first.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return (lambda: io.BytesIO(data)), DEFAULT_NAME, True
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"No such file: {path}", field="file")
        return (lambda: path.open("rb")), path.name, True
    name = os.path.basename(str(getattr(source, "name", "") or "")) or DEFAULT_NAME
    try:
        seekable = bool(source.seekable())
    except (AttributeError, OSError):
        seekable = False
    return (lambda: _Borrowed(source)), name, seekable
