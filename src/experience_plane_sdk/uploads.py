"""Upload sources: a path, bytes or a binary file object, (re)opened once per attempt.

A path is reopened for every attempt and a seekable file object rewound, so a retried upload
sends the same bytes; an unseekable stream can be sent only once. Nothing is read whole into
memory except `bytes`, which already are.
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


class _Rewound:
    """A context manager that seeks a caller's file object back and does not close it."""

    def __init__(self, stream: IO[bytes], position: int) -> None:
        self.stream = stream
        self.position = position

    def __enter__(self) -> IO[bytes]:
        self.stream.seek(self.position)
        return self.stream

    def __exit__(self, *exc_info: object) -> None:
        return None


class _Borrowed(_Rewound):
    """A caller's unseekable file object: usable once, never closed by us."""

    def __enter__(self) -> IO[bytes]:
        return self.stream


def upload_opener(
    source: UploadSource,
) -> tuple[Callable[[], AbstractContextManager[IO[bytes]]], str, bool]:
    """How to (re)open the upload for each attempt, its default file name, and if it rewinds."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return (lambda: io.BytesIO(data)), DEFAULT_NAME, True
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"No such file: {path}", field="file")
        return (lambda: path.open("rb")), path.name, True
    name = os.path.basename(str(getattr(source, "name", "") or "")) or DEFAULT_NAME
    seekable = False
    try:
        seekable = source.seekable()
        position = source.tell() if seekable else 0
    except (AttributeError, OSError):
        seekable, position = False, 0
    if seekable:
        return (lambda: _Rewound(source, position)), name, True
    return (lambda: _Borrowed(source, 0)), name, False
