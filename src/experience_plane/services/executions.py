"""Reading and following executions, and the details their artifacts point at."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import replace

from experience_plane.auth import Principal
from experience_plane.executions import ExecutionTracker, Snapshot, TrackerClosed
from experience_plane.runtime import (
    Artifact,
    ArtifactNotFound,
    ExecutionNotFound,
    ExecutionStatus,
    MashRecordsPage,
    RuntimeClient,
    SubmitResult,
)
from experience_plane.services.errors import (
    NotFoundError,
    RuntimeRejectedError,
    RuntimeUnavailableError,
)
from experience_plane.services.presentation import runtime_errors

SHUTTING_DOWN_MESSAGE = "The service is shutting down; reconnect and subscribe again."


class ExecutionService:
    """The one way GraphQL and REST read executions: through the shared `ExecutionTracker`.

    Every read is scoped to the principal's tenant; another tenant's execution looks exactly
    like an unknown one.
    """

    def __init__(self, client: RuntimeClient, tracker: ExecutionTracker) -> None:
        self._client = client
        self._tracker = tracker

    async def get(self, principal: Principal, execution_id: str) -> Snapshot | None:
        """The execution's current status, or None when this tenant has no such execution;
        flagged stale when it is the last one known and the Runtime has not been heard from
        for longer than the stale promise."""
        if not execution_id:
            return None
        try:
            with runtime_errors():
                return await self._tracker.current(principal.tenant_id, execution_id)
        except ExecutionNotFound:
            return None

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
