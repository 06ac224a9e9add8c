"""Reading a submit body as it arrives, with its large strings spooled to disk.
An upload intent carries the file base64- or hex-encoded inside the JSON (`file_content`): a
1 GiB file is a 1.4 GiB JSON string. Parsing such a body the ordinary way holds it several times
over (the raw body, the decoded text, the parsed string). Instead the body is scanned chunk by
chunk: every JSON string shorter than `spool_threshold` stays in a small "skeleton" of the
document, and a longer one is written to a file under `spool_dir` as it streams past and replaced
in the skeleton by a placeholder. Parsing the skeleton then gives the request with a `SpooledText`
where each large string was. The scan only looks for quotes and backslashes (`bytes.find`), so
it costs little more than copying the bytes.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import re
import tempfile
import uuid
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "BodyTooLarge",
    "MalformedBody",
    "SpooledText",
    "discard_spooled",
    "read_json_body",
    "text_chunks",
]

DEFAULT_SPOOL_THRESHOLD = 1024 * 1024
# Everything but the spooled strings: the envelope and the small parameters.
DEFAULT_MAX_SKELETON_BYTES = 16 * 1024 * 1024
READ_BYTES = 256 * 1024
FEED_BYTES = 1024 * 1024
# The longest JSON escape (`\uXXXX`): a piece of escaped text is cut before an escape this close
# to its end, so that no escape is split between two pieces.
_LONGEST_ESCAPE = 6
_HIGH_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")


class MalformedBody(ValueError):
    """The body is not a JSON document."""


class BodyTooLarge(ValueError):
    """The body's small strings and structure alone are over the limit."""


@dataclass(slots=True)
class SpooledText:
    """A JSON string's raw (still escaped) text, kept in a file instead of memory."""

    path: Path
    size: int
    escaped: bool

    def discard(self) -> None:
        """Delete the file; the text is gone."""
        self.path.unlink(missing_ok=True)


def text_chunks(value: str | SpooledText, size: int = READ_BYTES) -> Iterator[bytes]:
    """The UTF-8 bytes of a string value, whether it was kept in memory or spooled, in chunks.

    Escapes in spooled text are resolved on the way (base64 and hex have none, but a JSON encoder
    may write `/` as `\\/`)."""
    if isinstance(value, str):
        for start in range(0, len(value), size):
            yield value[start : start + size].encode()
        return
    with value.path.open("rb") as handle:
        if not value.escaped:
            while piece := handle.read(size):
                yield piece
            return
        # Decoded first (a piece may end inside a UTF-8 sequence), then unescaped in pieces that
        # end outside an escape.
        decoder = codecs.getincrementaldecoder("utf-8")()
        carry = ""
        while raw := handle.read(size):
            text = carry + decoder.decode(raw)
            cut = _safe_cut(text)
            carry = text[cut:]
            yield _unescape(text[:cut])
        carry += decoder.decode(b"", final=True)
        if carry:
            yield _unescape(carry)


def _safe_cut(text: str) -> int:
    """Where `text` can be cut without splitting an escape, nor a surrogate pair of escapes.

    Only a backslash within the longest escape of the end can start an unfinished one. Its run
    of backslashes pairs up from the left: an even run is whole `\\\\` escapes (cut at the end),
    an odd one ends with the start of an escape (cut before it). A `\\uD800`-`\\uDBFF` escape
    just before the cut is the first half of a pair: cut before it too."""
    cut = len(text)
    last = text.rfind("\\", max(0, cut - _LONGEST_ESCAPE))
    if last >= 0 and _starts_escape(text, last):
        cut = last
    high = cut - _LONGEST_ESCAPE
    if high >= 0 and _HIGH_SURROGATE.fullmatch(text, high, cut) and _starts_escape(text, high):
        cut = high
    return cut


def _starts_escape(text: str, index: int) -> bool:
    """Whether the backslash at `index` starts an escape (is not the second of a `\\\\`)."""
    start = index
    while start > 0 and text[start - 1] == "\\":
        start -= 1
    return (index - start) % 2 == 0


def _unescape(raw: str) -> bytes:
    try:
        text: str = json.loads('"' + raw + '"')
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"bad escape in a string: {exc}") from exc
    return text.encode("utf-8", "surrogatepass")


def discard_spooled(value: Any) -> None:
    """Delete the files of every `SpooledText` inside a parsed body (no-op when none)."""
    if isinstance(value, SpooledText):
        value.discard()
    elif isinstance(value, dict):
        for item in value.values():
            discard_spooled(item)
    elif isinstance(value, list):
        for item in value:
            discard_spooled(item)


