"""The caller's executions as a Relay connection (`executions`), and `cancelExecution`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry

from experience_plane import runtime, services
from experience_plane.graphql.context import Info
from experience_plane.graphql.errors import (
    Error,
    IdempotencyKeyArgument,
    ResultUnion,
    public_error,
)
from experience_plane.graphql.executions import Execution, ExecutionIdArgument, ExecutionState
from experience_plane.graphql.fields import described_field
from experience_plane.graphql.global_ids import own_execution_id
from experience_plane.graphql.pagination import (
    AfterArgument,
    BeforeArgument,
    PageInfo,
    first_argument,
    last_argument,
)
from experience_plane.index import ExecutionFilter as DomainFilter
from experience_plane.services.listing import (
    DEFAULT_EXECUTIONS_PAGE,
    MAX_EXECUTIONS_PAGE,
    ExecutionsPage,
    PageRequest,
)


@strawberry.type(description="One execution of a list, and where it is in the list.")
class ExecutionEdge:
    """An execution with its cursor."""

    cursor: str = strawberry.field(
        description=(
            "Opaque; pass it as `after` for the executions after it (older), or `before` for "
            "those before it (newer)."
        )
    )
    node: Execution = strawberry.field(description="The execution.")


@strawberry.type(description="A page of your executions, newest first.")
class ExecutionConnection:
    """Executions newest first; `totalCount` is counted only when asked for."""

    edges: list[ExecutionEdge] = strawberry.field(description="The executions of this page.")
    page_info: PageInfo = strawberry.field(description="How to read the pages around it.")
    page: strawberry.Private[ExecutionsPage]

    @described_field("How many executions pass the filter in all, whatever the page.")
    async def total_count(self) -> int:
        try:
            return await self.page.total_count()
        except services.ServiceError as exc:
            raise public_error(exc) from exc


@strawberry.input(description="Which executions to list; every part given must hold.")
class ExecutionFilter:
    """An empty or missing list filters nothing; the time bounds are exclusive."""

    # Members of the derived `ExecutionState`; `domain` maps them onto the Runtime's by name.
    states: list[Enum] | None = strawberry.field(
        default=None,
        graphql_type=list[ExecutionState] | None,  # type: ignore[valid-type]
        description="Only executions in one of these states.",
    )
    intent_types: list[str] | None = strawberry.field(
        default=None,
        description="Only executions of one of these intents, e.g. `content.upload`.",
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Only executions created after this instant."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Only executions created before this instant."
    )

    def domain(self) -> DomainFilter:
        """The service's filter."""
        return DomainFilter(
            states=frozenset(runtime.ExecutionState[state.name] for state in self.states or ()),
            intent_types=frozenset(self.intent_types or ()),
            created_after=self.created_after,
            created_before=self.created_before,
        )


async def executions(
    info: Info,
    first: Annotated[
        int | None, first_argument(MAX_EXECUTIONS_PAGE, DEFAULT_EXECUTIONS_PAGE)
    ] = None,
    after: AfterArgument = None,
    last: Annotated[int | None, last_argument(MAX_EXECUTIONS_PAGE)] = None,
    before: BeforeArgument = None,
    filter: Annotated[
        ExecutionFilter | None,
        strawberry.argument(description="Which executions to list (all of yours by default)."),
    ] = None,
) -> ExecutionConnection:
    """The caller's executions, newest first (the tenant's with the `tenant-admin` role)."""
    request = PageRequest(first=first, after=after, last=last, before=before)
    try:
        page = await info.context.services.executions.list_executions(
            info.context.principal, filter.domain() if filter is not None else None, request
        )
    except services.ServiceError as exc:
        raise public_error(exc) from exc
    return ExecutionConnection(
        edges=[
            ExecutionEdge(cursor=edge.cursor, node=Execution.from_status(edge.execution))
            for edge in page.edges
        ],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        ),
        page=page,
    )


@strawberry.type(description="The execution was cancelled, or its cancellation is under way.")
class ExecutionCancelled:
    """Its state is `CANCELLED` once the Runtime's work has stopped at its next safe point;
    while it has not got there yet the execution is still running and ends `CANCELLED`:
    follow it with the `executionStatus` subscription."""

    execution: Execution = strawberry.field(description="The execution as it stands.")


CANCEL_EXECUTION_RESULT = ResultUnion(
    "CancelExecutionResult",
    "The cancelled execution, or why it was not cancelled.",
    ExecutionCancelled,
    # Nothing is uploaded.
    without=(services.UploadTooLargeError,),
)
if TYPE_CHECKING:
    CancelExecutionResult: TypeAlias = ExecutionCancelled | Error
else:
    CancelExecutionResult = CANCEL_EXECUTION_RESULT.annotation


@CANCEL_EXECUTION_RESULT.resolves
async def cancel_execution(
    info: Info,
    execution_id: ExecutionIdArgument,
    idempotency_key: IdempotencyKeyArgument = None,
) -> CancelExecutionResult:
    """Ask the Runtime to stop the execution; see `ExecutionCancelled`."""
    status = await info.context.services.executions.cancel_execution(
        info.context.principal,
        own_execution_id(str(execution_id)),
        idempotency_key,
        info.context.idempotency_header,
    )
    return ExecutionCancelled(execution=Execution.from_status(status))
