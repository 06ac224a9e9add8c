"""Uploading content: streaming a file to the Runtime as a `content.upload` intent."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from experience_plane.auth import Principal, RateLimiter
from experience_plane.runtime import ExecutionStatus, RuntimeCaller, RuntimeClient, SubmitResult
from experience_plane.services.errors import UploadTooLargeError
from experience_plane.services.executions import ExecutionService
from experience_plane.services.idempotent import IdempotentSubmits
from experience_plane.services.sessions import RuntimeSessions
from experience_plane.services.submitting import Submitter
from experience_plane.services.upload_metadata import upload_metadata

UPLOAD_INTENT = "content.upload"

logger = logging.getLogger(__name__)


class ByteSource(Protocol):
    """Something bytes can be read from in chunks, such as starlette's `UploadFile`."""

    async def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes; an empty result means the end."""
        ...


class ContentService:
    """Starts uploads and returns their execution at once, never holding a whole file.

    The bytes go to the Runtime client as an async iterable of chunks; the client encodes
    them and computes size and hash on the way.
    """

    def __init__(
        self,
        client: RuntimeClient,
        sessions: RuntimeSessions,
        executions: ExecutionService,
        *,
        max_upload_bytes: int,
        chunk_bytes: int = 64 * 1024,
        limiter: RateLimiter | None = None,
        idempotent: IdempotentSubmits | None = None,
    ) -> None:
        self._client = client
        self._submitter = Submitter(sessions, executions, limiter=limiter, idempotent=idempotent)
        self.max_upload_bytes = max_upload_bytes
        self._chunk_bytes = chunk_bytes

    async def upload(
        self,
        principal: Principal,
        source: ByteSource,
        *,
        filename: str | None,
        mime_type: str | None,
        sent_mime_type: str | None = None,
        size: int | None = None,
        client_session: str | None = None,
        idempotency_key: str | None = None,
        idempotency_header: str | None = None,
    ) -> ExecutionStatus:
        """Submit the file and return the accepted execution (terminal on a sync Runtime).

        The key is `idempotency_key`, else `idempotency_header` (both given must agree). With
        a key, a repeat of the same upload (same name, type and bytes) from the same tenant
        returns the first one's execution and submits nothing; other input under that key
        raises `IdempotencyConflictError`. The key also travels to the Runtime.
        The name and media type are cleaned by `upload_metadata` first: the name stored (and
        read back) is a safe base name, and a media type that is not one is stored as
        `application/octet-stream`.
        Raises `RateLimitedError` before anything else when the tenant is over its rate
        (repeats count too: a client retrying in a loop is slowed down like any other).
        """
        key = await self._submitter.admit(principal, idempotency_key, idempotency_header)
        if size is not None and size > self.max_upload_bytes:
            raise self._too_large()
        metadata = upload_metadata(filename, mime_type, sent_mime_type)
        name, media_type = metadata.filename, metadata.mime_type
        if metadata.mime_type_replaced:
            logger.info("upload media type is not one; stored as %s", media_type)

        async def send(caller: RuntimeCaller) -> SubmitResult:
            return await self._client.upload_content(
                caller,
                filename=name,
                mime_type=media_type,
                content=self._chunks(source),
                idempotency_key=key,
            )

        async def rewind() -> bool:
            # A spooled upload (starlette's UploadFile) can be read again; a stream cannot.
            seek = getattr(source, "seek", None)
            if seek is None:
                return False
            await seek(0)
            return True

        return await self._submitter.submit(
            principal,
            intent=UPLOAD_INTENT,
            operation="uploadContent",
            key=key,
            request={"filename": name, "mime_type": media_type},
            send=send,
            client_session=client_session,
            rewind=rewind,
            identity=lambda: _content_identity(source),
        )

    async def _chunks(self, source: ByteSource) -> AsyncIterator[bytes]:
        total = 0
        while chunk := await source.read(self._chunk_bytes):
            total += len(chunk)
            if total > self.max_upload_bytes:
                # Only reached when the size was not known up front.
                raise self._too_large()
            yield chunk

    def _too_large(self) -> UploadTooLargeError:
        return UploadTooLargeError(
            f"The file is larger than the limit of {self.max_upload_bytes} bytes.",
            max_bytes=self.max_upload_bytes,
        )


async def _content_identity(source: ByteSource) -> dict[str, object]:
    """What identifies the bytes of an upload for its idempotency fingerprint.

    A spooled upload (seekable) is hashed and rewound; a stream cannot be read twice, so its
    declared size stands in (None when unknown).
    """
    seek = getattr(source, "seek", None)
    if seek is None:
        return {"size": getattr(source, "size", None)}
    digest = hashlib.sha256()
    size = 0
    while chunk := await source.read(256 * 1024):
        digest.update(chunk)
        size += len(chunk)
    await seek(0)
    return {"size": size, "sha256": digest.hexdigest()}
