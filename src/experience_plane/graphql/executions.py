"""Executions: what a submitted intent is doing, the query and subscription that follow it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from experience_plane import runtime, services
from experience_plane.executions import Snapshot
from experience_plane.graphql.artifacts import Artifact
from experience_plane.graphql.context import Info
from experience_plane.graphql.enums import schema_enum
from experience_plane.graphql.errors import PublicError, public_error
from experience_plane.graphql.fields import described_field
from experience_plane.graphql.global_ids import Node, global_id, own_execution_id
from experience_plane.graphql.objects import schema_type
from experience_plane.services import ErrorCode, execution_failures
from experience_plane.services.execution_failures import (
    FAILURE_KINDS,
    FailureCode,
    execution_failure,
)
from experience_plane.services.presentation import TOKEN_EXPIRED_MESSAGE, stale_reason

ExecutionState = schema_enum(
    runtime.ExecutionState,
    description="Where an execution is in its life.",
    values={
        runtime.ExecutionState.PENDING: "Accepted, not started yet.",
        runtime.ExecutionState.RUNNING: "Being worked on.",
        runtime.ExecutionState.COMPLETED: "Finished; artifacts are ready.",
        runtime.ExecutionState.FAILED: "Finished with an error.",
        runtime.ExecutionState.CANCELLED: "Stopped before finishing.",
        runtime.ExecutionState.UNKNOWN: (
            "The Runtime lost track of it; it will not change any more."
        ),
    },
)


FailureCodeEnum = schema_enum(
    FailureCode,
    description="Stable codes of why an execution did not complete.",
    values={kind.code: kind.description for kind in FAILURE_KINDS},
)

if TYPE_CHECKING:
    # To mypy the derived type is the domain class whose values its resolver returns.
    from experience_plane.services.execution_failures import ExecutionFailure
else:
    ExecutionFailure = schema_type(
        execution_failures.ExecutionFailure,
        types={"code": FailureCodeEnum},
        descriptions={
            "code": "Why it did not complete, for programs to switch on.",
            "message": "What happened, in the Runtime's words, for people to read.",
        },
    )


@strawberry.type(description="How far a running execution has got.")
class Progress:
    """The Runtime's current phase and a percentage."""

    phase: str = strawberry.field(description="The phase being worked on, e.g. `profiling`.")
    percent: float = strawberry.field(description="Overall progress, 0 to 100.")


@strawberry.type(description="An execution of an intent (an upload, a data mash) by the Runtime.")
class Execution(Node):
    """A snapshot of the execution's status; artifacts appear once it has completed."""

    execution_id: strawberry.ID = strawberry.field(
        description="The execution's own id, as `executionId` arguments and REST paths take it."
    )
    intent_type: str | None = strawberry.field(
        description="The intent executed, e.g. `content.upload` or `data_mash.create`."
    )
    state: runtime.ExecutionState = strawberry.field(
        graphql_type=ExecutionState, description="Where the execution is in its life."
    )
    raw_status: str = strawberry.field(description="The status exactly as the Runtime spelt it.")
    progress: Progress | None = strawberry.field(
        description="How far it has got, when the Runtime reports it."
    )
    error: str | None = strawberry.field(
        description="Why it failed, for a failed execution.",
        deprecation_reason="Use failure.",
    )
    failure: ExecutionFailure | None = strawberry.field(
        description=(
            "Why it did not complete: set when it failed, was cancelled or was lost by the "
            "Runtime; null otherwise."
        )
    )
    created_at: datetime | None = strawberry.field(description="When it was submitted.")
    updated_at: datetime | None = strawberry.field(description="When its status last changed.")
    is_terminal: bool = strawberry.field(
        description="True once the execution will not change any more."
    )
    stale: bool = strawberry.field(
        default=False,
        description=(
            "True when the Runtime has not been heard from for longer than the service's stale "
            "promise (it is down, frozen, slow or restarting): the other fields are the last "
            "status known and may be out of date; the execution has NOT failed. A subscription "
            "sends the next event with `stale: false` and the true status once the Runtime "
            "answers again; a query answered from the last status known says so the same way."
        ),
    )
    stale_reason: str | None = strawberry.field(
        default=None,
        description=(
            "Why the status could not be refreshed, while `stale` is true: one fixed sentence "
            "per cause (the Runtime not answering, unavailable, or its answers unreadable)."
        ),
    )
    stale_since: datetime | None = strawberry.field(
        default=None,
        description="When the Runtime was last heard from, while `stale` is true.",
    )
    status: strawberry.Private[runtime.ExecutionStatus]

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> Execution:
        """The schema object for a tracked status (an event, a query's answer), maybe
        flagged stale."""
        execution = cls.from_status(snapshot.status)
        if snapshot.stale:
            execution.stale = True
            execution.stale_reason = stale_reason(snapshot)
            execution.stale_since = snapshot.stale_since
        return execution

    @classmethod
    def from_status(cls, status: runtime.ExecutionStatus) -> Execution:
        """The schema object for a status read from the Runtime (through the tracker)."""
        progress = status.progress
        return cls(
            id=global_id("Execution", status.execution_id),
            execution_id=strawberry.ID(status.execution_id),
            intent_type=status.intent_type,
            state=status.state,
            raw_status=status.raw_status,
            progress=Progress(phase=progress.phase, percent=progress.percent) if progress else None,
            error=status.error,
            failure=execution_failure(status),
            created_at=status.created_at,
            updated_at=status.updated_at,
            is_terminal=status.state.is_terminal,
            status=status,
        )

    @described_field("What the execution produced (files, data mashes).")
    def artifacts(self) -> list[Artifact]:
        # Imported here: those modules import this one for their mutations' result types.
        from experience_plane.graphql.content import ContentFile
        from experience_plane.graphql.data_mash import DataMash

        produced: list[Artifact] = []
        for artifact in self.status.artifacts:
            if isinstance(artifact, runtime.FileArtifact):
                produced.append(ContentFile.from_artifact(artifact))
            else:
                produced.append(DataMash.from_artifact(artifact))
        return produced


