"""`RuntimeReads`: status, artifacts, a data mash's records, the list of executions and the
execution stream.

Reads are safe to repeat: each is retried on 5xx, 429, connection errors and timeouts, with
full-jitter exponential backoff honouring `Retry-After`, as one logical call for the circuit
breaker (it stops retrying once the circuit opens).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from urllib.parse import quote, urlencode

from experience_plane.runtime.answers import checked, parse_body
from experience_plane.runtime.breaker import Permit
from experience_plane.runtime.connection import RuntimeConnection
from experience_plane.runtime.errors import (
    ArtifactNotFound,
    ExecutionNotFound,
    ListUnsupported,
    RuntimeClientError,
    RuntimeProtocolError,
    RuntimeRejected,
    RuntimeUnavailable,
)
from experience_plane.runtime.models import (
    Artifact,
    DataMashArtifact,
    ExecutionList,
    ExecutionStatus,
    MashRecordsPage,
)
from experience_plane.runtime.optional import OptionalEndpoint
from experience_plane.runtime.stream import stream_statuses
from experience_plane.runtime.transport import Answer
from experience_plane.runtime.wire import (
    WireArtifactDetail,
    WireExecutionList,
    WireStatus,
    artifact_from_detail,
    execution_list_from_wire,
    status_from_wire,
)

__all__ = ["RuntimeReads"]


class RuntimeReads(RuntimeConnection):
    """The Runtime calls that only read (see `RuntimeClient`)."""

    async def get_execution(self, tenant_id: str, execution_id: str) -> ExecutionStatus:
        """Read an execution's status (retried on 5xx, 429, connection errors and timeouts).

        Raises `ExecutionNotFound` for an unknown id or another tenant's execution.
        """
        response = await self._get_with_retries(
            f"/api/execution/{quote(execution_id, safe='')}/status",
            {"tenant_id": tenant_id},
            ExecutionNotFound,
        )
        return status_from_wire(parse_body(WireStatus, response))

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

    async def list_executions(
        self,
        tenant_id: str,
        *,
        user_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ExecutionList:
        """A page of the tenant's executions (one user's with `user_id`), newest first, from
        the Runtime's optional list endpoint; `cursor` is a `next_cursor` it returned. Retried
        like status reads.

        Raises `ListUnsupported` when the Runtime has no list (404/405); that answer is
        remembered for a while (`runtime.optional`), and raised again without a call. A cursor
        the Runtime refuses is `RuntimeRejected` (422).
        """
        endpoints = self.optional_endpoints
        if endpoints.known_absent(OptionalEndpoint.LIST):
            raise ListUnsupported("The Runtime has no list of executions (found earlier)")
        params = {"tenant_id": tenant_id, "limit": str(limit)}
        if user_id is not None:
            params["user_id"] = user_id
        if cursor is not None:
            params["cursor"] = cursor
        try:
            response = await self._get_with_retries("/api/executions", params, ListUnsupported)
        except ListUnsupported:
            endpoints.absent(OptionalEndpoint.LIST)
            raise
        except RuntimeRejected as exc:
            if exc.status_code != 405:
                raise
            endpoints.absent(OptionalEndpoint.LIST)
            raise ListUnsupported(exc.message, status_code=405) from exc
        endpoints.present(OptionalEndpoint.LIST)
        return execution_list_from_wire(parse_body(WireExecutionList, response))

    def stream_execution(
        self, tenant_id: str, execution_id: str, *, heard: Callable[[], None] | None = None
    ) -> AsyncIterator[ExecutionStatus]:
        """Follow an execution over the Runtime's WebSocket stream: yields each new status and
        ends after a terminal one (or when the Runtime closes the stream); `heard` is called at
        every message the Runtime sends, keep-alives included.

        Raises `StreamUnavailable` when the Runtime has no stream endpoint (handshake refused
        with 403/404): poll `get_execution` instead. A lost connection is `RuntimeUnavailable`;
        a stream silent for longer than `stream_idle_timeout` is `RuntimeTimeout`.
        """
        ws_base = "ws" + self.base_url.removeprefix("http")
        query = urlencode({"tenant_id": tenant_id})
        url = f"{ws_base}/api/execution/{quote(execution_id, safe='')}/stream?{query}"
        headers = self._stream_headers() if self._stream_headers is not None else None
        return self._guard.stream(
            lambda: stream_statuses(
                url,
                open_timeout=self._timeout.connect,
                idle_timeout=self.stream_idle_timeout,
                headers=headers,
                heard=heard,
            )
        )

    # -- plumbing ---------------------------------------------------------------------------

    async def _get_artifact_detail(
        self, tenant_id: str, artifact_id: str, params: Mapping[str, str]
    ) -> WireArtifactDetail:
        response = await self._get_with_retries(
            f"/api/artifacts/{quote(artifact_id, safe='')}",
            {"tenant_id": tenant_id, **params},
            ArtifactNotFound,
        )
        return parse_body(WireArtifactDetail, response)

    async def _get_with_retries(
        self, path: str, params: Mapping[str, str], not_found: type[RuntimeClientError]
    ) -> Answer:
        """GET a 2xx answer (other statuses raise, see `answers.checked`), retrying what may
        succeed on a second try (5xx, 429, connection errors, timeouts) with full-jitter
        exponential backoff, honouring `Retry-After`.

        The read is one logical call for the breaker; it stops retrying once the circuit opens,
        and a probe is never retried (its one answer decides the breaker's state)."""

        async def attempts(permit: Permit) -> Answer:
            attempt = 0
            while True:
                try:
                    response = await self._send("GET", path, params=params)
                    return checked(response, not_found)
                except RuntimeUnavailable as exc:
                    if (
                        permit is Permit.PROBE
                        or attempt >= self.status_retries
                        or not self._breaker.still_closed()
                    ):
                        raise
                    await asyncio.sleep(self._backoff(attempt, exc.retry_after))
                    if not self._breaker.still_closed():
                        raise
                    attempt += 1

        return await self._guard.call(attempts, can_probe=True)
