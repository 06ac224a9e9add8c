"""Reading, following, listing and cancelling executions, and the details their artifacts point
at."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import replace

from experience_plane.auth import Principal, RateLimiter
from experience_plane.executions import ExecutionTracker, Snapshot, TrackerClosed
from experience_plane.index import (
    ExecutionFilter,
    ExecutionIndex,
    IndexEntry,
    IndexUnavailable,
    InvalidCursor,
    Listed,
    Scope,
)
from experience_plane.runtime import (
    AlreadyFinished,
    Artifact,
    ArtifactNotFound,
    CancelUnsupported,
    ExecutionNotFound,
    ExecutionStatus,
    ListUnsupported,
    MashRecordsPage,
    RuntimeClient,
    SubmitResult,
)
from experience_plane.runtime.optional import OptionalEndpoint
from experience_plane.services.admission import admit
from experience_plane.services.errors import (
    AlreadyFinishedError,
    CancelUnsupportedError,
    NotFoundError,
    RuntimeRejectedError,
    RuntimeUnavailableError,
    ServiceError,
)
from experience_plane.services.idempotent import IdempotentSubmits
from experience_plane.services.listing import (
    ExecutionsPage,
    ListingSource,
    PageRequest,
    RuntimeList,
    edges_of,
    listing_error,
    read_page,
    refreshed,
    scope_of,
)
from experience_plane.services.presentation import runtime_errors

logger = logging.getLogger(__name__)

SHUTTING_DOWN_MESSAGE = "The service is shutting down; reconnect and subscribe again."
CANCEL_OPERATION = "cancelExecution"
# Executions whose terminal status this process has written to the index already: a query or
# a subscriber meeting it again need not write it again.
SETTLED_REMEMBERED = 10_000


class ExecutionService:
    """The one way GraphQL and REST read executions: through the shared `ExecutionTracker`; and
    list them (the Runtime's list, else the execution `index`) and cancel them.

    Every read is scoped to the principal's tenant; another tenant's execution looks exactly
    like an unknown one. A cancellation is a mutation: it takes a unit of the tenant's rate
    budget (`limiter`) and runs once per idempotency key (`idempotent`).
    """

    def __init__(
        self,
        client: RuntimeClient,
        tracker: ExecutionTracker,
        *,
        index: ExecutionIndex | None = None,
        limiter: RateLimiter | None = None,
        idempotent: IdempotentSubmits | None = None,
    ) -> None:
        self._client = client
        self._tracker = tracker
        self._index = index
        self._limiter = limiter
        self._idempotent = idempotent
        self._settled: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def get(self, principal: Principal, execution_id: str) -> Snapshot | None:
        """The execution's current status, or None when this tenant has no such execution;
        flagged stale when it is the last one known and the Runtime has not been heard from
        for longer than the stale promise."""
        if not execution_id:
            return None
        try:
            with runtime_errors():
                status = await self._tracker.current(principal.tenant_id, execution_id)
        except ExecutionNotFound:
            return None
        await self._settle(principal.tenant_id, status.status)
        return status

    async def follow(
        self, principal: Principal, execution_id: str
    ) -> AsyncGenerator[Snapshot, None]:
        """Yield a `Snapshot` of the execution now, then at each change, ending after the
        terminal one: a new status, or the status flagged `stale` when the Runtime has not
        answered for a while, and fresh again when it answers.

        Raises `NotFoundError` before yielding anything when the id is unknown to this tenant.
        Ends quietly when the service shuts down; one started during shutdown raises
        `RuntimeUnavailableError`.
        """
        if not execution_id:
            raise NotFoundError(f"Execution {execution_id!r} not found.")
        if self._tracker.closed:
            raise RuntimeUnavailableError(SHUTTING_DOWN_MESSAGE)
        snapshots = self._tracker.follow(principal.tenant_id, execution_id)
        try:
            with runtime_errors():
                async for snapshot in snapshots:
                    if not snapshot.stale:
                        await self._settle(principal.tenant_id, snapshot.status)
                    yield snapshot
        except ExecutionNotFound as exc:
            raise NotFoundError(f"Execution {execution_id!r} not found.") from exc
        except TrackerClosed as exc:
            raise RuntimeUnavailableError(SHUTTING_DOWN_MESSAGE) from exc
        finally:
            # Close the tracker's stream now, not when it is garbage collected, so its
            # subscriber count drops the moment the client goes away.
            await snapshots.aclose()

    async def accepted(
        self, principal: Principal, submitted: SubmitResult, intent_type: str
    ) -> ExecutionStatus:
        """The execution a successful submit started, as the API reports it straight away.

        A Runtime that finishes inside the submit (the platform's current one) has a terminal
        status already: it is read once and handed to the tracker, so watchers and queries
        do not ask again. A failed submit without an execution id is a rejection.
        """
        if submitted.execution_id is None:
            raise RuntimeRejectedError(
                submitted.error or f"The Runtime did not start the {intent_type} execution."
            )
        if submitted.state.is_terminal:
            with runtime_errors():
                status = await self._client.get_execution(
                    principal.tenant_id, submitted.execution_id
                )
            if status.intent_type is None:
                # The platform's sparse statuses omit it; we know what was submitted.
                status = replace(status, intent_type=intent_type)
            self._tracker.remember(principal.tenant_id, status)
            return status
        return ExecutionStatus(
            execution_id=submitted.execution_id,
            state=submitted.state,
            raw_status=submitted.raw_status,
            intent_id=submitted.intent_id,
            intent_type=intent_type,
            progress=None,
            error=submitted.error,
            created_at=submitted.created_at,
            updated_at=submitted.created_at,
            artifacts=(),
            events=(),
        )

    async def artifact(self, principal: Principal, artifact_id: str) -> Artifact:
        """An artifact's full details (what a reduced status artifact leaves out)."""
        try:
            with runtime_errors():
                return await self._client.get_artifact(principal.tenant_id, artifact_id)
        except ArtifactNotFound as exc:
            raise NotFoundError(f"Artifact {artifact_id!r} not found.") from exc

    async def mash_records(
        self, principal: Principal, mash_id: str, *, offset: int, limit: int
    ) -> MashRecordsPage:
        """One page of a data mash's joined records."""
        try:
            with runtime_errors():
                return await self._client.get_mash_records(
                    principal.tenant_id, mash_id, offset=offset, limit=limit
                )
        except ArtifactNotFound as exc:
            raise NotFoundError(f"Data mash {mash_id!r} not found.") from exc

    # -- the execution index ------------------------------------------------------------------

    async def record_started(self, principal: Principal, status: ExecutionStatus) -> None:
        """Add an execution the caller just started to the index (no Runtime call). A failure
        of the index is logged, not raised: the execution has started all the same."""
        if self._index is None:
            return
        try:
            await self._index.record(IndexEntry.of(principal.tenant_id, principal.user_id, status))
        except IndexUnavailable as exc:
            logger.warning(
                "execution %s is missing from the execution index: %s", status.execution_id, exc
            )

    async def _settle(self, tenant_id: str, status: ExecutionStatus) -> None:
        """Keep a terminal status in the index (once per execution and process)."""
        if self._index is None or not status.state.is_terminal:
            return
        key = (tenant_id, status.execution_id)
        if key in self._settled:
            return
        try:
            await self._index.update(tenant_id, status)
        except IndexUnavailable as exc:
            logger.info("the execution index missed %s's end: %s", status.execution_id, exc)
            return
        self._settled[key] = None
        while len(self._settled) > SETTLED_REMEMBERED:
            self._settled.popitem(last=False)

    # -- listing ------------------------------------------------------------------------------

    async def list_executions(
        self,
        principal: Principal,
        filter: ExecutionFilter | None = None,
        page: PageRequest | None = None,
    ) -> ExecutionsPage:
        """A page of the caller's executions (the tenant's with the `tenant-admin` role), newest
        first, filtered (see `services.listing` for paging and what each source costs).

        From the Runtime's list when it has one (every execution of the tenant, fresh
        statuses); otherwise from the execution index (those this service started, their
        unfinished statuses read again). Raises `InvalidInputError` for bad arguments or a
        cursor this service did not issue, a `ServiceError` when the list cannot be read.
        """
        filter = filter or ExecutionFilter()
        page = page or PageRequest()
        scope = scope_of(principal)
        source: ListingSource
        if not self._client.optional_endpoints.known_absent(OptionalEndpoint.LIST):
            source = RuntimeList(self._client)
            try:
                rows, has_next, has_previous = await self._read(source, scope, filter, page)
            except ListUnsupported:
                pass  # found now; remembered by the client, so the next list goes straight on
            else:
                return self._page(source, scope, filter, rows, has_next, has_previous)
        if self._index is None:
            raise RuntimeUnavailableError("The Runtime cannot list executions.")
        index = self._index
        rows, has_next, has_previous = await self._read(index, scope, filter, page)
        rows = await refreshed(rows, principal.tenant_id, self._tracker, index)
        return self._page(index, scope, filter, rows, has_next, has_previous)

    async def _read(
        self, source: ListingSource, scope: Scope, filter: ExecutionFilter, page: PageRequest
    ) -> tuple[list[Listed], bool, bool]:
        """`read_page`, with the sources' failures as service errors (`ListUnsupported` goes
        through: the caller turns to the index)."""
        try:
            with runtime_errors():
                return await read_page(source, scope, filter, page)
        except (IndexUnavailable, InvalidCursor) as exc:
            raise _listing_failure(exc) from exc

    def _page(
        self,
        source: ListingSource,
        scope: Scope,
        filter: ExecutionFilter,
        rows: list[Listed],
        has_next: bool,
        has_previous: bool,
    ) -> ExecutionsPage:
        async def count() -> int:
            try:
                with runtime_errors():
                    return await source.count(scope, filter)
            except (IndexUnavailable, ListUnsupported) as exc:
                raise _listing_failure(exc) from exc

        return ExecutionsPage(
            edges_of(rows), has_next_page=has_next, has_previous_page=has_previous, count=count
        )

    # -- cancelling ---------------------------------------------------------------------------

    async def cancel_execution(
        self,
        principal: Principal,
        execution_id: str,
        idempotency_key: str | None = None,
        idempotency_header: str | None = None,
    ) -> ExecutionStatus:
        """Cancel one of the tenant's running executions and return its status: `CANCELLED`
        once the Runtime's work has stopped at its next safe point (subscribers see it and
        complete), or still running when the Runtime has not reached one yet (it will end
        cancelled; follow it).

        A mutation: rate-limited like the submits, run once per idempotency key (a repeat gets
        the first answer). Raises `NotFoundError` (unknown to the tenant), `AlreadyFinishedError`
        (it has finished), `CancelUnsupportedError` (the Runtime cannot cancel), and the Runtime
        errors (`RuntimeUnavailableError`, ...).
        """
        key = await admit(self._limiter, principal, idempotency_key, idempotency_header)
        tenant_id = principal.tenant_id

        async def cancel() -> ExecutionStatus:
            try:
                with runtime_errors():
                    current = (await self._tracker.current(tenant_id, execution_id)).status
                    if current.state.is_terminal:
                        raise AlreadyFinishedError(_finished_message(execution_id, current))
                    status = await self._client.cancel_execution(tenant_id, execution_id)
            except ExecutionNotFound as exc:
                raise NotFoundError(f"Execution {execution_id!r} not found.") from exc
            except AlreadyFinished as exc:
                raise AlreadyFinishedError(
                    f"Execution {execution_id!r} has already finished; it cannot be cancelled."
                ) from exc
            except CancelUnsupported as exc:
                raise CancelUnsupportedError(
                    "The Runtime behind this service cannot cancel executions; nothing was changed."
                ) from exc
            if status.intent_type is None:
                status = replace(status, intent_type=current.intent_type)
            if status.state.is_terminal:
                # Queries answer it at once; a watcher sees it from the Runtime by itself.
                self._tracker.remember(tenant_id, status)
                await self._settle(tenant_id, status)
            return status

        if not execution_id:
            raise NotFoundError(f"Execution {execution_id!r} not found.")
        if key is None or self._idempotent is None:
            return await cancel()
        request = {"execution_id": execution_id}
        return await self._idempotent.run(principal, CANCEL_OPERATION, key, request, cancel)


def _finished_message(execution_id: str, status: ExecutionStatus) -> str:
    return (
        f"Execution {execution_id!r} has already finished ({status.state.value}); it cannot "
        "be cancelled."
    )


def _listing_failure(exc: BaseException) -> ServiceError:
    error = listing_error(exc)
    if error is None:
        return RuntimeUnavailableError("The Runtime cannot list executions right now.")
    return error