@strawberry.type(description="The Runtime accepted the request and started an execution.")
class ExecutionAccepted:
    """Returned at once; follow the execution with the `executionStatus` subscription."""

    execution: Execution = strawberry.field(
        description="The execution as it stands (terminal already on a synchronous Runtime)."
    )


ExecutionIdArgument = Annotated[
    strawberry.ID,
    strawberry.argument(
        description="The execution's `executionId` (its global `id` is accepted as well)."
    ),
]


async def execution_status(info: Info, execution_id: ExecutionIdArgument) -> Execution | None:
    """The execution's current status; null when it is unknown to the caller's tenant. While
    the execution is followed and the Runtime has not been heard from for longer than
    `subscription_stale_after_seconds`, the last status known, flagged `stale: true`."""
    principal = info.context.principal
    try:
        snapshot = await info.context.services.executions.get(
            principal, own_execution_id(execution_id)
        )
    except services.ServiceError as exc:
        raise public_error(exc) from exc
    return Execution.from_snapshot(snapshot) if snapshot is not None else None


async def watch_execution_status(
    info: Info, execution_id: ExecutionIdArgument
) -> AsyncGenerator[Execution, None]:
    """The current status at once, then one event per change; completes after a terminal one.

    An id unknown to the caller's tenant is an error ("Execution ... not found") and no events.
    While the Runtime does not answer, the watcher retries with backoff and, no later than
    `subscription_stale_after_seconds` after the Runtime was last heard from (whether it
    refuses, fails, hangs or is slow), sends the last status again flagged `stale: true`; the
    true status follows when the Runtime is back. It never reports a failure it did not read.
    When the caller's token expires the subscription ends with an UNAUTHENTICATED error
    (reason `expired`), on every transport.
    """
    context = info.context
    statuses = context.services.executions.follow(context.principal, own_execution_id(execution_id))
    try:
        # aclosing: a client going away closes the tracker's stream now, not at collection.
        async with aclosing(statuses):
            while True:
                remaining = context.seconds_until_expiry()
                try:
                    status = await asyncio.wait_for(anext(statuses), timeout=remaining)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise PublicError(
                        TOKEN_EXPIRED_MESSAGE, ErrorCode.UNAUTHENTICATED, reason="expired"
                    ) from None
                yield Execution.from_snapshot(status)
    except services.ServiceError as exc:
        raise public_error(exc) from exc
