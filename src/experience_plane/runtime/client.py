"""`RuntimeClient`: the one way the Experience Plane talks to the Runtime.

One pooled `httpx.AsyncClient` with explicit timeouts and limits, owned by the client and closed
by `aclose()`. Every failure below this boundary leaves it as one of `runtime.errors`. Status and
artifact reads are retried (they are safe to repeat); submits never are.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlencode

import httpx

from experience_plane.runtime.answers import failed_submit, json_body, parse_answer
from experience_plane.runtime.errors import (
    ArtifactNotFound,
    ExecutionNotFound,
    RuntimeClientError,
    RuntimeProtocolError,
    RuntimeTimeout,
    RuntimeUnavailable,
)
from experience_plane.runtime.models import (
    Artifact,
    DataMashArtifact,
    ExecutionStatus,
    MashRecordsPage,
    RuntimeCaller,
    RuntimeFlavour,
    SubmitResult,
)
from experience_plane.runtime.stream import stream_statuses
from experience_plane.runtime.transport import TRANSPORT_ERRORS, default_transport, is_timeout
from experience_plane.runtime.upload import ContentEncoding, upload_body
from experience_plane.runtime.wire import (
    WireArtifactDetail,
    WireHealth,
    WireSession,
    WireStatus,
    WireSubmit,
    artifact_from_detail,
    status_from_wire,
    submit_from_wire,
)

__all__ = ["RuntimeClient"]

# `Retry-After` is honoured up to this many seconds: one header must not park a status read for
# minutes; past the cap the read is simply retried sooner.
RETRY_AFTER_CAP = 30.0
SUBMIT_PATH = "/api/intent/submit"
_MIME_FILE_TYPES = {"text/csv": "csv", "application/json": "json", "text/plain": "text"}


class RuntimeClient:
    """A typed async client of the Runtime HTTP contract, for either Runtime flavour.

    Use it as an async context manager, or call `aclose()`. `transport` replaces the pooled
    network transport (tests pass an `httpx.MockTransport`); `backoff_base` and `backoff_max`
    shape the full-jitter exponential backoff between status-read retries.
    """

    def __init__(
        self,
        base_url: str,
        *,
        flavour: RuntimeFlavour = RuntimeFlavour.REFERENCE,
        timeout: float = 10.0,
        connect_timeout: float = 2.0,
        solution_id: str = "default",
        status_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.1,
        backoff_max: float = 2.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.flavour = RuntimeFlavour(flavour)
        self.solution_id = solution_id
        self.status_retries = max(0, status_retries)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=timeout, write=timeout, pool=timeout
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self._timeout,
            transport=transport if transport is not None else default_transport(),
            # The Runtime is an internal service reached directly; proxies configured in the
            # environment for outbound traffic must not capture it.
            trust_env=False,
        )
        self._random = random.Random()  # noqa: S311 - jitter, not cryptography

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections. The client cannot be used afterwards."""
        await self._http.aclose()

    # -- reads ------------------------------------------------------------------------------

    async def health(self) -> bool:
        """True when the Runtime's `/health` says `healthy`; False when it says otherwise or
        cannot be reached (a readiness probe wants an answer, not an exception)."""
        try:
            response = await self._send("GET", "/health")
            health = parse_answer(WireHealth, json_body(response, None))
        except RuntimeClientError:
            return False
        return health.status.lower() == "healthy"

    async def get_execution(self, tenant_id: str, execution_id: str) -> ExecutionStatus:
        """Read an execution's status (retried on 5xx, 429, connection errors and timeouts).

        Raises `ExecutionNotFound` for an unknown id or another tenant's execution.
        """
        data = await self._get_with_retries(
            f"/api/execution/{quote(execution_id, safe='')}/status",
            {"tenant_id": tenant_id},
            ExecutionNotFound,
        )
        return status_from_wire(parse_answer(WireStatus, data))

    async def get_artifact(self, tenant_id: str, artifact_id: str) -> Artifact:
        """Read everything the Runtime knows of a file or a data mash (retried like status
        reads); the artifact comes back `complete`. Raises `ArtifactNotFound`."""
        # records_limit=0: a data mash's records are paged by get_mash_records, not fetched here.
        detail = await self._get_artifact_detail(tenant_id, artifact_id, {"records_limit": "0"})
        artifact = artifact_from_detail(detail)
        if artifact is None:
            raise RuntimeProtocolError(
                f"Artifact {artifact_id!r} is of an unknown type {detail.artifact_type!r}"
            )
        return artifact

    async def get_mash_records(
        self, tenant_id: str, mash_id: str, *, offset: int = 0, limit: int | None = None
    ) -> MashRecordsPage:
        """Read a page of a data mash's joined records: `limit` records from `offset` (all of
        them when `limit` is None). Raises `ArtifactNotFound` when there is no such mash."""
        params: dict[str, str] = {"records_offset": str(offset)}
        if limit is not None:
            params["records_limit"] = str(limit)
        detail = await self._get_artifact_detail(tenant_id, mash_id, params)
        if not isinstance(artifact_from_detail(detail), DataMashArtifact):
            raise ArtifactNotFound(f"Artifact {mash_id!r} is not a data mash", status_code=200)
        records = tuple(detail.records or ())
        if detail.records_total is not None:
            return MashRecordsPage(records=records, total=detail.records_total, offset=offset)
        # A Runtime that ignores the paging parameters sends every record: page them here.
        end = None if limit is None else offset + limit
        return MashRecordsPage(records=records[offset:end], total=len(records), offset=offset)

    def stream_execution(self, tenant_id: str, execution_id: str) -> AsyncIterator[ExecutionStatus]:
        """Follow an execution over the Runtime's WebSocket stream: yields each new status and
        ends after a terminal one (or when the Runtime closes the stream).

        Raises `StreamUnavailable` when the Runtime has no stream endpoint (handshake refused
        with 403/404): poll `get_execution` instead. A lost connection is `RuntimeUnavailable`.
        """
        ws_base = "ws" + self.base_url.removeprefix("http")
        query = urlencode({"tenant_id": tenant_id})
        url = f"{ws_base}/api/execution/{quote(execution_id, safe='')}/stream?{query}"
        return stream_statuses(url, open_timeout=self._timeout.connect)

    # -- writes -----------------------------------------------------------------------------

    async def create_session(
        self,
        tenant_id: str,
        user_id: str,
        session_id: str | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> str:
        """Create a Runtime session (a fresh id unless `session_id` is given); returns its id."""
        session_id = session_id or str(uuid.uuid4())
        body = {
            "tenant_id": tenant_id,
            "user_id": user_id,
            "session_id": session_id,
            "execution_contract": {
                "action": "create_session",
                "session_id": session_id,
                "tenant_id": tenant_id,
                "user_id": user_id,
            },
            "metadata": dict(metadata or {}),
        }
        response = await self._send("POST", "/api/session/create", json=body)
        return parse_answer(WireSession, json_body(response, None)).session_id

    async def submit_intent(
        self,
        caller: RuntimeCaller,
        intent_type: str,
        parameters: Mapping[str, object],
        *,
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SubmitResult:
        """Submit an intent. Never retried: a lost answer may mean the intent ran, and only an
        idempotency key makes repeating it safe, which is the caller's decision."""
        envelope = self._envelope(caller, intent_type, idempotency_key, metadata)
        body = json.dumps({**envelope, "parameters": dict(parameters)}).encode()
        return await self._submit(body, str(envelope["intent_id"]))

    async def upload_content(
        self,
        caller: RuntimeCaller,
        *,
        filename: str,
        mime_type: str,
        content: bytes | AsyncIterable[bytes],
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SubmitResult:
        """Upload a file as an upload intent, streaming it: the content (bytes, or an async
        iterable of chunks) is encoded on the fly and never held whole in memory.

        Reference flavour: `content.upload`, base64. Platform flavour: `ingest_file`, hex, with
        `ui_name`, `file_type` and `user_id`. Size and sha256 are computed on the way.
        """
        parameters: dict[str, object] = {"filename": filename, "mime_type": mime_type}
        if self.flavour is RuntimeFlavour.PLATFORM:
            intent_type, encoding = "ingest_file", ContentEncoding.HEX
            parameters |= {
                "ui_name": filename,
                "file_type": _file_type(filename, mime_type),
                "user_id": caller.user_id,
            }
        else:
            intent_type, encoding = "content.upload", ContentEncoding.BASE64
            parameters["content_encoding"] = encoding.value
        envelope = self._envelope(caller, intent_type, idempotency_key, metadata)
        body = upload_body(envelope, parameters, content, encoding)
        return await self._submit(body, str(envelope["intent_id"]))

    async def create_data_mash(
        self,
        caller: RuntimeCaller,
        *,
        content_refs: Sequence[str],
        target_domain: str = "general",
        confidence_level: str = "medium",
        name: str | None = None,
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SubmitResult:
        """Submit `data_mash.create` over the given file ids (never retried)."""
        options: dict[str, object] = {
            "target_domain": target_domain,
            "confidence_level": confidence_level,
        }
        if name is not None:
            options["name"] = name
        parameters = {"content_refs": list(content_refs), "options": options}
        return await self.submit_intent(
            caller,
            "data_mash.create",
            parameters,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _envelope(
        self,
        caller: RuntimeCaller,
        intent_type: str,
        idempotency_key: str | None,
        metadata: Mapping[str, str] | None,
    ) -> dict[str, object]:
        meta: dict[str, object] = {**(metadata or {}), "user_id": caller.user_id}
        if idempotency_key is not None:
            meta["idempotency_key"] = idempotency_key
        return {
            "intent_type": intent_type,
            "tenant_id": caller.tenant_id,
            "session_id": caller.session_id,
            "solution_id": self.solution_id,
            # Chosen here so that even a submit that fails without an execution id correlates.
            "intent_id": str(uuid.uuid4()),
            "metadata": meta,
        }

    async def _submit(self, body: bytes | AsyncIterator[bytes], intent_id: str) -> SubmitResult:
        response = await self._send(
            "POST", SUBMIT_PATH, content=body, headers={"Content-Type": "application/json"}
        )
        if response.status_code == 500:
            failed = failed_submit(response, intent_id)
            if failed is not None:
                return failed
        return submit_from_wire(parse_answer(WireSubmit, json_body(response, None)))

    async def _get_artifact_detail(
        self, tenant_id: str, artifact_id: str, params: Mapping[str, str]
    ) -> WireArtifactDetail:
        data = await self._get_with_retries(
            f"/api/artifacts/{quote(artifact_id, safe='')}",
            {"tenant_id": tenant_id, **params},
            ArtifactNotFound,
        )
        return parse_answer(WireArtifactDetail, data)

    async def _get_with_retries(
        self, path: str, params: Mapping[str, str], not_found: type[RuntimeClientError]
    ) -> object:
        """GET and decode JSON, retrying what may succeed on a second try (5xx, 429, connection
        errors, timeouts) with full-jitter exponential backoff, honouring `Retry-After`."""
        attempt = 0
        while True:
            try:
                response = await self._send("GET", path, params=params)
                return json_body(response, not_found)
            except RuntimeUnavailable as exc:
                if attempt >= self.status_retries:
                    raise
                await asyncio.sleep(self._backoff(attempt, exc.retry_after))
                attempt += 1

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return self._random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; transport failures leave as `RuntimeUnavailable`/`RuntimeTimeout`."""
        what = f"{method} {path}"
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.DecodingError as exc:
            raise RuntimeProtocolError(f"{what}: undecodable answer: {exc}") from exc
        except TRANSPORT_ERRORS as exc:
            if is_timeout(exc):
                raise RuntimeTimeout(f"{what}: the Runtime did not answer in time") from exc
            raise RuntimeUnavailable(f"{what}: the Runtime is unreachable: {exc!r}") from exc


def _file_type(filename: str, mime_type: str) -> str:
    """The platform's `file_type`: the file's extension, else what its MIME type implies."""
    stem, dot, extension = filename.rpartition(".")
    if dot and stem and extension:
        return extension.lower()
    return _MIME_FILE_TYPES.get(mime_type.split(";")[0].strip().lower(), "binary")
