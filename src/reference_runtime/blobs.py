"""Content-addressed storage of bytes on disk: a blob's name is the sha256 of its content."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

INCOMING_DIR = ".incoming"


def write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to `target` (creating its directory) so that a reader sees all of it or
    nothing: a synced temporary file beside it, renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class BlobNotFound(LookupError):
    """No blob with that digest is stored."""


class BlobStore:
    """Stores immutable byte strings under `root/<aa>/<bb>/<sha256>`.

    Writing the same content twice stores it once. Writes go to a temporary file that is renamed
    into place, so a crash never leaves a half-written blob under a valid name. Large content
    arrives through `incoming` (request bodies spooled while they are read, files decoded there
    before `adopt`); what a previous process left there is deleted at start. Data derived from
    a blob alone may live beside it under the blob's name and a suffix (a mash's line index,
    `record_files`).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.incoming = root / INCOMING_DIR
        shutil.rmtree(self.incoming, ignore_errors=True)
        self.incoming.mkdir()

    def path_for(self, digest: str) -> Path:
        """Where the blob with this sha256 hex digest lives (whether or not it exists)."""
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store `data` and return its sha256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists():
            return digest
        write_atomically(target, data)
        return digest

    def adopt(self, path: Path, digest: str) -> None:
        """Move a file whose content has the sha256 `digest` into place as that blob (a file
        in `incoming`, written by the caller); it is deleted when the blob exists already."""
        target = self.path_for(digest)
        if target.exists():
            path.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(path, target)

    def read_range(self, digest: str, start: int, length: int) -> bytes:
        """`length` bytes of the blob `digest` from byte `start` (fewer at its end)."""
        try:
            with self.path_for(digest).open("rb") as handle:
                handle.seek(start)
                return handle.read(length)
        except FileNotFoundError as exc:
            raise BlobNotFound(digest) from exc

    def get(self, digest: str) -> bytes:
        """The bytes stored under `digest`."""
        try:
            return self.path_for(digest).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFound(digest) from exc