class _Scanner:
    """The state of one body's scan, fed chunk by chunk."""

    def __init__(self, spool_dir: Path, threshold: int, max_skeleton: int) -> None:
        self.spool_dir = spool_dir
        self.threshold = threshold
        self.max_skeleton = max_skeleton
        self.skeleton = bytearray()
        self.in_string = False
        self.string_start = 0  # where the current string's text starts in the skeleton
        self.backslashes = 0  # length of the backslash run just before the current position
        self.spool: BinaryIO | None = None
        self.spool_path: Path | None = None
        self.spool_size = 0
        self.spool_escaped = False
        self.marker = uuid.uuid4().hex
        self.spooled: dict[str, SpooledText] = {}

    def feed(self, chunk: bytes) -> None:
        position = 0
        while position < len(chunk):
            if not self.in_string:
                quote = chunk.find(b'"', position)
                end = len(chunk) if quote < 0 else quote + 1
                self._keep(chunk[position:end])
                if quote >= 0:
                    self.in_string = True
                    self.string_start = len(self.skeleton)
                    self.backslashes = 0
                position = end
                continue
            close = self._closing_quote(chunk, position)
            end = len(chunk) if close < 0 else close
            self._string_text(chunk[position:end])
            if close < 0:
                return
            self._end_string()
            position = close + 1

    def _closing_quote(self, chunk: bytes, position: int) -> int:
        """The first unescaped quote at or after `position`, or -1; keeps `backslashes` right."""
        start = position
        while True:
            quote = chunk.find(b'"', position)
            if quote < 0:
                self._count_trailing_backslashes(chunk, start, len(chunk))
                return -1
            run = 0
            while quote - run - 1 >= start and chunk[quote - run - 1] == 0x5C:
                run += 1
            if quote - run == start:
                run += self.backslashes  # the run continues from the text before this piece
            if run % 2 == 0:
                return quote
            position = quote + 1

    def _count_trailing_backslashes(self, chunk: bytes, start: int, end: int) -> None:
        run = 0
        while end - run - 1 >= start and chunk[end - run - 1] == 0x5C:
            run += 1
        self.backslashes = run + self.backslashes if end - run == start else run

    def _string_text(self, text: bytes) -> None:
        if not text:
            return
        if self.spool is None:
            self._keep(text)
            if len(self.skeleton) - self.string_start > self.threshold:
                self._start_spool()
            return
        self.spool.write(text)
        self.spool_size += len(text)
        self.spool_escaped = self.spool_escaped or b"\\" in text

    def _start_spool(self) -> None:
        fd, name = tempfile.mkstemp(dir=self.spool_dir, prefix="spool-")
        spool = os.fdopen(fd, "wb")
        self.spool, self.spool_path = spool, Path(name)
        text = bytes(self.skeleton[self.string_start :])
        del self.skeleton[self.string_start :]
        spool.write(text)
        self.spool_size = len(text)
        self.spool_escaped = b"\\" in text

    def _end_string(self) -> None:
        if self.spool is not None:
            assert self.spool_path is not None
            self.spool.close()
            name = f"{self.marker}:{len(self.spooled)}"
            self.spooled[name] = SpooledText(self.spool_path, self.spool_size, self.spool_escaped)
            self.spool, self.spool_path = None, None
            self._keep(name.encode())
        self._keep(b'"')
        self.in_string = False

    def _keep(self, data: bytes) -> None:
        self.skeleton += data
        if len(self.skeleton) > self.max_skeleton:
            raise BodyTooLarge(
                f"The request's JSON outside its large strings is over {self.max_skeleton} bytes"
            )

    def abandon(self) -> None:
        if self.spool is not None:
            self.spool.close()
        if self.spool_path is not None:
            self.spool_path.unlink(missing_ok=True)
        for spooled in self.spooled.values():
            spooled.discard()

    def document(self) -> Any:
        if self.in_string:
            raise MalformedBody("the body ends inside a string")
        try:
            parsed = json.loads(self.skeleton)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MalformedBody(str(exc)) from exc
        return self._restore(parsed)

    def _restore(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.spooled.get(value, value) if value.startswith(self.marker) else value
        if isinstance(value, dict):
            return {key: self._restore(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._restore(item) for item in value]
        return value


async def read_json_body(
    chunks: AsyncIterable[bytes],
    spool_dir: Path,
    *,
    spool_threshold: int = DEFAULT_SPOOL_THRESHOLD,
    max_skeleton_bytes: int = DEFAULT_MAX_SKELETON_BYTES,
) -> Any:
    """Parse a JSON body from its chunks; strings over `spool_threshold` bytes come back as
    `SpooledText` files in `spool_dir`, which the caller must `discard_spooled` when done.

    Raises `MalformedBody` (not JSON) or `BodyTooLarge`; nothing is left on disk then."""
    scanner = _Scanner(spool_dir, spool_threshold, max_skeleton_bytes)
    pending: list[bytes] = []
    pending_size = 0
    try:
        async for chunk in chunks:
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= FEED_BYTES:
                # Spooling writes to disk: done in a thread, a batch at a time, to keep the
                # event loop (status reads, other submits) responsive during a large upload.
                await asyncio.to_thread(scanner.feed, b"".join(pending))
                pending, pending_size = [], 0
        scanner.feed(b"".join(pending))
        return scanner.document()
    except BaseException:
        scanner.abandon()
        raise
